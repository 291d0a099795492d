"""The Train panel in the real window: pairs made on the canvas, a tiny model trained, the LoRA in the edit
panel's list; cancel and resume; what cannot train says why."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from canvas.document import Document
from canvas.layers import PixelLayer
from tests.desktop.panels.test_edit import choose
from tests.inference.conftest import TinyModels
from tests.inference.photos import coffee
from tests.training.conftest import small


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


@pytest.fixture
def trainer_window(make_window, kontext, tmp_path, monkeypatch):
    monkeypatch.setenv("AKAPEN_MODEL_PATH", str(kontext))
    monkeypatch.setenv("AKAPEN_LORA_DIR", str(tmp_path / "loras"))
    photo = small(coffee(), (96, 64))
    doc = Document(96, 64)
    doc.add_layer(PixelLayer(photo, name="Photo"))
    doc.history.clear()
    doc.mark_clean()
    window = make_window(doc)
    panel = window.training_panel
    panel.resolution.addItem("64 px (for tiny test models)", 64)
    choose(panel.resolution, 64)
    panel.steps.setValue(6)
    panel.rank.setValue(4)
    panel.sample_every.setValue(3)
    return window


def _edit(qtbot, window, preset):
    panel = window.edit_panel
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, preset)
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    return sig.args[0]


def test_pairs_made_on_the_canvas_train_a_lora_that_lands_in_the_edit_panel(qtbot, trainer_window, tmp_path):
    window = trainer_window
    panel = window.training_panel
    assert not panel.train_button.isEnabled() and "at least 2 pairs" in panel.reason.text()
    for preset in ("style-pencil", "style-cartoon"):
        layer_id = _edit(qtbot, window, preset)
        window.bridge.set_active(layer_id)
        assert window.training_pair_action.isEnabled()
        window.training_pair_action.trigger()  # Layer › Add as training pair
    assert len(panel.dataset.pairs) == 2 and panel.pair_list.count() == 2
    first, second = panel.dataset.pairs
    assert panel.dataset.instruction and first.instruction == ""  # the first pair's instruction is the shared one
    assert second.instruction.startswith("Turn this image into a flat-colour cartoon")
    assert not np.array_equal(first.before[0], first.after)
    assert panel.model() is not None and panel.model().family == "flux-kontext"
    assert panel.train_button.isEnabled(), panel.reason.text()
    with qtbot.waitSignal(panel.loraReady, timeout=120000) as sig:
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.running, timeout=5000)
        assert window.edit_panel.isEnabled()  # the window stays usable while it trains
    path = sig.args[0]
    assert path.startswith(str(tmp_path / "loras")) and path.endswith(".safetensors")
    assert path in [p for p, _ in window.edit_panel.selected_loras()]  # in the edit panel's LoRA list at once
    assert len(panel.plot.losses) == 6 and panel.plot.last_step == 6
    assert panel.sample_view.pixmap() is not None and not panel.sample_view.pixmap().isNull()
    assert panel.progress.text().startswith("done") and panel.try_button.isEnabled()
    assert "edit panel's LoRA list" in panel.run_info.text()


def test_try_it_on_the_canvas_is_one_click(qtbot, trainer_window, monkeypatch):
    window = trainer_window
    panel = window.training_panel
    ran = []
    monkeypatch.setattr(window.edit_panel, "run", lambda: ran.append(window.edit_panel.backend_combo.currentData())
                        or "job")
    from training.trainer import TrainResult

    panel.dataset.instruction = "turn it into a pencil sketch"
    panel.last_result = TrainResult(panel.lora_folder / "pencil.safetensors", 6, family="flux-kontext")
    panel._update_state()
    window.edit_panel.add_lora("/elsewhere/other.safetensors", 0.5)
    qtbot.mouseClick(panel.try_button, Qt.MouseButton.LeftButton)
    assert ran == ["flux-kontext"]
    assert window.edit_panel.selected_loras() == [(str(panel.lora_folder / "pencil.safetensors"), 1.0)]
    assert window.edit_panel.instruction.toPlainText() == "turn it into a pencil sketch"


def test_cancel_keeps_a_checkpoint_and_resume_goes_on(qtbot, trainer_window):
    window = trainer_window
    panel = window.training_panel
    photo = window.document.render()
    for i in range(2):
        panel.add_pair(photo, 255 - photo if i else photo[:, ::-1].copy(), "mirror or invert it")
    panel.steps.setValue(400)
    panel.sample_every.setValue(0)
    panel.train()
    qtbot.waitUntil(lambda: panel.plot.last_step >= 3, timeout=60000)
    with qtbot.waitSignal(panel.runner.jobCancelled, timeout=60000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    from training import checkpoint

    stopped = checkpoint.saved_step(checkpoint.folder_for(panel.output_path()))
    assert stopped >= 3 and f"stopped after step {stopped}" in panel.run_info.text()
    assert panel.resume_button.isEnabled()
    panel.steps.setValue(stopped + 3)
    with qtbot.waitSignal(panel.loraReady, timeout=120000):
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert panel.plot.first_step == stopped + 1 and panel.plot.last_step == stopped + 3


def test_a_pair_from_the_results_strip_and_folders(qtbot, trainer_window, tmp_path):
    window = trainer_window
    panel, edit = window.training_panel, window.edit_panel
    photo = window.document.render()
    choose(edit.backend_combo, "classical")
    choose(edit.preset_combo, "style-pencil")
    with qtbot.waitSignal(edit.runner.jobFinished, timeout=30000):
        edit.run()
    edit.offer_pair(0)  # the strip's "Add as training pair"
    assert len(panel.dataset.pairs) == 1
    pair = panel.dataset.pairs[0]
    assert np.array_equal(pair.before[0], photo) and not np.array_equal(pair.after, photo)
    assert pair.after.shape == photo.shape
    panel.add_picture_and_file(str(tmp_path / "missing.png"))  # a clear error, nothing added
    assert len(panel.dataset.pairs) == 1
    from canvas.imageio import export_image

    export_image(tmp_path / "after.png", 255 - window.document.render())
    panel.add_picture_and_file(str(tmp_path / "after.png"))
    panel.pair_list.setCurrentRow(1)
    panel.pair_instruction.setText("invert it")
    panel.pair_instruction.editingFinished.emit()
    panel.toggle_held_out()
    assert panel.dataset.held_out == panel.dataset.pairs[1].name
    assert panel.save_folder(str(tmp_path / "set"))
    panel.dataset.pairs.clear()
    assert panel.open_folder(str(tmp_path / "set"))
    by_name = {p.name: p for p in panel.dataset.pairs}
    assert len(by_name) == 2 and by_name["after"].instruction == "invert it"  # named after the file it came from
    assert panel.dataset.held_out == "after"
    row = [p.name for p in panel.dataset.pairs].index("after")
    assert "held out" in panel.pair_list.item(row).text()
