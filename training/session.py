"""One training session's model side: the pipeline loaded for training, the pairs cached once, the
held-out pair sampled with the LoRA as it is.

- Loading goes through the app's own loader (``inference.diffusion.runtime.load_pipeline``: local
  safetensors only, no remote code). On a GPU the base is bfloat16; "8bit" / "fp8" quantize the
  denoiser's weights (bitsandbytes int8 / torchao float8) when those packages are there.
- Every pair is encoded once — latents of its before and after images, the embedding of its
  instruction and of the empty one (caption dropout) — keyed by the pair's name and never by
  step; then the VAE and the text encoders leave the GPU until a sample needs them.
- A sample is the app's own call of the family's pipeline (the backend's ``call_kwargs``) on the
  held-out before image: what "try it on the canvas" will show, only smaller.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference.diffusion import device as dev
from inference.diffusion.models import ModelInfo
from training.buckets import PairTransform, transform_for
from training.dataset import Dataset, Pair
from training.errors import CannotTrain, TrainingError
from training.recipes.base import Recipe, Tensors

log = logging.getLogger(__name__)
MEMORY_MODES = ("auto", "8bit", "fp8")
SAMPLE_AREA = 512 * 512  # samples are made at most this large: quick, and enough to judge


@dataclass
class Entry:
    """What one pair is in the cache."""

    pair: Pair
    transform: PairTransform
    images: Tensors
    text: Tensors  # the instruction's
    empty: Tensors  # the empty instruction's (caption dropout)


@dataclass
class Session:
    info: ModelInfo
    recipe: Recipe
    pipe: object
    placement: dev.Placement
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def model(self):
        return getattr(self.pipe, self.recipe.denoiser)

    @property
    def device(self) -> str:
        return self.placement.device

    @property
    def dtype(self):
        return self.placement.dtype


def placement(memory: str, device: str | None) -> dev.Placement:
    if memory not in MEMORY_MODES:
        raise TrainingError(f"unknown memory mode {memory!r}; one of {', '.join(MEMORY_MODES)}")
    best, dtype = dev.best_device()
    where = device or best
    if where != "cpu" and where != best:
        raise TrainingError(f"there is no {where} device here (this machine trains on {best})")
    if memory != "auto" and where != "cuda":
        raise CannotTrain(f"the {memory} memory mode needs a CUDA GPU; on the {where} choose auto")
    return dev.Placement(where, dtype if where != "cpu" else "float32", "gpu" if where != "cpu" else "cpu")


def load(info: ModelInfo, recipe: Recipe, memory: str = "auto", device: str | None = None) -> Session:
    from inference.diffusion import runtime

    place = placement(memory, device)
    pipe = runtime.load_pipeline(info, place)
    session = Session(info, recipe, pipe, place)
    if memory in ("8bit", "fp8"):
        quantize(session.model, memory, session.device)
    return session


def quantize(model, kind: str, device: str) -> None:
    """The frozen base's linear weights in 8 bits (the LoRA trains in float32 beside them)."""
    if kind == "fp8":
        if not dev.has_package("torchao"):
            raise CannotTrain("the fp8 base needs the torchao package: pip install torchao (or choose auto / 8bit)")
        from torchao.quantization import float8_weight_only, quantize_

        quantize_(model, float8_weight_only())
        return
    if not dev.has_package("bitsandbytes"):
        raise CannotTrain("the 8-bit base needs the bitsandbytes package: pip install bitsandbytes (or choose auto)")
    import bitsandbytes as bnb
    import torch

    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear) and child.in_features >= 256:
                q = bnb.nn.Linear8bitLt(child.in_features, child.out_features, bias=child.bias is not None,
                                        has_fp16_weights=False, threshold=6.0)
                q.weight = bnb.nn.Int8Params(child.weight.data.cpu(), requires_grad=False, has_fp16_weights=False)
                if child.bias is not None:
                    q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(module, child_name, q.to(device))
    log.info("quantized the %s's linear layers to 8 bits", type(model).__name__)


@contextlib.contextmanager
def encoders_on(session: Session):
    """The VAE and text encoders on the training device while the block runs, back on the CPU after
    (on the CPU they never move)."""
    parts = [getattr(session.pipe, n) for n in ("vae", "text_encoder", "text_encoder_2")
             if getattr(session.pipe, n, None) is not None]
    if session.device != "cpu":
        for p in parts:
            p.to(session.device)
    try:
        yield
    finally:
        if session.device != "cpu":
            for p in parts:
                p.to("cpu")
            dev.free_memory()


def cache_pairs(session: Session, dataset: Dataset, resolution: int, flip: bool, progress=None) -> None:
    """Encode every pair once (the held-out one too, for its samples)."""
    import torch

    recipe, pipe = session.recipe, session.pipe
    with encoders_on(session), torch.no_grad():
        for i, pair in enumerate(dataset.pairs):
            tf = transform_for(pair, resolution, flip=flip)
            befores = [tf.apply(b) for b in pair.before[: recipe.references]]
            after = tf.apply(pair.after)
            instruction = dataset.instruction_of(pair)
            images = recipe.encode_images(pipe, befores, after, session.device, session.dtype)
            text = recipe.encode_text(pipe, instruction, befores, session.device, session.dtype)
            empty = recipe.encode_text(pipe, "", befores, session.device, session.dtype)
            session.entries[pair.name] = Entry(pair, tf, images, text, empty)
            if progress is not None:
                progress(i + 1, len(dataset.pairs))


def sample(session: Session, dataset: Dataset, steps: int | None, seed: int, height: int = 160) -> np.ndarray:
    """before | the model's edit now | after, each ``height`` pixels tall (RGBA)."""
    import torch

    from inference.diffusion import backend_class, runtime
    from inference.request import EditRequest, Reference

    pair = dataset.sample_pair()
    entry = session.entries[pair.name]
    b = entry.transform.bucket
    scale = min(1.0, (SAMPLE_AREA / (b.width * b.height)) ** 0.5)
    w, h = max(16, int(b.width * scale) // 16 * 16), max(16, int(b.height * scale) // 16 * 16)
    small = PairTransform(type(b)(w, h))

    def rgba(a):
        return np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])

    befores = [rgba(small.apply(x)) for x in pair.before[: session.recipe.references]]
    backend = backend_class(session.info.family)(session.info)
    refs = tuple(Reference(f"reference {i + 2}", r) for i, r in enumerate(befores[1:]))
    request = EditRequest(befores[0], dataset.instruction_of(pair), references=refs,
                          steps=steps or backend.default_steps, seed=seed)
    kwargs, _ = backend.call_kwargs(request, session.pipe)
    model = session.model
    was_training = model.training
    model.eval()
    try:
        with encoders_on(session), torch.no_grad():
            out = session.pipe(**kwargs, generator=runtime.generator(seed, session.placement), output_type="np")
    finally:
        model.train(was_training)
    made = runtime.to_rgba(backend.images_from(out)[0])

    def tall(a):
        img = Image.fromarray(a[..., :3] if a.shape[2] == 4 else a, "RGB")
        return np.asarray(img.resize((max(1, round(img.width * height / img.height)), height),
                                     Image.Resampling.LANCZOS))

    strip = np.concatenate([tall(befores[0]), tall(made), tall(rgba(small.apply(pair.after)))], axis=1)
    return rgba(strip)
