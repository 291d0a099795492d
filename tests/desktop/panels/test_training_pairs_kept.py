"""The Train panel's pairs belong to the document: adding one is an unsaved change (quitting asks), Undo takes
it back, saving keeps them in the .ora and opening the file shows them again; a damaged pairs entry is a
warning and the picture opens."""

from __future__ import annotations

import numpy as np
import pytest

from canvas.document import Document
from canvas.layers import PixelLayer
from tests.canvas.test_training_pairs import _missing_after, _rewrite
from tests.inference.photos import coffee
from tests.training.conftest import small


@pytest.fixture
def window(make_window):
    doc = Document(96, 64)
    doc.add_layer(PixelLayer(small(coffee(), (96, 64)), name="Photo"))
    doc.history.clear()
    doc.mark_clean()
    return make_window(doc)


def _two_pairs(panel, photo):
    panel.add_pair(photo, 255 - photo, "invert the colours", "inverted")
    mirrored = photo[:, ::-1].copy()
    panel.add_pair(photo, mirrored, "mirror it", "mirrored")
    return mirrored


def test_adding_a_pair_is_an_unsaved_change_that_undo_takes_back(window):
    panel = window.training_panel
    photo = window.document.render()
    assert not window.is_modified()
    panel.add_pair(photo, 255 - photo, "invert the colours", "inverted")
    assert window.is_modified() and window.isWindowModified()
    assert window.document.history.undo_label == "Add training pair inverted"
    assert [p.name for p in window.document.training_pairs.pairs] == ["inverted"]
    window.undo()
    assert panel.dataset.pairs == [] and panel.pair_list.count() == 0 and panel.pairs_label.text() == "Pairs (0)"
    assert not window.is_modified()
    window.redo()
    assert [p.name for p in panel.dataset.pairs] == ["inverted"] and panel.pair_list.count() == 1
    assert panel.shared_instruction.text() == "invert the colours"
    panel.pair_list.setCurrentRow(0)
    panel.remove_pair()
    assert window.document.history.undo_label == "Remove training pair inverted" and not window.document.training_pairs


def test_typing_the_shared_instruction_is_one_undo_step(qtbot, window):
    panel = window.training_panel
    photo = window.document.render()
    panel.add_pair(photo, 255 - photo, "", "inverted")
    before = len(window.document.history.labels()[0])
    qtbot.keyClicks(panel.shared_instruction, "invert it")
    assert window.document.training_pairs.instruction == "invert it"
    assert len(window.document.history.labels()[0]) == before + 1
    window.undo()
    assert panel.shared_instruction.text() == "" and panel.dataset.instruction == ""


def test_saved_pairs_come_back_when_the_file_is_opened(make_window, window, tmp_path):
    panel = window.training_panel
    photo = window.document.render()
    mirrored = _two_pairs(panel, photo)
    panel.pair_list.setCurrentRow(1)
    panel.toggle_held_out()
    path = tmp_path / "pairs.ora"
    assert window.files.save_to(str(path)) and not window.is_modified()

    other = make_window()
    assert other.training_panel.dataset.pairs == []
    assert other.files.open_path(str(path))
    got = other.training_panel
    assert not other.is_modified()
    assert [p.name for p in got.dataset.pairs] == ["inverted", "mirrored"] and got.pair_list.count() == 2
    assert got.dataset.instruction == "invert the colours" and got.shared_instruction.text() == "invert the colours"
    assert got.dataset.pairs[1].instruction == "mirror it" and got.dataset.held_out == "mirrored"
    assert np.array_equal(got.dataset.pairs[0].before[0], photo)
    assert np.array_equal(got.dataset.pairs[0].after, 255 - photo)
    assert np.array_equal(got.dataset.pairs[1].after, mirrored)
    assert "held out" in got.pair_list.item(1).text()
    other.close_document()  # another document: its own pairs (none)
    assert got.dataset.pairs == [] and got.pair_list.count() == 0


def test_quitting_with_unsaved_pairs_asks(window):
    photo = window.document.render()
    window.training_panel.add_pair(photo, 255 - photo, "invert the colours")
    asked = []
    window.files.ask_unsaved = lambda: asked.append(True) or "cancel"
    assert not window.close() and window.isVisible()
    assert asked == [True]


def test_a_damaged_pairs_entry_warns_and_the_picture_opens(make_window, window, tmp_path):
    photo = window.document.render()
    _two_pairs(window.training_panel, photo)
    path = tmp_path / "pairs.ora"
    assert window.files.save_to(str(path))
    path.write_bytes(_rewrite(path.read_bytes(), _missing_after))  # the first pair's after image is gone
    other = make_window()
    assert other.files.open_path(str(path))
    assert np.array_equal(other.document.render(), photo)
    assert [p.name for p in other.training_panel.dataset.pairs] == ["mirrored"]
    level, text = other.notifier.history[-1]
    assert level == "warning" and text.startswith("Opened pairs.ora, but: ")
    assert "training pair 'inverted'" in text and text.endswith("that training pair was left out")


def test_the_recovery_snapshot_keeps_the_pairs(window):
    photo = window.document.render()
    _two_pairs(window.training_panel, photo)
    entry = window.recovery.autosave().result(timeout=30)
    back = window.recovery.store.restore(entry)
    assert back.training_pairs.same(window.document.training_pairs)
