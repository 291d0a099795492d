"""The edit panel: instruction, task preset, backend, references, region, marks, seed and
parameters, Run / Cancel with progress and step previews, and a strip of results.

The panel builds a frozen request from the document (``desktop.headless.edit_request``), hands a job
to the ``JobRunner`` (the worker never sees the document) and, when a result arrives on the
GUI thread, saves it for recovery first, shows it in the results strip and inserts the chosen
one as a new layer in one undoable step.
"""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from canvas.errors import CanvasError
from canvas.layers import PieceLayer
from desktop.bridge import rewire
from desktop.headless.edit_request import build_request
from desktop.jobs import JobRunner
from desktop.panels.edit.compare import ComparePart
from desktop.panels.edit.cutout_hint import CutoutHint
from desktop.panels.edit.gemini import GeminiPart
from desktop.panels.edit.get_model import GetModelPart
from desktop.panels.edit.loras import LorasPart
from desktop.panels.edit.marks_options import MarksOptions
from desktop.panels.edit.references import ReferencesPart
from desktop.panels.edit.running import RunningPart
from desktop.panels.edit.widgets import FittingTextEdit, Section
from desktop.panels.edit.workflow import WorkflowPart
from inference import registry
from inference.comfyui import WORKFLOW_BACKEND
from inference.errors import InferenceError
from inference.gemini import BACKEND as GEMINI_BACKEND
from inference.presets import Preset, first_blank, model_params, presets

SPEED_CHOICES = (
    ("quality", "Quality", "The model card's steps and guidance, nothing skipped"),
    ("fast", "Fast", "Reuses work between steps where the model allows (step caching); on an NVIDIA GPU also "
     "compiles the model and uses FP8 weights where the card has FP8. Close to Quality; the result's notes say "
     "what was used"),
    ("draft", "Draft", "Fewer steps (about 40 %) plus step caching: a quick look, rougher than Quality"),
)


class EditPanel(WorkflowPart, GeminiPart, ReferencesPart, LorasPart, ComparePart, RunningPart, GetModelPart, QWidget):
    """``EditPanel(bridge, runner, parent=None, result_saver=None, settings=None)``.

    ``result_saver(request, result)`` is called with every result before it is shown (the
    window passes the recovery store's writer, so a crash never loses a result). ``settings``
    (:class:`desktop.settings.Settings`) remembers the speed mode.
    Signals: ``errorRaised(str)`` for the notifier, ``statusMessage(str)`` for the status bar.
    """

    errorRaised = Signal(str)
    statusMessage = Signal(str)
    resultInserted = Signal(str)  # layer id
    previewChanged = Signal(object, object)  # RGBA picture so far and its (x, y, w, h), or None, None
    pairOffered = Signal(object, object, str)  # before, after (RGBA), instruction: a result as a training pair
    cutOutRequested = Signal(list)  # piece layer ids: Refine collage's offer to cut them out first
    modelsRequested = Signal(str)  # Get model…: open the Models window on this family ("" for all)

    def __init__(self, bridge, runner: JobRunner, parent: QWidget | None = None, result_saver=None,
                 settings=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.settings = settings
        self.runner = runner
        self.result_saver = result_saver
        self._presets: list[Preset] = presets()
        # (request, result, index, the canvas shift when the request was made) per strip item
        self._results: list[tuple[Any, Any, int, tuple[int, int]]] = []
        self._job_shift: dict[str, tuple[int, int]] = {}  # the canvas shift at each job's start
        self._job_backend: dict[str, str] = {}  # each job's backend label (labels may hold ":")
        self._job_docs: dict[str, Any] = {}

        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Free instruction", None)
        for p in self._presets:
            self.preset_combo.addItem(p.label, p.id)
        self.preset_combo.currentIndexChanged.connect(self._preset_chosen)
        self.preset_combo.activated.connect(self._preset_activated)
        self.preset_combo.installEventFilter(self)
        self._preset_keyed = False  # the last choice came from a key on the closed Task box
        self.instruction = FittingTextEdit(min_lines=3, max_lines=10)  # as tall as its text: no line cut off
        self.instruction.setPlaceholderText("Describe the edit, e.g. “place a red bus at the circle”")
        self.instruction.textChanged.connect(self._update_state)

        self._build_get_model()
        self.backend_combo = QComboBox()
        self.backend_combo.currentIndexChanged.connect(self._update_state)
        self.backend_combo.currentIndexChanged.connect(lambda *_: hasattr(self, "compare_menu") and self._compare_changed())
        self.refresh_backends()
        self._build_workflow()  # "your ComfyUI workflow": the file, and where each of its image inputs comes from
        self._build_gemini()  # nano banana: model, aspect ratio, size, key; the picture goes to Google, no seed
        self.backend_reason = QLabel()
        self.backend_reason.setWordWrap(True)
        self.backend_reason.setStyleSheet("color: #a05a00;")
        self.cutout_hint = CutoutHint()
        self.cutout_hint.cutOutRequested.connect(self.cutOutRequested)

        ref_buttons = self._build_references()

        lora_row, add_lora, rm_lora = self._build_loras()

        self.region_combo = QComboBox()
        self.region_combo.addItem("Selection, if any", "auto")
        self.region_combo.addItem("Whole canvas", "whole")
        self.marks_box = MarksOptions()  # how the pen marks are read

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
        self.speed_combo = QComboBox()
        for value, label, tip in SPEED_CHOICES:
            self.speed_combo.addItem(label, value)
            self.speed_combo.setItemData(self.speed_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        remembered = settings.speed() if settings is not None else "quality"
        self.speed_combo.setCurrentIndex(max(0, self.speed_combo.findData(remembered)))
        self.speed_combo.currentIndexChanged.connect(self._speed_chosen)
        self._speed_chosen()
        self._build_running()
        self._build_compare()

        top = QFormLayout()
        backend_row = QHBoxLayout()
        backend_row.addWidget(self.backend_combo, 1)
        backend_row.addWidget(self.compare_button)
        top.addRow("Backend", backend_row)
        top.addRow(self.compare_note)  # ticked backends left out of Compare, and why
        top.addRow(self.get_model_row)
        top.addRow("Workflow", self.workflow_row)
        top.addRow(self.workflow_note)  # the image inputs' rows go just above this line
        top.addRow("Model", self.gemini_row)
        top.addRow(self.gemini_shape_row)  # the whole width: two combos side by side
        top.addRow(self.gemini_note)
        top.addRow("Task", self.preset_combo)
        self._top = top
        for combo in (self.preset_combo, self.backend_combo, self.region_combo):
            # long backend names must not force the dock wide: the full text is in the popup
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.backend_combo.setMinimumContentsLength(9)  # room for Compare beside it in a narrow dock
        form_box = QWidget()  # the settings changed now and then: folded away under one line that sums them up
        form = QFormLayout(form_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Region", self.region_combo)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Variations", self.variations)
        form.addRow("Speed", self.speed_combo)
        self.settings_section = Section("Settings", form_box)
        for signal in (self.region_combo.currentIndexChanged, self.random_seed.toggled, self.seed.valueChanged,
                       self.steps.valueChanged, self.guidance.valueChanged, self.variations.valueChanged,
                       self.speed_combo.currentIndexChanged):
            signal.connect(self._summarise_settings)
        self._summarise_settings()
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        body = QWidget()  # what is chosen before a run scrolls; Run, the results and Insert stay in sight below it
        lay = QVBoxLayout(body)
        lay.addLayout(top)
        lay.addWidget(self.backend_reason)
        lay.addWidget(self.cutout_hint)
        lay.addWidget(QLabel("Instruction"))
        lay.addWidget(self.instruction)
        lay.addWidget(self.settings_section)
        lay.addWidget(QLabel("References (as the model sees them)"))
        lay.addWidget(self.refs)
        lay.addLayout(ref_buttons)
        self.lora_label = QLabel("LoRAs")
        lay.addWidget(self.lora_label)
        lay.addWidget(self.loras)
        lay.addLayout(lora_row)
        self._lora_widgets = (self.lora_label, self.loras, add_lora, rm_lora, self.lora_weight)
        lay.addWidget(self.marks_box)
        lay.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        foot = QVBoxLayout()
        m = lay.contentsMargins()
        foot.setContentsMargins(m.left(), 4, m.right(), m.bottom())
        foot.addLayout(run_row)
        foot.addWidget(self.progress)
        foot.addWidget(self.queue_label)
        foot.addWidget(self.preview)
        foot.addWidget(QLabel("Results"))
        foot.addWidget(self.results)
        foot.addWidget(self.result_note)
        foot.addWidget(self.download_line)
        foot.addWidget(self.download_bar)
        use_row = QHBoxLayout()
        use_row.addWidget(self.use_button, 1)
        use_row.addWidget(self.insert_all_button)
        foot.addLayout(use_row)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.scroll, 1)
        outer.addLayout(foot)

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
        self._refresh_cutout_hint()  # the offer to cut out pieces was about the old document's pieces
        self._update_state()

    def _bridge_slots(self):
        return (("referencesChanged", self._refresh_references), ("layersChanged", self._refresh_references),
                ("selectionChanged", self._update_state), ("layersChanged", self._refresh_cutout_hint),
                ("layerChanged", self._refresh_cutout_hint))

    def _refresh_cutout_hint(self, layer_id: str | None = None) -> None:
        if layer_id and not any(la.id == layer_id and isinstance(la, PieceLayer) for la in self.document.layers):
            return  # a brush dab on a pixel layer changes no piece
        p = self.preset()
        self.cutout_hint.refresh(self.document, p is not None and p.id == "refine-collage")

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
        infos = registry.list_backends()
        self._refresh_get_model(infos)
        for info in infos:
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
            self.marks_box.set_use(p.annotation_use)
        self._refresh_cutout_hint()
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
            if p is None:  # named as the Task box names them, not by their ids
                offered = [q.label for q in self._presets if q.classical_task in caps.tasks]
                return None, {}, f"{info.label} does not read instructions: choose one of its tasks in the Task box " \
                                 f"({', '.join(offered)})"
            if p.classical_task is None or (caps.tasks and p.classical_task not in caps.tasks):
                return None, {}, f"{info.label} cannot do “{p.label}”; choose a model backend"
            return p.classical_task, dict(p.classical_params), None
        return None, model_params(p), None

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
        takes = speeds = False
        if info is not None and info.available:
            try:
                backend = registry.get(info.name)
                takes, speeds = self._backend_takes_loras(backend), bool(getattr(backend, "speed_modes", False))
            except InferenceError:
                takes = False
        if hasattr(self, "speed_combo"):
            self._speeds = speeds
            self.speed_combo.setEnabled(speeds)  # the choice is kept for the backends that have speeds
            self._speed_tooltip(speeds, info.label if info is not None else "")
        for w in getattr(self, "_lora_widgets", ()):
            w.setVisible(takes)  # only for backends that load LoRAs
        self._show_workflow_rows(info is not None and info.name == WORKFLOW_BACKEND)
        self._show_gemini_rows(info is not None and info.name == GEMINI_BACKEND)
        if hasattr(self, "marks_box"):  # (not yet while the panel is built)
            self.marks_box.set_backend(info.capabilities if info is not None else None,
                                       [p for p, _w in self.selected_loras()] if takes else ())
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

    def _summarise_settings(self, *_args) -> None:
        """The folded settings' header names what differs from the defaults."""
        parts = []
        if self.region_combo.currentData() != "auto":
            parts.append(self.region_combo.currentText().lower())
        if not self.random_seed.isChecked():
            parts.append(f"seed {self.seed.value()}")
        if self.steps.value():
            parts.append(f"{self.steps.value()} steps")
        if self.guidance.value():
            parts.append(f"guidance {self.guidance.value():g}")
        if self.variations.value() > 1:
            parts.append(f"{self.variations.value()} variations")
        if self.speed_combo.currentData() != "quality":
            parts.append(self.speed_combo.currentText())
        self.settings_section.set_summary(", ".join(parts) or "seed, steps, speed and more")

    def _speed_chosen(self, *_args) -> None:
        self._speed_tooltip(getattr(self, "_speeds", True))
        if self.settings is not None:
            self.settings.set_speed(self.speed_combo.currentData())

    def _speed_tooltip(self, enabled: bool, backend: str = "") -> None:
        tip = self.speed_combo.currentData(Qt.ItemDataRole.ToolTipRole) or ""
        self.speed_combo.setToolTip(tip if enabled else f"{backend or 'This backend'} has one speed")

    def speed_for(self, backend) -> str:
        """The speed mode a request to ``backend`` asks for ("quality" for a backend with one speed)."""
        return self.speed_combo.currentData() if getattr(backend, "speed_modes", False) else "quality"

    # --- the request ---------------------------------------------------------------------------------
    def build(self, info=None, seed: int | None = None):
        """The request for the current settings and the backend to run it (raises typed errors).

        ``info``: another backend than the chosen one (Compare): it reads the marks its family's
        default way and takes no LoRAs (both are chosen per family). ``seed``: the seed to use
        (Compare gives every backend the same one)."""
        chosen = info is None or info.name == self.backend_combo.currentData()
        info = info or self.backend_info()
        backend = registry.get(info.name)
        task, params, why = self._task_for_backend(info)
        if why:
            raise CanvasError(why)
        if info.name == WORKFLOW_BACKEND:
            params.update(self.workflow_params())
        if info.name == GEMINI_BACKEND:
            params.update(self.gemini_params())
        use = self.marks_box.use()
        if seed is None:
            seed = random.randrange(2**31) if self.random_seed.isChecked() else self.seed.value()
        if info.capabilities is not None and not info.capabilities.seeded:
            seed = None
        request = build_request(
            self.document, "" if self._workflow_without_prompt(info) else self.instruction.toPlainText(), task,
            info.capabilities,
            region=self.region_combo.currentData(), annotation_use=use, seed=seed,
            mark_strategy=self.marks_box.strategy() if chosen else None, align=self.marks_box.aligns(),
            steps=self.steps.value() or None, guidance=self.guidance.value() or None,
            variations=min(self.variations.value(), info.capabilities.max_variations if info.capabilities else 16),
            params=params, loras=self.selected_loras() if chosen and self._backend_takes_loras(backend) else (),
            speed=self.speed_for(backend),
        )
        return backend, request
