"""Getting models from the window: Edit › Models… (the Models window), Edit › Hugging Face token…, every
"Get model…" button, the download indicator in the status bar and the edit panel, the offer to continue
downloads a quit or a crash left unfinished, and listing the backends again when a download lands (the
family is available at once, without a restart)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from desktop.controllers.downloads import DownloadsController, Item
from desktop.dialogs.download_indicator import DownloadIndicator
from inference.diffusion.models import human_size

if TYPE_CHECKING:  # made on first use: the catalogue and the download code stay off the start-up path
    from desktop.dialogs.hf_token import TokenDialog
    from desktop.dialogs.models_window import ModelsWindow


class ModelsController:
    def __init__(self, window) -> None:
        self.window = window
        self.downloads = DownloadsController(window)
        self.models_window: ModelsWindow | None = None
        self.token_dialog: TokenDialog | None = None
        self.indicator = DownloadIndicator()
        self.indicator.clicked.connect(lambda: self.show(None, tab=2))
        self.downloads.changed.connect(self._changed)
        self.downloads.installed.connect(self._installed)

    def attach(self) -> None:
        """Once the window's panels exist: the indicator in the status bar, the Get model… buttons."""
        w = self.window
        w.statusBar().addPermanentWidget(self.indicator)
        self.indicator.hide()
        w.edit_panel.modelsRequested.connect(lambda fam: self.show(fam or None))
        w.training_panel.modelsRequested.connect(lambda fam: self.show(fam or None))

    # --- windows -------------------------------------------------------------------------------------
    def show(self, family: str | None = None, tab: int = 0) -> ModelsWindow:
        """The Models window (made once, not modal), on ``family``'s catalogue entries or on ``tab``."""
        if self.models_window is None:
            from desktop.dialogs.models_window import ModelsWindow

            win = self.models_window = ModelsWindow(self.downloads, self.window)
            win.tokenRequested.connect(self.edit_token)
            win.settingsRequested.connect(lambda: self.window.backends.edit_model_settings())
            win.modelsChanged.connect(self.refresh_backends)
        win = self.models_window
        win.refresh_header()
        win.refresh_installed()
        if family is not None or tab == 0:
            win.show_family(family)
        else:
            win.tabs.setCurrentIndex(tab)
        win.show()
        win.raise_()
        win.activateWindow()
        return win

    def edit_token(self) -> TokenDialog:
        from desktop.dialogs.hf_token import TokenDialog

        dlg = self.token_dialog = TokenDialog(self.models_window or self.window)
        dlg.checked.connect(lambda ok, _m: self.models_window.refresh_header() if self.models_window else None)
        dlg.open()
        return dlg

    # --- downloads -------------------------------------------------------------------------------------
    def _changed(self, _key: str) -> None:
        running = [i for i in self.downloads.items.values() if i.active]
        panel = self.window.edit_panel
        if not running:
            self.indicator.hide()
            panel.show_download(None, None)
            return
        item = self.downloads.active() or running[0]
        waiting = len(running) - 1
        more = f" (+{waiting} waiting)" if waiting else ""
        p = item.progress
        text = f"Downloading {item.label}: {item.text()}{more}"
        self.indicator.show_progress(text, p.fraction if p is not None else None)
        panel.show_download(text, p.fraction if p is not None else None)

    def _installed(self, key: str) -> None:
        item = self.downloads.items.get(key)
        self.refresh_backends()
        if item is None:
            return
        panel = self.window.edit_panel
        fam = item.request.family
        idx = panel.backend_combo.findData(fam) if fam else -1
        if idx >= 0 and panel.backend_combo.model().item(idx).isEnabled() and panel.backend_combo.currentData() == \
                "classical":  # the first model: the panel turns to it (another choice the user made is kept)
            panel.backend_combo.setCurrentIndex(idx)
            self.window.notifier.info(f"{item.label} is installed; the Edit panel now uses it")
        else:
            self.window.notifier.info(f"{item.label} is installed and ready: choose it in the Edit panel's Backend box")

    def refresh_backends(self) -> None:
        w = self.window
        w.edit_panel.refresh_backends()
        w.edit_panel._update_state()
        w.training_panel.refresh_models()

    def offer_unfinished(self, ask=None) -> int:
        """At start: downloads a quit or a crash left unfinished are offered back; the number continued.
        ``ask(text) -> "continue" | "later" | "discard"`` (a message box unless given)."""
        records = self.downloads.unfinished_records()
        if not records:
            return 0
        lines = "\n".join(f"• {r.label}: {human_size(r.done_bytes)} of {human_size(r.total_bytes)} kept"
                          + (f" ({r.error})" if r.state == "failed" and r.error else "") for r in records[:6])
        text = (f"{len(records)} model download(s) did not finish:\n{lines}\n\nContinue from where they stopped? "
                "(Nothing is fetched twice.)")
        answer = (ask or self._ask)(text)
        if answer == "continue":
            self.downloads.continue_records(records)
            return len(records)
        if answer == "discard":
            from inference.hub import manage

            for r in records:
                req = manage.Request(r.repo, r.revision, tuple(r.files), r.base, r.catalogue_id, r.label)
                self.downloads.items.setdefault(r.key, Item(r.key, req, state="paused"))
                self.downloads.cancel(r.key)
        return 0

    def _ask(self, text: str) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Unfinished downloads", text, parent=self.window)
        go = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
        later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        drop = box.addButton("Discard them", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(go)
        box.exec()
        clicked = box.clickedButton()
        return "continue" if clicked is go else "discard" if clicked is drop else "later" if clicked is later else "later"

    def shutdown(self) -> None:
        self.downloads.shutdown()
