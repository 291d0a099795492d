"""Edit > Models…: a folder with a model makes its family available in the edit panel."""

import pytest

from desktop.dialogs.model_settings import ModelSettingsDialog
from inference.diffusion import base, models


@pytest.fixture
def restore_model_settings():
    yield
    models.set_model_folders([])
    base.set_default_memory_mode("auto")


def test_adding_a_model_folder_makes_the_family_available(qtbot, window, tmp_path, settings,
                                                          restore_model_settings, monkeypatch):
    from tests.inference.tiny_pipelines import save_tiny

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # only the folder counts
    panel = window.edit_panel

    def kontext_enabled() -> bool:
        idx = panel.backend_combo.findData("flux-kontext")
        return idx >= 0 and panel.backend_combo.model().item(idx).isEnabled()

    window.backends.edit_model_settings(ModelSettingsDialog([], "auto", window))
    assert not kontext_enabled()
    save_tiny("flux-kontext", tmp_path / "models" / "kontext-tiny")
    dlg = ModelSettingsDialog([], "auto", window)
    qtbot.addWidget(dlg)
    dlg.add_folder(str(tmp_path / "models"))
    assert "flux-kontext" in dlg.summary.text()
    dlg.memory.setCurrentIndex(dlg.memory.findData("cpu"))
    assert window.backends.edit_model_settings(dlg)
    assert kontext_enabled()
    assert settings.model_folders() == [str(tmp_path / "models")]
    assert settings.memory_mode() == "cpu"
    from inference import registry

    assert registry.get("flux-kontext").memory_mode == "cpu"


def test_summary_says_when_nothing_is_found(qtbot, tmp_path, monkeypatch, restore_model_settings):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "none"))
    dlg = ModelSettingsDialog([str(tmp_path)], "auto")
    qtbot.addWidget(dlg)
    assert "No editing models found" in dlg.summary.text()
    dlg.folders.setCurrentRow(0)
    dlg.remove_folder()
    assert dlg.result_folders() == []


def test_lora_from_the_edit_panel_changes_the_result_and_is_recorded(qtbot, window, tmp_path, restore_model_settings):
    import numpy as np

    from inference import registry
    from inference.diffusion.kontext import KontextBackend
    from tests.inference.tiny_pipelines import build_pipeline, save_tiny, tiny_lora

    folder = save_tiny("flux-kontext", tmp_path / "kontext")
    lora = tiny_lora("flux-kontext", build_pipeline("flux-kontext"), tmp_path / "lora")
    registry.register("flux-kontext", lambda: KontextBackend(folder, working_size=32), replace=True)
    try:
        panel = window.edit_panel
        panel.refresh_backends()
        panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("flux-kontext"))
        assert panel.loras.isVisible()  # Kontext loads LoRAs, so the picker is offered
        panel.preset_combo.setCurrentIndex(0)
        panel.instruction.setPlainText("make it blue")
        panel.random_seed.setChecked(False)
        panel.seed.setValue(3)
        panel.steps.setValue(2)

        def run() -> np.ndarray:
            with qtbot.waitSignal(panel.resultInserted, timeout=60000) as sig:
                assert panel.run() is not None
            layer = window.document.layer(sig.args[0])
            window.document.undo()  # the next run edits the same input
            return layer

        plain = run()
        panel.add_lora(str(lora), 1.0)
        with_lora = run()
        assert with_lora.provenance["parameters"]["loras"] == [[str(lora), 1.0]]
        assert not np.array_equal(plain.pixels, with_lora.pixels)
        panel.lora_weight.setValue(0.0)  # weight 0 gives the plain result back
        assert panel.selected_loras() == [(str(lora), 0.0)]
        assert np.array_equal(run().pixels, plain.pixels)
        panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("classical"))
        assert not panel.loras.isVisible()
    finally:
        registry.register("flux-kontext", "inference.diffusion.kontext:KontextBackend", replace=True)


def test_folders_and_memory_open_from_the_models_window_and_cancel_changes_nothing(qtbot, window, settings,
                                                                                  restore_model_settings):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    shown = []

    def cancel() -> None:
        dlg = QApplication.activeModalWidget()
        shown.append(dlg)
        if dlg is not None:
            dlg.reject()

    window.models_action.trigger()  # Edit › Models… opens the Models window (not modal) …
    models_window = window.models.models_window
    assert models_window is not None and models_window.isVisible()
    QTimer.singleShot(0, cancel)
    from PySide6.QtWidgets import QPushButton

    button = next(b for b in models_window.findChildren(QPushButton) if b.text() == "Folders and memory…")
    button.click()  # … whose Folders and memory… is the folders and memory-mode dialog
    assert len(shown) == 1 and isinstance(shown[0], ModelSettingsDialog)
    assert settings.model_folders() == [] and settings.memory_mode() == "auto"
