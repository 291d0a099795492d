"""The download queue of the window: models fetched in the background while the user paints.

Each download is a job on its own job runner's ``net`` lane (never behind an edit or a training), one at a
time in the order asked; the job plans (sizes, what is already here), then fetches with
:mod:`inference.hub.download`. Progress goes to the Models window, the status bar and the edit panel's
results area. Pause keeps the partial files and the record; Resume (or the next start, which offers it)
continues from the bytes kept; Cancel deletes the unfinished files. When one finishes, the backends are
listed again, so its family is available at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.jobs import JobRunner
from inference.diffusion.models import human_size
from inference.hub import state

if TYPE_CHECKING:  # the download code (urllib, http) is imported when a download starts, not with the window
    from inference.hub import download, manage

log = logging.getLogger(__name__)
LANE = "net"


@dataclass
class Outcome:
    """What a download job hands back: the installed model, or the expected error with its kind."""

    installed: download.Installed | None = None
    error: str = ""
    kind: str = ""  # the HubError class name: GatedRepo, NoAccess, TokenRefused, DiskFull …
    page: str = ""


@dataclass
class Item:
    key: str
    request: manage.Request
    state: str = "queued"  # queued, planning, running, paused, failed, done, cancelled
    progress: download.DownloadProgress | None = None
    error: str = ""
    error_kind: str = ""
    total: int = 0
    job_id: str | None = None
    control: download.Control | None = None  # made when the download is queued

    @property
    def label(self) -> str:
        return self.request.name

    @property
    def active(self) -> bool:
        return self.state in ("queued", "planning", "running")

    def text(self) -> str:
        if self.state == "running" and self.progress is not None:
            return self.progress.text()
        if self.state == "failed":
            return f"failed: {self.error}"
        if self.state == "paused":
            p = self.progress
            return f"paused — {human_size(p.done)} of {human_size(p.total)} kept" if p is not None else "paused"
        return {"queued": "waiting", "planning": "asking the Hub for the file list…", "done": "installed",
                "cancelled": "cancelled"}.get(self.state, self.state)


def key_of(req: manage.Request) -> str:
    return state.Record.key_for(req.repo, req.revision, list(req.files), req.base)


class DownloadsController(QObject):
    changed = Signal(str)  # an item's key: its state or progress changed
    listChanged = Signal()  # an item was added or removed
    installed = Signal(str)  # a download finished (its key)

    def __init__(self, window=None, runner: JobRunner | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.runner = runner or JobRunner(self)
        self.items: dict[str, Item] = {}
        self._by_job: dict[str, str] = {}
        self.runner.jobProgress.connect(self._on_progress)
        self.runner.jobFinished.connect(self._on_finished)
        self.runner.jobFailed.connect(self._on_failed)
        self.runner.jobCancelled.connect(self._on_cancelled)

    # --- asking --------------------------------------------------------------------------------
    def add(self, request: manage.Request) -> str:
        """Queue a download (or continue the same one); its key."""
        from inference.hub import download

        key = key_of(request)
        item = self.items.get(key)
        if item is not None and item.active:
            return key
        if item is None:
            item = self.items[key] = Item(key, request)
            self.listChanged.emit()
        item.request = request
        item.control = download.Control()
        item.state, item.error, item.error_kind = "queued", "", ""
        item.job_id = self.runner.submit(f"download {request.name}", lambda progress, cancel: self._work(item, progress),
                                         resource=LANE, token=item.control)
        self._by_job[item.job_id] = key
        self.changed.emit(key)
        return key

    def pause(self, key: str) -> None:
        item = self.items.get(key)
        if item is None or not item.active or item.control is None:
            return
        item.control.pause()
        if item.job_id is not None:
            self.runner.cancel(item.job_id)  # a queued one leaves the queue; a running one stops at once
        if item.state == "queued":
            self._set(item, "paused")

    def resume(self, key: str) -> None:
        item = self.items.get(key)
        if item is not None and not item.active:
            self.add(item.request)

    def cancel(self, key: str) -> None:
        item = self.items.get(key)
        if item is None:
            return
        if item.active and item.control is not None:
            item.control.cancel()
            if item.job_id is not None:
                self.runner.cancel(item.job_id)
            if item.state == "queued":
                self._set(item, "cancelled")
        else:  # paused or failed: the partial files go now
            self._discard(item)
            self._set(item, "cancelled")

    def clear_finished(self) -> None:
        for key in [k for k, i in self.items.items() if i.state in ("done", "cancelled")]:
            del self.items[key]
        self.listChanged.emit()

    def active(self) -> Item | None:
        return next((i for i in self.items.values() if i.state in ("running", "planning")), None)

    def unfinished_records(self) -> list[state.Record]:
        """Downloads a quit or a crash left unfinished, and not already in this window's queue."""
        return [r for r in state.unfinished() if r.key not in self.items or not self.items[r.key].active]

    def continue_records(self, records: list[state.Record]) -> None:
        from inference.hub import manage

        for r in records:
            self.add(manage.Request(r.repo, r.revision, tuple(r.files), r.base, r.catalogue_id, r.label))

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Quitting: running downloads pause (their bytes and records are kept for the next start)."""
        for item in self.items.values():
            if item.active and item.control is not None:
                item.control.pause()
        self.runner.shutdown(timeout_ms)

    # --- the job (on the net lane) ----------------------------------------------------------------
    def _work(self, item: Item, progress) -> Outcome:
        from inference.hub import api, auth, download, errors, manage

        progress(("planning", None))
        try:
            hub = api.Hub()
            p = manage.make_plan(item.request, hub)
            progress(("running", p.total_bytes))
            installed = download.run(hub, p, control=item.control, on_progress=lambda dp: progress(("progress", dp)))
        except errors.Paused:
            raise
        except errors.HubError as exc:
            page = errors.page(auth.endpoint(), item.request.repo)
            return Outcome(error=str(exc), kind=type(exc).__name__, page=page)
        return Outcome(installed=installed)

    def _item(self, job_id: str) -> Item | None:
        key = self._by_job.get(job_id)
        item = self.items.get(key) if key is not None else None
        return item if item is not None and item.job_id == job_id else None

    def _set(self, item: Item, state_: str) -> None:
        item.state = state_
        self.changed.emit(item.key)

    def _on_progress(self, job_id: str, update) -> None:
        item = self._item(job_id)
        if item is None or not isinstance(update, tuple):
            return
        what, value = update
        if what == "planning":
            self._set(item, "planning")
        elif what == "running":
            item.total = value or 0
            self._set(item, "running")
        elif what == "progress":
            item.progress = value
            if item.state != "running":
                item.state = "running"
            self.changed.emit(item.key)

    def _on_finished(self, job_id: str, outcome: Outcome) -> None:
        item = self._item(job_id)
        if item is None:
            return
        if outcome.installed is None:
            item.error, item.error_kind = outcome.error, outcome.kind
            self._set(item, "failed")
            if self.window is not None:
                self.window.notifier.error(f"download of {item.label} failed: {outcome.error}")
            return
        self._set(item, "done")
        self.installed.emit(item.key)

    def _on_failed(self, job_id: str, message: str, expected: bool) -> None:  # noqa: ARG002
        item = self._item(job_id)
        if item is None:
            return
        item.error, item.error_kind = message, "Error"
        self._set(item, "failed")
        if self.window is not None:
            self.window.notifier.error(f"download of {item.label} failed: {message}")

    def _on_cancelled(self, job_id: str) -> None:
        item = self._item(job_id)
        if item is None:
            return
        if item.control is not None and item.control.paused:
            self._set(item, "paused")
        else:
            self._set(item, "cancelled")

    def _discard(self, item: Item) -> None:
        """Delete a paused or failed download's partial files and forget its record."""
        from inference.hub import cache

        folder = cache.repo_folder(item.request.repo)
        for repo in {item.request.repo, item.request.base} - {None}:
            blobs = cache.repo_folder(repo) / "blobs"
            for p in blobs.glob("*.incomplete") if blobs.is_dir() else ():
                p.unlink(missing_ok=True)
        state.forget(item.key)
        log.info("discarded the partial download of %s (%s)", item.label, folder)
