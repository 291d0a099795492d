"""Training pairs kept with the document: a picture before an edit, the picture after it, and the
instruction between them, collected in the Train panel while painting.

They are part of the document so that they are saved with it (in the ``.ora``, where other programs
ignore them), restored when it is opened, kept by the recovery snapshot, and so that adding or
removing one is a change the unsaved mark and undo see. Plain, immutable data (RGBA uint8 arrays
and strings): a command holds the old and the new set, and the arrays of an unchanged pair are
shared between them, never copied. The training package has its own ``Dataset``; the window's glue
converts between the two (``desktop.headless.training_pairs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from canvas.layers import check_rgba

MAX_PAIRS = 2000
MAX_BEFORE = 9  # before images of one pair (multi-reference families read several)
MAX_NAME = 200
MAX_INSTRUCTION = 4000  # characters


def check_pair_name(name: object) -> str:
    """A pair's name is a plain file name (the dataset folders write it as one)."""
    if (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or "/" in name or "\\" in name
            or name.startswith(".") or any(ord(c) < 32 for c in name)):
        raise ValueError(f"a training pair's name must be a plain file name, not {str(name)[:60]!r}")
    return name


@dataclass(frozen=True, eq=False)
class StoredPair:
    """One pair: ``before`` (one image, or several for multi-reference families), ``after`` and this pair's
    own instruction ("" = the set's shared one)."""

    name: str
    before: tuple[np.ndarray, ...]
    after: np.ndarray
    instruction: str = ""

    def __post_init__(self) -> None:
        check_pair_name(self.name)
        before = tuple(self.before) if isinstance(self.before, list | tuple) else (self.before,)
        if not 1 <= len(before) <= MAX_BEFORE:
            raise ValueError(f"training pair {self.name!r} has {len(before)} before images (1 to {MAX_BEFORE})")
        for i, img in enumerate(before):
            check_rgba(img, f"before image {i + 1} of training pair {self.name!r}")
        check_rgba(self.after, f"the after image of training pair {self.name!r}")
        if not isinstance(self.instruction, str) or len(self.instruction) > MAX_INSTRUCTION:
            raise ValueError(f"training pair {self.name!r}: the instruction is not text of at most "
                             f"{MAX_INSTRUCTION} characters")
        object.__setattr__(self, "before", before)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.before) + self.after.nbytes

    def same(self, other: StoredPair) -> bool:
        """The same name, instruction and pixels."""
        return (self.name == other.name and self.instruction == other.instruction
                and len(self.before) == len(other.before) and np.array_equal(self.after, other.after)
                and all(np.array_equal(a, b) for a, b in zip(self.before, other.before, strict=True)))


@dataclass(frozen=True)
class TrainingPairs:
    """The document's pairs, the instruction shared by those without their own, and the pair held out
    (sampled while training, not trained on)."""

    pairs: tuple[StoredPair, ...] = ()
    instruction: str = ""
    held_out: str | None = None

    def __post_init__(self) -> None:
        pairs = tuple(self.pairs)
        if len(pairs) > MAX_PAIRS:
            raise ValueError(f"a document keeps at most {MAX_PAIRS} training pairs, not {len(pairs)}")
        names = [p.name for p in pairs]
        if len(set(names)) != len(names):
            raise ValueError("two training pairs share one name")
        if not isinstance(self.instruction, str) or len(self.instruction) > MAX_INSTRUCTION:
            raise ValueError(f"the shared training instruction is not text of at most {MAX_INSTRUCTION} characters")
        object.__setattr__(self, "pairs", pairs)
        if self.held_out not in names:  # a held-out name no pair has means none
            object.__setattr__(self, "held_out", None)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.pairs)

    def same(self, other: TrainingPairs) -> bool:
        """The same pairs (names, instructions, pixels) in the same order, instruction and held-out pair."""
        return (self.instruction == other.instruction and self.held_out == other.held_out
                and len(self.pairs) == len(other.pairs)
                and all(a.same(b) for a, b in zip(self.pairs, other.pairs, strict=True)))
