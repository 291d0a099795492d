"""Models: the folders Akapen searches for editing models, and the memory mode.

Applying the settings tells ``inference.diffusion`` where to look (the Hugging Face cache is
always searched) and which memory mode new pipelines use; the edit panel then lists which
families are available and why the others are not.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MEMORY_MODE_LABELS = {
    "auto": "Automatic (from free GPU memory)",
    "gpu": "Everything on the GPU (fastest)",
    "model-offload": "Model CPU offload",
    "group-offload": "Group offload",
    "sequential-offload": "Sequential offload (least GPU memory, slowest)",
    "quantized": "Quantized 4-bit (needs bitsandbytes)",
    "cpu": "CPU only",
}


def apply_model_settings(folders: list[str], memory_mode: str) -> None:
    """Make the inference side use these folders and this memory mode (also for loaded backends)."""
    from inference import registry
    from inference.diffusion import base, models

    models.set_model_folders(folders)
    base.set_default_memory_mode(memory_mode)
    for inst in registry.built().values():  # backends made later pick up the new default
        if isinstance(inst, base.DiffusionBackend):
            inst.memory_mode = memory_mode


def describe_models(folders: list[str]) -> str:
    """A short summary of what the folders and the HF cache hold."""
    from inference.diffusion import models

    found, problems = models.scan([*folders])
    if not found and not problems:
        return "No editing models found yet. Add a folder that holds diffusers models, or download one."
    lines = [f"{m.family}: {m.repo_id or m.path} ({m.size_bytes / 1e9:.1f} GB)" for m in found[:12]]
    if len(found) > 12:
        lines.append(f"… and {len(found) - 12} more")
    lines += [f"not usable: {p.path} — {p.reason}" for p in problems[:6]]
    return f"{len(found)} model(s) found:\n" + "\n".join(lines)


class ModelSettingsDialog(QDialog):
    def __init__(self, folders: list[str], memory_mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.folders = QListWidget()
        self.folders.addItems(folders)
        add = QPushButton("Add folder…")
        add.clicked.connect(self.add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_folder)
        self.memory = QComboBox()
        for key, label in MEMORY_MODE_LABELS.items():
            self.memory.addItem(label, key)
        self.memory.setCurrentIndex(max(0, self.memory.findData(memory_mode)))
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        form = QFormLayout()
        form.addRow("Memory mode", self.memory)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Folders with editing models (the Hugging Face cache is always searched):"))
        lay.addWidget(self.folders)
        lay.addLayout(row)
        lay.addLayout(form)
        lay.addWidget(self.summary)
        lay.addWidget(buttons)
        self.resize(560, 420)
        self.refresh_summary()

    def result_folders(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def result_memory_mode(self) -> str:
        return self.memory.currentData()

    def add_folder(self, folder: str | None = None) -> None:
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Add a model folder")
            if not folder:
                return
        if folder not in self.result_folders():
            self.folders.addItem(folder)
        self.refresh_summary()

    def remove_folder(self) -> None:
        row = self.folders.currentRow()
        if row >= 0:
            self.folders.takeItem(row)
            self.refresh_summary()

    def refresh_summary(self) -> None:
        try:
            self.summary.setText(describe_models(self.result_folders()))
        except Exception as exc:  # noqa: BLE001 - a scan problem must not break the dialog
            self.summary.setText(f"The folders could not be searched: {exc}")
