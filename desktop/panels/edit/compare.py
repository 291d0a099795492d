"""Compare: one instruction, several backends. Beside the Backend box, "Compare ▾" checks more
backends; Run then builds one request per backend (the same instruction, region, seed and
variations; each backend's own task mapping and way of reading the pen marks) and submits one job
per backend on that backend's resource, so the local GPU, the ComfyUI servers and an API work at the
same time. The results strip shows every variation under its backend, with model, seed and time; a
backend that fails shows as a failed item beside the others; Insert all puts every result of the
comparison on the canvas as layers in one undo step.

A backend that cannot take part is greyed in the menu with its reason in the entry itself (the whole
reason in its tooltip): no model on this computer, no server, no key, or a task it does not do (the
classical backend only does its own tasks, so it can be compared wherever the Task box holds one of
them). A line under the Backend box says which ticked backends are left out and why, and, once the
menu has been opened with nothing in it that can run, why there is nothing to compare with."""

from __future__ import annotations

import itertools
import random

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListWidgetItem, QMenu, QPushButton, QToolButton

from canvas.errors import CanvasError
from desktop.headless.edit_request import apply_results
from inference import registry
from inference.errors import InferenceError

_groups = itertools.count(1)


class _StayOpenMenu(QMenu):
    """A menu of check boxes that stays open while the user ticks several."""

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        a = self.activeAction()
        if a is not None and a.isEnabled() and a.isCheckable():
            a.trigger()
            return
        super().mouseReleaseEvent(event)


def failed_icon(size: int = 88) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor("#e8e2e2"))
    p = QPainter(pm)
    p.setPen(QColor("#b03030"))
    f = p.font()
    f.setPointSize(max(8, size // 4))
    p.setFont(f)
    p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, "✕")
    p.end()
    return QIcon(pm)


def short_reason(reason: str, limit: int = 48) -> str:
    """The first clause of a backend's reason, short enough to stand in a menu entry."""
    from desktop.panels.edit.get_model import NO_MODEL

    if NO_MODEL in reason:
        return "no model on this computer — Get model…"
    first = reason.split(":")[0].split(";")[0].strip() or "cannot run here"
    return first if len(first) <= limit else first[: limit - 1].rstrip(" ,") + "…"


def nothing_to_compare(blocked: list[tuple[str, str]]) -> str:
    """One line for a Compare menu with nothing that can run: the reasons, each with whom it keeps out."""
    by: dict[str, list[str]] = {}
    for label, why in blocked:
        by.setdefault(why, []).append(label)
    parts = [f"{why} ({', '.join(labels) if len(labels) <= 2 else f'{len(labels)} backends'})"
             for why, labels in by.items()]
    return "Nothing to compare with yet: " + "; ".join(parts) if parts else "No other backend to compare with"


class ComparePart:
    """The edit panel's Compare menu and Insert all (a part of ``EditPanel``)."""

    def _build_compare(self) -> None:
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare ▾")
        self.compare_button.setToolTip("Run the same edit on more backends at once and see the results side by side")
        self.compare_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.compare_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.compare_menu = _StayOpenMenu(self.compare_button)
        self.compare_menu.setToolTipsVisible(True)
        self.compare_button.setMenu(self.compare_menu)
        self.compare_menu.aboutToShow.connect(self._compare_menu_opened)
        self._compare: list[str] = []  # the backends checked, besides the chosen one
        self.insert_all_button = QPushButton("Insert all")
        self.insert_all_button.setToolTip("Insert every result of the last comparison as a layer (one undo step)")
        self.insert_all_button.clicked.connect(self.insert_all)
        self.insert_all_button.hide()
        self._job_group: dict[str, int] = {}  # job id -> its comparison
        self._groups: dict[int, dict] = {}  # comparison -> {"names", "left", "failed"}
        self._result_groups: list[int | None] = []  # per strip item, its comparison (None: a single run)
        self._failures: dict[int, str] = {}  # strip row -> why that backend failed
        self.compare_note = QLabel("")  # which ticked backends are left out, or why nothing can be compared
        self.compare_note.setWordWrap(True)
        self.compare_note.setStyleSheet("color: #555;")
        self.compare_note.hide()
        self._compare_looked = False  # the menu was opened: say why nothing in it can run
        self.preset_combo.currentIndexChanged.connect(self._compare_changed)  # the task decides for classical
        self._fill_compare_menu()

    def why_not_compared(self, info) -> tuple[str, str] | None:
        """Why ``info`` cannot be compared now, as (a few words for its menu entry, the whole reason), or None."""
        if not info.available:
            return short_reason(info.reason), info.reason or "not available here"
        caps = info.capabilities
        if caps is not None and not caps.reads_instruction:
            p = self.preset()
            if p is None or p.classical_task is None or (caps.tasks and p.classical_task not in caps.tasks):
                does = [q.label for q in self._presets if q.classical_task in caps.tasks]
                what = "a free instruction" if p is None else f"“{p.label}”"
                return ("only for the tasks it does (choose one in Task)",
                        f"{info.label} does not read instructions and cannot do {what}; it does: {', '.join(does)}")
        return None

    def _fill_compare_menu(self) -> None:
        self.compare_menu.clear()
        current = self.backend_combo.currentData()
        chosen = registry.info(current) if current in registry.names() else None
        infos = [i for i in registry.list_backends() if i.name != current]
        why = {i.name: self.why_not_compared(i) for i in infos}
        ready = [i for i in infos if why[i.name] is None]
        waiting = [i for i in infos if why[i.name] is not None]
        if chosen is not None:  # the chosen backend always takes part: the menu says what it is compared with
            self.compare_menu.addAction(f"Compare {chosen.label} with:").setEnabled(False)
        for info in ready + waiting:  # what can run first, then (greyed) the rest, each saying why not
            if info is (waiting[0] if waiting else None) and ready:
                self.compare_menu.addSeparator()
            short, whole = why[info.name] or ("", "")
            a = QAction(f"{info.label} — {short}" if short else info.label, self.compare_menu)
            a.setCheckable(True)
            a.setChecked(info.name in self._compare)
            a.setEnabled(not short)
            a.setToolTip(whole or info.reason or info.model or info.name)
            a.setData(info.name)
            a.toggled.connect(lambda on, n=info.name: self.set_compare(n, on))
            self.compare_menu.addAction(a)
        if not infos:
            self.compare_menu.addAction("No other backend is registered").setEnabled(False)
        from desktop.panels.edit.get_model import families_without_model

        missing = families_without_model(infos)
        if missing:  # the greyed model backends: get one from here
            self.compare_menu.addSeparator()
            sub = self.compare_menu.addMenu("Get model…")
            for fam, label in missing:
                a = sub.addAction(f"{label}…")
                a.triggered.connect(lambda _c=False, f=fam: self.modelsRequested.emit(f))
        self._refresh_compare_note(ready, [(i.label, why[i.name][0]) for i in waiting])

    def _compare_menu_opened(self) -> None:
        self._compare_looked = True  # from now on the panel says why nothing in it can run, if nothing can
        self._fill_compare_menu()

    def _refresh_compare_note(self, ready=None, blocked=None) -> None:
        """The line under the Backend box: ticked backends left out (and why), or why nothing can be compared."""
        current = self.backend_combo.currentData()
        if ready is None:
            infos = [i for i in registry.list_backends() if i.name != current]
            why = {i.name: self.why_not_compared(i) for i in infos}
            ready = [i for i in infos if why[i.name] is None]
            blocked = [(i.label, why[i.name][0]) for i in infos if why[i.name] is not None]
        lines = []
        for n in self._compare:
            info = registry.info(n) if n in registry.names() and n != current else None
            reason = self.why_not_compared(info) if info is not None else None
            if reason is not None:
                lines.append(f"{info.label}: {reason[0]} — left out of the comparison")
        summary = nothing_to_compare(blocked or []) if not ready else ""
        if summary and self._compare_looked:
            lines.append(summary)
        self.compare_note.setText("\n".join(lines))
        self.compare_note.setVisible(bool(lines))
        self.compare_note.setToolTip("\n".join(lines))
        self.compare_button.setToolTip(summary or "Run the same edit on more backends at once and see the results "
                                       "side by side")

    def set_compare(self, name: str, on: bool) -> None:
        """Check or uncheck ``name`` as a backend to compare with the chosen one."""
        if on and name not in self._compare:
            self._compare.append(name)
        elif not on and name in self._compare:
            self._compare.remove(name)
        self._compare_changed()

    def compared(self) -> list[str]:
        """The backends a Run goes to: the chosen one first, then the checked ones that can run now."""
        current = self.backend_combo.currentData()
        names = [current] if current else []
        for n in self._compare:
            info = registry.info(n) if n in registry.names() else None
            if n != current and info is not None and self.why_not_compared(info) is None:
                names.append(n)
        return names

    def _compare_changed(self, *_args) -> None:
        self._refresh_compare_note()
        n = len(self.compared())
        self.compare_button.setText(f"Compare +{n - 1} ▾" if n > 1 else "Compare ▾")
        self.run_button.setText(f"Run on {n} backends" if n > 1 else "Run")
        self._update_state()

    # --- running a comparison ------------------------------------------------------------------
    def run_compare(self, names: list[str]) -> list[str]:
        """One job per backend in ``names``, each on its own resource; returns the job ids. A backend
        that cannot take the request is a failed item at once; the others run."""
        seed = random.randrange(2**31) if self.random_seed.isChecked() else self.seed.value()
        group = next(_groups)
        self._groups[group] = {"names": list(names), "left": len(names), "failed": 0}
        jobs = []
        for name in names:
            info = registry.info(name)
            try:
                backend, request = self.build(info, seed)
                backend.validate(request)
            except (CanvasError, InferenceError) as exc:
                self._add_failure(group, info.label, str(exc))
                continue
            job_id = self._submit(backend, request)
            self._job_group[job_id] = group
            jobs.append(job_id)
        if jobs:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"starting {len(jobs)} backends…")
        self.statusMessage.emit(f"comparing {len(names)} backends: {', '.join(names)}")
        self._update_state()
        return jobs

    def _compare_strip(self) -> None:
        """Room under each thumbnail for its backend, model, seed and time (four lines)."""
        if self.results.gridSize().height() < 160:
            self.results.setWordWrap(True)
            self.results.setGridSize(QSize(124, 164))
            self.results.setFixedHeight(186)

    def _add_failure(self, group: int, label: str, message: str) -> None:
        self._compare_strip()
        item = QListWidgetItem(failed_icon(), f"{label}\nfailed")
        item.setToolTip(f"{label} failed: {message}")
        self.results.addItem(item)
        row = self.results.count() - 1
        self._results.append((None, None, -1, (0, 0)))
        self._result_groups.append(group)
        self._failures[row] = f"{label} failed: {message}"
        self._groups[group]["failed"] += 1
        self._compare_progress(group)

    def _compare_progress(self, group: int) -> None:
        """One backend of ``group`` is in (a result or a failure): at the last one, say how it went."""
        g = self._groups[group]
        g["left"] -= 1
        if g["left"] <= 0:
            ok = len(g["names"]) - g["failed"]
            failed = f"; {g['failed']} failed (see its item)" if g["failed"] else ""
            self.statusMessage.emit(f"compared {len(g['names'])} backends: {ok} gave results{failed}. "
                                    "Double-click one to insert it, or Insert all")
        self._update_insert_all()

    def _last_group_rows(self) -> list[int]:
        groups = [g for g in self._result_groups if g is not None]
        if not groups:
            return []
        last = groups[-1]
        return [r for r, g in enumerate(self._result_groups) if g == last and self._results[r][1] is not None]

    def _update_insert_all(self) -> None:
        self.insert_all_button.setVisible(len(self._last_group_rows()) > 1)

    def insert_all(self) -> None:
        """Every result of the last comparison as a layer, named by its backend, in one undo step."""
        rows = self._last_group_rows()
        if not rows:
            return
        items = []
        for r in rows:
            request, result, index, shift = self._results[r]
            several = sum(1 for q in rows if self._results[q][1] is result) > 1
            name = f"{result.backend}" + (f" ({index + 1})" if several else "")
            items.append((self._moved(request, shift), result, index, name))
        try:
            with self.bridge.keep_tool():  # results arriving never change the user's tool
                layers = apply_results(self.document, items, label=f"Insert {len(items)} compared results")
                self.bridge.set_active(layers[-1].id)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            return
        for layer in layers:
            self.resultInserted.emit(layer.id)
        self.statusMessage.emit(f"inserted {len(layers)} results as layers")
