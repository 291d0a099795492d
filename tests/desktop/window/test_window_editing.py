"""Editing inside the real window: the panel in its dock, results as layers, recovery."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt

from tests.desktop.panels.test_edit import SlowBackend, choose, collage_document


def test_refine_collage_from_the_window_inserts_a_layer_and_saves_it_for_recovery(qtbot, make_window, recovery_dir):
    window = make_window(collage_document())
    panel = window.edit_panel
    doc = window.document
    before = doc.render()
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "refine-collage")
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    layer = doc.layer(sig.args[0])
    assert layer.provenance["task"] == "refine-collage"
    assert window.bridge.active_id == layer.id
    assert window.is_modified()
    assert not np.array_equal(doc.render(), before)
    saved = list((recovery_dir / "results").glob("*.png"))
    assert len(saved) == 1 and saved[0].with_suffix(".json").exists()
    window.undo_action.trigger()  # Ctrl+Z takes the whole edit back in one step
    assert np.array_equal(doc.render(), before)


def test_result_of_a_job_for_a_replaced_document_is_not_inserted(qtbot, make_window):
    from inference import registry

    registry.register("test-slow", SlowBackend, replace=True)
    try:
        window = make_window(collage_document())
        panel = window.edit_panel
        panel.refresh_backends()
        first_doc = window.document
        choose(panel.backend_combo, "test-slow")
        panel.instruction.setPlainText("slow")
        SlowBackend.started.clear()
        panel.run()
        assert SlowBackend.started.wait(10)
        window.set_document(collage_document())  # File > New while the edit runs
        assert window.document is not first_doc
        with qtbot.waitSignal(window.runner.jobCancelled, timeout=20000):
            panel.cancel()
        assert len(window.document.layers) == len(collage_document().layers)
    finally:
        registry.unregister("test-slow")


class PreviewBackend(SlowBackend):
    """Sends a pure green picture of the work so far, then waits until the test lets it finish."""

    name = "test-preview"
    label = "Previewing test backend"
    release = threading.Event()

    def plan_steps(self, request):
        return 2

    def edit(self, request, reporter):
        reporter.advance(preview=np.tile(np.array([0, 255, 0, 255], np.uint8), (*request.shape, 1)))
        while not PreviewBackend.release.wait(0.01):
            reporter.check()
        reporter.advance()
        return [request.image.copy()], [None], []


@pytest.fixture
def preview_window(make_window):
    """A window over the collage with the previewing test backend chosen (released afterwards)."""
    from inference import registry

    registry.register("test-preview", PreviewBackend, replace=True)
    PreviewBackend.release.clear()
    try:
        window = make_window(collage_document())
        window.edit_panel.refresh_backends()
        choose(window.edit_panel.backend_combo, "test-preview")
        window.edit_panel.instruction.setPlainText("the same picture back, after a green preview")
        yield window
    finally:
        PreviewBackend.release.set()
        registry.unregister("test-preview")


def test_the_picture_so_far_shows_on_the_canvas_until_the_result_arrives(qtbot, preview_window):
    window = preview_window
    panel, view, doc = window.edit_panel, window.view, window.document
    centre = view.to_widget(QPointF(doc.width / 2, doc.height / 2)).toPoint()

    def shown():
        return view.grab().toImage().pixelColor(centre)

    before = shown()
    for cancel in (False, True):
        PreviewBackend.release.clear()
        n = len(doc.layers)
        panel.run()
        qtbot.waitUntil(lambda: view.preview_rect is not None, timeout=10000)
        assert view.preview_rect == QRectF(0, 0, doc.width, doc.height)
        colour = shown()
        assert (colour.red(), colour.green(), colour.blue()) == (0, 255, 0)  # on the canvas
        assert len(doc.layers) == n  # a preview is not in the document
        if cancel:
            with qtbot.waitSignal(window.runner.jobCancelled, timeout=10000):
                panel.cancel()
            assert len(doc.layers) == n
        else:
            with qtbot.waitSignal(panel.resultInserted, timeout=10000):
                PreviewBackend.release.set()
            assert len(doc.layers) == n + 1
            doc.undo()
        assert view.preview_rect is None  # gone with the job
        assert shown() == before


def test_a_result_lands_on_its_picture_when_the_canvas_was_resized_during_the_run(qtbot, preview_window):
    window = preview_window
    panel, view, doc = window.edit_panel, window.view, window.document
    w, h = doc.size
    before = doc.render()
    panel.run()
    qtbot.waitUntil(lambda: view.preview_rect is not None, timeout=10000)
    doc.resize_canvas(w + 60, h + 40, 30, 20)  # the picture moves by (30, 20) while the edit runs
    with qtbot.waitSignal(panel.resultInserted, timeout=10000) as sig:
        PreviewBackend.release.set()
    layer = doc.layer(sig.args[0])
    assert (layer.x, layer.y) == (30, 20)  # on the picture, not at the old corner
    assert np.array_equal(layer.pixels, before)  # the backend returned its input
    # and a result inserted later from the strip lands there too, after one more resize
    doc.undo()  # the inserted layer
    doc.resize_canvas(w + 60, h + 40, -10, 0)
    panel.insert_result(0)
    again = window.bridge.active_layer()
    assert again is not layer and (again.x, again.y) == (20, 20)


def _remove_with_the_pen(qtbot, window):
    """Circle a spot with the red pen and run the classical Remove: the marks layer is hidden after."""
    from tests.desktop.conftest import drag

    panel = window.edit_panel
    window.set_tool("ellipse")
    drag(window.view, [(20, 20), (40, 35)])
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "remove")
    with qtbot.waitSignal(panel.resultInserted, timeout=30000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)


@pytest.mark.parametrize("tool,points", [("pen", [(60, 40), (70, 45), (80, 42)]), ("arrow", [(60, 40), (90, 44)]),
                                         ("ellipse", [(60, 30), (90, 44)])])
def test_marks_drawn_after_an_edit_are_seen_on_a_layer_of_their_own(qtbot, make_window, tool, points):
    """After an edit hid the marks it answered, the next marks go to a new, shown layer — never into the
    hidden one (where they would not be seen), and the old marks stay hidden (out of the next request)."""
    from canvas.layers import AnnotationLayer
    from tests.desktop.conftest import drag

    window = make_window(collage_document())
    doc = window.document
    _remove_with_the_pen(qtbot, window)
    old = next(lyr for lyr in doc.layers if isinstance(lyr, AnnotationLayer))
    assert not old.visible and len(old.marks) == 1
    window.set_tool(tool)
    drag(window.view, points)
    new = window.bridge.active_layer()
    assert isinstance(new, AnnotationLayer) and new is not old and new.visible and new.name == "Marks 2"
    assert len(new.marks) == 1 and len(old.marks) == 1 and not old.visible
    x, y = (round(c) for c in points[-1])
    assert doc.render_annotations()[y - 3:y + 4, x - 3:x + 4, 3].max() > 0  # it can be seen
    assert "hidden" in window.statusBar().currentMessage()
    drag(window.view, [(p[0] + 5, p[1] + 5) for p in points])  # a second mark joins the shown layer
    assert len(new.marks) == 2 and [lyr.name for lyr in doc.layers].count("Marks 2") == 1
    window.undo_action.trigger()
    window.undo_action.trigger()  # each mark is one step back, then the layer made for them
    assert new.marks == [] and new in doc.layers
    window.undo_action.trigger()
    assert new not in doc.layers and not old.visible and len(old.marks) == 1


def test_text_and_select_marks_after_an_edit(qtbot, make_window, monkeypatch):
    from canvas.layers import AnnotationLayer
    from canvas.marks import TextLabel
    from tests.desktop.conftest import send_mouse

    window = make_window(collage_document())
    doc = window.document
    _remove_with_the_pen(qtbot, window)
    old = next(lyr for lyr in doc.layers if isinstance(lyr, AnnotationLayer))
    window.set_tool("mark_select")  # the hidden ellipse is not picked, and the hint says why
    send_mouse(window.view, "press", (20, 27.5))
    send_mouse(window.view, "release", (20, 27.5))
    assert window.tools["mark_select"].selected is None
    assert "hidden" in window.statusBar().currentMessage()
    monkeypatch.setattr(window, "ask_text", lambda *a, **k: "a bus here")
    window.set_tool("text")
    send_mouse(window.view, "press", (50, 50))
    send_mouse(window.view, "release", (50, 50))
    new = window.bridge.active_layer()
    assert new is not old and new.visible and isinstance(new.marks[0], TextLabel)
    window.set_tool("mark_select")  # a shown mark is picked as before
    send_mouse(window.view, "press", (52, 55))
    send_mouse(window.view, "release", (52, 55))
    assert window.tools["mark_select"].selected == (new.id, new.marks[0].id)
