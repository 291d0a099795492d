"""Edit > Models…: a folder with a model makes its family available in the edit panel."""

import pytest

from desktop.model_settings import ModelSettingsDialog
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

    window.edit_model_settings(ModelSettingsDialog([], "auto", window))
    assert not kontext_enabled()
    save_tiny("flux-kontext", tmp_path / "models" / "kontext-tiny")
    dlg = ModelSettingsDialog([], "auto", window)
    qtbot.addWidget(dlg)
    dlg.add_folder(str(tmp_path / "models"))
    assert "flux-kontext" in dlg.summary.text()
    dlg.memory.setCurrentIndex(dlg.memory.findData("cpu"))
    assert window.edit_model_settings(dlg)
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
