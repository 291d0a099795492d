"""InstructPix2Pix (``StableDiffusionInstructPix2PixPipeline``): image + instruction.

Differs by its second guidance, ``image_guidance_scale`` (how closely to keep the input;
``params["image_guidance"]``), a 512 px working size in multiples of 8, and it ignores
diffusers' ``_interrupt`` (cancelling raises from the step callback, as for every family).
Defaults from the model card (timbrooks/instruct-pix2pix): guidance 7.5, image guidance 1.5.
"""

from __future__ import annotations

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, rgb


class InstructPix2PixBackend(DiffusionBackend):
    family = "instruct-pix2pix"
    default_steps = 20
    default_guidance = 7.5
    default_image_guidance = 1.5
    default_working_size = 512
    size_multiple = 8

    def call_kwargs(self, request, pipe):
        kw = {"prompt": request.instruction, "image": rgb(request.image), "num_inference_steps": self.steps(request),
              "guidance_scale": self.guidance(request),
              "image_guidance_scale": float(request.params.get("image_guidance", self.default_image_guidance))}
        if "negative_prompt" in request.params:
            kw["negative_prompt"] = str(request.params["negative_prompt"])
        return kw, []

    def decode_preview(self, pipe, latents, kwargs):
        return previews.stable_diffusion(pipe, latents)
