"""The one seam between the GUI thread and the worker thread.

``JobRunner`` owns a worker ``QThread`` per resource (the local GPU, the ComfyUI servers, an API).
A job is a callable ``fn(progress, cancel)`` that runs on its resource's worker (for edits:
``backend.run(request, progress, cancel)`` on a frozen request — the worker never sees the live
document). On one resource one job runs at a time and further jobs queue, visibly; jobs on
different resources run at the same time (Compare). Progress (``ProgressUpdate``: step, total, optional preview) and the outcome come
back as signals on the GUI thread. Jobs have ids; a result for a cancelled or unknown id is
dropped, so a cancelled job can never turn into a layer.
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from canvas.errors import CanvasError
from inference.errors import Cancelled, InferenceError
from inference.progress import CancelToken, ProgressUpdate

log = logging.getLogger(__name__)

JobFn = Callable[[Callable[[ProgressUpdate], None], CancelToken], Any]


class Relay(QObject):
    """Carries one finished piece of small background work (a server check, reading a
    workflow) from its thread to the GUI thread: made on the GUI thread, ``finished`` emitted
    from the worker arrives there (queued). Edits go through :class:`JobRunner` instead."""

    finished = Signal(object, object)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Job:
    id: str
    label: str
    fn: JobFn
    token: CancelToken = field(default_factory=CancelToken)
    state: JobState = JobState.QUEUED
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    payload: Any = None  # whatever the submitter wants back with the result (e.g. the request)
    resource: str = "local"  # the lane it runs in: jobs on one resource run one at a time

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


class _Worker(QObject):
    progressed = Signal(str, object)  # job id, ProgressUpdate
    succeeded = Signal(str, object)  # job id, result
    failed = Signal(str, str, bool)  # job id, message, expected
    cancelled = Signal(str)

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.token.cancelled:
            self.cancelled.emit(job.id)
            return

        def progress(update: ProgressUpdate) -> None:
            self.progressed.emit(job.id, update)

        try:
            result = job.fn(progress, job.token)
        except Cancelled:
            self.cancelled.emit(job.id)
            return
        except (InferenceError, CanvasError) as exc:
            self.failed.emit(job.id, str(exc), True)
            return
        except MemoryError:
            self.failed.emit(job.id, "out of memory: try a smaller selection or a lower memory mode", True)
            return
        except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, shown briefly
            log.error("job %s (%s) failed:\n%s", job.id, job.label, traceback.format_exc())
            self.failed.emit(job.id, f"unexpected error in {job.label}: {type(exc).__name__}: {exc}", False)
            return
        if job.token.cancelled:  # cancelled after the last check: never a result
            self.cancelled.emit(job.id)
        else:
            self.succeeded.emit(job.id, result)


class _Lane:
    """One resource's worker thread and queue: its jobs run one at a time, in order."""

    def __init__(self, resource: str, runner: JobRunner) -> None:
        self.resource = resource
        self.thread = QThread()
        self.thread.setObjectName(f"akapen-worker-{resource}")
        self.worker = _Worker()
        self.worker.moveToThread(self.thread)
        self.dispatch = _Dispatcher()
        self.dispatch.job.connect(self.worker.run)
        self.worker.progressed.connect(runner._on_progress)
        self.worker.succeeded.connect(runner._on_succeeded)
        self.worker.failed.connect(runner._on_failed)
        self.worker.cancelled.connect(runner._on_cancelled)
        self.thread.start()
        self.queue: deque[Job] = deque()
        self.current: Job | None = None


class _Dispatcher(QObject):
    job = Signal(object)


class JobRunner(QObject):
    """Runs jobs on worker threads, one lane per resource; the GUI thread never blocks.

    Jobs submitted for the same resource (the local GPU, the ComfyUI servers, an API) run one at a
    time in order; jobs on different resources run at the same time.
    """

    jobQueued = Signal(str)
    jobStarted = Signal(str)
    jobProgress = Signal(str, object)  # id, ProgressUpdate
    jobFinished = Signal(str, object)  # id, result
    jobFailed = Signal(str, str, bool)  # id, message, expected
    jobCancelled = Signal(str)
    queueChanged = Signal()

    _ids = itertools.count(1)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes: dict[str, _Lane] = {}
        self.jobs: dict[str, Job] = {}

    # --- state ------------------------------------------------------------------------------
    @property
    def current(self) -> Job | None:
        """The running job that started first (None when nothing runs)."""
        running = self.running
        return running[0] if running else None

    @property
    def running(self) -> list[Job]:
        return sorted((la.current for la in self._lanes.values() if la.current is not None),
                      key=lambda j: j.started or 0.0)

    @property
    def queued(self) -> list[Job]:
        return [j for la in self._lanes.values() for j in la.queue]

    @property
    def busy(self) -> bool:
        return any(la.current is not None or la.queue for la in self._lanes.values())

    # --- control ------------------------------------------------------------------------------
    def submit(self, label: str, fn: JobFn, payload: Any = None, resource: str = "local",
               token: CancelToken | None = None) -> str:
        """Queue ``fn`` on ``resource``'s lane; ``token``: the job's own cancel token (a download's pause
        control is one), else a new one."""
        job = Job(f"job-{next(self._ids)}", label, fn, payload=payload, resource=resource,
                  **({"token": token} if token is not None else {}))
        self.jobs[job.id] = job
        lane = self._lanes.get(resource)
        if lane is None:
            lane = self._lanes[resource] = _Lane(resource, self)
        lane.queue.append(job)
        self.jobQueued.emit(job.id)
        self.queueChanged.emit()
        self._start_next(lane)
        return job.id

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job. Its result, if one still arrives, is dropped."""
        job = self.jobs.get(job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.RUNNING):
            return False
        job.token.cancel()
        if job.state is JobState.QUEUED:
            self._lanes[job.resource].queue.remove(job)
            self._finish(job, JobState.CANCELLED)
            self.jobCancelled.emit(job.id)
            self.queueChanged.emit()
        return True

    def cancel_all(self) -> None:
        for job in [*self.queued, *self.running]:
            self.cancel(job.id)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.cancel_all()
        for lane in self._lanes.values():
            lane.thread.quit()
        for lane in self._lanes.values():
            lane.thread.wait(timeout_ms)

    # --- internals ------------------------------------------------------------------------------
    def _start_next(self, lane: _Lane) -> None:
        if lane.current is not None or not lane.queue:
            return
        job = lane.queue.popleft()
        job.state = JobState.RUNNING
        job.started = time.monotonic()
        lane.current = job
        self.jobStarted.emit(job.id)
        self.queueChanged.emit()
        lane.dispatch.job.emit(job)

    def _finish(self, job: Job, state: JobState) -> None:
        job.state = state
        job.finished = time.monotonic()
        job.fn = _spent  # drop references to requests and pipelines
        lane = self._lanes.get(job.resource)
        if lane is not None and job is lane.current:
            lane.current = None

    def _live(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        lane = self._lanes.get(job.resource) if job is not None else None
        if lane is None or job is not lane.current:
            return None  # unknown, or a job that is no longer running
        return job

    def _done(self, job: Job) -> None:
        self.queueChanged.emit()
        self._start_next(self._lanes[job.resource])

    @Slot(str, object)
    def _on_progress(self, job_id: str, update: ProgressUpdate) -> None:
        job = self._live(job_id)
        if job is not None and not job.token.cancelled:
            self.jobProgress.emit(job_id, update)

    @Slot(str, object)
    def _on_succeeded(self, job_id: str, result: Any) -> None:
        job = self._live(job_id)
        if job is None:
            return
        if job.token.cancelled:
            self._finish(job, JobState.CANCELLED)
            self.jobCancelled.emit(job_id)
        else:
            self._finish(job, JobState.DONE)
            self.jobFinished.emit(job_id, result)
        self._done(job)

    @Slot(str, str, bool)
    def _on_failed(self, job_id: str, message: str, expected: bool) -> None:
        job = self._live(job_id)
        if job is None:
            return
        self._finish(job, JobState.CANCELLED if job.token.cancelled else JobState.FAILED)
        if job.state is JobState.CANCELLED:
            self.jobCancelled.emit(job_id)
        else:
            self.jobFailed.emit(job_id, message, expected)
        self._done(job)

    @Slot(str)
    def _on_cancelled(self, job_id: str) -> None:
        job = self._live(job_id)
        if job is None:
            return
        self._finish(job, JobState.CANCELLED)
        self.jobCancelled.emit(job_id)
        self._done(job)


def _spent(*_args, **_kwargs):  # pragma: no cover - never called
    raise RuntimeError("this job has finished")
