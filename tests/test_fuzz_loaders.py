"""Seeded mutation fuzzing of every loader (tests/fuzzing): nothing but the loader's own typed,
one-line error naming the file may come out of a damaged file.

A few thousand cases run here; ``benchmarks/fuzz_loaders.py`` runs 100 000 and more. A failure
prints the (target, seed) pairs; ``python benchmarks/fuzz_loaders.py --replay ora:123 --keep
case.ora`` runs that case again and writes the damaged file.
"""

from __future__ import annotations

import pytest

from tests.fuzzing.harness import Runner, replay, run
from tests.fuzzing.targets import targets

# cases per target in the normal run (the long run spreads its cases with the same weights)
CASES = {"ora": 1500, "image": 800, "recovery": 300, "workflow": 400, "servers": 300, "settings": 300, "models": 300,
         "gguf": 300}


@pytest.fixture(scope="module")
def runner():
    r = Runner()
    yield r
    r.close()


def test_every_loader_has_a_target():
    assert set(CASES) == set(targets())


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_damaged_file_escapes_its_loader(runner, name):
    report = run([name], CASES[name], runner=runner)
    assert report.cases == CASES[name]
    assert not report.escapes, "\n".join(report.lines())
    # the mutations reach both sides: some files stay readable, others are refused cleanly
    assert report.loaded > CASES[name] // 50 and report.clean > CASES[name] // 10, report.lines()


def test_a_case_replays_exactly(runner, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = replay("ora", 4242, keep=a)
    assert replay("ora", 4242, keep=b) == first
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[:2] == b"PK"
    assert runner.case("ora", 4242)[3] == a.read_bytes()  # a runner that already ran other cases agrees
