"""The edit panel's nano banana rows: the model, the aspect ratio and the image size, the Key… button,
and the line that says where the picture goes (Google) and that there is no seed."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from inference import registry
from inference.errors import InferenceError
from inference.gemini import BACKEND, models

NOTE = ("The picture (or the selected part), the references and the instruction go to Google's Gemini API. "
        "It takes no seed: results are not reproducible. The tokens it reports are shown on the result.")


class GeminiPart:
    """A part of ``EditPanel`` (which has the ``_top`` form, ``backend_info()``, ``refresh_backends()``,
    ``_refresh_references()`` and ``_update_state()``)."""

    def _build_gemini(self) -> None:
        self.gemini_model = QComboBox()
        for spec in models.MODELS.values():
            self.gemini_model.addItem(spec.label, spec.id)
        self.gemini_model.setToolTip("Which Gemini image model edits (nano banana pro takes more references and "
                                     "answers at up to 4K)")
        self.gemini_aspect = QComboBox()
        self.gemini_aspect.addItem("as the picture", None)
        for ratio in models.ASPECT_RATIOS:
            self.gemini_aspect.addItem(ratio, ratio)
        self.gemini_size = QComboBox()
        self.gemini_size.addItem("model's default", None)
        for size in models.SIZE_PIXELS:
            self.gemini_size.addItem(size, size)
        for combo, chars in ((self.gemini_model, 12), (self.gemini_aspect, 6), (self.gemini_size, 6)):
            # long labels must not force the dock wide (the popup shows them whole)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        self.gemini_key_button = QPushButton("Key…")
        self.gemini_key_button.setToolTip("The Gemini API key and the default model (Edit › Gemini API key…)")
        self.gemini_key_button.clicked.connect(lambda: self.edit_gemini_key())
        self.gemini_row = QWidget()
        row = QHBoxLayout(self.gemini_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.gemini_model, 1)
        row.addWidget(self.gemini_key_button)
        self.gemini_shape_row = QWidget()
        shape = QHBoxLayout(self.gemini_shape_row)
        shape.setContentsMargins(0, 0, 0, 0)
        shape.addWidget(QLabel("Aspect"))
        shape.addWidget(self.gemini_aspect, 1)
        shape.addWidget(QLabel("Size"))
        shape.addWidget(self.gemini_size, 1)
        self.gemini_note = QLabel(NOTE)
        self.gemini_note.setWordWrap(True)
        self.gemini_note.setStyleSheet("color: #555;")
        self._sync_gemini_model()
        self.gemini_model.currentIndexChanged.connect(self._gemini_changed)
        self.gemini_size.currentIndexChanged.connect(self._gemini_changed)

    def _gemini_backend(self):
        try:
            return registry.get(BACKEND)
        except InferenceError:
            return None

    def _sync_gemini_model(self) -> None:
        """The model combo shows the backend's model (the settings' until one is chosen here)."""
        b = self._gemini_backend()
        if b is None:
            return
        self.gemini_model.blockSignals(True)
        self.gemini_model.setCurrentIndex(max(0, self.gemini_model.findData(b.model_id)))
        self.gemini_model.blockSignals(False)
        self._gemini_size_allowed()

    def _gemini_size_allowed(self) -> None:
        spec = models.get(self.gemini_model.currentData())
        self.gemini_size.setEnabled(bool(spec.sizes))
        self.gemini_size.setToolTip("" if spec.sizes else f"{spec.id} answers at about 1K; it has no size option")

    def _gemini_changed(self, *_args) -> None:
        self._gemini_size_allowed()
        b = self._gemini_backend()
        if b is not None:
            size = self.gemini_size.currentData() if self.gemini_size.isEnabled() else None
            b.set_model(self.gemini_model.currentData(), size)  # its reference limit and working size follow
        self._refresh_references()
        self._update_state()

    def _show_gemini_rows(self, on: bool) -> None:
        top = getattr(self, "_top", None)
        if top is None:
            return
        for w in (self.gemini_row, self.gemini_shape_row, self.gemini_note):
            top.setRowVisible(w, on)
        self._gemini_controls(on)

    def _gemini_controls(self, on: bool) -> None:
        """Seed, steps and guidance mean nothing to the Gemini API: greyed while nano banana is chosen."""
        if not hasattr(self, "guidance"):  # (not yet while the panel is built)
            return
        for w, what in ((self.random_seed, "no seed"), (self.steps, "no step count"), (self.guidance, "no guidance")):
            w.setEnabled(not on)
            w.setToolTip(f"The Gemini API takes {what}" if on else "")
        self.seed.setEnabled(not on and not self.random_seed.isChecked())
        self.seed.setToolTip("The Gemini API takes no seed: results are not reproducible" if on else "")

    def gemini_params(self) -> dict:
        out = {"model": self.gemini_model.currentData()}
        if self.gemini_aspect.currentData():
            out["aspect_ratio"] = self.gemini_aspect.currentData()
        if self.gemini_size.isEnabled() and self.gemini_size.currentData():
            out["image_size"] = self.gemini_size.currentData()
        return out

    def edit_gemini_key(self, dialog=None) -> bool:
        """The key dialog; afterwards the backends are listed again (nano banana may be available now)."""
        from desktop.dialogs.gemini_settings import GeminiKeyDialog

        if dialog is None:
            dialog = GeminiKeyDialog(parent=self)
            if dialog.exec() != GeminiKeyDialog.DialogCode.Accepted:
                return False
        elif not dialog.apply():
            return False
        self.refresh_backends()
        self._sync_gemini_model()
        self._update_state()
        return True
