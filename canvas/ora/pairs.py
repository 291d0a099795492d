"""The training pairs in an OpenRaster file: ``akapen/training/pairs.json`` and one PNG per image.

    akapen/training/pairs.json        {"version": 1, "instruction": …, "held_out": …,
                                       "pairs": [{"name": …, "instruction": …,
                                                  "before": ["akapen/training/0001-before.png", …],
                                                  "after": "akapen/training/0001-after.png"}, …]}

Other programs ignore these members. Reading them goes through the same guarded reader as the
layers (sizes checked before anything is decoded, member names checked, JSON only). A damaged
entry never stops the picture from opening: a pair that cannot be read is left out, and a pairs
file that cannot be read at all leaves the document without pairs; each says so in the loader's
warnings, naming the file.
"""

from __future__ import annotations

import json

from canvas.errors import OraError
from canvas.pairs import MAX_PAIRS, StoredPair, TrainingPairs

PAIRS_JSON = "akapen/training/pairs.json"


def write_pairs(frozen, pairs: TrainingPairs) -> None:
    """Add the pairs' members to a ``FrozenDocument`` being built (their PNGs are encoded with the layers',
    and the encoded bytes of a pair are reused by the next save: pairs never change)."""
    if not pairs.pairs:
        return
    entries = []
    for i, pair in enumerate(pairs.pairs, 1):
        before = []
        for j, img in enumerate(pair.before, 1):
            member = f"akapen/training/{i:04d}-before{'' if j == 1 else j}.png"
            frozen._add(member, img, (pair, f"before{j}", 0), False)
            before.append(member)
        after = f"akapen/training/{i:04d}-after.png"
        frozen._add(after, pair.after, (pair, "after", 0), False)
        entries.append({"name": pair.name, "instruction": pair.instruction, "before": before, "after": after})
    frozen.json[PAIRS_JSON] = json.dumps(
        {"version": 1, "instruction": pairs.instruction, "held_out": pairs.held_out, "pairs": entries},
        sort_keys=True, ensure_ascii=False)


def read_pairs(reader) -> TrainingPairs:
    """The pairs of the archive ``reader`` reads (``canvas.ora.reader._Reader``); what cannot be read is said
    in ``reader.warnings`` and left out."""
    if PAIRS_JSON not in reader.names:
        return TrainingPairs()
    try:
        info = reader.json(PAIRS_JSON)
        if not isinstance(info, dict) or not isinstance(info.get("pairs", []), list):
            raise reader.fail(f"{PAIRS_JSON} is not an object with a list of pairs")
        shared = info.get("instruction") or ""
        if not isinstance(shared, str):
            raise reader.fail(f"{PAIRS_JSON}: the shared instruction is not text")
        entries = info.get("pairs", [])
        if len(entries) > MAX_PAIRS:
            raise reader.fail(f"{PAIRS_JSON} lists {len(entries)} pairs, more than the {MAX_PAIRS} Akapen keeps")
    except OraError as exc:
        reader.warnings.append(f"{exc} — the training pairs could not be read; the picture opened without them")
        return TrainingPairs()
    pairs: list[StoredPair] = []
    names: set[str] = set()
    left_out = 0
    for n, entry in enumerate(entries, 1):
        try:
            pair = _pair(reader, entry, n)
            if pair.name in names:
                raise reader.fail(f"two training pairs are named {pair.name!r}")
        except OraError as exc:
            left_out += 1
            if left_out <= 3:  # the first few in words; the rest counted
                reader.warnings.append(f"{exc} — that training pair was left out")
            continue
        names.add(pair.name)
        pairs.append(pair)
    if left_out > 3:
        reader.warnings.append(f"{reader.what}: {left_out - 3} more training pairs could not be read and were left out")
    held = info.get("held_out")
    try:
        return TrainingPairs(tuple(pairs), shared, held if isinstance(held, str) else None)
    except ValueError as exc:  # (checked above; the set's own checks are the last word)
        reader.warnings.append(f"{reader.what}: the training pairs could not be read ({exc}); the picture opened "
                               "without them")
        return TrainingPairs()


def _pair(reader, entry, n: int) -> StoredPair:
    if not isinstance(entry, dict):
        raise reader.fail(f"training pair {n} in {PAIRS_JSON} is not an object")
    name = entry.get("name")
    label = f"training pair {name!r}" if isinstance(name, str) else f"training pair {n}"
    before = entry.get("before")
    if not isinstance(before, list) or not before:
        raise reader.fail(f"{label} has no list of before images")
    images = [reader.png(reader.member(m, f"before image of {label}")) for m in before[:10]]
    after = reader.png(reader.member(entry.get("after"), f"after image of {label}"))
    try:
        return StoredPair(name, tuple(images), after, entry.get("instruction") or "")
    except (ValueError, TypeError) as exc:
        raise reader.fail(f"{label}: {exc}") from None
