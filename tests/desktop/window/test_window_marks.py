"""The red pen with a model in the window: the strategy box offers the family's ways, the result comes back
aligned to the picture and without the marks the model copied, and says so under the results."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from canvas.document import Document
from canvas.layers import AnnotationLayer, PixelLayer
from canvas.marks import Ellipse
from tests.desktop.panels.test_edit import choose
from tests.inference.drift_backend import ELLIPSE, DriftBackend
from tests.inference.photos import coffee
from tests.inference.test_mark_cleanup import mark_like


def marked_document() -> Document:
    img = coffee()
    doc = Document(img.shape[1], img.shape[0])
    doc.add_layer(PixelLayer(img, name="Coffee"))
    doc.add_layer(AnnotationLayer([Ellipse(p0=ELLIPSE[0], p1=ELLIPSE[1])], name="Marks"))
    doc.history.clear()
    doc.mark_clean()
    return doc


@pytest.fixture
def drift_window(make_window):
    from inference import registry

    registry.register("test-drift", DriftBackend, replace=True)
    try:
        window = make_window(marked_document())
        window.edit_panel.refresh_backends()
        choose(window.edit_panel.backend_combo, "test-drift")
        yield window
    finally:
        registry.unregister("test-drift")


def test_a_model_result_is_aligned_and_loses_the_copied_marks(qtbot, drift_window):
    panel = drift_window.edit_panel
    box = panel.marks_box
    assert box.strategy_combo.isVisibleTo(panel) and box.strategy() == "draw"  # Qwen-Image-Edit's way
    assert "(recommended)" in box.strategy_combo.currentText()
    assert "drawn into the picture" in box.description.text().lower()
    assert box.align.isVisibleTo(panel) and box.aligns()
    doc = drift_window.document
    before = doc.render()
    panel.instruction.setPlainText("put a blue ball in the circle")
    DriftBackend.seen.clear()
    with qtbot.waitSignal(panel.resultInserted, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert DriftBackend.seen[-1].mark_strategy == "draw"
    after = doc.render()
    far = np.ones(before.shape[:2], bool)
    far[ELLIPSE[0][1] - 16:ELLIPSE[1][1] + 16, ELLIPSE[0][0] - 16:ELLIPSE[1][0] + 16] = False
    far[:14], far[-14:], far[:, :14], far[:, -14:] = False, False, False, False
    diff = np.abs(after[..., :3].astype(int) - before[..., :3].astype(int)).max(axis=2)
    assert np.mean(diff[far]) < 2.0  # the picture did not move or change colour
    assert after[180, 300, 2] > 180  # the ball is there
    drawn = doc.render_annotations(doc.rect)[..., 3] > 32
    assert mark_like(after, drawn, before) < 40  # the red ellipse the model kept is not
    assert "aligned:" in panel.result_note.text() and "pen marks removed" in panel.result_note.text()
    assert panel.result_note.isVisibleTo(panel)
    drift_window.undo_action.trigger()
    assert np.array_equal(doc.render(), before)


def test_switching_to_the_region_way_sends_the_marked_region_and_align_can_be_turned_off(qtbot, drift_window):
    panel = drift_window.edit_panel
    box = panel.marks_box
    choose(box.strategy_combo, "region")
    assert "cropped" in box.strategy_combo.currentText() and "context" in box.description.text()
    box.align.setChecked(False)
    panel.instruction.setPlainText("put a blue ball in the circle")
    DriftBackend.seen.clear()
    with qtbot.waitSignal(panel.resultInserted, timeout=60000):
        panel.run()
    seen = DriftBackend.seen[-1]
    assert seen.mark_strategy == "region" and seen.width < coffee().shape[1]  # the crop around the circle
    assert "circled in red" in seen.instruction
    assert "aligned" not in panel.result_note.text()
    choose(box.strategy_combo, "custom")  # the ways ticked by hand
    assert all(cb.isVisibleTo(panel) for cb in box.boxes.values())
    box.boxes["phrase"].setChecked(True)
    backend, request = panel.build()
    assert request.mark_strategy is None and request.annotation_use == {"phrase"}


def test_the_classical_backend_shows_its_own_choice_and_no_align(drift_window):
    panel = drift_window.edit_panel
    choose(panel.backend_combo, "classical")
    box = panel.marks_box
    assert not box.strategy_combo.isVisibleTo(panel) and not box.align.isVisibleTo(panel)
    assert box.auto.isVisibleTo(panel) and box.strategy() is None
