"""desktop.heap: the collector's full walks kept to pauses (start-up, a job's end after new imports)."""

from __future__ import annotations

import gc
import importlib
import sys
import weakref

from desktop import heap


class Node:
    pass


def test_settle_collects_then_freezes_and_frees_what_died_since_at_the_next():
    try:
        garbage = Node()
        garbage.me = garbage  # a cycle nobody holds: collected, never frozen
        gone = weakref.ref(garbage)
        del garbage
        alive = Node()
        alive.me = alive
        kept = weakref.ref(alive)
        assert heap.settle(force=True)
        assert gone() is None and gc.get_freeze_count() > 0
        del alive  # it dies while frozen: the collector does not see it …
        gc.collect()
        assert kept() is not None
        assert heap.settle(force=True)  # … until the next settle unfreezes first
        assert kept() is None
        assert not heap.settle()  # nothing new was imported: no full walk
        sys.modules.pop("wave", None)
        importlib.import_module("wave")
        assert heap.settle()
    finally:
        gc.unfreeze()


def test_the_window_settles_when_a_job_ends(window, monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "settle", lambda force=False: calls.append(force) or False)
    window.runner.jobFinished.emit("job-1", None)
    window.runner.jobFailed.emit("job-2", "failed", True)
    window.training_panel.runner.jobCancelled.emit("job-3")
    assert calls == [False, False, False]


def test_a_document_let_go_is_settled_away(qtbot, window, monkeypatch):
    from canvas.document import Document

    calls = []
    monkeypatch.setattr(heap, "settle", lambda force=False: calls.append(force) or False)
    old = window.document
    gone = weakref.ref(old)
    del old
    window.set_document(Document(64, 48))
    qtbot.waitUntil(lambda: calls == [True], timeout=3000)
    gc.collect()
    assert gone() is None  # nothing else holds the old document
