"""FLUX.1 Kontext (``FluxKontextPipeline``): image + instruction.

Differs by its working size: ≈1 MP in multiples of 16. The request arrives already planned at
that size (:meth:`Backend.run`), and the pipeline is told exactly that size (``height``,
``width``, ``max_area``, ``_auto_resize=False``) so it never resizes on its own and the result
lines up with the input pixel for pixel. Defaults from the model card: 28 steps, guidance 2.5.
"""

from __future__ import annotations

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, rgb


class KontextBackend(DiffusionBackend):
    family = "flux-kontext"
    default_steps = 28
    default_guidance = 2.5
    default_working_size = 1024
    size_multiple = 16

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        return {"prompt": request.instruction, "image": rgb(request.image), "height": h, "width": w,
                "max_area": h * w, "_auto_resize": False, "num_inference_steps": self.steps(request),
                "guidance_scale": self.guidance(request)}, []

    def decode_preview(self, pipe, latents, kwargs):
        return previews.flux1(pipe, latents, kwargs["height"], kwargs["width"])
