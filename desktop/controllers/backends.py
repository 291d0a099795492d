"""Where the editing backends come from: Edit › Models… (model folders and the memory mode)
and Edit › Servers… (ComfyUI servers), applied at start and whenever they change; the edit
panel then lists its backends again."""

from __future__ import annotations

from desktop.dialogs.model_settings import ModelSettingsDialog, apply_model_settings
from desktop.dialogs.server_settings import ServersDialog, apply_server_settings


class BackendsController:
    def __init__(self, window) -> None:
        self.window = window

    def apply_model_settings(self) -> None:
        """The model folders and memory mode of the settings, handed to the backends (at start)."""
        settings = self.window.settings
        apply_model_settings(settings.model_folders(), settings.memory_mode())

    def apply_server_settings(self) -> None:
        """The window's ComfyUI servers file, handed to the backends (at start)."""
        apply_server_settings(self.window.server_store, self.window.notifier.error)

    def edit_model_settings(self, dialog=None) -> bool:
        """Edit > Models…: model folders and memory mode; the edit panel re-lists backends."""
        window = self.window
        dlg = dialog or ModelSettingsDialog(window.settings.model_folders(), window.settings.memory_mode(), window)
        if dialog is None and dlg.exec() != ModelSettingsDialog.DialogCode.Accepted:
            return False
        window.settings.set_model_folders(dlg.result_folders())
        window.settings.set_memory_mode(dlg.result_memory_mode())
        apply_model_settings(dlg.result_folders(), dlg.result_memory_mode())
        window.edit_panel.refresh_backends()
        window.edit_panel._update_state()
        return True

    def edit_server_settings(self, dialog=None) -> bool:
        """Edit > Servers…: the ComfyUI servers; the edit panel re-lists backends."""
        window = self.window
        if dialog is None:
            dlg = ServersDialog(window.server_store, window)
            if dlg.exec() != ServersDialog.DialogCode.Accepted:
                return False
            # accepting saved the list and handed it to the backends
        elif not dialog.apply():
            return False
        window.edit_panel.refresh_backends()
        window.edit_panel._update_state()
        return True
