"""Qwen-Image-Edit-2509 / 2511 (``QwenImageEditPlusPipeline``): several images + instruction.

Differs by taking the image and up to two references, which the model knows as "Picture 1"
(the image being edited), "Picture 2", "Picture 3": a reference's label written in the
instruction (``@hat``, ``[hat]`` or the word) becomes "Picture N". 2511 is told apart from
2509 by its transformer config (``zero_cond_t``); both use true CFG like Qwen-Image-Edit.
Defaults from the model cards: 40 steps, true CFG 4.0, negative prompt " " (``guidance_scale``
only for guidance-distilled checkpoints, ``params["guidance_scale"]``).
"""

from __future__ import annotations

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, name_references, rgb


class QwenImageEditPlusBackend(DiffusionBackend):
    family = "qwen-image-edit-plus"
    default_steps = 40
    default_guidance = 4.0  # true_cfg_scale
    default_working_size = 1024
    size_multiple = 16
    max_references = 2

    def prompt(self, request) -> str:
        text, _ = name_references(request.instruction, [r.label for r in request.references],
                                  lambda n: f"Picture {n}")
        return text

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        images = [rgb(request.image)] + [rgb(r.image) for r in request.references]
        kw = {"prompt": self.prompt(request), "image": images, "negative_prompt": self.negative_prompt(request),
              "true_cfg_scale": self.guidance(request), "height": h, "width": w,
              "num_inference_steps": self.steps(request)}
        if "guidance_scale" in request.params:  # only guidance-distilled checkpoints use it
            kw["guidance_scale"] = float(request.params["guidance_scale"])
        return kw, []

    def decode_preview(self, pipe, latents, kwargs):
        return previews.qwen(pipe, latents, kwargs["height"], kwargs["width"])
