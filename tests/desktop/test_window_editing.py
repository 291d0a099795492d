"""Editing inside the real window: the panel in its dock, results as layers, recovery."""

import numpy as np
from PySide6.QtCore import Qt

from tests.desktop.test_edit_panel import SlowBackend, choose, collage_document


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
