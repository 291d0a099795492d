"""Training pairs kept with the document: one undoable step each, saved in the .ora (ignored by other
programs), read back exactly, kept by the recovery snapshot; a damaged entry is a warning and the picture
still opens."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from canvas.ora import load_ora, save_ora, write_ora
from canvas.pairs import StoredPair, TrainingPairs
from tests.canvas.helpers import random_rgba, sample_document
from tests.canvas.test_hostile_files import bomb_png


def _pairs(rng=None) -> TrainingPairs:
    rng = rng or np.random.default_rng(5)
    a, b, c = random_rgba(rng, 30, 40), random_rgba(rng, 30, 40), random_rgba(rng, 12, 16)
    return TrainingPairs((StoredPair("sketch", (a,), 255 - a), StoredPair("night-2", (b, c), b[::-1].copy(), "darker")),
                         "make it a pencil sketch", "night-2")


def _saved(doc) -> bytes:
    f = io.BytesIO()
    write_ora(doc, f)
    return f.getvalue()


def _rewrite(data: bytes, change) -> bytes:
    """The archive with ``change(members)`` applied to its {name: bytes}."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return out.getvalue()


def test_pairs_are_saved_with_the_document_and_read_back_exactly(tmp_path):
    doc = sample_document()
    doc.set_training_pairs(_pairs(), "Add training pairs")
    path = tmp_path / "with-pairs.ora"
    save_ora(doc, path)
    warnings: list[str] = []
    back = load_ora(path, warnings=warnings)
    assert warnings == [] and not back.modified
    got = back.training_pairs
    assert [p.name for p in got.pairs] == ["sketch", "night-2"]
    assert got.instruction == "make it a pencil sketch" and got.held_out == "night-2"
    assert got.pairs[1].instruction == "darker" and len(got.pairs[1].before) == 2
    for mine, theirs in zip(doc.training_pairs.pairs, got.pairs, strict=True):
        assert np.array_equal(mine.after, theirs.after)
        assert all(np.array_equal(x, y) for x, y in zip(mine.before, theirs.before, strict=True))
    assert back.content_equal(doc)
    with zipfile.ZipFile(path) as zf:  # what other programs read is untouched: the pairs are extra members
        stack = zf.read("stack.xml").decode()
        assert "training" not in stack and "akapen/training/pairs.json" in zf.namelist()
    plain = sample_document()
    assert np.array_equal(back.render(), plain.render()) and len(back.layers) == len(plain.layers)


def test_adding_pairs_is_one_undo_step_that_marks_the_document_modified():
    doc = sample_document()
    doc.history.clear()
    doc.mark_clean()
    first = _pairs()
    doc.set_training_pairs(first, "Add training pair sketch")
    assert doc.modified and doc.history.undo_label == "Add training pair sketch"
    one_more = TrainingPairs((*first.pairs, StoredPair("x", (first.pairs[0].after,), first.pairs[0].before[0])),
                             first.instruction, first.held_out)
    doc.set_training_pairs(one_more, "Add training pair x")
    kept = doc.history._done[-1]
    assert kept.nbytes() < first.nbytes  # the pairs both sets hold are shared, not counted again
    doc.set_training_pairs(TrainingPairs(one_more.pairs, "make it a", None), "Typing", gesture="instruction")
    doc.set_training_pairs(TrainingPairs(one_more.pairs, "make it a sketch", None), "Typing", gesture="instruction")
    assert doc.history.labels()[0][-1] == "Typing" and doc.history.labels()[0].count("Typing") == 1
    doc.undo()
    assert doc.training_pairs is one_more
    doc.undo()
    doc.undo()
    assert len(doc.training_pairs) == 0 and not doc.modified
    doc.redo()
    assert doc.training_pairs is first and doc.modified
    doc.set_training_pairs(first)  # the same set again is no change
    assert doc.history.undo_label == "Add training pair sketch"


def test_pairs_check_what_they_hold():
    img = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="plain file name"):
        StoredPair("../up", (img,), img)
    with pytest.raises(TypeError, match="uint8"):
        StoredPair("a", (img.astype(np.float32),), img)
    with pytest.raises(ValueError, match="share one name"):
        TrainingPairs((StoredPair("a", (img,), img), StoredPair("a", (img,), img)))
    assert TrainingPairs((StoredPair("a", (img,), img),), held_out="gone").held_out is None


def test_the_recovery_snapshot_keeps_the_pairs(tmp_path):
    from canvas.recovery import RecoveryStore

    store = RecoveryStore(tmp_path / "rec")
    doc = sample_document()
    doc.set_training_pairs(_pairs(), "Add")
    entry = store.snapshot(doc).result(timeout=30)
    back = store.restore(entry)
    assert back.training_pairs.same(doc.training_pairs)
    store.close()


def _broken_json(m):
    m["akapen/training/pairs.json"] = b"{not json"


def _missing_after(m):
    del m["akapen/training/0001-after.png"]


def _garbage_png(m):
    m["akapen/training/0001-after.png"] = b"\x89PNG\r\n\x1a\n not really"


def _traversal(m):
    info = json.loads(m["akapen/training/pairs.json"])
    info["pairs"][0]["after"] = "../../etc/passwd"
    m["akapen/training/pairs.json"] = json.dumps(info).encode()


def _bomb(m):
    m["akapen/training/0001-after.png"] = bomb_png()


def _bad_name(m):
    info = json.loads(m["akapen/training/pairs.json"])
    info["pairs"][0]["name"] = 12
    m["akapen/training/pairs.json"] = json.dumps(info).encode()


@pytest.mark.parametrize("damage, said, kept", [
    (_broken_json, "akapen/training/pairs.json is not valid JSON", []),
    (_missing_after, "the after image of training pair 'sketch' 'akapen/training/0001-after.png' names no member",
     ["night-2"]),
    (_garbage_png, "akapen/training/0001-after.png", ["night-2"]),
    (_traversal, "'../../etc/passwd' is not a plain member name (refused)", ["night-2"]),
    (_bomb, "akapen/training/0001-after.png", ["night-2"]),
    (_bad_name, "training pair 1", ["night-2"]),
])
def test_a_damaged_pairs_entry_is_a_warning_and_the_picture_opens(damage, said, kept):
    doc = sample_document()
    doc.set_training_pairs(_pairs(), "Add")
    data = _rewrite(_saved(doc), damage)
    warnings: list[str] = []
    back = load_ora(io.BytesIO(data), warnings=warnings)
    assert np.array_equal(back.render(), doc.render())  # the picture is whole
    assert [p.name for p in back.training_pairs.pairs] == kept
    assert len(warnings) == 1 and said in warnings[0], warnings
    ending = "the picture opened without them" if not kept else "that training pair was left out"
    assert warnings[0].endswith(ending)
    load_ora(io.BytesIO(data))  # without a list for the warnings it opens all the same
