"""The training panel's widgets, laid out (``build_widgets``), and the small dialog that picks two layers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.training.loss_plot import LossPlot
from desktop.panels.training.pair_list import PairList


def _button(text: str, tip: str, slot) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.clicked.connect(lambda _checked=False: slot())
    return b


def build_widgets(panel) -> None:
    from inference.diffusion import device as dev
    from training.trainer import Settings

    d = Settings()
    lay = QVBoxLayout(panel)
    lay.setContentsMargins(6, 6, 6, 6)

    # the pairs
    panel.pairs_label = QLabel("Pairs (0)")
    panel.pairs_label.setStyleSheet("font-weight: 600")
    lay.addWidget(panel.pairs_label)
    panel.shared_instruction = QLineEdit()
    panel.shared_instruction.setPlaceholderText("The instruction of every pair, e.g. “turn it into a pencil sketch”")
    panel.shared_instruction.textEdited.connect(panel._shared_edited)
    lay.addWidget(panel.shared_instruction)
    panel.pair_list = PairList()
    panel.pair_list.currentRowChanged.connect(panel._pair_selected)
    lay.addWidget(panel.pair_list, 1)
    adds = QGridLayout()  # two columns: the panel shares the edit panel's narrow column
    adds.addWidget(_button("+ Result", "The selected edit result and the picture it was made from",
                           panel.add_result_pair), 0, 0)
    adds.addWidget(_button("+ Two layers…", "Before and after pasted as two layers", panel.add_layers_pair), 0, 1)
    adds.addWidget(_button("+ Picture, file…", "The picture as before, an image file as after",
                           panel.add_picture_and_file), 1, 0)
    panel.remove_button = _button("Remove", "Remove the selected pair", panel.remove_pair)
    adds.addWidget(panel.remove_button, 1, 1)
    adds.addWidget(_button("Open folder…", "Pairs from a before/ + after/ folder (ai-toolkit, musubi-tuner)",
                           panel.open_folder), 2, 0)
    adds.addWidget(_button("Save folder…", "Write the pairs as before/ + after/ with .txt instructions",
                           panel.save_folder), 2, 1)
    lay.addLayout(adds)
    panel.pair_instruction = QLineEdit()
    panel.pair_instruction.setPlaceholderText("this pair's own instruction (empty: the shared one)")
    panel.pair_instruction.editingFinished.connect(panel._pair_instruction_edited)
    lay.addWidget(panel.pair_instruction)
    panel.held_button = QPushButton("Held out (sampled, not trained)")
    panel.held_button.setCheckable(True)
    panel.held_button.setToolTip("Show this pair's progress while training instead of training on it")
    panel.held_button.clicked.connect(lambda _c=False: panel.toggle_held_out())
    lay.addWidget(panel.held_button)

    # the model and the settings
    box = QGroupBox("Training")
    form = QFormLayout(box)
    model_row = QHBoxLayout()
    panel.model_combo = QComboBox()
    panel.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    panel.model_combo.setMinimumContentsLength(8)
    panel.model_combo.currentIndexChanged.connect(lambda _i: panel._update_state())
    model_row.addWidget(panel.model_combo, 1)
    again = _button("↻", "Look for models again", panel.refresh_models)
    again.setFixedWidth(28)
    model_row.addWidget(again)
    panel.get_model_button = _button("Get model…", "Download a base model to train on (opens the Models window)",
                                     lambda: panel.modelsRequested.emit(panel.get_model_family()))
    model_row.addWidget(panel.get_model_button)
    form.addRow("Base model", model_row)
    panel.steps = QSpinBox()
    panel.steps.setRange(1, 100_000)
    panel.steps.setValue(d.steps)
    panel.steps.valueChanged.connect(lambda _v: panel._update_state())
    panel.rank = QSpinBox()
    panel.rank.setRange(1, 256)
    panel.rank.setValue(d.rank)
    panel.rank.setToolTip("LoRA rank (alpha = rank)")
    panel.lr = QDoubleSpinBox()
    panel.lr.setDecimals(6)
    panel.lr.setRange(1e-6, 1e-2)
    panel.lr.setSingleStep(1e-5)
    panel.lr.setValue(d.learning_rate)
    form.addRow("Steps", panel.steps)
    form.addRow("Rank", panel.rank)
    form.addRow("Learning rate", panel.lr)
    panel.resolution = QComboBox()
    panel.resolution.setToolTip("Pairs are aspect-bucketed to about this many pixels squared")
    for r in (512, 768, 1024):
        panel.resolution.addItem(f"{r} px", r)
    panel.resolution.setCurrentIndex(panel.resolution.findData(d.resolution))
    panel.memory = QComboBox()
    cuda = dev.probable_device() == "cuda"  # (torch is not imported to build the window)
    for mode, label, ok, why in (
            ("auto", "auto (bf16 on a GPU)", True, ""),
            ("8bit", "8-bit", cuda and dev.has_package("bitsandbytes"),
             "needs a CUDA GPU and the bitsandbytes package"),
            ("fp8", "fp8", cuda and dev.has_package("torchao"), "needs a CUDA GPU and the torchao package")):
        panel.memory.addItem(label, mode)
        row_i = panel.memory.count() - 1
        if not ok:
            panel.memory.model().item(row_i).setEnabled(False)
            panel.memory.setItemData(row_i, f"not available: {why}", Qt.ItemDataRole.ToolTipRole)
    form.addRow("Resolution", panel.resolution)
    form.addRow("Base weights", panel.memory)
    panel.sample_every = QSpinBox()
    panel.sample_every.setRange(0, 10_000)
    panel.sample_every.setValue(d.sample_every)
    panel.sample_every.setSpecialValueText("never")
    panel.sample_every.setSuffix(" steps")
    form.addRow("Sample every", panel.sample_every)
    panel.output_name = QLineEdit()
    panel.output_name.setPlaceholderText("my-edit.safetensors")
    panel.output_name.textEdited.connect(lambda _t: panel._update_state())
    panel.output_name.setToolTip(f"Saved in the LoRA folder, {panel.lora_folder}")
    form.addRow("LoRA", panel.output_name)
    lay.addWidget(box)

    # running
    runs = QGridLayout()
    panel.train_button = _button("Train", "Train the LoRA", panel.train)
    panel.train_button.setDefault(True)
    panel.resume_button = _button("Resume", "Go on from the checkpoint of this LoRA", lambda: panel.train(resume=True))
    panel.cancel_button = _button("Cancel", "Stop at the next step (a checkpoint is kept)", panel.cancel)
    panel.export_button = _button("Export job…", "The pairs and settings in one folder, to train on a bigger machine",
                                  panel.export_job)
    for i, b in enumerate((panel.train_button, panel.resume_button, panel.cancel_button, panel.export_button)):
        runs.addWidget(b, i // 2, i % 2)
    lay.addLayout(runs)
    panel.reason = QLabel("")
    panel.reason.setWordWrap(True)
    panel.reason.setStyleSheet("color: #a05a00")
    lay.addWidget(panel.reason)
    # what changes while training never widens the panel (the column is shared with the edit panel)
    ignored = QSizePolicy.Policy.Ignored
    panel.progress = QProgressBar()
    panel.progress.setSizePolicy(ignored, QSizePolicy.Policy.Fixed)
    panel.progress.setTextVisible(True)
    panel.progress.setFormat("idle")
    panel.progress.setValue(0)
    lay.addWidget(panel.progress)
    panel.run_info = QLabel("")
    panel.run_info.setWordWrap(True)
    panel.run_info.setSizePolicy(ignored, QSizePolicy.Policy.Preferred)
    lay.addWidget(panel.run_info)
    panel.plot = LossPlot()
    lay.addWidget(panel.plot)
    panel.sample_view = QLabel()
    panel.sample_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
    panel.sample_view.setMinimumHeight(60)
    panel.sample_view.setSizePolicy(ignored, QSizePolicy.Policy.Preferred)
    lay.addWidget(panel.sample_view)
    panel.sample_caption = QLabel("")
    panel.sample_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    panel.sample_caption.setWordWrap(True)
    panel.sample_caption.setSizePolicy(ignored, QSizePolicy.Policy.Preferred)
    lay.addWidget(panel.sample_caption)
    panel.try_button = _button("Try it on the canvas", "Run the edit with the new LoRA on the picture",
                               panel.try_on_canvas)
    lay.addWidget(panel.try_button)


def ask_two_layers(parent: QWidget, doc, active_id: str | None) -> tuple[str, str] | None:
    """(before layer id, after layer id), chosen among the content layers; None when cancelled."""
    content = [lyr for lyr in reversed(doc.layers) if lyr.role == "content"]
    if len(content) < 2:
        from canvas.errors import CanvasError

        raise CanvasError("a pair from two layers needs two content layers (the before and the after)")
    dlg = QDialog(parent)
    dlg.setWindowTitle("A pair from two layers")
    form = QFormLayout(dlg)
    before, after = QComboBox(), QComboBox()
    for lyr in content:
        before.addItem(lyr.name, lyr.id)
        after.addItem(lyr.name, lyr.id)
    a = max(0, after.findData(active_id))
    after.setCurrentIndex(a)
    before.setCurrentIndex(a + 1 if a + 1 < len(content) else 0)
    form.addRow("Before", before)
    form.addRow("After", after)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dlg.accept)
    buttons.rejected.connect(dlg.reject)
    form.addRow(buttons)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return before.currentData(), after.currentData()
