"""Step previews for the diffusers families: the picture so far, decoded from the step's latents.

A family that knows how its pipeline turns latents into pixels says so in
:meth:`~inference.diffusion.base.DiffusionBackend.decode_preview`, with the helpers here (one
per latent layout: Stable Diffusion, FLUX.1 packed, Qwen-Image packed video latents (Qwen-Image-2.1's
too), FLUX.2 packed patches). Each is the pipeline's own decode tail, applied to the intermediate latents
and made cheaper by shrinking them first (at most ``MAX_LATENT`` latent pixels a side).

:class:`Previews` decides when: never in the offload memory modes (a decode would move the VAE
onto the GPU and the transformer off it, every time), never at the last step (the result
follows), and no more than ``BUDGET`` of the run's time: after a decode that took ``t``, the
next waits at least ``t / BUDGET`` and ``MIN_INTERVAL``. A decode that fails turns previews off
for that run and never fails the edit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_LATENT = 64  # latent pixels a side: 512 px previews for an 8× VAE
MIN_INTERVAL = 0.5  # seconds between previews
BUDGET = 0.25  # the most of a run's time previews may take
MODES = ("gpu", "quantized", "cpu")  # memory modes where every model stays where it is


def shrink(latents, most: int = MAX_LATENT):
    """(B, C, H, W) latents area-averaged to at most ``most`` a side (dtype kept)."""
    import torch.nn.functional as F

    h, w = latents.shape[-2:]
    s = most / max(h, w)
    if s >= 1.0:
        return latents
    size = (max(1, round(h * s)), max(1, round(w * s)))
    return F.interpolate(latents.float(), size=size, mode="area").to(latents.dtype)


def _vae_input(pipe, latents):
    return latents.to(device=pipe.vae.device, dtype=pipe.vae.dtype)


def stable_diffusion(pipe, latents):
    """SD 1.x latents (B, 4, H, W)."""
    lat = shrink(latents[:1]) / pipe.vae.config.scaling_factor
    return pipe.vae.decode(_vae_input(pipe, lat), return_dict=False)[0]


def flux1(pipe, latents, height: int, width: int):
    """FLUX.1 packed latents (B, H/16·W/16, 64) for an image of ``height`` × ``width``."""
    lat = pipe._unpack_latents(latents[:1], height, width, pipe.vae_scale_factor)
    lat = shrink(lat) / pipe.vae.config.scaling_factor + pipe.vae.config.shift_factor
    return pipe.vae.decode(_vae_input(pipe, lat), return_dict=False)[0]


def qwen(pipe, latents, height: int, width: int, most: int = MAX_LATENT):
    """Qwen-Image packed latents: unpacked to (B, C, 1, H, W), un-normalised, one frame decoded.
    Qwen-Image-2.1's flat (unpatched) latents unpack the same way, for its 16× VAE with ``most`` = half
    ``MAX_LATENT`` (previews as large as the 8× families'), and decode to RGBA (its VAE has 4 channels)."""
    import torch

    lat = pipe._unpack_latents(latents[:1], height, width, pipe.vae_scale_factor)
    lat = shrink(lat[:, :, 0], most).unsqueeze(2)
    cfg = pipe.vae.config
    mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1)
    std = torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1)
    lat = lat.float() * std.to(lat.device) + mean.to(lat.device)
    return pipe.vae.decode(_vae_input(pipe, lat), return_dict=False)[0][:, :, 0]


def flux2(pipe, latents, height: int, width: int):
    """FLUX.2 packed 2×2 patches (B, H/16·W/16, 4C), row by row: un-normalised, unpatchified."""
    import torch

    lh, lw = height // (pipe.vae_scale_factor * 2), width // (pipe.vae_scale_factor * 2)
    b, _, ch = latents[:1].shape
    lat = latents[:1].reshape(b, lh, lw, ch).permute(0, 3, 1, 2)
    bn = pipe.vae.bn
    mean = bn.running_mean.view(1, -1, 1, 1).to(lat.device, torch.float32)
    std = torch.sqrt(bn.running_var.view(1, -1, 1, 1) + pipe.vae.config.batch_norm_eps).to(lat.device, torch.float32)
    lat = pipe._unpatchify_latents(lat.float() * std + mean)
    return pipe.vae.decode(_vae_input(pipe, shrink(lat)), return_dict=False)[0]


def to_image(decoded) -> np.ndarray:
    """The first decoded picture ((B, 3, H, W) in -1..1; 4 channels: its own alpha) as RGBA uint8."""
    from inference.diffusion.runtime import to_rgba

    img = (decoded[0].float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return to_rgba(img)


class Previews:
    """When to decode a preview, and doing it: ``previews(pipe, step, latents)`` → RGBA or None."""

    def __init__(self, decode: Callable[[Any, Any], Any], total_steps: int, memory_mode: str,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.decode = decode
        self.total = total_steps
        self.clock = clock
        self.enabled = memory_mode in MODES
        self.cost = 0.0  # seconds the last decode took
        self.count = 0
        self._last = clock()

    def due(self, step: int) -> bool:
        if not self.enabled or step >= self.total - 1:
            return False
        return self.clock() - self._last >= max(MIN_INTERVAL, self.cost / BUDGET)

    def __call__(self, pipe, step: int, latents) -> np.ndarray | None:
        if not self.due(step):
            return None
        t0 = self.clock()
        try:
            image = to_image(self.decode(pipe, latents))
        except Exception:  # noqa: BLE001 - a preview never fails the edit
            log.warning("step preview failed; no more previews in this run", exc_info=True)
            self.enabled = False
            return None
        self._last = self.clock()
        self.cost = self._last - t0
        self.count += 1
        return image
