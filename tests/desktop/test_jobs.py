import threading
import time

import pytest
from PySide6.QtCore import QTimer

from desktop.jobs import JobRunner, JobState
from inference.errors import BackendFailed
from inference.progress import ProgressUpdate


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    r.shutdown()


def test_job_runs_on_worker_thread_with_progress_and_result(qtbot, runner):
    seen, threads = [], []
    runner.jobProgress.connect(lambda jid, u: seen.append((u.step, u.total)))

    def fn(progress, cancel):
        threads.append(threading.current_thread())
        for i in range(1, 4):
            cancel.raise_if_cancelled()
            progress(ProgressUpdate(i, 3))
        return "result"

    with qtbot.waitSignal(runner.jobFinished, timeout=5000) as sig:
        jid = runner.submit("test", fn)
    assert sig.args == [jid, "result"]
    assert threads[0] is not threading.main_thread()
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert runner.jobs[jid].state is JobState.DONE
    assert not runner.busy


def test_cancel_running_job_yields_no_result(qtbot, runner):
    started = threading.Event()
    finished = []
    runner.jobFinished.connect(lambda *a: finished.append(a))

    def fn(progress, cancel):
        started.set()
        for _ in range(500):
            if cancel.wait(0.01):
                break
        return "half-done image"  # a backend that ignores the token must still not deliver

    jid = runner.submit("slow", fn)
    assert started.wait(5)
    with qtbot.waitSignal(runner.jobCancelled, timeout=5000) as sig:
        runner.cancel(jid)
    assert sig.args == [jid]
    qtbot.wait(50)
    assert finished == []
    assert runner.jobs[jid].state is JobState.CANCELLED


def test_jobs_queue_and_run_in_order_and_queued_cancel(qtbot, runner):
    release = threading.Event()
    order = []

    def blocker(progress, cancel):
        release.wait(5)
        order.append("a")
        return "a"

    def quick(name):
        def fn(progress, cancel):
            order.append(name)
            return name
        return fn

    a = runner.submit("a", blocker)
    b = runner.submit("b", quick("b"))
    c = runner.submit("c", quick("c"))
    assert [j.id for j in runner.queued] == [b, c]
    assert runner.current.id == a
    runner.cancel(b)
    assert runner.jobs[b].state is JobState.CANCELLED
    with qtbot.waitSignal(runner.jobFinished, timeout=5000, check_params_cb=lambda jid, r: jid == c):
        release.set()
    assert order == ["a", "c"]


def test_expected_and_unexpected_errors_are_reported(qtbot, runner):
    def typed(progress, cancel):
        raise BackendFailed("the x backend failed: no luck")

    def bug(progress, cancel):
        raise ZeroDivisionError("boom")

    with qtbot.waitSignal(runner.jobFailed, timeout=5000) as sig:
        runner.submit("typed", typed)
    assert sig.args[1:] == ["the x backend failed: no luck", True]
    with qtbot.waitSignal(runner.jobFailed, timeout=5000) as sig:
        runner.submit("bug", bug)
    assert "ZeroDivisionError" in sig.args[1] and sig.args[2] is False


def test_gui_event_loop_keeps_turning_while_a_job_runs(qtbot, runner):
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)

    def cpu_heavy(progress, cancel):
        import numpy as np

        a = np.random.default_rng(0).random((600, 600))
        for _ in range(20):
            a = a @ a.T
            a /= a.max()
        return None

    with qtbot.waitSignal(runner.jobFinished, timeout=20000):
        runner.submit("heavy", cpu_heavy)
    timer.stop()
    assert len(ticks) > 3  # timers fired during the job: the GUI thread was never blocked


def test_jobs_on_different_resources_run_at_once_and_on_one_resource_in_turn(qtbot, runner):
    gpu_started, api_started = threading.Event(), threading.Event()
    order = []

    def on_gpu(progress, cancel):
        gpu_started.set()
        order.append("gpu")
        assert api_started.wait(5), "the API job did not start while the GPU job ran"
        return "gpu"

    def on_api(progress, cancel):
        api_started.set()
        order.append("api")
        assert gpu_started.wait(5), "the GPU job did not start while the API job ran"
        return "api"

    def second_on_gpu(progress, cancel):
        order.append("gpu-2")
        return "gpu-2"

    done = []
    runner.jobFinished.connect(lambda jid, res: done.append(res))
    runner.jobFailed.connect(lambda jid, msg, expected: done.append(msg))
    a = runner.submit("a", on_gpu, resource="gpu")
    runner.submit("b", on_api, resource="api:test")
    c = runner.submit("c", second_on_gpu, resource="gpu")
    assert runner.jobs[c].state is JobState.QUEUED  # behind the first on its resource
    assert len(runner.running) == 2 and runner.current.id == a
    qtbot.waitUntil(lambda: len(done) == 3, timeout=10000)
    assert sorted(done) == ["api", "gpu", "gpu-2"]  # both waits were met: the two ran at the same time
    assert order.index("gpu-2") > order.index("gpu")
    assert not runner.busy
