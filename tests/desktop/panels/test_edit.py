"""The edit panel driven for real: classical refine end to end, cancel, failures."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from canvas.document import Document
from canvas.layers import PieceLayer, PixelLayer
from desktop.bridge import DocumentBridge
from desktop.jobs import JobRunner
from desktop.panels.edit import EditPanel
from inference import registry
from inference.backend import Backend, Capabilities
from inference.errors import BackendFailed
from tests.inference.photos import cat, coffee


def collage_document() -> Document:
    bg = coffee()
    doc = Document(bg.shape[1], bg.shape[0])
    doc.add_layer(PixelLayer(bg, name="Coffee"))
    c = cat()
    for i, (x, y) in enumerate(((60, 80), (320, 200))):
        piece = c[100:180, 120:220].copy()
        yy, xx = np.mgrid[0:80, 0:100]
        piece[..., 3] = np.where(((xx - 50) / 48) ** 2 + ((yy - 40) / 38) ** 2 <= 1, 255, 0)
        doc.add_layer(PieceLayer.at(piece, x, y, name=f"Piece {i + 1}"))
    doc.new_annotation_layer()
    doc.history.clear()
    doc.mark_clean()
    return doc


class SlowBackend(Backend):
    name = "test-slow"
    label = "Slow test backend"
    capabilities = Capabilities(reads_instruction=True, max_variations=1)
    started = threading.Event()

    def plan_steps(self, request):
        return 1000

    def edit(self, request, reporter):
        SlowBackend.started.set()
        for _ in range(1000):
            reporter.cancel.wait(0.01)
            reporter.advance()
        return [request.image.copy()], [None], []


class BrokenBackend(Backend):
    name = "test-broken"
    label = "Broken test backend"
    capabilities = Capabilities(reads_instruction=True)

    def edit(self, request, reporter):
        raise BackendFailed("the test-broken backend failed: the GPU caught fire (test)")


@pytest.fixture
def panel(qtbot):
    registry.register("test-slow", SlowBackend, replace=True)
    registry.register("test-broken", BrokenBackend, replace=True)
    doc = collage_document()
    bridge = DocumentBridge(doc)
    runner = JobRunner()
    saved = []
    p = EditPanel(bridge, runner, result_saver=lambda req, res: saved.append(res))
    p.saved = saved
    p.errors = []
    p.errorRaised.connect(p.errors.append)
    qtbot.addWidget(p)
    p.show()
    yield p
    runner.shutdown()
    registry.unregister("test-slow")
    registry.unregister("test-broken")


def choose(combo, data):
    idx = combo.findData(data)
    assert idx >= 0, data
    combo.setCurrentIndex(idx)


def test_classical_refine_end_to_end_adds_one_undoable_layer_with_provenance(qtbot, panel):
    doc = panel.document
    before = doc.render()
    n_layers = len(doc.layers)
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "refine-collage")
    assert panel.run_button.isEnabled()
    steps = []
    panel.runner.jobProgress.connect(lambda jid, u: steps.append((u.step, u.total)))
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert steps and steps[-1][0] == steps[-1][1]  # progress reached the end
    layer = doc.layer(sig.args[0])
    assert len(doc.layers) == n_layers + 1
    assert layer.kind == "pixel" and layer.provenance["backend"] == "classical"
    assert layer.provenance["task"] == "refine-collage"
    assert layer.provenance["instruction"].startswith("Make this collage")
    assert not np.array_equal(doc.render(), before)
    assert all(not lyr.visible for lyr in doc.layers if lyr.role == "annotation")  # hidden, not deleted
    assert len(panel.saved) == 1  # saved for recovery before it was shown
    assert panel.results.count() == 1
    doc.undo()
    assert len(doc.layers) == n_layers
    assert np.array_equal(doc.render(), before)
    assert all(lyr.visible for lyr in doc.layers)


def test_cancel_mid_run_adds_nothing(qtbot, panel):
    doc = panel.document
    n = len(doc.layers)
    history = doc.history.index
    SlowBackend.started.clear()
    choose(panel.backend_combo, "test-slow")
    panel.instruction.setPlainText("make it slow")
    job = panel.run()
    assert job is not None
    qtbot.waitUntil(lambda: panel.progress.value() > 2, timeout=10000)
    assert panel.cancel_button.isEnabled()
    with qtbot.waitSignal(panel.runner.jobCancelled, timeout=10000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    assert len(doc.layers) == n and doc.history.index == history
    assert panel.results.count() == 0
    assert panel.progress.format() == "cancelled"


def test_backend_error_is_shown_and_document_intact(qtbot, panel):
    doc = panel.document
    before = doc.render()
    choose(panel.backend_combo, "test-broken")
    panel.instruction.setPlainText("anything")
    with qtbot.waitSignal(panel.errorRaised, timeout=10000) as sig:
        panel.run()
    assert "caught fire" in sig.args[0]
    assert np.array_equal(doc.render(), before) and doc.history.index == 0


def test_classical_backend_refuses_free_text_with_a_reason(panel):
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, None)
    panel.instruction.setPlainText("put a bus here")
    assert not panel.run_button.isEnabled()
    assert "does not read instructions" in panel.backend_reason.text()
    # its tasks as the Task box names them (issue 22 #8), not by their ids
    assert "Refine collage" in panel.backend_reason.text() and "Extend into empty canvas" in panel.backend_reason.text()
    assert "refine-collage" not in panel.backend_reason.text()
    choose(panel.preset_combo, "camera-angle")
    assert "cannot do" in panel.backend_reason.text()


def test_queued_jobs_are_visible(qtbot, panel):
    SlowBackend.started.clear()
    choose(panel.backend_combo, "test-slow")
    panel.instruction.setPlainText("slow")
    panel.run()
    panel.run()
    assert "1 edit(s) waiting" in panel.queue_label.text()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.runner.busy, timeout=10000)
    assert panel.queue_label.text() == ""


def test_a_preset_blank_is_selected_for_typing_and_must_be_filled_before_run(qtbot, panel):
    choose(panel.backend_combo, "test-slow")  # a backend that reads instructions
    choose(panel.preset_combo, "relight")
    cursor = panel.instruction.textCursor()
    assert cursor.selectedText().startswith("{new lighting")  # typing replaces the blank
    assert not panel.run_button.isEnabled()
    assert "fill in {new lighting" in panel.why_not_runnable()
    cursor.insertText("warm evening light from the left")
    assert "{" not in panel.instruction.toPlainText()
    assert panel.why_not_runnable() is None and panel.run_button.isEnabled()
    choose(panel.preset_combo, "colourise")  # no blank: runnable as it is
    assert panel.why_not_runnable() is None


def _focus(qtbot, widget):
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=5000)


def _type(text: str) -> None:
    """Type as a person does: each key goes to whichever widget has the keyboard focus at that moment."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    for ch in text:
        QTest.keyClick(QApplication.focusWidget(), ch)


def test_typing_on_the_task_box_fills_the_blank_not_the_task_list(qtbot, panel):
    """Real key events: the Task box is walked to "Edit text" with the arrow keys, then the words are typed
    straight away. They replace the selected blank; the task stays "Edit text" (not "Colourise")."""
    from PySide6.QtTest import QTest

    choose(panel.backend_combo, "test-slow")
    combo = panel.preset_combo
    _focus(qtbot, combo)
    while combo.currentData() != "text":
        QTest.keyClick(combo, Qt.Key.Key_Down)
    assert combo.hasFocus()  # walking the closed box keeps the keyboard there, so walking on works
    _type("COMO HOPPER")
    assert combo.currentData() == "text"
    assert panel.instruction.hasFocus()
    assert panel.instruction.toPlainText().startswith('Change the text "COMO HOPPER" to "{new text}"')
    QTest.keyClick(combo, Qt.Key.Key_Up)  # back on the box, the arrows walk the list again
    assert combo.currentData() != "text"


def test_choosing_a_task_with_a_blank_from_the_list_moves_the_keyboard_into_it(qtbot, panel):
    from PySide6.QtTest import QTest

    choose(panel.backend_combo, "test-slow")
    combo = panel.preset_combo
    _focus(qtbot, combo)
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    index = view.model().index(combo.findData("relight"), 0)
    view.scrollTo(index)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: panel.instruction.hasFocus(), timeout=5000)
    assert combo.currentData() == "relight"
    _type("warm sunset light")
    assert panel.instruction.toPlainText().startswith("Change the lighting to warm sunset light, with")
    choose(combo, "colourise")  # a task without a blank leaves the keyboard where it is
    assert "{" not in panel.instruction.toPlainText()


def test_insert_as_layer_inserts_the_chosen_result_again_and_says_so(qtbot, panel):
    """Issue 22 #4: the button was not connected: a result already inserted gave no layer and no word."""
    doc = panel.document
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "refine-collage")
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    first = doc.layer(sig.args[0])
    n = len(doc.layers)
    said = []
    panel.statusMessage.connect(said.append)
    assert panel.use_button.isEnabled()
    with qtbot.waitSignal(panel.resultInserted, timeout=5000) as sig2:
        qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert len(doc.layers) == n + 1 and sig2.args[0] != first.id
    assert said and f"also on the canvas as “{first.name}”" in said[-1]
    doc.undo()
    doc.undo()  # both insertions undo, one step each
    with qtbot.waitSignal(panel.resultInserted, timeout=5000):
        qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert "also on the canvas" not in said[-1]  # the earlier layers are gone: a plain insert
