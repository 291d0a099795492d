"""Running an edit from the panel: Run / Cancel, progress and step previews, and the strip of
results, the chosen one inserted as a new layer in one undoable step. The request is built from
the document (``build()``); the job goes to the ``JobRunner`` (the worker never sees the document)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton

from canvas.errors import CanvasError
from desktop.headless.edit_request import apply_result, place_preview
from desktop.panels.edit.widgets import FramedItemDelegate, thumbnail
from inference.errors import InferenceError


class RunningPart:
    """The edit panel's jobs and results (a part of ``EditPanel``, which has ``build()``,
    ``why_not_runnable()`` and ``_update_state()``)."""

    def _build_running(self) -> None:
        """Run and Cancel (with Ctrl+Return and Esc), the progress bar, the queue line, the step
        preview and the results strip."""
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
        self.results.setItemDelegate(FramedItemDelegate(self.results))  # the chosen one framed, not tinted
        self.results.setFixedHeight(128)
        self.results.setFlow(QListWidget.Flow.LeftToRight)
        self.results.setWrapping(False)
        self.results.setToolTip("Double-click a result to insert it as a new layer")
        self.results.itemDoubleClicked.connect(lambda item: self.insert_result(self.results.row(item)))
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._results_menu)
        self.use_button = QPushButton("Insert as layer")
        self.use_button.setToolTip("Insert the chosen result as a new layer (again, if it is already on the canvas)")
        self.use_button.clicked.connect(lambda: self.insert_result(self.results.currentRow()))
        self._inserted: dict[int, str] = {}  # strip row -> the layer it last became
        self.result_note = QLabel()  # what was done to the chosen result (aligned, pen marks removed)
        self.result_note.setWordWrap(True)
        self.result_note.setStyleSheet("color: #555;")
        self.result_note.hide()
        self.results.currentRowChanged.connect(self._show_note)

    def run(self) -> str | None:
        why = self.why_not_runnable()
        if why:
            self.statusMessage.emit(why)
            return None
        names = self.compared()
        if len(names) > 1:
            jobs = self.run_compare(names)
            return jobs[0] if jobs else None
        try:
            backend, request = self.build()
            backend.validate(request)  # a request it would refuse is said now, not after a job
        except (CanvasError, InferenceError) as exc:
            self.errorRaised.emit(str(exc))
            return None
        job_id = self._submit(backend, request)
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self._update_state()
        return job_id

    def _submit(self, backend, request) -> str:
        label = request.task or request.instruction[:40]
        job_id = self.runner.submit(f"{backend.label}: {label}", lambda progress, cancel: backend.run(request, progress, cancel),
                                    payload=request, resource=backend.resource)
        self._job_docs[job_id] = self.document
        self._job_shift[job_id] = self.document.canvas_shift
        self._job_backend[job_id] = backend.label
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
        who = f"{self._job_backend.get(job_id, '')}: " if len(self.runner.running) > 1 else ""
        self.progress.setFormat(f"{who}step {update.step} of {update.total}{phase}")
        if update.preview is not None:
            self.preview.setPixmap(thumbnail(update.preview, 96))
            self.preview.show()
            if self._job_docs[job_id] is self.document and update.preview_rect is not None:
                # and on the canvas, where the result will go
                request = self._moved(self.runner.jobs[job_id].payload, self._job_shift.get(job_id, (0, 0)))
                self.previewChanged.emit(*place_preview(request, update.preview, update.preview_rect))

    def _on_finished(self, job_id: str, result) -> None:
        doc = self._job_docs.pop(job_id, None)
        shift = self._job_shift.pop(job_id, None)
        self._job_backend.pop(job_id, None)
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
        group = self._job_group.pop(job_id, None)
        if group is not None:
            self._compare_strip()
        for i, img in enumerate(result.images):
            seed = result.seeds[i] if i < len(result.seeds) else None
            model = result.model if len(result.model) <= 18 else result.model[:17] + "…"
            text = (f"{result.backend}\n{model}\n{'seed ' + str(seed) if seed is not None else 'no seed'}"
                    f"\n{result.duration:.1f} s") if group is not None else f"{i + 1}"
            item = QListWidgetItem(QIcon(thumbnail(img, 88)), text)
            notes = _notes_for(result, i)
            about = f" ({result.model})" if result.model else ""
            seeded = f"seed {seed}" if seed is not None else "no seed"
            item.setToolTip("\n".join([f"{result.backend}{about} · {seeded} · {result.duration:.1f} s", *notes]))
            self.results.addItem(item)
            self._results.append((request, result, i, shift or doc.canvas_shift))
            self._result_groups.append(group)
        for w in result.warnings:
            self.statusMessage.emit(w)
        if group is not None:  # a comparison: the user picks (or inserts all) when they are in
            row = self.results.currentRow()
            if not (0 <= row < len(self._result_groups) and self._result_groups[row] == group):
                self.results.setCurrentRow(first)  # the comparison's first result stays the chosen one
            self._compare_progress(group)
        elif len(result.images) == 1 or result.kind == "layers":
            self.insert_result(first)  # a split into layers inserts all of its layers at once
            self.results.setCurrentRow(first)  # (its notes show under the strip)
        else:
            self.results.setCurrentRow(first)
            self.statusMessage.emit(f"{len(result.images)} results: double-click one to insert it")
        self._update_state()

    def _show_note(self, row: int) -> None:
        notes = []
        if 0 <= row < len(self._results):
            result = self._results[row][1]
            notes = [self._failures[row]] if result is None else _notes_for(result, self._results[row][2])
        self.result_note.setText("\n".join(notes))
        self.result_note.setVisible(bool(notes))

    def _moved(self, request, shift: tuple[int, int]):
        """``request`` placed on today's canvas: Canvas size / Crop since it was made moved the
        picture by the difference."""
        dx, dy = self.document.canvas_shift[0] - shift[0], self.document.canvas_shift[1] - shift[1]
        if not (dx or dy):
            return request
        import dataclasses

        return dataclasses.replace(request, origin=(request.origin[0] + dx, request.origin[1] + dy))

    def _results_menu(self, pos) -> None:
        from PySide6.QtWidgets import QMenu

        row = self.results.indexAt(pos).row()
        if row < 0:
            return
        menu = QMenu(self.results)
        menu.addAction("Insert as layer", lambda: self.insert_result(row))
        menu.addAction("Add as training pair", lambda: self.offer_pair(row))
        menu.exec(self.results.viewport().mapToGlobal(pos))

    def offer_pair(self, row: int) -> None:
        """The result and the picture it was made from, over the edited area, as a training pair."""
        if not 0 <= row < len(self._results) or self._results[row][1] is None:
            return
        from inference.region import composite_over

        request, result, index, _shift = self._results[row]
        x, y, w, h = result.rect
        img = result.images[index]
        if result.scale != 1.0 or img.shape[:2] != (h, w):
            self.errorRaised.emit("this result is not at the picture's scale; insert it as a layer, then add the "
                                  "layer as a training pair")
            return
        before = request.image[y:y + h, x:x + w]
        after = composite_over(request.image, img, result.rect)[y:y + h, x:x + w]
        self.pairOffered.emit(before.copy(), after.copy(), result.instruction_used or request.instruction)

    def insert_result(self, row: int) -> None:
        if not 0 <= row < len(self._results):
            self.statusMessage.emit("choose a result in the strip first")
            return
        if self._results[row][1] is None:  # (a backend that failed)
            self.statusMessage.emit("this backend failed: there is no picture to insert")
            return
        request, result, index, shift = self._results[row]
        request = self._moved(request, shift)
        try:
            with self.bridge.keep_tool():  # a result arriving never changes the user's tool
                layer = apply_result(self.document, request, result, index)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            return
        before = self._inserted.get(row)
        earlier = self.document.layer(before) if before is not None and any(
            la.id == before for la in self.document.layers) else None
        self._inserted[row] = layer.id
        with self.bridge.keep_tool():
            self.bridge.set_active(layer.id)
        self.resultInserted.emit(layer.id)
        again = f"; it is also on the canvas as “{earlier.name}”" if earlier is not None else ""
        self.statusMessage.emit(f"inserted “{layer.name}” ({result.backend}, {result.duration:.1f} s){again}")

    def _on_failed(self, job_id: str, message: str, expected: bool) -> None:
        self._job_shift.pop(job_id, None)
        backend = self._job_backend.pop(job_id, "")
        if self._job_docs.pop(job_id, None) is None:
            return
        group = self._job_group.pop(job_id, None)
        self._idle("failed")
        if group is None:
            self.errorRaised.emit(message)
        else:  # one backend of a comparison: said beside the others' results, the rest go on
            self._add_failure(group, backend, message)

    def _on_cancelled(self, job_id: str) -> None:
        self._job_shift.pop(job_id, None)
        self._job_backend.pop(job_id, None)
        self._job_group.pop(job_id, None)
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


def _notes_for(result, index: int) -> list[str]:
    """The notes about result ``index`` (a run of several numbers its notes "result 2: …")."""
    if len(result.images) == 1:
        return list(result.notes)
    tag = f"result {index + 1}: "
    return [n[len(tag):] for n in result.notes if n.startswith(tag)] + [n for n in result.notes if not n.startswith("result ")]
