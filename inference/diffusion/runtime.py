"""The diffusers plumbing every family shares, written once.

- :class:`PipelineCache`: the loaded pipeline stays loaded; repeated edits with the same model
  do not reload it; a different model (or placement) frees the previous one first.
- :func:`load_pipeline`: safetensors only, local files only, no remote code, the family's own
  pipeline class; failures become :class:`~inference.diffusion.models.ModelError` naming the file.
- :func:`apply_loras`: several LoRAs with weights; one that does not fit is a clear error.
- :func:`call`: seeds (a ``torch.Generator``, and the global RNG for pipelines that draw from
  it), the step callback forwarding progress and cancelling by raising, out-of-memory handling.
- :func:`to_rgba` / :func:`check_output`: float output to RGBA uint8; NaN or all-black is an error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.diffusion import device as dev
from inference.diffusion.models import FAMILIES, PICKLE_SUFFIXES, ModelError, ModelInfo, read_json, safetensors_header
from inference.errors import BackendFailed, Cancelled, InvalidRequest, OutOfMemory
from inference.progress import Reporter

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """A loaded pipeline and what was done to it."""

    key: tuple
    info: ModelInfo
    placement: dev.Placement
    pipe: object
    loras: tuple[tuple[str, float], ...] = ()
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _component_bytes(info: ModelInfo) -> tuple[int, int]:
    sizes = []
    den = FAMILIES[info.family].denoiser
    for sub in info.path.iterdir():
        if sub.is_dir():
            if info.weights is not None and sub.name == den:  # the single file replaces the folder's own
                sizes.append(info.weights.stat().st_size)
                continue
            sizes.append(sum(p.stat().st_size for p in sub.glob("*.safetensors")))
    return sum(sizes), max(sizes, default=0)


def is_gguf(info: ModelInfo) -> bool:
    return info.weights is not None and info.weights.suffix == ".gguf"


def model_notes(info: ModelInfo, placement: dev.Placement) -> list[str]:
    """What a result should say about the weights it ran on (a single file: which, and how they were read)."""
    if info.weights is None:
        return []
    den = FAMILIES[info.family].denoiser
    what = f"{den}: {info.weights.name}" + (f", {info.precision}" if info.precision else "")
    notes = [f"{what} (on {info.repo_id or info.path.name})"]
    dtype = str(placement.dtype).removeprefix("torch.")
    if is_gguf(info):
        notes.append(f"GGUF weights dequantized on the fly, computed in {dtype}")
    elif info.precision and info.precision.startswith("FP8"):
        notes.append(f"FP8 weights upcast to {dtype} when loaded (diffusers computes in {dtype}; the file is "
                     "smaller, the loaded model is not)")
    return notes


def _single_file_denoiser(info: ModelInfo, placement: dev.Placement):
    """The denoiser from ``info.weights`` with the base folder's own configuration (never guessed, never
    fetched): GGUF files stay quantized (diffusers' GGUFLinear layers), safetensors are read in the
    placement's dtype. A wrapper prefix on diffusers-named tensors is stripped first."""
    import diffusers

    spec = FAMILIES[info.family]
    den_cls = getattr(diffusers, read_json(info.path / spec.denoiser / "config.json")["_class_name"])
    kwargs = dict(config=str(info.path), subfolder=spec.denoiser, torch_dtype=placement.dtype, local_files_only=True)
    if is_gguf(info):
        from diffusers import GGUFQuantizationConfig

        kwargs["quantization_config"] = GGUFQuantizationConfig(compute_dtype=placement.dtype)
    source: object = str(info.weights)
    if info.prefix:
        from diffusers.models.model_loading_utils import load_state_dict

        n = len(info.prefix)
        source = {k[n:] if k.startswith(info.prefix) else k: v for k, v in load_state_dict(str(info.weights)).items()}
    return den_cls.from_single_file(source, **kwargs)


def load_pipeline(info: ModelInfo, placement: dev.Placement):
    """Load ``info`` with its family's pipeline class, placed as ``placement`` says."""
    import diffusers

    spec = FAMILIES[info.family]
    cls = getattr(diffusers, spec.pipeline, None)
    if cls is None:
        raise ModelError(f"this diffusers ({diffusers.__version__}) has no {spec.pipeline}; upgrade diffusers")
    kwargs = dict(dtype=placement.dtype, use_safetensors=True, local_files_only=True)
    if placement.memory_mode == "quantized" and not is_gguf(info):  # a GGUF denoiser is quantized already
        from diffusers.quantizers import PipelineQuantizationConfig

        kwargs["quantization_config"] = PipelineQuantizationConfig(
            quant_backend="bitsandbytes_4bit",
            quant_kwargs={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                          "bnb_4bit_compute_dtype": placement.dtype},
            components_to_quantize=[spec.denoiser])
    try:
        if info.weights is not None:  # a single-file denoiser on its base folder's configuration
            try:
                kwargs[spec.denoiser] = _single_file_denoiser(info, placement)
            except Exception as exc:  # noqa: BLE001 - any failure of the conversion names the file
                if _is_oom(exc):
                    raise
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelError(f"{info.weights}: diffusers could not load this single-file checkpoint on "
                                 f"{info.path.name}: {first[:300]}") from exc
        pipe = cls.from_pretrained(str(info.path), **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError) as exc:
        text = str(exc).strip().splitlines()
        raise ModelError(f"{info.path}: the {spec.label} model could not be loaded: "
                         f"{text[0] if text else type(exc).__name__}") from exc
    pipe.set_progress_bar_config(disable=True)
    mode = placement.memory_mode
    if placement.device == "cpu":
        pass
    elif mode in ("gpu", "quantized"):
        pipe.to(placement.device)
    elif mode == "model-offload":
        pipe.enable_model_cpu_offload(device=placement.device)
    elif mode == "group-offload":
        import torch

        pipe.enable_group_offload(onload_device=torch.device(placement.device), offload_type="leaf_level",
                                  use_stream=True)
    elif mode == "sequential-offload":
        pipe.enable_sequential_cpu_offload(device=placement.device)
    return pipe


class PipelineCache:
    """One loaded pipeline at a time (editing models are large); counts loads for tests."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.current: Loaded | None = None
        self.loads = 0

    def get(self, info: ModelInfo, memory_mode: str = "auto", device: str | None = None) -> Loaded:
        with self._lock:
            key = (str(info.path.resolve()), str(info.weights), info.family, memory_mode, device)
            cur = self.current
            if cur is not None and cur.key == key:
                return cur
            if cur is not None:
                with cur.lock:  # wait for an edit still using it (another thread) before freeing it
                    self.clear()
            total, largest = _component_bytes(info)
            placement = dev.choose(memory_mode, device, total, largest)
            t0 = time.perf_counter()
            try:
                pipe = load_pipeline(info, placement)
            except Exception as exc:
                dev.free_memory()
                if _is_oom(exc):
                    raise OutOfMemory(f"not enough memory to load {info.name}; choose a lower-memory mode "
                                      "(model offload, group offload, quantized) or close other programs") from exc
                raise
            self.loads += 1
            self.current = Loaded(key, info, placement, pipe, load_seconds=time.perf_counter() - t0)
            log.info("loaded %s (%s) in %.1f s", info.describe(), placement.describe(), self.current.load_seconds)
            return self.current

    def clear(self) -> None:
        """Free the loaded pipeline (switching model, or the user asked)."""
        with self._lock:
            if self.current is not None:
                self.current = None
                dev.free_memory()


CACHE = PipelineCache()


# --- LoRA --------------------------------------------------------------------------------------
def _check_lora_file(path: str) -> Path:
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        if not files:
            raise InvalidRequest(f"LoRA {p}: the folder holds no .safetensors file")
        p = files[0]
    if not p.exists():
        raise InvalidRequest(f"LoRA {p}: no such file")
    if p.suffix in PICKLE_SUFFIXES:
        raise InvalidRequest(f"LoRA {p}: pickle files ({p.suffix}) are refused — they can run code when loaded; "
                             "use a .safetensors LoRA")
    if p.suffix != ".safetensors":
        raise InvalidRequest(f"LoRA {p}: not a .safetensors file")
    try:
        safetensors_header(p)
    except ModelError as exc:
        raise InvalidRequest(str(exc)) from None
    return p


def apply_loras(loaded: Loaded, loras: tuple[tuple[str, float], ...], supports: bool, label: str) -> None:
    """Make ``loaded.pipe`` carry exactly ``loras`` (path, weight): load, reweight or unload."""
    pipe = loaded.pipe
    if not loras and not loaded.loras:
        return
    if loras and not supports:
        raise InvalidRequest(f"the {label} pipeline cannot load LoRAs")
    want_paths = tuple(str(_check_lora_file(p)) for p, _ in loras)
    have_paths = tuple(p for p, _ in loaded.loras)
    if want_paths != have_paths:
        if loaded.loras:
            pipe.unload_lora_weights()
            loaded.loras = ()
        for i, path in enumerate(want_paths):
            name = f"akapen_{i}"
            try:
                pipe.load_lora_weights(path, adapter_name=name)
            except Exception as exc:  # peft/diffusers raise many kinds for a LoRA of another model
                _unload_quietly(pipe)
                loaded.loras = ()
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise InvalidRequest(f"LoRA {path} does not fit this {label} model: {first[:300]}") from exc
            adapters = {a for names in pipe.get_list_adapters().values() for a in names}
            if name not in adapters:
                _unload_quietly(pipe)
                loaded.loras = ()
                raise InvalidRequest(f"LoRA {path} does not fit this {label} model: none of its layers match "
                                     "the model (a LoRA for another model family?)")
    if want_paths:
        pipe.set_adapters([f"akapen_{i}" for i in range(len(want_paths))], [w for _, w in loras])
    loaded.loras = tuple(zip(want_paths, (w for _, w in loras), strict=True))


def _unload_quietly(pipe) -> None:
    try:
        pipe.unload_lora_weights()
    except Exception:  # noqa: BLE001 - best effort after a failed load
        log.exception("unloading LoRAs after a failed load")


# --- one call ----------------------------------------------------------------------------------
def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def generator(seed: int, placement: dev.Placement):
    import torch

    # a CPU generator gives the same noise on every device (diffusers moves the noise over)
    return torch.Generator("cpu").manual_seed(int(seed))


def call(loaded: Loaded, kwargs: dict, reporter: Reporter, seed: int, *, global_rng: bool = False,
         callback: bool = True, previews=None):
    """Run the pipeline once. Progress: one ``reporter.advance()`` per step, with a picture of
    the work so far when ``previews`` (a :class:`~inference.diffusion.previews.Previews`) gives
    one; cancelling raises Cancelled from the step callback (diffusers' ``_interrupt`` would
    still decode an image)."""
    import torch

    def on_step(pipe, step, timestep, cb_kwargs):  # noqa: ARG001 - the diffusers callback signature
        reporter.check()  # not worth a preview once cancelled
        latents = cb_kwargs.get("latents")
        image = previews(pipe, step, latents) if previews is not None and latents is not None else None
        reporter.advance(preview=image)
        return {}

    kwargs = dict(kwargs)
    kwargs["generator"] = generator(seed, loaded.placement)
    if callback:
        kwargs["callback_on_step_end"] = on_step
    kwargs.setdefault("output_type", "np")
    reporter.check()
    try:
        with torch.inference_mode():
            if not global_rng:
                return loaded.pipe(**kwargs)
            # seeded for this call only: the process's global RNG state is restored afterwards
            devices = [torch.cuda.current_device()] if loaded.placement.device == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(int(seed))
                return loaded.pipe(**kwargs)
    except Cancelled:
        raise
    except Exception as exc:
        if _is_oom(exc):
            dev.free_memory()
            mode = loaded.placement.memory_mode
            raise OutOfMemory(
                f"{loaded.info.name} ran out of memory ({loaded.placement.describe()}); try a lower-memory mode"
                f"{' than ' + mode if mode not in ('cpu', 'sequential-offload') else ''}, a smaller selection "
                "or fewer reference images") from exc
        raise


def to_float_images(images) -> np.ndarray:
    """A pipeline's ``output_type="np"`` images as float (N, H, W, C) in 0..1."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    return arr


def check_output(arr: np.ndarray, what: str) -> None:
    """NaN/inf or an all-black image is an error, never a result."""
    if not np.isfinite(arr).all():
        raise BackendFailed(f"{what} produced an invalid image (NaN values); nothing was inserted. Try float32 "
                            "(the CPU), another memory mode, or a different LoRA")
    if arr.shape[-1] == 3 and float(np.max(arr)) <= 1.0 / 255.0:  # (an RGBA layer may be empty)
        raise BackendFailed(f"{what} produced an all-black image (a failed run or a safety filter); nothing was "
                            "inserted")


def to_rgba(arr: np.ndarray) -> np.ndarray:
    """One float (H, W, 3|4) image in 0..1 as RGBA uint8 (rounded as diffusers' PIL output)."""
    u8 = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    if u8.shape[2] == 4:
        return np.ascontiguousarray(u8)
    alpha = np.full(u8.shape[:2] + (1,), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([u8, alpha], axis=2))
