"""Speed modes of the diffusers families: ``quality`` (the model card), ``fast`` and ``draft``.

- quality: the model card's steps and guidance, nothing changed.
- fast: step caching through the installed diffusers' own cache hooks (the method chosen per family
  in :data:`CACHE_CHOICES`, with its source), and on CUDA regional ``torch.compile`` of the repeated
  transformer blocks (``compile_repeated_blocks``) and FP8 weights through torchao on GPUs that have
  FP8 (compute capability 8.9 and later) — each only where it is available, otherwise skipped with a
  note on the result.
- draft: fewer steps (:func:`draft_steps`) plus the same caching, for a quick look.

A recognised few-step file (:mod:`lightning`) sets the steps, guidance and scheduler in every mode.

Cache hooks and the scheduler are put back after every run, so a later quality run gives exactly
the pixels it gave before. Compiled blocks stay compiled while fast runs follow each other and are
undone by a quality run; FP8 weights cannot be undone in place, so a quality run (or a LoRA) after
them reloads the model (:func:`needs_reload`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from inference.diffusion import lightning
from inference.request import SPEEDS

log = logging.getLogger(__name__)

DRAFT_FRACTION = 0.4  # draft runs this share of the steps ...
DRAFT_MIN_STEPS = 4  # ... but never fewer than this (nor more than it was)
MIN_CACHED_STEPS = 8  # below this a distilled model's steps all differ too much to reuse any


@dataclass(frozen=True)
class CacheChoice:
    """One family's step cache: a diffusers config class, its options, where the numbers come from.

    ``one_call``: the family's pipeline calls the transformer once per step without naming the call
    (``cache_context``), so naming it "cond" ourselves is right; a pipeline that calls it twice per step
    without names (true CFG) cannot be cached safely.
    """

    method: str  # "first-block", "taylorseer", "mag"
    options: Mapping[str, object]
    source: str
    one_call: bool = False

    @property
    def config_class(self) -> str:
        return {"first-block": "FirstBlockCacheConfig", "taylorseer": "TaylorSeerCacheConfig",
                "mag": "MagCacheConfig"}[self.method]

    def describe(self, options: Mapping[str, object] | None = None) -> str:
        opts = ", ".join(f"{k} {v}" for k, v in (options or self.options).items())
        return f"{_LABELS[self.method]} ({opts})"


_LABELS = {"first-block": "First-Block Cache", "taylorseer": "TaylorSeer cache", "mag": "MagCache"}
_FBC_FLUX = ("Nunchaku's FLUX.1-dev First-Block Cache example (residual_diff_threshold 0.12); implementations report "
             "0.08–0.12 for image DiTs")
_FBC_QWEN = ("the low end (0.08) of the 0.08–0.12 that First-Block Cache implementations report for image DiTs: "
             "Qwen's true CFG runs each step twice, so errors count double")
_TAYLOR = ("diffusers' TaylorSeerCacheConfig defaults (cache_interval 5, disable_cache_before_step 3), as in its "
           "FLUX.1 example; First-Block Cache fails on FLUX.2 in diffusers 0.42 (its last block returns a tensor "
           "where the first returns a pair)")
_TAYLOR_QWEN21 = ("diffusers' TaylorSeerCacheConfig defaults (cache_interval 5, disable_cache_before_step 3); diffusers "
                  "0.42's TaylorSeer hook is written for Qwen-Image-2.1's prefix KV cache (prefix + target tokens on the "
                  "first step, the target's only after it), while First-Block Cache and MagCache refuse its "
                  "QwenImage21TransformerBlock (not in diffusers' block registry)")

# family -> its cache, or the reason it has none (each checked on the tiny pipelines in
# tests/inference/test_speed_modes.py)
CACHE_CHOICES: dict[str, CacheChoice | str] = {
    "flux-kontext": CacheChoice("first-block", MappingProxyType({"threshold": 0.12}), _FBC_FLUX, one_call=True),
    "flux-fill": CacheChoice("first-block", MappingProxyType({"threshold": 0.12}), _FBC_FLUX, one_call=True),
    "qwen-image-edit": CacheChoice("first-block", MappingProxyType({"threshold": 0.08}), _FBC_QWEN),
    "qwen-image-edit-plus": CacheChoice("first-block", MappingProxyType({"threshold": 0.08}), _FBC_QWEN),
    "qwen-image-layered": CacheChoice("first-block", MappingProxyType({"threshold": 0.08}), _FBC_QWEN),
    "flux2": CacheChoice("taylorseer", MappingProxyType({"cache_interval": 5, "disable_cache_before_step": 3}),
                         _TAYLOR, one_call=True),
    "flux2-klein": CacheChoice("taylorseer", MappingProxyType({"cache_interval": 5, "disable_cache_before_step": 3}),
                               _TAYLOR),
    "qwen-image-2.1": CacheChoice("taylorseer", MappingProxyType({"cache_interval": 5,
                                                                  "disable_cache_before_step": 3}), _TAYLOR_QWEN21),
    "instruct-pix2pix": "its UNet has none of the transformer blocks diffusers' cache hooks know",
    "omnigen": "diffusers' cache hooks do not know OmniGen's transformer layers",
    "chronoedit": "its pipeline calls the transformer twice a step (CFG) without telling the cache hooks which "
                  "call is which",
    "framepack": "its pipeline runs its own sectioned loop, which diffusers' cache hooks are not written for",
}
FP8_FAMILIES = frozenset({"flux-kontext", "flux-fill", "flux2", "flux2-klein", "qwen-image-edit",
                          "qwen-image-edit-plus", "qwen-image-layered"})  # linear-layer DiTs torchao's FP8 fits


def draft_steps(steps: int) -> int:
    """The steps of a draft run for a quality run of ``steps``."""
    return min(steps, max(DRAFT_MIN_STEPS, round(steps * DRAFT_FRACTION)))


@dataclass
class SpeedPlan:
    """What a run in ``speed`` does: its steps, the guidance it forces (None: the family's), the few-step
    file that set them, and notes for the result."""

    speed: str
    steps: int
    guidance: float | None = None
    distilled: lightning.Distilled | None = None
    notes: list[str] = field(default_factory=list)
    cache: bool = True  # False: without the step cache (after it failed on this model)

    @property
    def caches(self) -> bool:
        return (self.cache and self.speed != "quality" and self.distilled is None
                and self.steps >= MIN_CACHED_STEPS)


def plan(speed: str, family: str, steps: int, loras=(), explicit_steps: bool = False,
         explicit_guidance: bool = False) -> SpeedPlan:
    """The plan for a run of ``family`` at ``steps`` (the card's or the user's) with ``loras``."""
    if speed not in SPEEDS:
        raise ValueError(f"unknown speed {speed!r}")
    notes: list[str] = []
    found = lightning.distilled_loras(loras, family)
    distilled = found[0] if found else None
    guidance = None
    if distilled is not None:
        if not explicit_steps:
            steps = distilled.steps
        notes.append(f"few-step LoRA recognised: {distilled.describe()}")
        if steps != distilled.steps:
            notes.append(f"the {steps} steps you set were kept (the LoRA is trained for {distilled.steps})")
        if not explicit_guidance:
            guidance = distilled.guidance
    if speed == "draft":
        if distilled is not None:
            notes.append(f"draft: {steps} steps, as the few-step LoRA needs")
        else:
            quality = steps
            steps = draft_steps(steps)
            notes.append(f"draft: {steps} of {quality} steps" if steps < quality
                         else f"draft: {steps} steps (already a few-step run)")
    sp = SpeedPlan(speed, steps, guidance, distilled, notes)
    if speed != "quality" and distilled is not None:
        notes.append("step caching: not used (a few-step LoRA changes the picture too much at every step to "
                     "reuse one)")
    elif speed != "quality" and not sp.caches:
        notes.append(f"step caching: not used ({steps} steps: a few-step run has no step to reuse)")
    return sp


# --- on the pipeline -------------------------------------------------------------------------------
def _cache_options(choice: CacheChoice, params: Mapping[str, object]) -> dict[str, object]:
    opts = dict(choice.options)
    if choice.method in ("first-block", "mag") and "cache_threshold" in params:
        opts["threshold"] = float(params["cache_threshold"])  # type: ignore[arg-type]
    return opts


def _names_its_calls(pipe) -> bool:
    try:
        return "cache_context" in inspect.getsource(type(pipe).__call__)
    except (OSError, TypeError):
        return False


def _last_block_linear(transformer):
    """The first linear layer of the last transformer block's attention (it runs only when that block
    is computed, not when a cache reuses it)."""
    import torch

    blocks = [b for name in ("transformer_blocks", "single_transformer_blocks")
              for b in getattr(transformer, name, None) or ()]
    if not blocks:
        return None
    last = blocks[-1]
    inner = getattr(last, "attn", last)
    return next((m for m in inner.modules() if isinstance(m, torch.nn.Linear)), None)


@contextlib.contextmanager
def step_cache(pipe, family: str, params: Mapping[str, object], notes: list[str]) -> Iterator[None]:
    choice = CACHE_CHOICES.get(family, "not chosen for this family")
    transformer = getattr(pipe, "transformer", None)
    if isinstance(choice, str):
        notes.append(f"step caching: not available for this family ({choice})")
        yield
        return
    import diffusers

    config_cls = getattr(diffusers, choice.config_class, None)
    if config_cls is None or transformer is None or not hasattr(transformer, "enable_cache"):
        notes.append(f"step caching: not available (this diffusers {diffusers.__version__} has no "
                     f"{choice.config_class} or this transformer no enable_cache)")
        yield
        return
    named = _names_its_calls(pipe)
    if not named and not choice.one_call:
        notes.append("step caching: not available (this pipeline does not name its transformer calls)")
        yield
        return
    if getattr(transformer, "is_cache_enabled", False):
        transformer.disable_cache()  # left by a run that died: start clean
    opts = _cache_options(choice, params)
    try:
        transformer.enable_cache(config_cls(**opts))
    except Exception as exc:  # noqa: BLE001 - a hook that does not fit this model: the edit runs without
        notes.append(f"step caching: not available ({choice.describe(opts)} does not fit this model: "
                     f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})")
        _disable(transformer)
        yield
        return
    calls = {"transformer": 0, "last block": 0}
    handles = [transformer.register_forward_pre_hook(lambda *_: calls.__setitem__("transformer",
                                                                                  calls["transformer"] + 1))]
    # a hook inside a compiled block is traced, not run at every call: counted only on uncompiled blocks
    compiled = any(getattr(m, "_compiled_call_impl", None) is not None for m in _repeated_blocks(transformer))
    probe = None if compiled else _last_block_linear(transformer)
    if probe is not None:
        handles.append(probe.register_forward_pre_hook(lambda *_: calls.__setitem__("last block",
                                                                                    calls["last block"] + 1)))
    if not named:  # one unnamed call a step: it is the "cond" call
        inner = transformer.forward

        def forward(*args, **kwargs):
            with transformer.cache_context("cond"):
                return inner(*args, **kwargs)

        transformer.forward = forward
    try:
        yield
        if probe is not None and calls["transformer"]:
            notes.append(f"step caching: {choice.describe(opts)} — the last transformer block ran in "
                         f"{calls['last block']} of {calls['transformer']} transformer calls "
                         f"(chosen from {choice.source})")
        else:
            why = " (not counted: the blocks are compiled)" if compiled else ""
            notes.append(f"step caching: {choice.describe(opts)}{why} (chosen from {choice.source})")
    finally:
        for h in handles:
            h.remove()
        transformer.__dict__.pop("forward", None)
        _disable(transformer)


def _disable(transformer) -> None:
    try:
        if getattr(transformer, "is_cache_enabled", False):
            transformer.disable_cache()
        transformer._reset_stateful_cache()
    except Exception:  # noqa: BLE001 - best effort; logged
        log.exception("removing the step cache")


def _repeated_blocks(transformer):
    names = set(getattr(transformer, "_repeated_blocks", None) or ())
    return [m for m in transformer.modules() if type(m).__name__ in names]


def uncompile(loaded) -> None:
    """Undo regional compilation (a quality run runs the blocks as loaded)."""
    transformer = getattr(loaded.pipe, "transformer", None)
    if transformer is not None and loaded.__dict__.get("compiled"):
        for m in _repeated_blocks(transformer):
            m._compiled_call_impl = None
    loaded.__dict__["compiled"] = False


def _cuda_extras(loaded, family: str, loras, notes: list[str]) -> None:
    """Regional torch.compile and FP8 weights, where they work; a note for each."""
    placement = loaded.placement
    if placement.device != "cuda":
        notes.append(f"torch.compile and FP8: not used (CUDA only; this run is on {placement.device})")
        return
    if placement.memory_mode == "quantized":
        notes.append("torch.compile and FP8: not used with the 4-bit quantized memory mode")
        return
    if placement.memory_mode != "gpu":
        notes.append(f"torch.compile and FP8: not used with {placement.memory_mode} (the whole model must stay "
                     "on the GPU)")
        return
    compile_blocks(loaded, notes)
    fp8_weights(loaded, family, loras, notes)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def compile_blocks(loaded, notes: list[str]) -> bool:
    """Regional ``torch.compile`` of the transformer's repeated blocks (once per loaded model)."""
    transformer = getattr(loaded.pipe, "transformer", None)
    if transformer is None or not _repeated_blocks(transformer) or not hasattr(transformer, "compile_repeated_blocks"):
        notes.append("torch.compile: not available (this transformer names no repeated blocks)")
        return False
    if loaded.__dict__.get("compiled"):
        notes.append("torch.compile: the repeated transformer blocks (compiled)")
        return True
    try:  # graph breaks allowed: the cache hooks decide on the host
        transformer.compile_repeated_blocks(fullgraph=False)
    except Exception as exc:  # noqa: BLE001 - any failure: the run goes on uncompiled
        notes.append(f"torch.compile: not available ({_first_line(exc)})")
        return False
    loaded.__dict__["compiled"] = True
    notes.append("torch.compile: the repeated transformer blocks compiled (the first run of each size compiles: "
                 "slower)")
    return True


def fp8_weights(loaded, family: str, loras, notes: list[str]) -> bool:
    """FP8 weights and activations (torchao) on GPUs with FP8, for the families it fits."""
    import torch

    transformer = getattr(loaded.pipe, "transformer", None)
    cap = torch.cuda.get_device_capability() if torch.cuda.is_available() else (0, 0)
    if loaded.__dict__.get("fp8"):
        notes.append("FP8 weights (torchao)")
        return True
    if family not in FP8_FAMILIES or transformer is None:
        notes.append("FP8: not used for this family")
    elif getattr(transformer, "hf_quantizer", None) is not None:
        notes.append("FP8: not used (the transformer is quantized already, e.g. a GGUF file)")
    elif cap < (8, 9):
        notes.append(f"FP8: not available (this GPU, compute capability {cap[0]}.{cap[1]}, has no FP8; 8.9 and later)")
    elif loras:
        notes.append("FP8: not used with LoRAs (they are applied to the bf16 weights)")
    else:
        try:
            from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_
        except ImportError:
            notes.append("FP8: not available (needs the torchao package: pip install torchao)")
            return False
        try:
            quantize_(transformer, Float8DynamicActivationFloat8WeightConfig())
        except Exception as exc:  # noqa: BLE001
            notes.append(f"FP8: not available ({_first_line(exc)})")
            return False
        loaded.__dict__["fp8"] = True
        notes.append("FP8 weights (torchao dynamic float8 activations and weights)")
        return True
    return False


def needs_reload(loaded, speed: str, loras) -> bool:
    """FP8 weights cannot be undone in place: a quality run or a LoRA after them reloads the model."""
    return bool(loaded.__dict__.get("fp8")) and (speed == "quality" or bool(loras))


@contextlib.contextmanager
def applied(loaded, family: str, sp: SpeedPlan, loras=(), params: Mapping[str, object] | None = None,
            pipe=None) -> Iterator[list[str]]:
    """Run one pipeline call in plan ``sp``: yields the list the notes go into. ``pipe``: the pipeline
    the call uses (default ``loaded.pipe``; klein's inpainting pipeline shares its components)."""
    pipe = pipe if pipe is not None else loaded.pipe
    notes = list(sp.notes)
    params = params or {}
    scheduler = getattr(pipe, "scheduler", None)
    swapped = False
    with contextlib.ExitStack() as stack:
        if sp.distilled is not None and sp.distilled.scheduler and scheduler is not None:
            pipe.scheduler = type(scheduler).from_config({**dict(scheduler.config), **sp.distilled.scheduler})
            swapped = True
        if sp.speed == "quality":
            if loaded.__dict__.get("compiled"):
                uncompile(loaded)
        else:
            _cuda_extras(loaded, family, loras, notes)
            if sp.caches:
                stack.enter_context(step_cache(pipe, family, params, notes))
        try:
            yield notes
        finally:
            if swapped:
                pipe.scheduler = scheduler

