"""The tiny real diffusers pipelines: build, save, reload offline, run, LoRA round trip."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from tests.inference import tiny_pipelines as tp

# Output of ``tp.output_image`` for a 32×32 input image (Qwen sizes under ``tp.small_sizes``).
EXPECTED_SHAPES = {
    "instruct-pix2pix": (32, 32, 3),
    "flux-kontext": (32, 32, 3),
    "flux-fill": (32, 64, 3),  # the whole side-by-side canvas; the edit is the right half
    "qwen-image-edit": (64, 64, 3),
    "qwen-image-edit-plus": (64, 64, 3),
    "omnigen": (32, 32, 3),
    "flux2": (32, 32, 3),
    "flux2-klein": (32, 32, 3),
    "chronoedit": (32, 32, 3),  # last of 5 frames
    "framepack": (32, 32, 3),  # last of 5 frames
    "qwen-image-layered": (2, 64, 64, 4),  # 2 RGBA layers
}
VIDEO_FRAMES = {"chronoedit": (1, 5, 32, 32, 3), "framepack": (1, 5, 32, 32, 3)}

LORA_FAMILIES = [f for f in tp.FAMILIES if tp.has_lora_loader(f)]
NO_LORA_FAMILIES = [f for f in tp.FAMILIES if not tp.has_lora_loader(f)]


def _image(size: int = 32) -> Image.Image:
    rng = np.random.RandomState(7)
    return Image.fromarray((rng.rand(size, size, 3) * 255).astype(np.uint8))


def _run(family: str, pipe, seed: int = 0, image: Image.Image | list | None = None):
    kwargs = tp.call_kwargs(family, image if image is not None else _image(), "make the sky red")
    with tp.small_sizes(family):
        torch.manual_seed(seed)  # OmniGen encodes its input images with the global RNG
        return pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(seed))


def _reload(folder, monkeypatch):
    from diffusers import DiffusionPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = DiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_families_cover_every_pipeline_class():
    assert set(tp.FAMILIES) == set(tp.PIPELINE_CLASSES) == set(EXPECTED_SHAPES)
    assert NO_LORA_FAMILIES == ["omnigen"]


@pytest.mark.parametrize("family", tp.FAMILIES)
def test_same_seed_same_weights(family, tiny_models):
    first = tiny_models.pipeline(family)
    again = tp.build_pipeline(family, seed=0)
    other = tp.build_pipeline(family, seed=1)
    denoiser = tp.denoiser_name(family)
    for name, component in first.components.items():
        if not isinstance(component, torch.nn.Module):
            continue
        assert not component.training, f"{family}: {name} left in train mode"
        a, b = component.state_dict(), again.components[name].state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{family}: {name}.{key} differs between two seed-0 builds"
    w0 = next(iter(getattr(first, denoiser).parameters()))
    w1 = next(iter(getattr(other, denoiser).parameters()))
    assert not torch.equal(w0, w1), "seed 1 gave the same denoiser weights as seed 0"


@pytest.mark.parametrize("family", tp.FAMILIES)
def test_save_reload_run(family, tiny_models, monkeypatch):
    folder = tiny_models(family)
    assert (folder / "model_index.json").is_file()
    assert not list(folder.rglob("*.bin")), "weights must be saved as safetensors"
    reloaded = _reload(folder, monkeypatch)
    assert type(reloaded) is tp.pipeline_class(family)

    output = _run(family, tiny_models.pipeline(family))
    image = tp.output_image(family, output)
    assert image.shape == EXPECTED_SHAPES[family]
    assert np.isfinite(image).all()
    assert image.std() > 0, "a constant image is no result"
    if family in VIDEO_FRAMES:
        assert np.asarray(output.frames).shape == VIDEO_FRAMES[family]

    # Loaded weights stay in the mmapped safetensors file, unaligned: CPU kernels may round
    # differently (~1e-6) than for the in-memory pipeline; two loads agree exactly, and once
    # the loaded weights sit in fresh memory the pixels equal the in-memory ones exactly.
    loaded = tp.output_image(family, _run(family, reloaded))
    np.testing.assert_allclose(loaded, image, rtol=0, atol=1e-5)
    second = _reload(folder, monkeypatch)
    np.testing.assert_array_equal(tp.output_image(family, _run(family, second)), loaded)
    realigned = tp.output_image(family, _run(family, tp.realign(reloaded)))
    np.testing.assert_array_equal(realigned, image, err_msg=f"{family}: reloaded pipeline gave other pixels")


def test_qwen_image_edit_2511_variant(tiny_models, monkeypatch):
    folder = tiny_models("qwen-image-edit-plus", variant="2511")
    reloaded = _reload(folder, monkeypatch)
    assert reloaded.transformer.config.zero_cond_t is True
    assert tiny_models.pipeline("qwen-image-edit-plus").transformer.config.zero_cond_t is False
    images = [_image(), _image(24)]
    direct = tp.output_image("qwen-image-edit-plus", _run("qwen-image-edit-plus", reloaded, image=images))
    assert direct.shape == (64, 64, 3) and np.isfinite(direct).all()
    memory = tiny_models.pipeline("qwen-image-edit-plus", variant="2511")
    np.testing.assert_array_equal(
        tp.output_image("qwen-image-edit-plus", _run("qwen-image-edit-plus", memory, image=images)), direct
    )


def test_unknown_family_and_variant_are_clear_errors():
    with pytest.raises(ValueError, match="unknown tiny pipeline family"):
        tp.build_pipeline("dall-e")
    with pytest.raises(ValueError, match="no variant"):
        tp.build_pipeline("flux-kontext", variant="2511")


@pytest.mark.parametrize("family", LORA_FAMILIES)
def test_lora_round_trip(family, tiny_models, tmp_path, monkeypatch):
    path = tp.tiny_lora(family, tiny_models.pipeline(family), tmp_path / "lora")
    assert path.suffix == ".safetensors" and path.is_file()

    pipe = _reload(tiny_models(family), monkeypatch)  # fresh: the shared pipeline stays LoRA-free
    base = tp.output_image(family, _run(family, pipe))
    pipe.load_lora_weights(str(path), adapter_name="tiny")
    with safe_open(str(path), "pt") as handle:
        in_file = sum(".lora_A." in key for key in handle.keys())
    denoiser = getattr(pipe, tp.denoiser_name(family))
    wrapped = sum(1 for module in denoiser.modules() if "tiny" in getattr(module, "lora_A", {}))
    assert in_file > 0 and wrapped == in_file, f"{family}: {wrapped} of {in_file} LoRA layers loaded"
    with_lora = tp.output_image(family, _run(family, pipe))
    assert np.isfinite(with_lora).all()
    assert not np.array_equal(with_lora, base), f"{family}: the LoRA did not change the output"

    pipe.set_adapters(["tiny"], adapter_weights=[0.0])
    np.testing.assert_array_equal(tp.output_image(family, _run(family, pipe)), base)


@pytest.mark.parametrize("family", NO_LORA_FAMILIES)
def test_tiny_lora_refuses_families_without_loader(family, tiny_models, tmp_path):
    with pytest.raises(NotImplementedError, match="no LoRA loader"):
        tp.tiny_lora(family, tiny_models.pipeline(family), tmp_path)


@pytest.mark.parametrize("family", ["qwen-image-edit", "qwen-image-edit-plus", "qwen-image-layered"])
def test_small_sizes_lowers_and_restores_module_constants(family):
    module = importlib.import_module(tp._QWEN_MODULES[family])
    before = {
        k: getattr(module, k)
        for k in ("calculate_dimensions", "VAE_IMAGE_SIZE", "CONDITION_IMAGE_SIZE")
        if hasattr(module, k)
    }
    full = module.calculate_dimensions(1024 * 1024, 1.0)[:2]
    with tp.small_sizes(family):
        assert module.calculate_dimensions(1024 * 1024, 1.0)[:2] == (64, 64)
        assert module.calculate_dimensions(640 * 640, 1.0)[:2] == (64, 64)
        if "VAE_IMAGE_SIZE" in before:
            assert module.VAE_IMAGE_SIZE == tp.QWEN_AREA
            assert module.CONDITION_IMAGE_SIZE == tp.QWEN_CONDITION_AREA
    after = {k: getattr(module, k) for k in before}
    assert after == before
    assert module.calculate_dimensions(1024 * 1024, 1.0)[:2] == full == (1024, 1024)


def test_small_sizes_restores_after_an_error():
    module = importlib.import_module(tp._QWEN_MODULES["qwen-image-edit-plus"])
    with pytest.raises(RuntimeError), tp.small_sizes("qwen-image-edit-plus"):
        raise RuntimeError("boom")
    assert module.VAE_IMAGE_SIZE == 1024 * 1024 and module.CONDITION_IMAGE_SIZE == 384 * 384


def test_small_sizes_is_a_no_op_elsewhere():
    with tp.small_sizes("flux-kontext"):
        pass
