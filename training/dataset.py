"""Training pairs: a picture before an edit, the picture after it, and the instruction between them.

A :class:`Dataset` is plain data (RGBA uint8 arrays and strings). On disk it is the folder layout
ai-toolkit (``control_path`` + ``folder_path`` with captions) and musubi-tuner
(``control_directory`` + ``image_directory``) use, so a dataset made here trains there and theirs
train here::

    DATASET/before/NAME.png     the input (multi-reference families: also before2/, before3/ …)
    DATASET/after/NAME.png      the result, same file name (any image suffix)
    DATASET/after/NAME.txt      its instruction (optional: else the shared one)
    DATASET/akapen.json         the shared instruction and which pair is held out (optional)

Images are read and written through a *codec* (``load(path) -> RGBA``, ``save(path, RGBA)``) that
the caller passes in: the app passes the document's one safe image path, so this package never
opens image files itself (and never imports the canvas).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from training.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MIN_PAIRS = 2
MAX_PAIRS = 2000
MAX_INSTRUCTION = 4000  # characters
ASPECT_TOLERANCE = 0.02  # before and after may differ this much in aspect (rounding of sizes)
META = "akapen.json"


@dataclass(frozen=True, eq=False)
class Pair:
    """One example. ``before``: the input image(s) — one, or several for multi-reference families;
    ``instruction``: this pair's own instruction ("" = the dataset's shared one)."""

    name: str
    before: tuple[np.ndarray, ...]
    after: np.ndarray
    instruction: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "\\" in self.name or self.name.startswith("."):
            raise DatasetError(f"a pair's name must be a plain file name, not {self.name!r}")
        before = tuple(self.before) if isinstance(self.before, list | tuple) else (self.before,)
        if not before:
            raise DatasetError(f"pair {self.name!r} has no before image")
        for img in (*before, self.after):
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 4:
                raise DatasetError(f"pair {self.name!r}: images must be RGBA uint8 arrays")
        object.__setattr__(self, "before", before)
        if len(self.instruction) > MAX_INSTRUCTION:
            raise DatasetError(f"pair {self.name!r}: the instruction is longer than {MAX_INSTRUCTION} characters")


@dataclass
class Dataset:
    pairs: list[Pair] = field(default_factory=list)
    instruction: str = ""  # shared by the pairs that have none of their own
    held_out: str | None = None  # the name of the pair sampled while training (not trained on)

    def instruction_of(self, pair: Pair) -> str:
        return pair.instruction.strip() or self.instruction.strip()

    def training_pairs(self) -> list[Pair]:
        return [p for p in self.pairs if p.name != self.held_out]

    def sample_pair(self) -> Pair | None:
        """The pair whose progress is shown while training: the held-out one, else the first."""
        return next((p for p in self.pairs if p.name == self.held_out), self.pairs[0] if self.pairs else None)

    def unique_name(self, base: str) -> str:
        names = {p.name for p in self.pairs}
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in base).strip("-") or "pair"
        name, n = stem, 2
        while name in names:
            name, n = f"{stem}-{n}", n + 1
        return name

    def add(self, before, after: np.ndarray, instruction: str = "", name: str | None = None) -> Pair:
        pair = Pair(self.unique_name(name or f"pair-{len(self.pairs) + 1:03d}"), before, after, instruction)
        self.pairs.append(pair)
        return pair

    def remove(self, name: str) -> None:
        self.pairs = [p for p in self.pairs if p.name != name]
        if self.held_out == name:
            self.held_out = None

    def set_instruction(self, name: str, instruction: str) -> None:
        self.pairs = [replace(p, instruction=instruction) if p.name == name else p for p in self.pairs]

    def check(self, references: int = 1) -> list[str]:
        """Raise DatasetError when it cannot train; returns warnings that do not stop it."""
        train = self.training_pairs()
        if len(train) < MIN_PAIRS:
            held = " (one more is held out for the samples)" if self.held_out and len(self.pairs) > len(train) else ""
            raise DatasetError(f"training needs at least {MIN_PAIRS} pairs, this dataset has {len(train)}{held}; "
                               "add pairs (about ten give a LoRA of decent quality)")
        if len(self.pairs) > MAX_PAIRS:
            raise DatasetError(f"at most {MAX_PAIRS} pairs, not {len(self.pairs)}")
        warnings = []
        for p in self.pairs:
            if not self.instruction_of(p):
                raise DatasetError(f"pair {p.name!r} has no instruction, and there is no shared one: write the "
                                   "instruction the edit answers (e.g. “make it a pencil sketch”)")
            ah, aw = p.after.shape[:2]
            for i, b in enumerate(p.before):
                bh, bw = b.shape[:2]
                if abs(bw / bh - aw / ah) > ASPECT_TOLERANCE * max(1.0, aw / ah):
                    which = "before" if i == 0 else f"before{i + 1}"
                    raise DatasetError(f"pair {p.name!r}: {which} is {bw}×{bh} and after is {aw}×{ah} — a pair must "
                                       "have one aspect (crop one of them)")
            if len(p.before) > references:
                warnings.append(f"pair {p.name!r} has {len(p.before)} before images; this model takes {references}, "
                                "the rest are left out")
            first = p.before[0]
            if first.shape == p.after.shape and np.array_equal(first, p.after):
                raise DatasetError(f"pair {p.name!r}: after is identical to before — there is no edit to learn")
        return warnings

    def fingerprint(self) -> str:
        """A hash of the pairs (pixels, names, instructions) and the shared instruction: what a
        checkpoint and the LoRA's provenance are tied to."""
        h = hashlib.sha256()
        h.update(self.instruction.strip().encode())
        h.update(str(self.held_out).encode())
        for p in sorted(self.pairs, key=lambda p: p.name):
            h.update(p.name.encode() + b"\0" + self.instruction_of(p).encode() + b"\0")
            for img in (*p.before, p.after):
                h.update(str(img.shape).encode())
                h.update(np.ascontiguousarray(img).tobytes())
        return h.hexdigest()[:16]


# --- folders ---------------------------------------------------------------------------------------
Loader = Callable[[Path], np.ndarray]
Saver = Callable[[Path, np.ndarray], None]


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            if p.stem in out:
                raise DatasetError(f"{folder}: two images are named {p.stem!r} ({out[p.stem].name}, {p.name})")
            out[p.stem] = p
    return out


def _text(path: Path) -> str:
    try:
        if path.stat().st_size > 4 * MAX_INSTRUCTION:
            raise DatasetError(f"{path}: larger than an instruction")
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_folder(root: str | os.PathLike, load: Loader) -> Dataset:
    """The dataset at ``root`` (``before/``, ``after/`` with the same names, optional ``.txt``)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    afters = _images(root / "after")
    befores = [_images(root / ("before" if i == 1 else f"before{i}")) for i in range(1, 10)]
    if not afters or not befores[0]:
        raise DatasetError(f"{root}: a dataset folder holds before/ and after/ with images of the same names")
    meta: dict = {}
    if (root / META).is_file():
        try:
            meta = json.loads((root / META).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise DatasetError(f"{root / META}: unreadable ({' '.join(str(exc).split())[:200]})") from None
        if not isinstance(meta, dict):
            raise DatasetError(f"{root / META}: not a JSON object")
    shared = str(meta.get("instruction", "") or "")
    if not shared and (root / "instruction.txt").is_file():
        shared = _text(root / "instruction.txt")
    missing = sorted(set(afters) ^ set(befores[0]))
    if missing:
        side = "before" if missing[0] in afters else "after"
        raise DatasetError(f"{root}: {missing[0]!r} has no {side} image (before/ and after/ hold the same names)")
    ds = Dataset(instruction=shared)
    for name in sorted(afters):
        extra = [b[name] for b in befores[1:] if name in b]
        images = [load(befores[0][name])] + [load(p) for p in extra]
        txt = afters[name].with_suffix(".txt")
        ds.pairs.append(Pair(name, tuple(images), load(afters[name]), _text(txt) if txt.is_file() else ""))
    held = meta.get("held_out")
    ds.held_out = held if isinstance(held, str) and any(p.name == held for p in ds.pairs) else None
    return ds


def write_folder(ds: Dataset, root: str | os.PathLike, save: Saver) -> Path:
    """Write ``ds`` in the shared layout (PNG images); files of pairs no longer in it are left alone."""
    root = Path(root)
    for sub in ("before", "after"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for p in ds.pairs:
        for i, img in enumerate(p.before):
            folder = root / ("before" if i == 0 else f"before{i + 1}")
            folder.mkdir(exist_ok=True)
            save(folder / f"{p.name}.png", img)
        save(root / "after" / f"{p.name}.png", p.after)
        txt = root / "after" / f"{p.name}.txt"
        if p.instruction.strip():
            txt.write_text(p.instruction.strip() + "\n", encoding="utf-8")
        elif txt.exists():
            txt.unlink()
    meta = {"instruction": ds.instruction, "held_out": ds.held_out, "written_by": "akapen"}
    (root / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return root


def from_arrays(items: Sequence[tuple], instruction: str = "") -> Dataset:
    """A dataset from (before, after[, instruction]) tuples (tests, scripts)."""
    ds = Dataset(instruction=instruction)
    for item in items:
        ds.add(item[0], item[1], item[2] if len(item) > 2 else "")
    return ds
