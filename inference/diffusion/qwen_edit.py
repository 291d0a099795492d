"""Qwen-Image-Edit (``QwenImageEditPipeline``): image + instruction.

Differs by true classifier-free guidance (``true_cfg_scale`` with a negative prompt; its
``guidance_scale`` is unused) and its own resizing: the pipeline resizes the input to ≈1 MP
for its VAE and vision encoder; we ask for the output at the planned working size
(``height``/``width``, multiples of 16) so the result lines up with the input.
Defaults from the model card: 50 steps, true CFG 4.0, negative prompt " ".
"""

from __future__ import annotations

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, rgb


class QwenImageEditBackend(DiffusionBackend):
    family = "qwen-image-edit"
    default_steps = 50
    default_guidance = 4.0  # true_cfg_scale
    default_working_size = 1024
    size_multiple = 16

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        return {"prompt": request.instruction, "image": rgb(request.image), "negative_prompt": self.negative_prompt(request),
                "true_cfg_scale": self.guidance(request), "height": h, "width": w,
                "num_inference_steps": self.steps(request)}, []

    def decode_preview(self, pipe, latents, kwargs):
        return previews.qwen(pipe, latents, kwargs["height"], kwargs["width"])
