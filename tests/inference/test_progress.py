import threading

import pytest

from inference.errors import Cancelled
from inference.progress import CancelToken, ProgressUpdate, Reporter


def test_cancel_token_is_set_from_another_thread():
    tok = CancelToken()
    assert not tok.cancelled
    tok.raise_if_cancelled()
    t = threading.Thread(target=tok.cancel)
    t.start()
    t.join()
    assert tok.cancelled
    assert tok.wait(0)
    with pytest.raises(Cancelled):
        tok.raise_if_cancelled()


def test_reporter_reaches_total_only_when_finished():
    seen: list[ProgressUpdate] = []
    rep = Reporter(seen.append, None, 3)
    rep.phase("a")
    for _ in range(10):  # more advances than planned never report completion early
        rep.advance()
    assert max(u.step for u in seen) == 2
    timings = rep.finish()
    assert seen[-1].step == seen[-1].total == 3 and seen[-1].fraction == 1.0
    assert set(timings) == {"a"}
    steps = [u.step for u in seen]
    assert steps == sorted(steps)


def test_reporter_checks_the_token_on_every_step():
    tok = CancelToken()
    rep = Reporter(None, tok, 5)
    rep.advance()
    tok.cancel()
    with pytest.raises(Cancelled):
        rep.advance()
    with pytest.raises(Cancelled):
        rep.finish()
