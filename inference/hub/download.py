"""A whole model from plan to installed: every file of the plan (and of its base), progress in bytes,
rate and time left, pause and cancel, and a record that survives a quit or a crash.

:func:`run` works on the calling thread (the window runs it on its ``net`` lane, the command line on the
main thread). Paused or interrupted, the partial files stay in the cache and the record says so: the
same request later continues from the bytes kept. Cancelled, the partial files of the files it had not
finished are deleted and the record forgotten. Finished, the branch it was asked for points at the
commit (``refs/main``) and the record is gone; a single file's base is remembered for discovery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inference.diffusion.models import human_size
from inference.hub import api, cache, errors, state, transfer
from inference.hub.plan import Plan
from inference.progress import CancelToken

log = logging.getLogger(__name__)


class Control(CancelToken):
    """Cancel, or pause (a cancel that keeps the partial files and the record)."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def pause(self) -> None:
        self.paused = True
        self.cancel()


@dataclass(frozen=True)
class DownloadProgress:
    done: int
    total: int
    rate: float  # bytes per second over the last few seconds
    file: str
    files_done: int
    files_total: int
    note: str = ""  # "retrying in 4 s: …", "checking …"

    @property
    def eta(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 and self.total >= self.done else None

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    def text(self) -> str:
        parts = [f"{human_size(self.done)} of {human_size(self.total)}"]
        if self.rate > 0:
            parts.append(f"{human_size(int(self.rate))}/s")
        if self.eta is not None and self.done < self.total:
            parts.append(f"{clock(self.eta)} left")
        return " · ".join(parts) + (f" — {self.note}" if self.note else "")


def clock(seconds: float) -> str:
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600} h {s // 60 % 60:02d} min"
    return f"{s // 60}:{s % 60:02d}"


class _Meter:
    """Bytes done and the rate over a sliding window, reported at most ``hz`` times a second."""

    def __init__(self, plan: Plan, report: Callable[[DownloadProgress], None], hz: float = 5.0) -> None:
        self.total = plan.total_bytes
        self.done = plan.have_bytes
        self.files_total = len(plan.all_items())
        self.files_done = sum(1 for i in plan.all_items() if i.done)
        self.file = ""
        self.note = ""
        self.report = report
        self.window: deque[tuple[float, int]] = deque()
        self.interval = 1.0 / hz
        self.last = 0.0
        self.lock = threading.Lock()

    def rate(self, now: float) -> float:
        while len(self.window) > 2 and now - self.window[0][0] > 5.0:
            self.window.popleft()
        if len(self.window) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.window[0], self.window[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def add(self, n: int, force: bool = False) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if n > 0:
                self.note = ""
            self.window.append((now, self.done))
            if force or now - self.last >= self.interval:
                self.last = now
                self.report(DownloadProgress(self.done, self.total, self.rate(now), self.file, self.files_done,
                                             self.files_total, self.note))


@dataclass(frozen=True)
class Installed:
    repo: str
    commit: str
    path: Path  # the snapshot folder (or the single file)
    fetched_bytes: int
    base: str | None = None


def record_for(plan: Plan) -> state.Record:
    files = list(plan.meta.get("files") or ([i.file.path for i in plan.items] if plan.kind != "diffusers" else []))
    base = plan.base.repo if plan.base is not None else None
    return state.Record(key=state.Record.key_for(plan.repo, plan.revision, files, base), repo=plan.repo,
                        revision=plan.revision, files=files, base=base, catalogue_id=plan.meta.get("catalogue_id"),
                        label=plan.meta.get("label") or plan.repo, total_bytes=plan.total_bytes,
                        done_bytes=plan.have_bytes)


def check_disk(plan: Plan, cache_dir: Path | None = None) -> None:
    folder = cache.repo_folder(plan.repo, cache_dir).parent
    free = cache.free_bytes(folder)
    if free is not None and plan.missing_bytes > free:
        raise errors.DiskFull(f"not enough disk space for {plan.meta.get('label') or plan.repo}: it needs "
                              f"{human_size(plan.missing_bytes)} more and {folder} has {human_size(free)} free; "
                              "free some space (or set HF_HOME to a larger disk) and try again")


def run(hub: api.Hub, plan: Plan, *, cache_dir: Path | None = None, control: Control | None = None,
        on_progress: Callable[[DownloadProgress], None] | None = None, policy: api.RetryPolicy = api.RetryPolicy(),
        remember: bool = True) -> Installed:
    """Fetch what ``plan`` lacks; the installed model. Raises the :mod:`errors` (the record says "failed"
    with the reason), :class:`errors.Paused` when paused, ``Cancelled`` when cancelled."""
    control = control or Control()
    meter = _Meter(plan, on_progress or (lambda p: None))
    record = record_for(plan)
    check_disk(plan, cache_dir)
    if remember:
        record.state = "running"
        state.put(record)
    fetched = [0]
    started_with = plan.have_bytes

    def on_bytes(n: int) -> None:
        fetched[0] += max(0, n)
        meter.add(n)

    def on_retry(why: str, delay: float) -> None:
        meter.note = f"retrying in {delay:.0f} s: {why}"
        meter.add(0, force=True)

    finished: list[api.RemoteFile] = []
    try:
        meter.add(0, force=True)
        for item in plan.all_items():
            if item.done:
                continue
            meter.file = item.file.path
            transfer.fetch(hub, item.repo, item.commit, item.file, cache_dir=cache_dir, policy=policy, cancel=control,
                           on_bytes=on_bytes, on_retry=on_retry)
            finished.append(item.file)
            meter.files_done += 1
            meter.add(0, force=True)
    except BaseException as exc:
        if remember:
            _after_failure(plan, record, exc, control, meter, cache_dir)
        if control.paused and not isinstance(exc, errors.HubError):
            raise errors.Paused() from None
        raise
    for p in [plan] + ([plan.base] if plan.base is not None else []):
        cache.write_ref(p.repo, p.revision, p.commit, cache_dir)
    if plan.base is not None and plan.kind in ("single-file", "files"):
        for path in plan.weight_files:
            state.record_base(plan.repo, path, plan.base.repo)
    if remember:
        state.forget(record.key)
    log.info("downloaded %s: %s fetched (%s were on disk)", plan.repo, human_size(fetched[0]),
             human_size(started_with))
    path = plan.snapshot(cache_dir)
    if plan.kind == "single-file" and len(plan.items) == 1:
        path = path / plan.items[0].file.path
    return Installed(plan.repo, plan.commit, path, fetched[0], plan.base.repo if plan.base else None)


def _after_failure(plan: Plan, record: state.Record, exc: BaseException, control: Control, meter: _Meter,
                   cache_dir: Path | None) -> None:
    record.done_bytes = meter.done
    if control.cancelled and not control.paused:
        for item in plan.all_items():  # cancelled: the unfinished files' bytes go (finished ones are valid cache)
            cache.part_path(item.repo, item.file.etag, cache_dir).unlink(missing_ok=True)
        state.forget(record.key)
        return
    if control.paused:
        record.state, record.error = "paused", ""
    elif isinstance(exc, KeyboardInterrupt):
        record.state, record.error = "paused", "interrupted"
    else:
        record.state = "failed"
        record.error = str(exc) if isinstance(exc, errors.HubError | OSError) else type(exc).__name__
    try:
        state.put(record)
    except OSError:
        log.exception("could not record the download's state")
