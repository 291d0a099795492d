"""Device, dtype and memory mode on each kind of machine, with the machine faked: CUDA with and without
bfloat16, Apple silicon (MPS) before and after macOS 14, with a small and a large unified memory, and the CPU."""

from __future__ import annotations

import pytest

from inference.diffusion import device

GIB = 1 << 30


@pytest.fixture
def fake_torch(monkeypatch):
    torch = pytest.importorskip("torch")

    def make(cuda=False, bf16=True, mps=False, macos14=True, recommended=None, free=0):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: macos14, raising=False)
        if recommended is None:
            monkeypatch.delattr(torch.mps, "recommended_max_memory", raising=False)
        else:
            monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: recommended, raising=False)
        monkeypatch.setattr(device, "free_vram", lambda: (free, free))
        return torch

    return make


def test_cuda_uses_bfloat16_where_the_card_has_it_else_float16(fake_torch):
    fake_torch(cuda=True, bf16=True)
    assert device.best_device() == ("cuda", "bfloat16")
    fake_torch(cuda=True, bf16=False)
    assert device.best_device() == ("cuda", "float16")


def test_mps_uses_bfloat16_from_macos_14_and_float32_before_never_float16(fake_torch):
    fake_torch(mps=True, macos14=True)
    assert device.best_device() == ("mps", "bfloat16")
    fake_torch(mps=True, macos14=False)
    assert device.best_device() == ("mps", "float32")


def test_no_gpu_is_the_cpu_in_float32(fake_torch):
    fake_torch()
    assert device.best_device() == ("cpu", "float32")
    p = device.choose("auto", model_bytes=30 * GIB, largest_component=20 * GIB)
    assert (p.device, p.dtype_name, p.memory_mode) == ("cpu", "float32", "cpu")


def test_cuda_auto_mode_follows_free_memory(fake_torch):
    fake_torch(cuda=True, free=80 * GIB)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=24 * GIB).memory_mode == "gpu"
    fake_torch(cuda=True, free=24 * GIB)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=16 * GIB).memory_mode == "model-offload"
    fake_torch(cuda=True, free=12 * GIB)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=24 * GIB).memory_mode == "group-offload"


def test_mps_auto_mode_reads_metal_working_set(fake_torch):
    # a 64 GB Mac: Metal recommends ~48 GiB; a 34 GiB model fits whole
    fake_torch(mps=True, recommended=48 * GIB)
    p = device.choose("auto", model_bytes=34 * GIB, largest_component=24 * GIB)
    assert (p.device, p.dtype_name, p.memory_mode) == ("mps", "bfloat16", "gpu")
    # a 32 GB Mac: ~21 GiB; the parts take turns
    fake_torch(mps=True, recommended=21 * GIB)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=16 * GIB).memory_mode == "model-offload"
    # even the largest part is too big: still model offload (group offload needs CUDA), never a crash here
    fake_torch(mps=True, recommended=12 * GIB)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=24 * GIB).memory_mode == "model-offload"


def test_mps_without_torch_figure_reads_unified_memory(fake_torch, monkeypatch):
    from inference.hub import machine

    fake_torch(mps=True)  # no recommended_max_memory
    monkeypatch.setattr(machine, "_gpu", ("Apple M3 Max", 64 * GIB, True))
    monkeypatch.setenv("AKAPEN_GPU_MEMORY_GB", "")
    monkeypatch.delenv("AKAPEN_GPU_MEMORY_GB")
    assert device.mps_budget() == int(64 * GIB * machine.UNIFIED_SHARE)
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=24 * GIB).memory_mode == "gpu"
    monkeypatch.setattr(machine, "_gpu", ("Apple M2", 16 * GIB, True))
    assert device.choose("auto", model_bytes=34 * GIB, largest_component=8 * GIB).memory_mode == "model-offload"


@pytest.mark.parametrize("mode", ["group-offload", "sequential-offload", "quantized"])
def test_cuda_only_modes_are_refused_on_mps_with_the_reason(fake_torch, mode):
    fake_torch(mps=True)
    with pytest.raises(ValueError, match="not available on Apple silicon"):
        device.choose(mode)


def test_a_forced_cpu_wins_over_the_gpu(fake_torch):
    fake_torch(cuda=True, free=80 * GIB)
    assert device.choose("auto", device="cpu").device == "cpu"
