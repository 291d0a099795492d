"""LoRAs for the edit: (file, weight) rows, offered for backends that load them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton


class LorasPart:
    """The edit panel's LoRAs (a part of ``EditPanel``)."""

    def _build_loras(self) -> tuple[QHBoxLayout, QPushButton, QPushButton]:
        """The LoRA list and its row of buttons and weight (for the panel to place)."""
        self.loras = QListWidget()
        self.loras.setMaximumHeight(56)
        self.lora_weight = QDoubleSpinBox()
        self.lora_weight.setRange(-2.0, 2.0)
        self.lora_weight.setSingleStep(0.1)
        self.lora_weight.setValue(1.0)
        self.lora_weight.setToolTip("Weight of the selected LoRA")
        self.lora_weight.valueChanged.connect(self._lora_weight_changed)
        add_lora = QPushButton("Add LoRA…")
        add_lora.clicked.connect(self.add_lora)
        rm_lora = QPushButton("Remove")
        rm_lora.clicked.connect(lambda: self.loras.takeItem(self.loras.currentRow()))
        self.loras.currentRowChanged.connect(self._lora_selected)
        # a LoRA can change how the marks are best given (ChronoEdit's Paint-Brush reads them drawn in)
        self.loras.model().rowsInserted.connect(lambda *_a: self._update_state())
        self.loras.model().rowsRemoved.connect(lambda *_a: self._update_state())
        lora_row = QHBoxLayout()
        lora_row.addWidget(add_lora)
        lora_row.addWidget(rm_lora)
        lora_row.addWidget(self.lora_weight)
        return lora_row, add_lora, rm_lora

    def add_lora(self, path: str | None = None, weight: float = 1.0) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", "LoRA weights (*.safetensors)")
            if not path:
                return

        item = QListWidgetItem(f"{Path(path).name} × {weight:g}")
        item.setData(Qt.ItemDataRole.UserRole, (str(path), float(weight)))
        item.setToolTip(str(path))
        self.loras.addItem(item)
        self.loras.setCurrentItem(item)

    def _lora_selected(self, row: int) -> None:
        item = self.loras.item(row)
        if item is not None:
            self.lora_weight.blockSignals(True)
            self.lora_weight.setValue(item.data(Qt.ItemDataRole.UserRole)[1])
            self.lora_weight.blockSignals(False)

    def _lora_weight_changed(self, value: float) -> None:
        item = self.loras.currentItem()
        if item is not None:
            path = item.data(Qt.ItemDataRole.UserRole)[0]
            item.setData(Qt.ItemDataRole.UserRole, (path, float(value)))
            item.setText(f"{Path(path).name} × {value:g}")

    def selected_loras(self) -> list[tuple[str, float]]:
        return [tuple(self.loras.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.loras.count())]

    @staticmethod
    def _backend_takes_loras(backend) -> bool:
        return bool(getattr(backend, "supports_lora", False))
