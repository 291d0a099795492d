"""How the backend is to read the red-pen marks, and whether its result is aligned to the picture.

A model backend reads them by one of its family's strategies (:mod:`inference.pen.strategies`): the
box offers those, best first, with a line saying what will happen, and "Custom" for the ways ticked
by hand. A backend without strategies (the classical one, your ComfyUI workflow) chooses itself, or
takes the ways ticked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from inference.pen import strategies as MS

ANNOTATION_CHOICES = (
    ("draw", "Draw marks into the image"),
    ("mask", "Marks make the edit mask"),
    ("phrase", "Describe marks in words"),
    ("reference", "Marks as a reference image"),
)
CUSTOM = "custom"


class MarksOptions(QGroupBox):
    """The strategy box (model backends), "Let the backend choose" or the ways ticked, and "Align"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pen marks", parent)
        self._family: str | None = None
        self._loras: tuple = ()
        self.boxes: dict[str, QCheckBox] = {}
        ml = QVBoxLayout(self)
        self.strategy_combo = QComboBox()
        self.strategy_combo.setToolTip("How the model is given the marks: its family reads some ways better than "
                                       "others (the first is the best known)")
        self.strategy_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.strategy_combo.setMinimumContentsLength(12)
        self.strategy_combo.currentIndexChanged.connect(self._strategy_changed)
        ml.addWidget(self.strategy_combo)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #555;")
        ml.addWidget(self.description)
        self.auto = QCheckBox("Let the backend choose")
        self.auto.setChecked(True)
        self.auto.toggled.connect(self._enable_boxes)
        ml.addWidget(self.auto)
        for key, text in ANNOTATION_CHOICES:
            cb = QCheckBox(text)
            cb.setEnabled(False)
            self.boxes[key] = cb
            ml.addWidget(cb)
        self.align = QCheckBox("Align the result to the picture (drift, colour)")
        self.align.setChecked(True)
        self.align.setToolTip("Models return the picture a few pixels off and a little recoloured: register the "
                              "result to the picture, match its colours and keep the picture's own pixels where "
                              "nothing changed")
        ml.addWidget(self.align)
        self.set_backend(None)

    # --- the backend ---------------------------------------------------------------------------
    def set_backend(self, caps, loras=()) -> None:
        """Offer what this backend reads (``caps``: its Capabilities, or None)."""
        family = getattr(caps, "marks", None) if caps is not None else None
        self.align.setVisible(bool(getattr(caps, "aligns", False)))
        loras = tuple(loras)
        if family == self._family and self.strategy_combo.count() and loras == self._loras:
            return
        keep = None
        if family == self._family and family:  # the user's choice stays, the recommendation follows the LoRAs
            current = self.strategy_combo.currentData()
            keep = None if current == MS.default(family, self._loras) else current
        self._family, self._loras = family, loras
        self.strategy_combo.blockSignals(True)
        self.strategy_combo.clear()
        fam = MS.for_backend(family) if family else None
        if fam is not None:
            best = MS.default(family, loras)
            for s in MS.offered(family, caps):
                self.strategy_combo.addItem(MS.label(s, family) + ("  (recommended)" if s == best else ""), s)
            for s, why in MS.unavailable(family).items():  # shown, greyed, with the reason
                self.strategy_combo.addItem(MS.label(s, family) + "  (not for this model)", s)
                at = self.strategy_combo.count() - 1
                self.strategy_combo.model().item(at).setEnabled(False)
                self.strategy_combo.setItemData(at, f"Not available for this model: {why}", Qt.ItemDataRole.ToolTipRole)
            self.strategy_combo.addItem("Custom: the ways ticked", CUSTOM)
            at = self.strategy_combo.findData(keep if keep is not None else best)
            self.strategy_combo.setCurrentIndex(max(0, at))
        self.strategy_combo.blockSignals(False)
        self.strategy_combo.setVisible(fam is not None)
        refused = MS.unavailable(family) if family else {}
        for key, text in ANNOTATION_CHOICES:
            cb, why = self.boxes[key], refused.get(key)
            cb.setText(text + ("  (not for this model)" if why else ""))
            cb.setToolTip(f"Not available for this model: {why}" if why else "")
            if why:
                cb.setChecked(False)
        self._strategy_changed()

    def _strategy_changed(self, *_args) -> None:
        s = self.strategy_combo.currentData() if self._family else None
        custom = self._family is None or s == CUSTOM
        self.auto.setVisible(self._family is None)
        for cb in self.boxes.values():
            cb.setVisible(custom)
        if self._family is not None and s == CUSTOM:
            self.auto.setChecked(False)
        self._enable_boxes(self.auto.isChecked() and self._family is None)
        if s and s != CUSTOM and self._family:
            text = MS.describe(s, self._family)
            self.description.setText(text[:1].upper() + text[1:] + ".")
        elif self._family:
            self.description.setText("The ways ticked, as you choose them.")
        else:
            self.description.setText("")
        self.description.setVisible(bool(self.description.text()))

    def _enable_boxes(self, auto: bool) -> None:
        refused = MS.unavailable(self._family) if self._family else {}
        for key, b in self.boxes.items():
            b.setEnabled(not auto and key not in refused)

    # --- presets and the request -----------------------------------------------------------------
    def set_use(self, annotation_use) -> None:
        """A preset's ways: ticked for a backend without strategies (a model's strategy is kept)."""
        if self._family is not None:
            return
        if annotation_use:
            self.auto.setChecked(False)
            for key, cb in self.boxes.items():
                cb.setChecked(key in annotation_use)
        else:
            self.auto.setChecked(True)

    def strategy(self) -> str | None:
        """The model strategy chosen, or None (custom ways, or a backend without strategies)."""
        s = self.strategy_combo.currentData() if self._family else None
        return None if s in (None, CUSTOM) else s

    def use(self) -> list[str] | None:
        """The ways ticked, or None: the backend (or the strategy) chooses."""
        if self._family is not None:
            if self.strategy_combo.currentData() != CUSTOM:
                return None
            return [k for k, cb in self.boxes.items() if cb.isChecked()]
        return None if self.auto.isChecked() else [k for k, cb in self.boxes.items() if cb.isChecked()]

    def aligns(self) -> bool:
        return self.align.isChecked()
