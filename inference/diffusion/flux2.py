"""FLUX.2 dev (``Flux2Pipeline``) and klein (``Flux2KleinPipeline``): several reference images.

Differs by taking the image and references as one list (each at least 64 px: smaller ones are
enlarged, with a warning), and by klein's few-step defaults. Defaults from the model cards:
dev 50 steps, guidance 4.0; klein (distilled) 4 steps, guidance 1.0; klein base 50 / 4.0 (a
single-file klein checkpoint is told distilled or base by its name, :mod:`lightning`).
Klein takes a mask where the installed diffusers has ``Flux2KleinInpaintPipeline`` (0.37 and
later): a request with a mask (the pen's "mask" way) runs on it, built on the loaded components.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
from PIL import Image

from inference.diffusion import device as dev
from inference.diffusion import lightning, previews
from inference.diffusion.base import DiffusionBackend, rgb

MIN_SIDE = 64


def at_least(image: Image.Image, side: int = MIN_SIDE) -> tuple[Image.Image, bool]:
    w, h = image.size
    if min(w, h) >= side:
        return image, False
    s = side / min(w, h)
    return image.resize((max(side, round(w * s)), max(side, round(h * s))), Image.Resampling.BICUBIC), True


@cache
def inpaint_class():
    """diffusers' klein inpainting pipeline, or None where the installed diffusers has none."""
    try:
        import diffusers
    except ImportError:
        return None
    return getattr(diffusers, "Flux2KleinInpaintPipeline", None)


class Flux2Backend(DiffusionBackend):
    family = "flux2"
    default_steps = 50
    default_guidance = 4.0
    default_working_size = 1024
    size_multiple = 16
    max_references = 5

    def _images(self, request) -> tuple[list[Image.Image], list[str]]:
        images, small = [], []
        for label, px in [("the image", request.image)] + [(r.label, r.image) for r in request.references]:
            im, grown = at_least(rgb(px))
            images.append(im)
            if grown:
                small.append(label)
        warnings = [f"{', '.join(small)} enlarged to {MIN_SIDE} px (the model's smallest input)"] if small else []
        return images, warnings

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        images, warnings = self._images(request)
        return {"prompt": request.instruction, "image": images, "height": h, "width": w,
                "num_inference_steps": self.steps(request), "guidance_scale": self.guidance(request)}, warnings

    def decode_preview(self, pipe, latents, kwargs):
        return previews.flux2(pipe, latents, kwargs["height"], kwargs["width"])


class Flux2KleinBackend(Flux2Backend):
    family = "flux2-klein"
    default_steps = 4
    default_guidance = 1.0
    max_references = 3

    def _base(self) -> bool:
        """The base (undistilled) klein? A single-file checkpoint is told by its own name or metadata
        (:func:`lightning.klein_distilled`), else the folder's ``is_distilled``."""
        try:
            info = self.model_info()
        except Exception:  # noqa: BLE001 - defaults only
            return False
        if info.weights is not None:
            distilled = lightning.klein_distilled(info.weights)
            if distilled is not None:
                return not distilled
        return info.variant == "base"

    @property
    def takes_mask(self) -> bool:  # type: ignore[override]
        # read from diffusers' export table, not by importing it: listing backends must not load torch
        return dev.diffusers_has("Flux2KleinInpaintPipeline")

    def pipeline_for(self, loaded, request):
        if request.annotation_mask is None or inpaint_class() is None:
            return loaded
        inpaint = loaded.__dict__.get("inpaint")  # built once per loaded model, on its own components
        if inpaint is None:
            inpaint = loaded.__dict__["inpaint"] = inpaint_class().from_pipe(loaded.pipe)
            inpaint.set_progress_bar_config(disable=True)
        return dataclasses.replace(loaded, pipe=inpaint)

    def call_kwargs(self, request, pipe):
        kwargs, warnings = super().call_kwargs(request, pipe)
        if request.annotation_mask is None or not isinstance(pipe, inpaint_class() or ()):
            return kwargs, warnings
        image, *refs = kwargs.pop("image")
        mask = Image.fromarray(np.ascontiguousarray(request.annotation_mask), "L").resize(image.size)
        return kwargs | {"image": image, "image_reference": refs or None, "mask_image": mask,
                         "strength": float(request.strength)}, warnings

    def steps(self, request):
        return request.steps or int(request.params.get("steps", 50 if self._base() else self.default_steps))

    def guidance(self, request):
        if request.guidance is not None:
            return request.guidance
        return 4.0 if self._base() else self.default_guidance
