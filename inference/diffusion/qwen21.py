"""Qwen-Image-2.1 (``QwenImage21Pipeline``): the image and up to nine references, RGBA in and out.

Differs by:

- its images: one list, the edited image first, then the references in the panel's order (10 in all, the model
  page's most). The pipeline's prompt template writes ``<image1>``, ``<image2>`` … before each image, and ComfyUI's
  guide addresses them so in the prompt: a reference's label in the instruction (``@hat``, ``[hat]`` or the word)
  becomes ``<imageN>`` (N = 2, 3, …).
- transparency: a picture with transparency goes as RGBA (its VAE has four channels; its vision encoder sees the
  picture over white), an opaque one as RGB (which the pipeline makes opaque RGBA: the same input). The output is
  RGBA and its alpha is the result's own (``Capabilities.alpha``): kept through alignment where the edit changed
  it, pasted back through the selection's feather, inserted as the layer's alpha.
- size: native 2K (2048 px long side), multiples of 32 (its 16× VAE and 2×2 vision merge; the pipeline floors to
  32). ``output_resolution``, the area every condition image is resized to, is the working size's, so the edited
  image reaches the model at the size it is generated at.
- guidance: none by default (true CFG 1.0, the pipeline's and model page's); the negative prompt goes only with
  guidance above 1, the only case the pipeline reads it.
- Turbo checkpoints (``sample_sigmas`` in ``model_index.json``, variant "turbo") run the author's grid, whose length
  is the step count: another count asked for is not used, and a warning says so.
- no mask input: the pen's "mask" way is refused for this family (:mod:`inference.pen.strategies`).

Step previews: its flat latents unpack as Qwen-Image's do (:func:`previews.qwen`), shrunk to at most 32 latent
pixels a side (512 px from the 16× VAE), and decode with their alpha.
Defaults from the pipeline and the model page: 40 steps, true CFG 1.0.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image

from inference.diffusion import models, previews
from inference.diffusion.base import DiffusionBackend, name_references


def picture(px: np.ndarray) -> Image.Image:
    """An RGBA array as the pipeline takes it: RGBA when any pixel is transparent, else RGB."""
    if px.shape[2] == 4 and (px[..., 3] < 255).any():
        return Image.fromarray(np.ascontiguousarray(px), "RGBA")
    return Image.fromarray(np.ascontiguousarray(px[..., :3]), "RGB")


class QwenImage21Backend(DiffusionBackend):
    family = "qwen-image-2.1"
    default_steps = 40
    default_guidance = 1.0  # true_cfg_scale
    default_working_size = 2048
    size_multiple = 32
    max_references = 9  # with the image: 10

    @property
    def capabilities(self):  # type: ignore[override]
        return dataclasses.replace(super().capabilities, alpha=True)

    def turbo_grid(self) -> list | None:
        """A Turbo checkpoint's fixed sampling grid (``sample_sigmas``), or None."""
        try:
            info = self.model_info()
            index = models.read_json(info.path / "model_index.json")
        except Exception:  # noqa: BLE001 - no model here: availability() says why; the defaults stand
            return None
        grid = index.get("sample_sigmas")
        return grid if isinstance(grid, list) and grid else None

    def steps(self, request) -> int:
        grid = self.turbo_grid()
        return len(grid) if grid else super().steps(request)

    def prompt(self, request) -> str:
        # the marked copy the pen's "extra_image" way puts first is named by that way's own words, not by its label
        labels = ["" if i == 0 and request.mark_strategy == "extra_image" else r.label
                  for i, r in enumerate(request.references)]
        text, _ = name_references(request.instruction, labels, lambda n: f"<image{n}>")
        return text

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        warnings: list[str] = []
        asked = request.steps or request.params.get("steps")
        if self.turbo_grid() and asked and int(asked) != self.steps(request):
            warnings.append(f"this Turbo checkpoint runs its own {self.steps(request)} steps, not the {int(asked)} "
                            "asked for")
        guidance = self.guidance(request)
        kw = {"prompt": self.prompt(request),
              "image": [picture(request.image)] + [picture(r.image) for r in request.references],
              "true_cfg_scale": guidance, "height": h, "width": w, "num_inference_steps": self.steps(request),
              "output_resolution": round(math.sqrt(h * w))}
        if guidance > 1:
            kw["negative_prompt"] = self.negative_prompt(request)
        if "use_kv_cache" in request.params:  # the prefix cache: on by default, as the pipeline has it
            kw["use_kv_cache"] = bool(request.params["use_kv_cache"])
        return kw, warnings

    def decode_preview(self, pipe, latents, kwargs):
        return previews.qwen(pipe, latents, kwargs["height"], kwargs["width"], most=previews.MAX_LATENT // 2)
