"""The edit panel's "your ComfyUI workflow": choosing the file, reading it on a thread (through
a server when it is in the UI format), one row per image input saying where its image comes
from, and the ``workflow`` / ``workflow_images`` parameters of the request."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.jobs import Relay
from desktop.panels.edit.widgets import ElidedLabel
from inference.comfyui import WORKFLOW_BACKEND
from inference.errors import InferenceError, InvalidRequest

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


class WorkflowPart:
    """The edit panel's workflow rows and their logic (a part of ``EditPanel``, which has the
    ``_top`` form they go in, ``backend_info()`` and ``_update_state()``)."""

    def _build_workflow(self) -> None:
        """The state and widgets of "your ComfyUI workflow" (the rows are placed by the panel)."""
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
