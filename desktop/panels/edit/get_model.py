"""Get model… in the edit panel: where an AI backend is "not available: no model found", a button opens the
Models window on that family (its menu lists each family without a model); and the download line under the
results strip, so the user sees a model arriving while painting."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QProgressBar, QToolButton, QWidget

NO_MODEL = "no model found"  # the start of a diffusers backend's reason when no model of its family is here


def families_without_model(infos) -> list[tuple[str, str]]:
    """(family, label) of the in-process model backends that only lack a model (not a package, not a GPU)."""
    from inference.diffusion import BACKENDS

    return [(i.name, i.label) for i in infos if i.name in BACKENDS and not i.available and NO_MODEL in i.reason]


class GetModelPart:
    """A part of ``EditPanel``: ``modelsRequested(family)`` is its signal (declared on the panel)."""

    def _build_get_model(self) -> None:
        self.get_model_button = QToolButton()
        self.get_model_button.setText("Get model…")
        self.get_model_button.setToolTip("Download an editing model (opens the Models window)")
        self.get_model_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.get_model_menu = QMenu(self.get_model_button)
        self.get_model_button.setMenu(self.get_model_menu)
        # the button: every family, the one to start with for this machine selected; its menu: one family
        self.get_model_button.clicked.connect(lambda: self.modelsRequested.emit(""))
        self.get_model_note = QLabel("")
        self.get_model_note.setWordWrap(True)
        self.get_model_note.setStyleSheet("color: #555;")
        self.get_model_row = QWidget()
        row = QHBoxLayout(self.get_model_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.get_model_note, 1)
        row.addWidget(self.get_model_button)
        self._first_missing: str | None = None
        self.download_line = QLabel("")
        self.download_line.setWordWrap(True)
        self.download_line.setStyleSheet("color: #0f2f5c;")
        self.download_bar = QProgressBar()
        self.download_bar.setRange(0, 1000)
        self.download_bar.setMaximumHeight(10)
        self.download_bar.setTextVisible(False)
        self.download_line.hide()
        self.download_bar.hide()

    def _refresh_get_model(self, infos) -> None:
        missing = families_without_model(infos)
        self.get_model_menu.clear()
        for fam, label in missing:
            a = self.get_model_menu.addAction(f"{label}…")
            a.triggered.connect(lambda _c=False, f=fam: self.modelsRequested.emit(f))
        self.get_model_menu.addSeparator()
        self.get_model_menu.addAction("All models…").triggered.connect(lambda _c=False: self.modelsRequested.emit(""))
        self._first_missing = missing[0][0] if missing else None
        any_ai = any(i.available for i in infos if i.name not in ("classical",))
        # with no AI model yet the row says why; once one is here only the button stays, for the other families
        self.get_model_note.setText("" if any_ai else
                                    "No AI model on this computer yet: the classical backend works meanwhile.")
        self.get_model_row.setVisible(bool(missing))

    def show_download(self, text: str | None, fraction: float | None) -> None:
        """The download line under the results (None: nothing downloads)."""
        if text is None:
            self.download_line.hide()
            self.download_bar.hide()
            return
        self.download_line.setText(text)
        self.download_line.show()
        if fraction is None:
            self.download_bar.setRange(0, 0)
        else:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(fraction * 1000))
        self.download_bar.show()
