"""The edit panel: instruction, task preset, backend, references, region, marks, seed and
parameters, Run / Cancel with progress and step previews, and a strip of results.

The panel builds a frozen request from the document (``desktop.headless.edit_request``), hands a job
to the ``JobRunner`` (the worker never sees the document) and, when a result arrives on the
GUI thread, saves it for recovery first, shows it in the results strip and inserts the chosen
one as a new layer in one undoable step.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QPainter, QPixmap, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from canvas import commands as C
from canvas.errors import CanvasError
from desktop.bridge import rewire
from desktop.headless.edit_request import apply_result, build_request, place_preview
from desktop.jobs import JobRunner, Relay
from desktop.qimage import paint_checker, rgba_to_qimage
from inference import registry
from inference.comfyui import WORKFLOW_BACKEND
from inference.errors import InferenceError, InvalidRequest
from inference.presets import Preset, first_blank, presets

ANNOTATION_CHOICES = (
    ("draw", "Draw marks into the image"),
    ("mask", "Marks make the edit mask"),
    ("phrase", "Describe marks in words"),
    ("reference", "Marks as a reference image"),
)


CANVAS_IMAGE = "image"  # what a workflow's image input gets unless a reference is chosen
WORKFLOW_FILTER = "ComfyUI workflows (*.json);;All files (*)"


def read_workflow(path: str, servers) -> tuple[Any, str]:
    """(WorkflowInfo or None, note) for the workflow at ``path`` (Qt-free; may take a while).

    An API-format file is read as it is; a UI-format one needs a server's node list to become
    a prompt, so it is read through the first of ``servers`` — without one, the note says so.
    Raises InvalidRequest when the file is not a workflow, ServerError when the server fails.
    """
    from inference.comfyui import workflow
    from inference.comfyui.backend import load_workflow, read_workflow_file

    if workflow.is_api_format(read_workflow_file(path)):
        return load_workflow(path, None)[1], ""
    if not servers:
        return None, "connect a server to read this workflow (Edit › Servers…)"
    return load_workflow(path, servers[0].client().object_info())[1], f"read through {servers[0].label}"


class ElidedLabel(QLabel):
    """One line that ends in "…" when it has less room than its text; ``text()`` and the
    tooltip keep the whole text. ``cap``: the most width it asks for (a form's label column
    stays as narrow as its other labels)."""

    def __init__(self, text: str = "", cap: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._cap = cap
        self.setToolTip(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self._cap), hint.height()) if self._cap else hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("Wor…")), hint.height())

    def paintEvent(self, event) -> None:
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), text,
                                  self.foregroundRole())


def _thumb(rgba: np.ndarray, size: int = 96) -> QPixmap:
    """``rgba`` scaled into ``size``², over a checkerboard where it is transparent."""
    pm = QPixmap.fromImage(rgba_to_qimage(rgba))
    pm = pm.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    if rgba[..., 3].min() == 255:
        return pm
    out = QPixmap(pm.size())
    p = QPainter(out)
    paint_checker(p, QRect(0, 0, pm.width(), pm.height()), 6)
    p.drawPixmap(0, 0, pm)
    p.end()
    return out


class EditPanel(QWidget):
    """``EditPanel(bridge, runner, parent=None, result_saver=None)``.

    ``result_saver(request, result)`` is called with every result before it is shown (the
    window passes the recovery store's writer, so a crash never loses a result).
    Signals: ``errorRaised(str)`` for the notifier, ``statusMessage(str)`` for the status bar.
    """

    errorRaised = Signal(str)
    statusMessage = Signal(str)
    resultInserted = Signal(str)  # layer id
    previewChanged = Signal(object, object)  # RGBA picture so far and its (x, y, w, h), or None, None

    def __init__(self, bridge, runner: JobRunner, parent: QWidget | None = None, result_saver=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.runner = runner
        self.result_saver = result_saver
        self._presets: list[Preset] = presets()
        # (request, result, index, the canvas shift when the request was made) per strip item
        self._results: list[tuple[Any, Any, int, tuple[int, int]]] = []
        self._job_shift: dict[str, tuple[int, int]] = {}  # the canvas shift at each job's start
        self._job_docs: dict[str, Any] = {}

        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Free instruction", None)
        for p in self._presets:
            self.preset_combo.addItem(p.label, p.id)
        self.preset_combo.currentIndexChanged.connect(self._preset_chosen)
        self.preset_combo.activated.connect(self._preset_activated)
        self.preset_combo.installEventFilter(self)
        self._preset_keyed = False  # the last choice came from a key on the closed Task box
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText("Describe the edit, e.g. “place a red bus at the circle”")
        self.instruction.setMaximumHeight(96)
        self.instruction.textChanged.connect(self._update_state)

        self.backend_combo = QComboBox()
        self.backend_combo.currentIndexChanged.connect(self._update_state)
        self.refresh_backends()
        # "your ComfyUI workflow": the file, and where each of its image inputs comes from
        self._workflow_path: str | None = None
        self._workflow_info = None
        self._workflow_reading = 0  # generation of the newest read; older answers are dropped
        self._workflow_relays: set = set()
        self._image_combos: dict[str, QComboBox] = {}
        self.workflow_button = QPushButton("Workflow…")
        self.workflow_button.setToolTip("Choose a ComfyUI workflow file (JSON, UI or API format)")
        self.workflow_button.clicked.connect(lambda: self.choose_workflow())
        self.workflow_name = ElidedLabel("none chosen")
        self.workflow_row = QWidget()
        wf_lay = QHBoxLayout(self.workflow_row)
        wf_lay.setContentsMargins(0, 0, 0, 0)
        wf_lay.addWidget(self.workflow_button)
        wf_lay.addWidget(self.workflow_name, 1)
        self.workflow_note = QLabel()
        self.workflow_note.setWordWrap(True)
        self.workflow_note.setStyleSheet("color: #555;")
        self.backend_reason = QLabel()
        self.backend_reason.setWordWrap(True)
        self.backend_reason.setStyleSheet("color: #a05a00;")

        # references
        self.refs = QListWidget()
        self.refs.setMaximumHeight(56)
        self.refs.setIconSize(QSize(40, 40))
        add_ref = QPushButton("Add…")
        add_ref.setToolTip("Add a reference image from a file")
        add_ref.clicked.connect(self.add_reference_from_file)
        rm_ref = QPushButton("Remove")
        rm_ref.clicked.connect(self.remove_reference)
        up_ref = QPushButton("Up")
        up_ref.clicked.connect(lambda: self.move_reference(-1))
        ref_buttons = QHBoxLayout()
        for b in (add_ref, rm_ref, up_ref):
            ref_buttons.addWidget(b)

        # LoRAs: (file, weight) rows, offered for backends that load them
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
        lora_row = QHBoxLayout()
        lora_row.addWidget(add_lora)
        lora_row.addWidget(rm_lora)
        lora_row.addWidget(self.lora_weight)

        self.region_combo = QComboBox()
        self.region_combo.addItem("Selection, if any", "auto")
        self.region_combo.addItem("Whole canvas", "whole")
        self.marks_boxes: dict[str, QCheckBox] = {}
        marks_box = QGroupBox("Pen marks")
        ml = QVBoxLayout(marks_box)
        self.marks_auto = QCheckBox("Let the backend choose")
        self.marks_auto.setChecked(True)
        self.marks_auto.toggled.connect(lambda on: [b.setEnabled(not on) for b in self.marks_boxes.values()])
        ml.addWidget(self.marks_auto)
        for key, text in ANNOTATION_CHOICES:
            cb = QCheckBox(text)
            cb.setEnabled(False)
            self.marks_boxes[key] = cb
            ml.addWidget(cb)

        self.random_seed = QCheckBox("Random")
        self.random_seed.setChecked(True)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setEnabled(False)
        self.random_seed.toggled.connect(lambda on: self.seed.setEnabled(not on))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        self.steps = QSpinBox()
        self.steps.setRange(0, 200)
        self.steps.setSpecialValueText("default")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setSpecialValueText("default")
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)

        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Run the edit (Ctrl+Return)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running and queued edits (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.run).setWhatsThis("Run the edit")
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.cancel,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut).setWhatsThis(
            "Cancel the running edit (focus in the panel)")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.queue_label = QLabel()
        self.preview = QLabel()
        self.preview.setFixedHeight(96)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.hide()  # shown while a job sends step previews
        self.results = QListWidget()
        self.results.setViewMode(QListWidget.ViewMode.IconMode)
        self.results.setIconSize(QSize(88, 88))
        self.results.setFixedHeight(112)
        self.results.setFlow(QListWidget.Flow.LeftToRight)
        self.results.setWrapping(False)
        self.results.setToolTip("Double-click a result to insert it as a new layer")
        self.results.itemDoubleClicked.connect(lambda item: self.insert_result(self.results.row(item)))
        self.use_button = QPushButton("Insert as layer")
        self.use_button.clicked.connect(lambda: self.insert_result(self.results.currentRow()))

        top = QFormLayout()
        top.addRow("Backend", self.backend_combo)
        top.addRow("Workflow", self.workflow_row)
        top.addRow(self.workflow_note)  # the image inputs' rows go just above this line
        top.addRow("Task", self.preset_combo)
        self._top = top
        for combo in (self.preset_combo, self.backend_combo, self.region_combo):
            # long backend names must not force the dock wide: the full text is in the popup
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        form = QFormLayout()
        form.addRow("Region", self.region_combo)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Variations", self.variations)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.backend_reason)
        lay.addWidget(QLabel("Instruction"))
        lay.addWidget(self.instruction)
        lay.addLayout(form)
        lay.addWidget(QLabel("References (as the model sees them)"))
        lay.addWidget(self.refs)
        lay.addLayout(ref_buttons)
        self.lora_label = QLabel("LoRAs")
        lay.addWidget(self.lora_label)
        lay.addWidget(self.loras)
        lay.addLayout(lora_row)
        self._lora_widgets = (self.lora_label, self.loras, add_lora, rm_lora, self.lora_weight)
        lay.addWidget(marks_box)
        lay.addLayout(run_row)
        lay.addWidget(self.progress)
        lay.addWidget(self.queue_label)
        lay.addWidget(self.preview)
        lay.addWidget(QLabel("Results"))
        lay.addWidget(self.results)
        lay.addWidget(self.use_button)
        lay.addStretch(1)

        runner.jobProgress.connect(self._on_progress)
        runner.jobFinished.connect(self._on_finished)
        runner.jobFailed.connect(self._on_failed)
        runner.jobCancelled.connect(self._on_cancelled)
        runner.queueChanged.connect(self._update_state)
        rewire(None, self.bridge, self._bridge_slots())
        info = self.backend_info()
        if info is not None and info.capabilities is not None and not info.capabilities.reads_instruction:
            # a backend that works by task: start on its first task rather than free text
            first = next((p for p in self._presets if p.classical_task in info.capabilities.tasks), None)
            if first is not None:
                self.preset_combo.setCurrentIndex(self.preset_combo.findData(first.id))
        self._preset_chosen()
        self._refresh_references()

    # --- document ---------------------------------------------------------------------------
    def set_bridge(self, bridge) -> None:
        rewire(self.bridge, bridge, self._bridge_slots())
        self.bridge = bridge
        self._refresh_references()
        self._update_state()

    def _bridge_slots(self):
        return (("referencesChanged", self._refresh_references), ("layersChanged", self._refresh_references),
                ("selectionChanged", self._update_state))

    @property
    def document(self):
        return self.bridge.document

    # --- backends and presets --------------------------------------------------------------------
    def refresh_backends(self) -> None:
        current = self.backend_combo.currentData()
        self.backend_combo.blockSignals(True)
        self.backend_combo.clear()
        model = self.backend_combo.model()
        first_ok = None
        for info in registry.list_backends():
            label = info.label if info.available else f"{info.label} — not available"
            self.backend_combo.addItem(label, info.name)
            row = self.backend_combo.count() - 1
            self.backend_combo.setItemData(row, info.reason or info.model, Qt.ItemDataRole.ToolTipRole)
            if not info.available:
                model.item(row).setEnabled(False)
            elif first_ok is None:
                first_ok = row
        idx = self.backend_combo.findData(current)
        self.backend_combo.setCurrentIndex(idx if idx >= 0 and model.item(idx).isEnabled() else (first_ok or 0))
        self.backend_combo.blockSignals(False)
        if getattr(self, "_workflow_path", None) and self._workflow_info is None and not self.workflow_reading:
            from inference.comfyui.servers import configured

            if configured():  # the servers changed: a workflow that needed one can be read now
                self.choose_workflow(self._workflow_path)

    def backend_info(self):
        name = self.backend_combo.currentData()
        return registry.info(name) if name else None

    def preset(self) -> Preset | None:
        pid = self.preset_combo.currentData()
        return next((p for p in self._presets if p.id == pid), None)

    def _preset_chosen(self, *_args) -> None:
        p = self.preset()
        if p is not None:
            self.instruction.setPlainText(p.instruction)
            m = first_blank(p.instruction)
            if m is not None:  # the first blank to fill in is selected: typing replaces it
                cursor = self.instruction.textCursor()
                cursor.setPosition(m.start())
                cursor.setPosition(m.end(), QTextCursor.MoveMode.KeepAnchor)
                self.instruction.setTextCursor(cursor)
            if p.annotation_use:
                self.marks_auto.setChecked(False)
                for key, cb in self.marks_boxes.items():
                    cb.setChecked(key in p.annotation_use)
            else:
                self.marks_auto.setChecked(True)
        self._update_state()

    def _blank_pending(self) -> bool:
        """The chosen preset's blank is still selected in the instruction, waiting to be typed over."""
        p = self.preset()
        cursor = self.instruction.textCursor()
        return (p is not None and cursor.hasSelection() and self.instruction.isEnabled()
                and first_blank(cursor.selectedText()) is not None)

    def _preset_activated(self, _index: int) -> None:
        # chosen from the list (mouse or Enter in the popup): the blank is typed over next, so the
        # keyboard goes there; a choice made by walking the closed box with the arrow keys stays
        # in the box, so that walking on still works
        if not self._preset_keyed and self._blank_pending():
            self.instruction.setFocus(Qt.FocusReason.OtherFocusReason)
        self._preset_keyed = False

    def eventFilter(self, obj, event) -> bool:
        if obj is self.preset_combo and event.type() == QEvent.Type.MouseButtonPress:
            self._preset_keyed = False
        elif obj is self.preset_combo and event.type() == QEvent.Type.KeyPress:
            mods = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
            text = event.text()
            if text and text.isprintable() and mods == Qt.KeyboardModifier.NoModifier and self._blank_pending():
                # typing on the Task box with a blank waiting: the words go into the blank, they do
                # not walk the task list (typing "COMO" would pick "Colourise")
                self.instruction.setFocus(Qt.FocusReason.OtherFocusReason)
                cursor = self.instruction.textCursor()
                cursor.insertText(text)
                self.instruction.setTextCursor(cursor)
                return True
            self._preset_keyed = True
        return super().eventFilter(obj, event)

    def _task_for_backend(self, info) -> tuple[str | None, dict, str | None]:
        """(task, params, why not) for the chosen preset on this backend."""
        p = self.preset()
        caps = info.capabilities
        if caps is not None and not caps.reads_instruction:
            if p is None:
                return None, {}, f"{info.label} does not read instructions: choose a task ({', '.join(caps.tasks)})"
            if p.classical_task is None or (caps.tasks and p.classical_task not in caps.tasks):
                return None, {}, f"{info.label} cannot do “{p.label}”; choose a model backend"
            return p.classical_task, dict(p.classical_params), None
        return None, {}, None

    def why_not_runnable(self) -> str | None:
        info = self.backend_info()
        if info is None:
            return "no editing backend is registered"
        if not info.available:
            return f"{info.label} is not available: {info.reason}"
        task, _, why = self._task_for_backend(info)
        if why:
            return why
        text = self.instruction.toPlainText()
        if task is None and not self._workflow_without_prompt(info):
            if not text.strip():
                return "type an instruction"
            blank = first_blank(text)
            if blank is not None:  # a preset's blank left as it is would reach the model verbatim
                name = blank.group() if len(blank.group()) <= 30 else blank.group()[:27].rstrip(" ,") + "…}"
                return f"fill in {name} in the instruction"
        return None

    def _update_state(self, *_args) -> None:
        info = self.backend_info()
        takes = False
        if info is not None and info.available:
            try:
                takes = self._backend_takes_loras(registry.get(info.name))
            except InferenceError:
                takes = False
        for w in getattr(self, "_lora_widgets", ()):
            w.setVisible(takes)  # only for backends that load LoRAs
        self._show_workflow_rows(info is not None and info.name == WORKFLOW_BACKEND)
        textless = self._workflow_without_prompt(info)  # the chosen workflow has nowhere to put text
        self.instruction.setEnabled(not textless)
        self.preset_combo.setEnabled(not textless)
        self.instruction.setToolTip("This workflow has no prompt input: it takes no instruction" if textless else "")
        why = self.why_not_runnable()
        self.run_button.setEnabled(why is None)
        self.run_button.setToolTip(why or "Run the edit (Ctrl+Return)")
        self.backend_reason.setText(why or "")
        self.backend_reason.setVisible(bool(why))
        busy = self.runner.busy
        self.cancel_button.setEnabled(busy)
        n = len(self.runner.queued)
        self.queue_label.setText(f"{n} edit(s) waiting" if n else "")
        self.queue_label.setVisible(bool(n))  # no empty line in the panel when nothing waits
        self.use_button.setEnabled(self.results.currentRow() >= 0)

    # --- references -----------------------------------------------------------------------------------
    def _refresh_references(self, *_args) -> None:
        from desktop.headless.edit_request import document_references

        self.refs.clear()
        info = self.backend_info()
        word = "Picture" if info is not None and "qwen" in info.name else "image"
        for i, ref in enumerate(document_references(self.document), start=1):
            # the edited image itself is image / Picture 1; references follow it
            item = QListWidgetItem(QIcon(_thumb(ref.image, 40)), f"{word} {i + 1}: {ref.label}")
            self.refs.addItem(item)
        self._fill_image_combos()
        self._update_state()

    def add_reference_from_file(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a reference image", "",
                                                  "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
            if not path:
                return
        from pathlib import Path

        from canvas.imageio import load_image

        try:
            self.document.add_reference(load_image(path), Path(path).stem)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))

    def remove_reference(self) -> None:
        row = self.refs.currentRow()
        if 0 <= row < len(self.document.references):
            self.document.remove_reference(self.document.references[row].id)
        elif row >= 0:
            self.errorRaised.emit("this reference is a layer with the “reference” role: change its role "
                                  "in the layers panel to stop using it")

    def move_reference(self, delta: int) -> None:
        refs = list(self.document.references)
        row = self.refs.currentRow()
        new = row + delta
        if 0 <= row < len(refs) and 0 <= new < len(refs):
            refs[row], refs[new] = refs[new], refs[row]
            self.document.execute(C.SetReferences(self.document.references, refs, "Reorder references"))
            self.refs.setCurrentRow(new)

    # --- your ComfyUI workflow ---------------------------------------------------------------------
    def _show_workflow_rows(self, on: bool) -> None:
        top = getattr(self, "_top", None)
        if top is None:
            return
        top.setRowVisible(self.workflow_row, on)
        top.setRowVisible(self.workflow_note, on and bool(self.workflow_note.text()))
        for combo in self._image_combos.values():
            top.setRowVisible(combo, on)

    def _workflow_without_prompt(self, info) -> bool:
        """A workflow read and found to take no text: it runs without an instruction."""
        return (info is not None and info.name == WORKFLOW_BACKEND and self._workflow_info is not None
                and not self._workflow_info.prompt_inputs)

    def choose_workflow(self, path: str | None = None) -> None:
        """Use the ComfyUI workflow at ``path`` (asked for when None) and read its inputs."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a ComfyUI workflow", "", WORKFLOW_FILTER)
            if not path:
                return
        from inference.comfyui.servers import configured

        self._workflow_reading += 1
        generation = self._workflow_reading
        self._workflow_path = str(path)
        self._set_workflow_info(None)
        self.workflow_name.setText(Path(path).name)
        self.workflow_name.setToolTip(str(path))
        servers = configured()
        self._set_workflow_note(f"reading the workflow{' on ' + servers[0].label if servers else ''}…")

        relay = Relay()
        relay.finished.connect(self._workflow_read)
        self._workflow_relays.add(relay)

        def work() -> None:
            try:
                answer, error = read_workflow(str(path), servers), None
            except Exception as exc:  # noqa: BLE001 - reported on the GUI thread with its text
                answer, error = None, exc
            relay.finished.emit((generation, answer), error)

        threading.Thread(target=work, name="read workflow", daemon=True).start()

    @property
    def workflow_reading(self) -> bool:
        """True while a chosen workflow is still being read."""
        return bool(self._workflow_relays)

    def _workflow_read(self, payload: tuple, error) -> None:
        self._workflow_relays.discard(self.sender())
        generation, answer = payload
        if generation != self._workflow_reading:
            return  # another workflow was chosen since
        if error is not None:
            if isinstance(error, InvalidRequest):  # not a workflow: forget the choice
                self._workflow_path = None
                self.workflow_name.setText("none chosen")
                self.workflow_name.setToolTip("")
            self._set_workflow_note(str(error), error=True)
            if not isinstance(error, InferenceError):
                self.errorRaised.emit(f"the workflow could not be read: {type(error).__name__}: {error}")
            self._update_state()
            return
        info, note = answer
        self._set_workflow_info(info)
        if info is not None:
            lines = [ln for ln in info.describe().splitlines() if ln.strip()]
            text = lines[0] if lines else ""
            self.workflow_note.setToolTip("\n".join(lines + ([note] if note else [])))
            self._set_workflow_note(text)
        else:
            self._set_workflow_note(note)
        self._update_state()

    def _set_workflow_note(self, text: str, error: bool = False) -> None:
        self.workflow_note.setStyleSheet("color: #b00020;" if error else "color: #555;")
        self.workflow_note.setText(text)
        if not error and not text:
            self.workflow_note.setToolTip("")
        info = self.backend_info()
        self._show_workflow_rows(info is not None and info.name == WORKFLOW_BACKEND)

    def _set_workflow_info(self, info) -> None:
        """One row per image input of the workflow: where its image comes from."""
        for combo in self._image_combos.values():
            self._top.removeRow(combo)
        self._image_combos = {}
        self._workflow_info = info
        if info is None:
            return
        row = self._top.getWidgetPosition(self.workflow_note)[0]
        for slot in info.image_inputs:
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
            name = slot.title or slot.class_type
            label = ElidedLabel(name, cap=self.fontMetrics().horizontalAdvance("Workflow"))
            tip = f"{name}: node {slot.node_id} ({slot.class_type}), input “{slot.input_name}”"
            label.setToolTip(tip)
            combo.setToolTip(f"The image that {tip} gets")
            self._top.insertRow(row, label, combo)
            row += 1
            self._image_combos[slot.node_id] = combo
        self._fill_image_combos()

    def _fill_image_combos(self) -> None:
        """Offer the canvas image and every reference to each image input (choices are kept;
        by default the first input gets the canvas image and the next ones the references)."""
        if not self._image_combos:
            return
        from desktop.headless.edit_request import document_references

        labels = [r.label for r in document_references(self.document)]
        for i, combo in enumerate(self._image_combos.values()):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("Canvas image", CANVAS_IMAGE)
            for label in labels:
                combo.addItem(f"Reference: {label}", label)
            if chosen is None:  # a new row: the order the backend would use
                chosen = labels[i - 1] if 1 <= i <= len(labels) else CANVAS_IMAGE
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(False)

    def workflow_params(self) -> dict:
        """``workflow`` and ``workflow_images`` for the request (empty without a workflow)."""
        if not self._workflow_path:
            return {}
        params: dict[str, Any] = {"workflow": self._workflow_path}
        if self._image_combos:
            params["workflow_images"] = {node: combo.currentData() for node, combo in self._image_combos.items()}
        return params

    # --- LoRAs ----------------------------------------------------------------------------------------
    def add_lora(self, path: str | None = None, weight: float = 1.0) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", "LoRA weights (*.safetensors)")
            if not path:
                return
        from pathlib import Path

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
            from pathlib import Path

            path = item.data(Qt.ItemDataRole.UserRole)[0]
            item.setData(Qt.ItemDataRole.UserRole, (path, float(value)))
            item.setText(f"{Path(path).name} × {value:g}")

    def selected_loras(self) -> list[tuple[str, float]]:
        return [tuple(self.loras.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.loras.count())]

    # --- running --------------------------------------------------------------------------------------
    def build(self):
        """The request for the current settings and the backend to run it (raises typed errors)."""
        info = self.backend_info()
        backend = registry.get(info.name)
        task, params, why = self._task_for_backend(info)
        if why:
            raise CanvasError(why)
        if info.name == WORKFLOW_BACKEND:
            params.update(self.workflow_params())
        use = None if self.marks_auto.isChecked() else [k for k, cb in self.marks_boxes.items() if cb.isChecked()]
        seed = random.randrange(2**31) if self.random_seed.isChecked() else self.seed.value()
        if info.capabilities is not None and not info.capabilities.seeded:
            seed = None
        request = build_request(
            self.document, "" if self._workflow_without_prompt(info) else self.instruction.toPlainText(), task,
            info.capabilities,
            region=self.region_combo.currentData(), annotation_use=use, seed=seed,
            steps=self.steps.value() or None, guidance=self.guidance.value() or None,
            variations=min(self.variations.value(), info.capabilities.max_variations if info.capabilities else 16),
            params=params, loras=self.selected_loras() if self._backend_takes_loras(backend) else (),
        )
        return backend, request

    @staticmethod
    def _backend_takes_loras(backend) -> bool:
        return bool(getattr(backend, "supports_lora", False))

    def run(self) -> str | None:
        why = self.why_not_runnable()
        if why:
            self.statusMessage.emit(why)
            return None
        try:
            backend, request = self.build()
            backend.validate(request)  # a request it would refuse is said now, not after a job
        except (CanvasError, InferenceError) as exc:
            self.errorRaised.emit(str(exc))
            return None
        label = request.task or request.instruction[:40]
        job_id = self.runner.submit(f"{backend.label}: {label}", lambda progress, cancel: backend.run(request, progress, cancel),
                                    payload=request)
        self._job_docs[job_id] = self.document
        self._job_shift[job_id] = self.document.canvas_shift
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self._update_state()
        return job_id

    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel_all()
            self.statusMessage.emit("edit cancelled")

    def _on_progress(self, job_id: str, update) -> None:
        if job_id not in self._job_docs:
            return
        self.progress.setRange(0, max(1, update.total))
        self.progress.setValue(update.step)
        phase = f" — {update.phase}" if update.phase else ""
        self.progress.setFormat(f"step {update.step} of {update.total}{phase}")
        if update.preview is not None:
            self.preview.setPixmap(_thumb(update.preview, 96))
            self.preview.show()
            if self._job_docs[job_id] is self.document and update.preview_rect is not None:
                # and on the canvas, where the result will go
                request = self._moved(self.runner.jobs[job_id].payload, self._job_shift.get(job_id, (0, 0)))
                self.previewChanged.emit(*place_preview(request, update.preview, update.preview_rect))

    def _on_finished(self, job_id: str, result) -> None:
        doc = self._job_docs.pop(job_id, None)
        shift = self._job_shift.pop(job_id, None)
        if doc is None:
            return
        request = self.runner.jobs[job_id].payload
        self._idle("done")
        if self.result_saver is not None:
            try:
                self.result_saver(request, result)
            except Exception as exc:  # noqa: BLE001 - saving for recovery must not lose the result
                self.errorRaised.emit(f"the result could not be saved for recovery: {exc}")
        if doc is not self.document:
            self.errorRaised.emit("the document was closed while the edit ran; its result is in the recovery folder")
            return
        first = self.results.count()
        for i, img in enumerate(result.images):
            item = QListWidgetItem(QIcon(_thumb(img, 88)), f"{i + 1}")
            seed = result.seeds[i] if i < len(result.seeds) else None
            item.setToolTip(f"{result.backend} · seed {seed} · {result.duration:.1f} s")
            self.results.addItem(item)
            self._results.append((request, result, i, shift or doc.canvas_shift))
        for w in result.warnings:
            self.statusMessage.emit(w)
        if len(result.images) == 1 or result.kind == "layers":
            self.insert_result(first)  # a split into layers inserts all of its layers at once
        else:
            self.results.setCurrentRow(first)
            self.statusMessage.emit(f"{len(result.images)} results: double-click one to insert it")
        self._update_state()

    def _moved(self, request, shift: tuple[int, int]):
        """``request`` placed on today's canvas: Canvas size / Crop since it was made moved the
        picture by the difference."""
        dx, dy = self.document.canvas_shift[0] - shift[0], self.document.canvas_shift[1] - shift[1]
        if not (dx or dy):
            return request
        import dataclasses

        return dataclasses.replace(request, origin=(request.origin[0] + dx, request.origin[1] + dy))

    def insert_result(self, row: int) -> None:
        if not 0 <= row < len(self._results):
            return
        request, result, index, shift = self._results[row]
        request = self._moved(request, shift)
        try:
            layer = apply_result(self.document, request, result, index)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            return
        self.bridge.set_active(layer.id)
        self.resultInserted.emit(layer.id)
        self.statusMessage.emit(f"inserted “{layer.name}” ({result.backend}, {result.duration:.1f} s)")

    def _on_failed(self, job_id: str, message: str, expected: bool) -> None:
        self._job_shift.pop(job_id, None)
        if self._job_docs.pop(job_id, None) is None:
            return
        self._idle("failed")
        self.errorRaised.emit(message)

    def _on_cancelled(self, job_id: str) -> None:
        self._job_shift.pop(job_id, None)
        if self._job_docs.pop(job_id, None) is None:
            return
        self._idle("cancelled")

    def _idle(self, text: str) -> None:
        if not self.runner.busy:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(text)
            self.preview.clear()
            self.preview.hide()
            self.previewChanged.emit(None, None)
        self._update_state()
