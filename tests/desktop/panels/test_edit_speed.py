"""The edit panel's Speed box: quality by default, a tooltip per mode, remembered in the settings, in the
request for a backend with speed modes, greyed out (and quality sent) for one without."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.bridge import DocumentBridge
from desktop.jobs import JobRunner
from desktop.panels.edit import EditPanel
from desktop.settings import Settings
from inference import registry
from inference.backend import Backend, Capabilities
from tests.desktop.panels.test_edit import choose, collage_document


class SpeedyBackend(Backend):
    """A backend with speed modes that notes the speed it was asked for."""

    name = "test-speedy"
    label = "Speedy test backend"
    capabilities = Capabilities(reads_instruction=True, max_variations=1)
    speed_modes = True

    def edit(self, request, reporter):
        reporter.notes.append(f"ran at {request.speed}")
        return [request.image.copy()], [None], []


def make(qtbot, settings):
    runner = JobRunner()
    p = EditPanel(DocumentBridge(collage_document()), runner, settings=settings)
    qtbot.addWidget(p)
    return p, runner


def test_speed_defaults_to_quality_is_remembered_and_reaches_the_request(qtbot, tmp_path):
    registry.register("test-speedy", SpeedyBackend, replace=True)
    settings = Settings.at(tmp_path / "s.ini")
    p, runner = make(qtbot, settings)
    try:
        combo = p.speed_combo
        assert [combo.itemData(i) for i in range(combo.count())] == ["quality", "fast", "draft"]
        assert combo.currentData() == "quality"
        tips = [combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count())]
        assert all(tips) and "step caching" in tips[1] and "Fewer steps" in tips[2]
        choose(p.backend_combo, "test-speedy")
        p.instruction.setPlainText("make it faster")
        assert combo.isEnabled()
        choose(combo, "draft")
        assert combo.toolTip() == tips[2]
        assert settings.speed() == "draft"
        assert p.build()[1].speed == "draft"
        with qtbot.waitSignal(p.resultInserted, timeout=30000):
            p.run_button.click()
        assert "ran at draft" in p.result_note.text()
        # a backend with one speed: the box is greyed out, says why, and the request asks for quality
        choose(p.backend_combo, "classical")
        choose(p.preset_combo, "refine-collage")
        assert not combo.isEnabled() and "has one speed" in combo.toolTip()
        assert p.build()[1].speed == "quality"
        assert settings.speed() == "draft"  # the choice is kept for the next model backend
    finally:
        runner.shutdown()
        registry.unregister("test-speedy")
    again, runner = make(qtbot, Settings.at(tmp_path / "s.ini"))
    try:
        assert again.speed_combo.currentData() == "draft"
    finally:
        runner.shutdown()


def test_a_damaged_speed_setting_falls_back_to_quality(qtbot, tmp_path):
    settings = Settings.at(tmp_path / "s.ini")
    settings.q.setValue("edit/speed", "ludicrous")
    p, runner = make(qtbot, settings)
    try:
        assert p.speed_combo.currentData() == "quality"
        assert "edit/speed" in settings.problem
    finally:
        runner.shutdown()
