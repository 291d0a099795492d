"""ChronoEdit (``ChronoEditPipeline``): the edit is the last frame of a short video.

Differs by generating a 5-frame "video" from the image (``num_frames``; ``params["frames"]``)
and keeping its last frame; ``height``/``width`` are passed (its default is 480×832).
``params["temporal_reasoning"]`` turns on its temporal reasoning steps.
Defaults from the model card: 50 steps, guidance 5.0.
"""

from __future__ import annotations

import numpy as np

from inference.diffusion.base import DiffusionBackend, rgb


class ChronoEditBackend(DiffusionBackend):
    family = "chronoedit"
    default_steps = 50
    default_guidance = 5.0
    default_working_size = 832
    size_multiple = 16

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        kw = {"prompt": request.instruction, "image": rgb(request.image).resize((w, h)), "height": h, "width": w,
              "num_frames": int(request.params.get("frames", 5)), "num_inference_steps": self.steps(request),
              "guidance_scale": self.guidance(request)}
        if request.params.get("temporal_reasoning"):
            kw["enable_temporal_reasoning"] = True
            kw["num_temporal_reasoning_steps"] = int(request.params.get("temporal_reasoning_steps", 50))
        if "negative_prompt" in request.params:
            kw["negative_prompt"] = str(request.params["negative_prompt"])
        return kw, []

    def images_from(self, output):
        frames = np.asarray(output.frames[0])  # (frames, H, W, C)
        return [frames[-1]]
