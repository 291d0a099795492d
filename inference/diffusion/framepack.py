"""FramePack one-frame editing (``HunyuanVideoFramepackPipeline``).

Differs by asking for one latent frame (``num_frames=1``, ``latent_window_size=1``): the
pipeline still decodes 5 frames — the input image's latent followed by the one generated
latent — so the edit is the last decoded frame. Defaults (FramePack): 25 steps, distilled
guidance 10.0, no true CFG.
"""

from __future__ import annotations

import numpy as np

from inference.diffusion.base import DiffusionBackend, rgb


class FramePackBackend(DiffusionBackend):
    family = "framepack"
    default_steps = 25
    default_guidance = 10.0
    default_working_size = 640
    size_multiple = 16

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        return {"prompt": request.instruction, "image": rgb(request.image).resize((w, h)), "height": h, "width": w,
                "num_frames": 1, "latent_window_size": 1, "num_inference_steps": self.steps(request),
                "guidance_scale": self.guidance(request)}, []

    def images_from(self, output):
        frames = np.asarray(output.frames[0])
        return [frames[-1]]
