"""The training loop: pairs in, a LoRA file out, on the job seam like an edit.

``train(dataset, model, output, settings, progress=…, cancel=…)`` loads the base model, caches the
pairs, adds a LoRA and trains it: batch 1, AdamW (8-bit when bitsandbytes and a GPU are there),
gradient clipping at 1.0, caption dropout, the family's timestep sampling. It reports a
:class:`TrainUpdate` every step (loss, seconds per step, time left, a sample strip every
``sample_every`` steps) and checks ``cancel`` every step: a cancelled run writes a checkpoint of
the last finished step and raises Cancelled; ``resume=True`` goes on from the checkpoint and
reproduces the steps an uninterrupted run would have taken.

The loop runs under ``accelerate``: ``accelerate launch -m desktop.headless.cli train …`` (or any
launcher accelerate knows) trains data-parallel over the processes it starts, each on its own
pairs, the gradients averaged; only the first process writes files and reports.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from inference.diffusion.models import ModelInfo
from inference.errors import Cancelled, InferenceError
from inference.progress import CancelToken
from training import checkpoint
from training.dataset import Dataset
from training.errors import CheckpointError, OutOfMemory, TrainingError
from training.lora import add_lora, lora_state, save_lora, set_lora_state
from training.recipes import recipe_for


@dataclass
class Settings:
    steps: int = 1000
    rank: int = 16
    alpha: float | None = None  # None: alpha = rank
    learning_rate: float = 1e-4
    resolution: int = 1024
    memory: str = "auto"  # auto, 8bit, fp8
    seed: int = 0
    caption_dropout: float = 0.05
    grad_clip: float = 1.0
    weight_decay: float = 1e-4
    flip: bool = False  # also train on mirrored pairs (not for edits that say "left" or "right")
    sample_every: int = 100  # 0: no samples
    sample_steps: int | None = None  # None: the family's own number of steps
    checkpoint_every: int = 100
    gradient_checkpointing: bool = True

    def check(self) -> None:
        if not 1 <= self.steps <= 1_000_000:
            raise TrainingError(f"steps must be 1 to 1 000 000, not {self.steps}")
        if not 1 <= self.rank <= 512:
            raise TrainingError(f"the rank must be 1 to 512, not {self.rank}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate < 1):
            raise TrainingError(f"the learning rate must be between 0 and 1, not {self.learning_rate}")
        if not 64 <= self.resolution <= 2048 or self.resolution % 64:
            raise TrainingError(f"the resolution is 64 to 2048 in steps of 64 (512, 768, 1024), not {self.resolution}")
        if not 0 <= self.caption_dropout < 1:
            raise TrainingError("caption dropout is a fraction below 1")

    @property
    def lora_alpha(self) -> float:
        return float(self.rank if self.alpha is None else self.alpha)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def same_run(self, other: Settings) -> bool:
        """Whether a checkpoint made with ``other`` can go on under these settings (steps may grow)."""
        a, b = self.to_dict(), other.to_dict()
        for k in ("steps", "sample_every", "sample_steps", "checkpoint_every"):
            a.pop(k), b.pop(k)
        return a == b


@dataclass(frozen=True)
class TrainUpdate:
    step: int
    total: int
    phase: str  # load, cache, train, sample, save, done
    loss: float | None = None
    seconds_per_step: float | None = None
    eta: float | None = None  # seconds left
    sample: np.ndarray | None = None  # RGBA strip: before | the model now | after
    message: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.step / self.total)


@dataclass
class TrainResult:
    path: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    family: str = ""
    provenance: dict = field(default_factory=dict)


def _report(progress, update: TrainUpdate) -> None:
    if progress is not None:
        progress(update)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def train(dataset: Dataset, model: ModelInfo | str | Path, output: str | Path, settings: Settings | None = None, *,
          progress=None, cancel: CancelToken | None = None, resume: bool = False, folders=None,
          device: str | None = None, session=None) -> TrainResult:
    """Train a LoRA of ``model`` on ``dataset`` and write it to ``output`` (a .safetensors file).

    ``session``: an already loaded :class:`training.session.Session` (tests and repeated runs).
    Raises a TrainingError (bad dataset, a family that cannot train, a damaged checkpoint, a full
    disk), OutOfMemory (says what to lower) or Cancelled; the dataset and the last good
    checkpoint are never changed by a failure.
    """
    from inference.diffusion import models

    settings = settings or Settings()
    settings.check()
    cancel = cancel or CancelToken()
    output = Path(output)
    if output.suffix != ".safetensors":
        raise TrainingError(f"{output}: a LoRA is written as a .safetensors file")
    info = model if isinstance(model, ModelInfo) else models.resolve(model, folders)
    recipe = session.recipe if session is not None else recipe_for(info.family)
    warnings = dataset.check(recipe.references)
    t_start = time.perf_counter()
    from inference.diffusion import device as dev
    from inference.diffusion import runtime

    try:
        # the model work is this training's alone: it waits for an edit that runs, and edits wait for it
        with dev.lease(f"training {output.name}", wait=True, cancel=cancel):
            if session is None and runtime.CACHE.current is not None:
                runtime.CACHE.clear()  # the edit model leaves the memory the training needs
                warnings = [*warnings, "the model loaded for editing was unloaded to make room for training"]
            return _train(dataset, info, recipe, output, settings, progress, cancel, resume, device, session,
                          warnings, t_start)
    except (Cancelled, InferenceError):
        raise
    except Exception as exc:
        if _is_oom(exc):
            dev.free_memory()
            raise OutOfMemory(f"training {info.name} ran out of memory at {settings.resolution}²: lower the "
                              "resolution (768 or 512), or choose the 8bit or fp8 memory mode") from exc
        raise


def _train(dataset, info, recipe, output, settings, progress, cancel, resume, device, session, warnings, t_start):
    import torch
    from accelerate import Accelerator

    from training import session as S

    accel = Accelerator(cpu=(device == "cpu") or not torch.cuda.is_available())
    main = accel.is_main_process
    total = settings.steps
    say = (lambda u: _report(progress, u)) if main else (lambda u: None)
    for w in warnings:
        say(TrainUpdate(0, total, "load", message=w))
    say(TrainUpdate(0, total, "load", message=f"loading {info.name}"))
    cancel.raise_if_cancelled()
    sess = session if session is not None else S.load(info, recipe, settings.memory, device)
    say(TrainUpdate(0, total, "cache", message=f"encoding {len(dataset.pairs)} pairs"))
    S.cache_pairs(sess, dataset, settings.resolution, settings.flip,
                  progress=lambda i, n: (cancel.raise_if_cancelled(), say(TrainUpdate(0, total, "cache",
                                                                                      message=f"pair {i} of {n}"))))
    model = sess.model
    params, config = add_lora(model, recipe.lora_targets, settings.rank, settings.lora_alpha, settings.seed)
    if settings.gradient_checkpointing and hasattr(model, "enable_gradient_checkpointing"):
        model.enable_gradient_checkpointing()
    model.train()
    optimizer = _optimizer(params, settings, sess.device)
    wrapped, optimizer = accel.prepare(model, optimizer)
    order_gen = torch.Generator("cpu").manual_seed(settings.seed)
    noise_gen = torch.Generator("cpu").manual_seed(settings.seed * 7919 + 1 + accel.process_index)
    names = [p.name for p in dataset.training_pairs()]
    fingerprint = dataset.fingerprint()
    ckpt_dir = checkpoint.folder_for(output)
    # the pairs of the current epoch in their shuffled order, and how far this run is into it
    start, losses, order, pos = 0, [], [], 0
    if resume:
        start, losses, order, pos = _restore(ckpt_dir, model, optimizer, order_gen, noise_gen, settings,
                                             fingerprint, info)
    provenance = {"base_model": info.repo_id or info.name, "family": info.family, "pairs": len(names),
                  "pairs_hash": fingerprint, "instruction": dataset.instruction, "rank": settings.rank,
                  "alpha": settings.lora_alpha, "learning_rate": settings.learning_rate,
                  "resolution": settings.resolution, "seed": settings.seed, "recipe": recipe.source,
                  "trained_with": "Akapen"}

    def save_ckpt(step: int) -> None:
        if main:
            say(TrainUpdate(step, total, "save", message=f"checkpoint at step {step}"))
            meta = {"settings": settings.to_dict(), "losses": losses, "fingerprint": fingerprint,
                    "model": str(info.path), "family": info.family, "order": order, "position": pos}
            checkpoint.save(ckpt_dir, checkpoint.Saved(step, lora_state(model), optimizer.state_dict(),
                                                       {"order": order_gen.get_state(), "noise": noise_gen.get_state()},
                                                       meta))
        accel.wait_for_everyone()

    t_loop, done_here, step = time.perf_counter(), 0, start
    try:
        if settings.sample_every and main and start == 0:
            say(TrainUpdate(0, total, "sample", sample=S.sample(sess, dataset, settings.sample_steps, settings.seed),
                            message="the base model, before training"))
        for step in range(start, total):
            cancel.raise_if_cancelled()
            if pos >= len(order):
                order, pos = [int(i) for i in torch.randperm(len(names), generator=order_gen)], 0
            name = names[order[(pos + accel.process_index) % len(order)]]
            pos += accel.num_processes
            entry = sess.entries[name]
            noise, u = recipe.draw(noise_gen, entry.images["x0"])
            drop = float(torch.rand((1,), generator=noise_gen)) < settings.caption_dropout
            loss = recipe.loss(sess.pipe, wrapped, entry.images, entry.empty if drop else entry.text, noise, u)
            accel.backward(loss)
            if accel.sync_gradients:
                accel.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(accel.gather(loss.detach().reshape(1)).mean())
            if not math.isfinite(value):
                raise TrainingError(f"the loss became {value} at step {step + 1}: lower the learning rate "
                                    f"(now {settings.learning_rate:g}); the last checkpoint is kept")
            losses.append(value)
            done_here += 1
            per = (time.perf_counter() - t_loop) / done_here
            n = step + 1
            say(TrainUpdate(n, total, "train", loss=value, seconds_per_step=per, eta=per * (total - n)))
            if settings.checkpoint_every and n % settings.checkpoint_every == 0 and n < total:
                save_ckpt(n)
            if settings.sample_every and main and n % settings.sample_every == 0 and n < total:
                say(TrainUpdate(n, total, "sample", sample=S.sample(sess, dataset, settings.sample_steps,
                                                                    settings.seed), message=f"after {n} steps"))
    except Cancelled:
        finished = len(losses)  # steps are counted when they are done: the state is that of the last one
        save_ckpt(finished)
        raise Cancelled(f"training cancelled after step {finished}; its checkpoint is kept "
                        f"({ckpt_dir.name}): resume goes on from there") from None
    save_ckpt(total)
    path = output
    if main:
        say(TrainUpdate(total, total, "save", message=f"writing {output.name}"))
        import diffusers

        save_lora(output, getattr(diffusers, recipe.pipeline), recipe.denoiser, lora_state(model), config,
                  {**provenance, "steps": total})
        sample_img = S.sample(sess, dataset, settings.sample_steps, settings.seed) if settings.sample_every else None
        say(TrainUpdate(total, total, "done", loss=losses[-1] if losses else None, sample=sample_img,
                        message=f"wrote {output}"))
    accel.wait_for_everyone()
    return TrainResult(path, total, losses, time.perf_counter() - t_start, info.family, {**provenance, "steps": total})


def fixed_loss(session, dataset: Dataset, draws: int = 8, seed: int = 1234) -> float:
    """The mean loss of the model as it is now over fixed draws (pairs, noise, timesteps): unlike the
    training loss, whose draws change every step, it is comparable between two moments of a run."""
    import torch

    recipe = session.recipe
    gen = torch.Generator("cpu").manual_seed(seed)
    names = [p.name for p in dataset.training_pairs()]
    model = session.model
    was = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for i in range(draws):
                entry = session.entries[names[i % len(names)]]
                noise, u = recipe.draw(gen, entry.images["x0"])
                total += float(recipe.loss(session.pipe, model, entry.images, entry.text, noise, u))
    finally:
        model.train(was)
    return total / draws


def _optimizer(params, settings: Settings, device: str):
    import torch

    from inference.diffusion import device as dev

    if device == "cuda" and dev.has_package("bitsandbytes"):
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    return torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)


def _restore(folder, model, optimizer, order_gen, noise_gen, settings, fingerprint, info):
    saved = checkpoint.load(folder)
    if saved.meta.get("fingerprint") != fingerprint:
        raise CheckpointError(f"{folder}: the checkpoint was made with other pairs; train anew (without resume), or "
                              "restore the pairs it was made with")
    if not settings.same_run(Settings.from_dict(saved.meta.get("settings", {}))):
        raise CheckpointError(f"{folder}: the checkpoint was made with other settings (only steps may change "
                              "when resuming)")
    if saved.meta.get("family") != info.family:
        raise CheckpointError(f"{folder}: the checkpoint belongs to a {saved.meta.get('family')} model")
    if saved.step >= settings.steps:
        raise CheckpointError(f"{folder}: the checkpoint is at step {saved.step}; ask for more steps to go on")
    set_lora_state(model, saved.lora)
    optimizer.load_state_dict(saved.optimizer)
    order_gen.set_state(saved.generators["order"])
    noise_gen.set_state(saved.generators["noise"])
    return (saved.step, list(saved.meta.get("losses", []))[: saved.step], [int(i) for i in saved.meta.get("order", [])],
            int(saved.meta.get("position", 0)))
