"""The diffusers backend every family module subclasses.

A family module states only how it differs: its ``family`` name, defaults from its model
card (``default_steps``, ``default_guidance``, ``working_size``, ``size_multiple``), how many
references it takes, and :meth:`DiffusionBackend.call_kwargs` (how inputs are arranged) and,
where needed, :meth:`DiffusionBackend.images_from` (which output is the edit).

Everything else — finding and loading the model, device and memory mode, LoRAs, seeds,
progress and cancel, output checks and conversion — is here and in :mod:`runtime`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from inference.backend import Availability, Backend, Capabilities
from inference.diffusion import device as dev
from inference.diffusion import models, previews, runtime, speed
from inference.errors import BackendUnavailable, InvalidRequest
from inference.pen import strategies as mark_strategies
from inference.progress import Reporter
from inference.request import EditRequest

log = logging.getLogger(__name__)
CPU_WARNING = "runs on the CPU: needs torch with CUDA for reasonable speed (expect minutes per edit)"


def rgb(image: np.ndarray, background: int = 255) -> Image.Image:
    """RGBA uint8 → RGB PIL image; transparent pixels over a white background."""
    if image.shape[2] == 4 and (image[..., 3] < 255).any():
        a = image[..., 3:4].astype(np.float32) / 255.0
        flat = image[..., :3].astype(np.float32) * a + background * (1.0 - a)
        return Image.fromarray((flat + 0.5).astype(np.uint8), "RGB")
    return Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")


_DEFAULT_MEMORY_MODE = ["auto"]


def set_default_memory_mode(mode: str) -> None:
    """The memory mode of backends made from now on (the settings' choice; "auto" by default)."""
    if mode not in dev.MEMORY_MODES:
        raise InvalidRequest(f"unknown memory mode {mode!r}; one of {', '.join(dev.MEMORY_MODES)}")
    _DEFAULT_MEMORY_MODE[0] = mode


class DiffusionBackend(Backend):
    """One diffusers family. ``model``: a folder or repo id (None: the first one discovered)."""

    family: ClassVar[str] = ""
    resource: ClassVar[str] = "gpu"  # one in-process model at a time on the local device
    default_steps: ClassVar[int] = 28
    default_guidance: ClassVar[float] = 3.5
    default_working_size: ClassVar[int] = 1024
    size_multiple: ClassVar[int] = 16
    max_references: ClassVar[int] = 0
    supports_lora: ClassVar[bool] = True
    takes_mask: ClassVar[bool] = False
    global_rng: ClassVar[bool] = False  # the pipeline also draws from torch's global RNG
    speed_modes: ClassVar[bool] = True  # quality / fast / draft: inference.diffusion.speed

    def __init__(self, model: str | Path | models.ModelInfo | None = None, *, folders=None,
                 memory_mode: str | None = None, device: str | None = None, working_size: int | None = None,
                 cache: runtime.PipelineCache | None = None) -> None:
        memory_mode = memory_mode or _DEFAULT_MEMORY_MODE[0]
        if memory_mode not in dev.MEMORY_MODES:
            raise InvalidRequest(f"unknown memory mode {memory_mode!r}; one of {', '.join(dev.MEMORY_MODES)}")
        self._model_spec = model
        self.folders = folders
        self.memory_mode = memory_mode
        self.device = device
        self.working_size = working_size or self.default_working_size
        self.cache = cache or runtime.CACHE

    # --- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:  # type: ignore[override]
        return self.family

    @property
    def label(self) -> str:  # type: ignore[override]
        return models.FAMILIES[self.family].label

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return Capabilities(reads_instruction=True, max_references=self.max_references, takes_mask=self.takes_mask,
                            native_annotations=False, needs_gpu=True, working_size=self.working_size,
                            size_multiple=self.size_multiple, upscale_regions=True, max_variations=8, seeded=True,
                            marks=self.family if self.family in mark_strategies.FAMILIES else None,
                            aligns=self.result_kind == "variations")

    def model_info(self) -> models.ModelInfo:
        """The model this backend runs (ModelError / BackendUnavailable when there is none)."""
        spec = self._model_spec
        if isinstance(spec, models.ModelInfo):
            info = spec
        elif spec is not None:
            info = self._model_spec = models.resolve(spec, self.folders)  # checked once, then kept
        else:  # discovered afresh each time: models come and go
            everything, problems = models.scan(self.folders)
            found = [m for m in everything if m.family == self.family]
            broken = [p for p in problems if p.path.is_dir() and p.family == self.family]
            if not found and broken:  # the same words as `akapen models` and the Models window
                raise BackendUnavailable(f"no model found for this family that can run: {broken[0].reason} "
                                         "(Edit › Models… › Installed: Repair, or download it again)")
            if not found:
                fam = models.FAMILIES[self.family]
                raise BackendUnavailable(f"no model found for this family: Get model… (Edit › Models…) downloads "
                                         f"one (e.g. {fam.download}; `akapen models download` on the command "
                                         "line), or add your own model folder there")
            info = found[0]
        if info.family != self.family:
            raise models.ModelError(f"{info.path}: a {info.label} model, not {self.label} (family mismatch); "
                                    f"use the {info.family} backend")
        return info

    @property
    def model(self) -> str:
        try:
            info = self.model_info()
        except Exception:  # noqa: BLE001 - the name only; availability() reports the reason
            return ""
        return info.describe()

    def availability(self) -> Availability:
        for pkg in ("torch", "diffusers", "transformers", *models.FAMILIES[self.family].extra_packages):
            if not dev.has_package(pkg):
                return Availability(False, f"needs the Python package {pkg!r}: pip install {pkg}")
        try:
            info = self.model_info()
        except (BackendUnavailable, models.ModelError) as exc:
            return Availability(False, str(exc))
        if runtime.is_gguf(info) and not dev.has_package("gguf"):
            return Availability(False, f"{info.weights.name} is a GGUF file: it needs the Python package 'gguf' "
                                "(pip install gguf)")
        cls = models.FAMILIES[self.family].pipeline
        if not dev.diffusers_has(cls):  # read from its export table: listing backends imports neither it nor torch
            return Availability(False, f"this diffusers ({dev.diffusers_version()}) has no {cls}: upgrade diffusers")
        if self.memory_mode == "quantized" and not dev.has_package("bitsandbytes"):
            return Availability(False, "the quantized memory mode needs the bitsandbytes package: pip install "
                                "bitsandbytes, or choose another memory mode")
        device = dev.probable_device()
        if self.device not in (None, "cpu", device):
            return Availability(False, f"there is no {self.device} device here (this machine runs on {device})")
        if self.device in (None, "cpu") and device == "cpu":
            return Availability(True, CPU_WARNING)
        return Availability(True)

    # --- the shared edit ----------------------------------------------------------------------
    def steps(self, request: EditRequest) -> int:
        return request.steps or int(request.params.get("steps", self.default_steps))

    def guidance(self, request: EditRequest) -> float:
        return self.default_guidance if request.guidance is None else request.guidance

    def speed_plan(self, request: EditRequest) -> speed.SpeedPlan:
        """The steps (and guidance) this request runs with in its speed mode, with a recognised
        few-step LoRA's settings (:mod:`inference.diffusion.speed`)."""
        steps = self.steps(request)
        return speed.plan(request.speed, self.family, steps, request.loras if self.supports_lora else (),
                          explicit_steps=bool(request.steps), explicit_guidance=request.guidance is not None)

    def plan_steps(self, request: EditRequest) -> int:
        n = min(request.variations, self.capabilities.max_variations)
        return self.speed_plan(request).steps * n + 1

    def pipeline(self) -> runtime.Loaded:
        """The loaded pipeline (from the cache: loaded once, kept while this model is used)."""
        return self.cache.get(self.model_info(), self.memory_mode, self.device)

    def edit(self, request: EditRequest, reporter: Reporter):
        # one in-process model at work at a time: an edit waits for another edit, never for a training
        try:
            with dev.lease("an edit", wait=lambda holder: not holder.startswith("training"), cancel=reporter.cancel):
                return self._edit(request, reporter)
        except dev.ModelBusy as busy:
            raise BackendUnavailable(f"the model is busy {busy.holder}: an in-process edit runs when it is done — "
                                     "cancel the training, or edit with the classical backend or a ComfyUI server "
                                     "meanwhile") from None

    def _edit(self, request: EditRequest, reporter: Reporter):
        reporter.phase("load")
        loaded = self.pipeline()
        if speed.needs_reload(loaded, request.speed, request.loras):
            self.cache.clear()  # FP8 weights of a fast run cannot be undone in place
            loaded = self.pipeline()
            reporter.notes.append("the model was loaded again (the FP8 weights of the fast run before are not "
                                  "undone in place)")
        reporter.notes += runtime.model_notes(loaded.info, loaded.placement)
        with loaded.lock:
            runtime.apply_loras(loaded, request.loras, self.supports_lora, self.label)
            reporter.advance()
            reporter.phase("denoise")
            images: list[np.ndarray] = []
            image_seeds: list[int] = []
            plan = self.speed_plan(request)
            if plan.steps != self.steps(request) or plan.guidance is not None:
                request = request.replace(steps=plan.steps,
                                          guidance=request.guidance if plan.guidance is None else plan.guidance)
            base = loaded
            loaded = self.pipeline_for(loaded, request)
            kwargs, warnings = self.call_kwargs(request, loaded.pipe)  # once: only the seed varies
            if isinstance(kwargs.get("prompt"), str):
                reporter.instruction_used = kwargs["prompt"]
            for i, seed in enumerate(self.seeds_for(request)):
                out, notes = self._call(base, loaded, plan, request, kwargs, reporter, seed)
                if i == 0:
                    reporter.notes += notes
                reporter.phase("decode")
                for arr in self.images_from(out):
                    runtime.check_output(arr, f"the {self.label} model")
                    made = self.finish_image(request, runtime.to_rgba(arr))
                    images += made
                    image_seeds += [seed] * len(made)
                reporter.phase("denoise")
        return images, image_seeds, warnings + self.result_warnings(request, images)

    def _call(self, base: runtime.Loaded, loaded: runtime.Loaded, plan: speed.SpeedPlan, request: EditRequest,
              kwargs: dict[str, Any], reporter: Reporter, seed: int):
        """One pipeline call in the request's speed mode: (output, notes). A step cache that fails on this
        model mid-run is taken off and the call made again without it (said in a note)."""
        def once(p: speed.SpeedPlan):
            with speed.applied(base, self.family, p, request.loras, request.params, pipe=loaded.pipe) as notes:
                out = runtime.call(loaded, kwargs, reporter, seed, global_rng=self.global_rng,
                                   previews=self.step_previews(loaded, kwargs))
            return out, notes

        if not plan.caches:
            return once(plan)
        start = reporter.step
        try:
            return once(plan)
        except (TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
            if runtime._is_oom(exc):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            log.warning("step cache failed on %s: %s", self.family, first)
            reporter.step = start
            out, notes = once(dataclasses.replace(plan, cache=False))
            return out, notes + [f"step caching: failed on this model ({type(exc).__name__}: {first}); "
                                 "ran without it"]

    # --- what families state --------------------------------------------------------------------
    def pipeline_for(self, loaded: runtime.Loaded, request: EditRequest) -> runtime.Loaded:
        """The pipeline this request runs on (a family may switch to another built on the same components,
        e.g. klein's inpainting pipeline for a mask)."""
        return loaded

    def call_kwargs(self, request: EditRequest, pipe) -> tuple[dict[str, Any], list[str]]:
        """The pipeline's keyword arguments for ``request`` (without generator/callback), and
        warnings about what was adapted."""
        raise NotImplementedError

    def decode_preview(self, pipe, latents, kwargs: dict[str, Any]):
        """The picture so far from one step's ``latents``, decoded ((B, 3, H, W) in -1..1), with
        the helpers of :mod:`previews`. Families that state none send no step previews."""
        raise NotImplementedError

    def step_previews(self, loaded: runtime.Loaded, kwargs: dict[str, Any]) -> previews.Previews | None:
        """The step previews of one pipeline call (None: this family sends none)."""
        if type(self).decode_preview is DiffusionBackend.decode_preview:
            return None
        return previews.Previews(lambda pipe, latents: self.decode_preview(pipe, latents, kwargs),
                                 int(kwargs.get("num_inference_steps", 0)), loaded.placement.memory_mode)

    def images_from(self, output) -> list[np.ndarray]:
        """The edited image(s) in a pipeline output (float, H×W×C in 0..1)."""
        return list(runtime.to_float_images(output.images))

    def finish_image(self, request: EditRequest, image: np.ndarray) -> list[np.ndarray]:
        """RGBA uint8 at the request's size (the pipeline may have worked at another size)."""
        if image.shape[:2] != request.shape:
            from inference.region import resize_rgba

            image = resize_rgba(image, (request.width, request.height))
        return [image]

    def result_warnings(self, request: EditRequest, images: list[np.ndarray]) -> list[str]:
        return []

    # --- helpers for families -----------------------------------------------------------------
    def size_of(self, request: EditRequest) -> tuple[int, int]:
        """(height, width) to generate at: the (already planned) request size, floored to the multiple."""
        m = self.size_multiple
        return max(m, request.height // m * m), max(m, request.width // m * m)

    def negative_prompt(self, request: EditRequest) -> str:
        return str(request.params.get("negative_prompt", " "))


def name_references(instruction: str, labels: list[str], word) -> tuple[str, bool]:
    """Replace each reference's label in ``instruction`` (as ``@label``, ``[label]`` or the
    whole word) with ``word(n)`` where n = 2, 3, ... (the edited image is number 1)."""
    import re

    changed = False
    for n, label in enumerate(labels, start=2):
        label = label.strip()
        if len(label) < 2:
            continue
        pattern = re.compile(r"@" + re.escape(label) + r"\b|\[" + re.escape(label) + r"\]|(?<![\w@])"
                             + re.escape(label) + r"(?!\w)", re.IGNORECASE)
        instruction, k = pattern.subn(word(n), instruction)
        changed = changed or k > 0
    return instruction, changed
