"""What the window does for training: pairs from its results (Layer › Add as training pair, the results
strip), a trained LoRA into the edit panel's list, and "Try it on the canvas"."""

from __future__ import annotations

from pathlib import Path


class TrainingController:
    def __init__(self, window) -> None:
        self.window = window

    def connect(self) -> None:
        w = self.window
        panel = w.training_panel
        panel.errorRaised.connect(w.notifier.error)
        panel.statusMessage.connect(w.show_hint)
        panel.loraReady.connect(self.lora_ready)
        panel.tryRequested.connect(self.try_lora)
        w.edit_panel.pairOffered.connect(self.add_offered_pair)

    def may_close(self) -> bool:
        """Closing while a LoRA trains stops it (a checkpoint is kept): asked first."""
        from PySide6.QtWidgets import QMessageBox

        panel = self.window.training_panel
        if not panel.running:
            return True
        answer = QMessageBox.question(self.window, "A LoRA is training",
                                      "Stop the training and close? Its checkpoint is kept: Resume goes on from it.")
        return answer == QMessageBox.StandardButton.Yes

    def show_panel(self) -> None:
        dock = self.window.train_dock
        dock.show()
        dock.raise_()

    def add_result_pair(self) -> None:
        """Layer › Add as training pair: the active result and the picture it was made from."""
        if self.window.training_panel.add_result_pair() is not None:
            self.show_panel()

    def add_offered_pair(self, before, after, instruction: str) -> None:
        """A result of the results strip (not inserted yet) and the picture it was made from."""
        self.window.training_panel.add_pair(before, after, instruction)
        self.show_panel()

    def lora_ready(self, path: str, _family: str, _instruction: str) -> None:
        """A trained LoRA appears in the edit panel's list at once."""
        panel = self.window.edit_panel
        if path not in [p for p, _w in panel.selected_loras()]:
            panel.add_lora(path, 1.0)

    def try_lora(self, path: str, family: str, instruction: str) -> bool:
        """Run the edit with the new LoRA on the picture: its family's backend, only this LoRA, its instruction."""
        w = self.window
        panel = w.edit_panel
        row = panel.backend_combo.findData(family)
        if row < 0 or not panel.backend_combo.model().item(row).isEnabled():
            w.notifier.error(f"the {family} backend is not available here (Edit › Models…), so "
                             f"{Path(path).name} cannot be tried on the canvas")
            return False
        panel.backend_combo.setCurrentIndex(row)
        panel.preset_combo.setCurrentIndex(panel.preset_combo.findData(None))
        panel.loras.clear()
        panel.add_lora(path, 1.0)
        panel.instruction.setPlainText(instruction)
        w.edit_dock.show()
        w.edit_dock.raise_()
        return panel.run() is not None
