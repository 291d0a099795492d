"""ACE++ / IC-LoRA side-by-side on FLUX.1 Fill (``FluxFillPipeline`` + the user's LoRA).

Differs by how inputs are arranged: a double-width canvas with the reference on the left and
the image to edit on the right; the mask covers the right half (or, with a selection or
marks used as a mask, that part of the right half, and any empty canvas). The edit is the
right half of the output.
Defaults (FLUX.1 Fill model card / ACE++): 28 steps, guidance 30.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from inference.diffusion import previews
from inference.diffusion.base import DiffusionBackend, rgb


def side_by_side_canvas(reference: Image.Image, target: Image.Image, mask: np.ndarray | None = None):
    """(canvas, mask): reference left, target right (both the target's size), mask white on the right."""
    w, h = target.size
    canvas = Image.new("RGB", (2 * w, h))
    canvas.paste(reference.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
                 if reference.size != (w, h) else reference.convert("RGB"), (0, 0))
    canvas.paste(target.convert("RGB"), (w, 0))
    m = np.zeros((h, 2 * w), np.uint8)
    m[:, w:] = 255 if mask is None else np.where(mask > 0, 255, 0)
    return canvas, Image.fromarray(m, "L")


class SideBySideBackend(DiffusionBackend):
    family = "flux-fill"
    default_steps = 28
    default_guidance = 30.0
    default_working_size = 768
    size_multiple = 16
    max_references = 1
    takes_mask = True

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        target = rgb(request.image)
        warnings = []
        if request.references:
            reference = rgb(request.references[0].image)
        else:
            reference = target
            warnings.append("no reference image: the image itself is on the left of the side-by-side canvas")
        area = [m for m in (request.selection, request.annotation_mask) if m is not None]  # selection, pen marks
        empty = request.image[..., 3] < 128
        if area and empty.any():  # empty canvas (after Canvas size) is always filled: an outpaint
            area.append(np.where(empty, 255, 0).astype(np.uint8))
        canvas, mask = side_by_side_canvas(reference, target, np.maximum.reduce(area) if area else None)
        return {"prompt": request.instruction, "image": canvas, "mask_image": mask, "height": h, "width": 2 * w,
                "num_inference_steps": self.steps(request), "guidance_scale": self.guidance(request)}, warnings

    def finish_image(self, request, image):
        w = image.shape[1] // 2
        return super().finish_image(request, np.ascontiguousarray(image[:, w:]))

    def decode_preview(self, pipe, latents, kwargs):
        decoded = previews.flux1(pipe, latents, kwargs["height"], kwargs["width"])
        return decoded[..., decoded.shape[-1] // 2:]  # the edited half, as the result
