"""The pen-marks box for Qwen-Image-2.1: its ways offered, and the mask way shown greyed with the reason."""

from PySide6.QtCore import Qt

from desktop.panels.edit.marks_options import CUSTOM, MarksOptions
from inference.diffusion import backend_class


def test_the_mask_way_is_shown_unavailable_with_the_reason(qtbot):
    box = MarksOptions()
    qtbot.addWidget(box)
    box.set_backend(backend_class("qwen-image-2.1")(None).capabilities)
    combo = box.strategy_combo
    ways = [combo.itemData(i) for i in range(combo.count())]
    assert ways == ["draw", "extra_image", "region", "mask", CUSTOM] and box.strategy() == "draw"
    at = ways.index("mask")
    assert not combo.model().item(at).isEnabled() and "not for this model" in combo.itemText(at)
    assert "has no mask input" in combo.itemData(at, Qt.ItemDataRole.ToolTipRole)
    assert combo.itemText(ways.index("extra_image")) == "Drawn into picture 2"
    combo.setCurrentIndex(ways.index(CUSTOM))  # the ways ticked by hand: the mask box stays off, and says why
    mask = box.boxes["mask"]
    assert not mask.isEnabled() and box.boxes["draw"].isEnabled()
    assert "not for this model" in mask.text() and "has no mask input" in mask.toolTip()
    box.set_backend(backend_class("qwen-image-edit")(None).capabilities)  # another family: as it was
    assert mask.text() == "Marks make the edit mask" and not mask.toolTip()
    box.strategy_combo.setCurrentIndex(box.strategy_combo.findData(CUSTOM))
    assert mask.isEnabled()
