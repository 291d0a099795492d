"""``akapen train DATASET --model M -o LORA.safetensors``: the training panel's code path, headless.

DATASET is a folder in the before/ + after/ layout, a job folder exported from the panel
(its settings and model are the defaults; flags replace them), or an ``.ora`` document saved with
the training pairs collected in the Train panel. On a terminal a progress bar shows
the step, the loss, s/step and the time left; Ctrl+C stops at the next step and keeps a checkpoint
that ``--resume`` goes on from. Under ``accelerate launch`` it trains data-parallel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from desktop.headless.terminal import TerminalProgress, cancel_on_interrupt


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train an edit LoRA from before/after pairs (a dataset or job folder, or an "
                       ".ora document with pairs)")
    p.add_argument("dataset", help="a folder with before/ and after/ (same file names), an exported job folder, or "
                   "an .ora document saved with training pairs (the Train panel's)")
    p.add_argument("--model", metavar="PATH_OR_REPO_ID", help="the base model (a diffusers folder or repo id)")
    p.add_argument("-o", "--output", metavar="LORA.safetensors", help="where the LoRA goes")
    p.add_argument("--steps", type=int)
    p.add_argument("--rank", type=int)
    p.add_argument("--alpha", type=float, help="LoRA alpha (default: the rank)")
    p.add_argument("--lr", type=float, dest="learning_rate", help="learning rate (default 1e-4)")
    p.add_argument("--resolution", type=int, help="512, 768 or 1024 (pairs are aspect-bucketed to about this²)")
    p.add_argument("--memory", choices=("auto", "8bit", "fp8"), help="the base model's weights (default auto)")
    p.add_argument("--seed", type=int)
    p.add_argument("--instruction", help="the instruction of the pairs that have no .txt of their own")
    p.add_argument("--held-out", metavar="NAME", help="a pair not trained on, sampled while training")
    p.add_argument("--sample-every", type=int, help="steps between samples of the held-out pair (0: none)")
    p.add_argument("--samples", metavar="DIR", help="write each sample strip there as a PNG")
    p.add_argument("--resume", action="store_true", help="go on from the checkpoint beside the output")
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), help="train on this device (default: the best)")
    p.set_defaults(func=cmd_train)


def _codec():
    from canvas.imageio import export_image, load_image

    return load_image, export_image


def _settings(args, base):
    from dataclasses import replace

    from training.trainer import Settings

    settings = base or Settings()
    for key in ("steps", "rank", "alpha", "learning_rate", "resolution", "memory", "seed", "sample_every"):
        value = getattr(args, key)
        if value is not None:
            settings = replace(settings, **{key: value})
    return settings


class _Bar(TerminalProgress):
    """The bar, with the loss after the rate; sample strips written when asked; notes on their own line."""

    def __init__(self, samples: Path | None) -> None:
        super().__init__(unit="step")
        self.samples = samples
        self.losses: list[float] = []

    def __call__(self, update) -> None:
        if update.loss is not None and update.phase == "train":
            self.losses.append(update.loss)
        if update.sample is not None and self.samples is not None:
            from canvas.imageio import export_image

            self.samples.mkdir(parents=True, exist_ok=True)
            export_image(self.samples / f"sample-{update.step:06d}.png", update.sample)
        if update.message and update.phase in ("load", "done") and not update.message.startswith(("loading", "wrote")):
            self.note(update.message)
        super().__call__(update)

    def note(self, text: str) -> None:
        if self.enabled:
            self.close()
        print(f"akapen: note: {text}", file=sys.stderr)

    def line(self, update, now=None) -> str:
        text = super().line(update, now)
        recent = self.losses[-20:]
        return text if not recent else f"{text[:-1]}, loss {sum(recent) / len(recent):.4f}]"


def _document_pairs(path: Path):
    """The training pairs an .ora document keeps, as a dataset (what was left out of it said as a note)."""
    from canvas.ora import load_ora
    from desktop.headless.training_pairs import from_document
    from training.errors import TrainingError

    warnings: list[str] = []
    doc = load_ora(path, warnings=warnings)
    for w in warnings:
        print(f"akapen: note: {w}", file=sys.stderr)
    if not doc.training_pairs.pairs:
        raise TrainingError(f"{path}: this document keeps no training pairs (add them in the Train panel, then save)")
    return from_document(doc.training_pairs)


def cmd_train(args) -> int:
    import time

    from inference.progress import CancelToken
    from training.dataset import read_folder
    from training.errors import TrainingError
    from training.job import is_job, read_job
    from training.trainer import train

    load, _ = _codec()
    folder = Path(args.dataset)
    model, output, base = args.model, args.output, None
    if is_job(folder):
        ds, base, job_model, job_output = read_job(folder, load)
        model = model or job_model
        output = output or str(folder / job_output)
    else:
        if not model:  # said before a single image is read
            raise TrainingError("say which base model to train: --model PATH_OR_REPO_ID (see `akapen models`)")
        if not output:
            raise TrainingError("say where the LoRA goes: -o NAME.safetensors")
        ds = _document_pairs(folder) if folder.suffix.lower() == ".ora" else read_folder(folder, load)
    if args.instruction is not None:
        ds.instruction = args.instruction
    if args.held_out is not None:
        if not any(p.name == args.held_out for p in ds.pairs):
            raise TrainingError(f"--held-out {args.held_out!r}: no pair has that name")
        ds.held_out = args.held_out
    settings = _settings(args, base)
    token = CancelToken()
    bar = _Bar(Path(args.samples) if args.samples else None)
    t0 = time.perf_counter()
    try:
        with cancel_on_interrupt(token):
            result = train(ds, model, output, settings, progress=bar, cancel=token, resume=args.resume,
                           device=args.device)
    finally:
        bar.close()
    first, last = (result.losses[:10], result.losses[-10:]) if result.losses else ([], [])
    trend = (f"; loss {sum(first) / len(first):.4f} → {sum(last) / len(last):.4f}" if first and last else "")
    print(f"wrote {result.path} ({result.family}, rank {settings.rank}, {result.steps} steps on "
          f"{result.provenance.get('pairs')} pairs in {time.perf_counter() - t0:.0f} s{trend})")
    return 0
