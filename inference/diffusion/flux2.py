"""FLUX.2 dev (``Flux2Pipeline``) and klein (``Flux2KleinPipeline``): several reference images.

Differs by taking the image and references as one list (each at least 64 px: smaller ones are
enlarged, with a warning), and by klein's few-step defaults. Defaults from the model cards:
dev 50 steps, guidance 4.0; klein (distilled) 4 steps, guidance 1.0; klein base 50 / 4.0.
"""

from __future__ import annotations

from PIL import Image

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, rgb

MIN_SIDE = 64


def at_least(image: Image.Image, side: int = MIN_SIDE) -> tuple[Image.Image, bool]:
    w, h = image.size
    if min(w, h) >= side:
        return image, False
    s = side / min(w, h)
    return image.resize((max(side, round(w * s)), max(side, round(h * s))), Image.Resampling.BICUBIC), True


class Flux2Backend(DiffusionBackend):
    family = "flux2"
    default_steps = 50
    default_guidance = 4.0
    default_working_size = 1024
    size_multiple = 16
    max_references = 5

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        images, small = [], []
        for label, px in [("the image", request.image)] + [(r.label, r.image) for r in request.references]:
            im, grown = at_least(rgb(px))
            images.append(im)
            if grown:
                small.append(label)
        warnings = [f"{', '.join(small)} enlarged to {MIN_SIDE} px (the model's smallest input)"] if small else []
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
        try:
            return self.model_info().variant == "base"
        except Exception:  # noqa: BLE001 - defaults only
            return False

    def steps(self, request):
        return request.steps or int(request.params.get("steps", 50 if self._base() else self.default_steps))

    def guidance(self, request):
        if request.guidance is not None:
            return request.guidance
        return 4.0 if self._base() else self.default_guidance
