"""What every recipe shares: images to tensors, the flow-matching loss, timestep sampling.

A recipe states how one family differs — how a pair becomes cached latents and text embeddings,
how the denoiser is called on a noisy target, which layers get the LoRA — and nothing else. It
uses the pipeline's own helpers (its VAE encoding, packing, position ids, prompt encoding), so
what it trains on is exactly what the pipeline feeds the model at inference.

The flow-matching step (FLUX.1, FLUX.2, Qwen-Image): noise ε and a σ ∈ (0, 1) drawn from the
family's timestep distribution, shifted as the family's scheduler shifts it at this resolution;
the model sees x_σ = (1 − σ)·x₀ + σ·ε at timestep σ and is trained toward the velocity ε − x₀ on
the target tokens only (the control tokens are context).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

Tensors = dict[str, Any]


@dataclass(frozen=True)
class Defaults:
    """The published recipe's settings (steps, rank, alpha = rank, learning rate, resolution)."""

    steps: int = 1000
    rank: int = 16
    learning_rate: float = 1e-4
    resolution: int = 1024


class Recipe:
    family: ClassVar[str] = ""
    pipeline: ClassVar[str] = ""  # the diffusers pipeline class (LoRA saving and loading)
    denoiser: ClassVar[str] = "transformer"
    references: ClassVar[int] = 1  # how many before images the model takes
    lora_targets: ClassVar[tuple[str, ...]] = ()
    timestep_sampling: ClassVar[str] = "uniform"  # or "logit_normal" (mean 0, std 1)
    guidance: ClassVar[float | None] = None  # for guidance-distilled models: the embedding's value
    defaults: ClassVar[Defaults] = Defaults()
    source: ClassVar[str] = ""  # where the recipe comes from (said in the docs and the provenance)

    # --- images -------------------------------------------------------------------------------------
    @staticmethod
    def pixels(pipe, rgb: np.ndarray):
        """RGB uint8 (h, w, 3) → the pipeline's image tensor (1, 3, h, w) in -1..1."""
        h, w = rgb.shape[:2]
        return pipe.image_processor.preprocess(Image.fromarray(rgb, "RGB"), height=h, width=w)

    # --- what a family states -----------------------------------------------------------------------
    def encode_images(self, pipe, befores: list[np.ndarray], after: np.ndarray, device, dtype) -> Tensors:
        """Cached tensors of one pair: at least ``x0`` (the target latents as the model sees them)."""
        raise NotImplementedError

    def encode_text(self, pipe, instruction: str, befores: list[np.ndarray], device, dtype) -> Tensors:
        """Cached text conditioning of one pair (some families read the before image too)."""
        raise NotImplementedError

    def predict(self, pipe, model, images: Tensors, text: Tensors, noisy, t):
        """The model's output for ``noisy`` target latents at timestep ``t``, on the target tokens."""
        raise NotImplementedError

    def mu(self, pipe, images: Tensors) -> float | None:
        """The scheduler's resolution-dependent shift for this pair's size (None: the static shift)."""
        return None

    # --- the loss ------------------------------------------------------------------------------------
    def sigma(self, pipe, images: Tensors, u):
        """σ from uniform or logit-normal ``u`` in (0, 1), shifted as the family's scheduler shifts."""
        import torch

        u = u.clamp(1e-4, 1 - 1e-4)
        cfg = pipe.scheduler.config
        mu = self.mu(pipe, images)
        if cfg.get("use_dynamic_shifting") and mu is not None:
            return math.exp(mu) / (math.exp(mu) + (1 / u - 1))
        shift = float(cfg.get("shift", 1.0))
        return torch.as_tensor(shift * u / (1 + (shift - 1) * u))

    def draw(self, gen, x0) -> tuple[Any, Any]:
        """(noise, u) for one step, from ``gen`` (a CPU generator: the same on every device)."""
        import torch

        noise = torch.randn(x0.shape, generator=gen, dtype=torch.float32)
        z = torch.randn((1,), generator=gen) if self.timestep_sampling == "logit_normal" else None
        u = torch.sigmoid(z) if z is not None else torch.rand((1,), generator=gen)
        return noise, u

    def loss(self, pipe, model, images: Tensors, text: Tensors, noise, u):
        import torch

        x0 = images["x0"]
        noise = noise.to(x0.device, x0.dtype)
        sigma = self.sigma(pipe, images, u).to(x0.device, torch.float32)
        s = sigma.view(-1, *([1] * (x0.ndim - 1))).to(x0.dtype)
        noisy = (1 - s) * x0 + s * noise
        pred = self.predict(pipe, model, images, text, noisy, sigma.to(x0.dtype))
        return torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())

    def guidance_tensor(self, model, device):
        import torch

        config = getattr(model, "module", model).config  # under data parallel the model is wrapped
        if self.guidance is None or not getattr(config, "guidance_embeds", False):
            return None
        return torch.full((1,), float(self.guidance), device=device, dtype=torch.float32)


def to_device(tensors: Tensors, device, dtype=None) -> Tensors:
    """Move every tensor of a cache entry (floating ones to ``dtype`` when given)."""
    import torch

    out = {}
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, dtype) if dtype is not None and v.is_floating_point() else v.to(device)
        out[k] = v
    return out
