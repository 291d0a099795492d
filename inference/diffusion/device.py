"""Device, dtype and memory mode: chosen once for every family.

- CUDA in bfloat16 where the GPU supports it (else float16); Apple MPS in bfloat16 on macOS 14 and newer,
  else float32 (MPS before macOS 14 has no bfloat16, and these models overflow float16 into black pictures);
  else the CPU in float32.
- Memory modes: ``gpu`` (everything on the GPU), ``model-offload`` (each model moves to the GPU
  while it runs), ``group-offload`` (blocks stream to the GPU: slow, fits almost anything),
  ``sequential-offload`` (layer by layer, slowest), ``quantized`` (4-bit weights with
  bitsandbytes, when it is installed), ``cpu``. ``auto`` picks from the free GPU memory and the
  model's size; on Apple silicon from the share of the unified memory Metal lets a process keep
  (``torch.mps.recommended_max_memory``, else 70% of the RAM), where only ``gpu``, ``model-offload`` and
  ``cpu`` apply (:data:`MPS_MODES`).

torch is imported only when a function here is called.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
from dataclasses import dataclass

MEMORY_MODES = ("auto", "gpu", "model-offload", "group-offload", "sequential-offload", "quantized", "cpu")
# Apple silicon: group offload streams blocks into a separate GPU memory and bitsandbytes is CUDA-only; with
# unified memory, model offload is what lowers Metal's working set
MPS_MODES = ("auto", "gpu", "model-offload", "cpu")
GIB = 1024**3
# what a 1024² step needs next to the weights (activations, VAE decode), with some margin
ACTIVATION_MARGIN = 4 * GIB


def has_package(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def _diffusers_index() -> str:
    """The text of the installed diffusers' ``__init__.py`` (its lazy-import table names every public class),
    read without importing diffusers (which imports torch: seconds)."""
    try:
        spec = importlib.util.find_spec("diffusers")
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            return fh.read(4 * 1024 * 1024)
    except (OSError, UnicodeDecodeError):
        return ""


def diffusers_has(class_name: str) -> bool:
    """Whether the installed diffusers offers ``class_name`` — known without importing diffusers or torch, so
    listing backends stays fast; the import happens when a model is loaded."""
    return f'"{class_name}"' in _diffusers_index()


def diffusers_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("diffusers")
    except metadata.PackageNotFoundError:
        return "?"


@dataclass(frozen=True)
class Placement:
    device: str  # "cuda", "mps", "cpu"
    dtype_name: str  # "bfloat16", "float16", "float32"
    memory_mode: str

    @property
    def dtype(self):
        import torch

        return getattr(torch, self.dtype_name)

    def describe(self) -> str:
        return f"{self.device}, {self.dtype_name}, {self.memory_mode}"


def best_device() -> tuple[str, str]:
    """(device, dtype name) this machine runs best in."""
    import torch

    if torch.cuda.is_available():
        return "cuda", "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps", "bfloat16" if hasattr(mps, "is_macos_or_newer") and mps.is_macos_or_newer(14, 0) else "float32"
    return "cpu", "float32"


def probable_device() -> str:
    """The device a model would run on, for listing backends: torch's answer when torch is already loaded, else
    the machine probe's (nvidia-smi, Apple silicon) — without importing torch (seconds). The real choice is
    :func:`best_device`, made when a model loads."""
    import sys

    if "torch" in sys.modules:
        return best_device()[0]
    from inference.hub import machine

    m = machine.detect(".")
    if not m.gpu_bytes:
        return "cpu"
    return "mps" if m.unified else "cuda"


def free_vram() -> tuple[int, int]:
    """(free, total) bytes on the current CUDA device; (0, 0) without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return 0, 0
    free, total = torch.cuda.mem_get_info()
    return int(free), int(total)


def mps_budget() -> int:
    """Bytes a model may keep on Apple silicon's GPU: Metal's recommended working set for this process when torch
    tells it, else :attr:`inference.hub.machine.Machine.usable_gpu_bytes` (70% of the unified memory)."""
    import torch

    mps = getattr(torch, "mps", None)
    fn = getattr(mps, "recommended_max_memory", None)
    if fn is not None:
        try:
            return int(fn())
        except (RuntimeError, AttributeError):
            pass
    from inference.hub import machine

    return machine.detect(".").usable_gpu_bytes or 0


def weights_in(dtype_bytes: int, stored_bytes: int, stored_dtype_bytes: int = 2) -> int:
    return stored_bytes * dtype_bytes // max(1, stored_dtype_bytes)


def auto_memory_mode(model_bytes: int, largest_component: int, free: int) -> str:
    """The fastest mode that fits ``free`` bytes of VRAM (sizes as stored on disk)."""
    if model_bytes + ACTIVATION_MARGIN <= free:
        return "gpu"
    if largest_component + ACTIVATION_MARGIN <= free:
        return "model-offload"
    return "group-offload"  # quantized changes the numbers: only when the user picks it


def choose(memory_mode: str = "auto", device: str | None = None, model_bytes: int = 0,
           largest_component: int = 0) -> Placement:
    """Where and how to run. ``device`` forces one ("cpu", "cuda", "mps")."""
    if memory_mode not in MEMORY_MODES:
        raise ValueError(f"unknown memory mode {memory_mode!r}; one of {', '.join(MEMORY_MODES)}")
    if memory_mode == "cpu" or device == "cpu":
        return Placement("cpu", "float32", "cpu")
    dev, dtype = best_device()
    if device is not None and device != dev:
        dev = device
    if dev == "cpu":
        return Placement("cpu", "float32", "cpu")
    if dev == "mps":
        if memory_mode not in MPS_MODES:
            raise ValueError(f"the {memory_mode} memory mode is not available on Apple silicon (it needs CUDA); "
                             f"one of {', '.join(MPS_MODES)}")
        if memory_mode == "auto":
            memory_mode = auto_memory_mode(model_bytes, largest_component, mps_budget())
            memory_mode = "gpu" if memory_mode == "gpu" else "model-offload"
        return Placement("mps", dtype, memory_mode)
    if memory_mode == "auto":
        free, _ = free_vram()
        memory_mode = auto_memory_mode(model_bytes, largest_component, free)
    if memory_mode == "quantized" and not has_package("bitsandbytes"):
        raise ValueError("the quantized memory mode needs the bitsandbytes package: pip install bitsandbytes")
    return Placement("cuda", dtype, memory_mode)


def free_memory() -> None:
    """Give cached GPU memory back (after an out-of-memory error or a model switch)."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.ipc_collect()
        mps = getattr(torch, "mps", None)
        if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            mps.empty_cache()
    except ImportError:
        pass


# --- one model at work at a time --------------------------------------------------------------------
class ModelBusy(Exception):
    """Raised by :func:`lease` when the device's model work is held by someone else (typed by callers)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


_LEASE = threading.Condition()
_HOLDER: list[str] = []


def holder() -> str | None:
    """Who holds the in-process model work now ("training my-style.safetensors", "an edit"), or None."""
    with _LEASE:
        return _HOLDER[0] if _HOLDER else None


@contextlib.contextmanager
def lease(who: str, *, wait=False, cancel=None):
    """Hold the in-process model work (the GPU, or the CPU's memory on a machine without one) while the
    block runs. Training and an edit with an in-process model never run at once: the second one
    either waits (``wait``: True, or a function of the holder's name saying whether to wait for it;
    ``cancel`` stops the wait) or raises ModelBusy naming the holder."""
    with _LEASE:
        while _HOLDER:
            if not (wait(_HOLDER[0]) if callable(wait) else wait):
                raise ModelBusy(_HOLDER[0])
            _LEASE.wait(0.2)
            if cancel is not None:
                cancel.raise_if_cancelled()
        _HOLDER.append(who)
    try:
        yield
    finally:
        with _LEASE:
            _HOLDER.clear()
            _LEASE.notify_all()
