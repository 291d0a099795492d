"""The command line as a terminal user meets it: a progress bar while long work runs, Ctrl+C as a
clean cancel, a typo or a missing display as one clear line (never the window, never an abort)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop.headless.test_cli import ROOT, akapen, save
from tests.inference.photos import astronaut

# a driver that runs `akapen edit` with a slow test backend (a thousand 10 ms steps, checking the
# cancel token each step), as the real command does in the real process: signals and all
SLOW_EDIT = """
import sys
from tests.desktop.panels.test_edit import SlowBackend
from inference import registry
from desktop.headless import cli
registry.register("test-slow", SlowBackend, replace=True)
sys.exit(cli.main(sys.argv[1:]))
"""


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(extra)
    return env


def test_a_word_that_is_neither_command_nor_file_is_an_error_listing_the_commands(tmp_path):
    r = akapen("trian", "--help", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "'trian' is neither a command nor a file" in r.stderr
    assert all(c in r.stderr for c in ("info", "flatten", "edit", "backends", "models", "servers"))
    r = akapen("edti", cwd=tmp_path)
    assert r.returncode == 2 and "did you mean 'edit'" in r.stderr
    r = akapen("missing.ora", cwd=tmp_path)
    assert r.returncode == 2 and "missing.ora: no such file" in r.stderr
    r = akapen("--frobnicate", cwd=tmp_path)
    assert r.returncode == 2 and "unknown option '--frobnicate'" in r.stderr


@pytest.mark.parametrize("display", [None, ":4242"])
def test_no_usable_display_is_one_line_and_an_exit_not_an_abort(tmp_path, display):
    env = _env(**({"DISPLAY": display} if display else {}))
    r = subprocess.run([sys.executable, "-m", "desktop.headless.cli"], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=60)
    assert r.returncode == 3, (r.returncode, r.stderr)  # SIGABRT would be -6 (134 in a shell)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("akapen: ")
    if display is None:
        assert "neither DISPLAY nor WAYLAND_DISPLAY" in r.stderr and "headless commands" in r.stderr
    else:  # this machine either lacks Qt's X11 libraries or has them and no X server at :4242
        assert "does not answer" in r.stderr or "sudo apt install" in r.stderr
    assert not list(tmp_path.glob("core*"))


def test_a_missing_qt_library_names_it_and_the_packages_to_install(monkeypatch):
    from desktop.headless import display

    monkeypatch.setattr(display, "_missing_library", lambda plugin: (
        "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"))
    monkeypatch.setattr(display, "_x_display_answers", lambda: True)
    why = display.problem({"DISPLAY": ":0"})
    assert why.startswith("the window cannot start: Qt's X11 plugin does not load (libxcb-cursor.so.0 is missing")
    assert "sudo apt install libxcb-cursor0 " in why
    monkeypatch.setattr(display, "_missing_library", lambda plugin: None)
    assert display.problem({"DISPLAY": ":0"}) is None
    assert display.problem({"QT_QPA_PLATFORM": "offscreen"}) is None  # chosen on purpose: not second-guessed
    monkeypatch.setattr(display, "_x_display_answers", lambda: False)
    assert "does not answer" in display.problem({"DISPLAY": ":7"})


def _run_in_pty(args, stop_when=None, then_signal=None, timeout=120, driver: str | None = None):
    """Run the slow-edit driver (or the module ``driver``) with stderr on a pseudo-terminal; returns (exit
    status, what the terminal showed, seconds from the signal to the exit)."""
    master, slave = pty.openpty()
    head = [sys.executable, "-m", driver] if driver else [sys.executable, "-c", SLOW_EDIT]
    proc = subprocess.Popen([*head, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=slave, env=_env(QT_QPA_PLATFORM="offscreen"))
    os.close(slave)
    seen, sent_at, t0 = b"", None, time.monotonic()
    while time.monotonic() - t0 < timeout:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            seen += chunk
        if sent_at is None and stop_when is not None and stop_when(seen):
            proc.send_signal(then_signal)
            sent_at = time.monotonic()
        if proc.poll() is not None and not ready:
            break
    rc = proc.wait(timeout=30)
    os.close(master)
    return rc, seen.decode("utf-8", "replace"), (time.monotonic() - sent_at) if sent_at else None


def test_edit_on_a_terminal_shows_a_progress_bar_and_ctrl_c_cancels_within_a_step(tmp_path):
    photo = save(tmp_path / "in.png", astronaut())
    out = tmp_path / "out.png"
    # stop once the bar has counted a few steps of the edit
    rc, shown, after = _run_in_pty(["edit", photo, "make it night", "-o", out, "--backend", "test-slow"],
                                   stop_when=lambda s: s.count(b"/1002 [") > 3, then_signal=signal.SIGINT)
    assert rc == 130, shown
    assert "%|" in shown and "/1002 [" in shown and "step/s" in shown  # tqdm's layout: percent, bar, count, rate
    assert "cancelling" in shown and "edit cancelled; nothing was written" in shown
    assert after is not None and after < 10  # the steps are 10 ms: it stopped at the next one, not at the end
    assert not out.exists() and not list(tmp_path.glob("out*"))


def test_piped_output_has_no_bar(tmp_path):
    photo = save(tmp_path / "in.png", astronaut())
    r = akapen("edit", photo, "-o", tmp_path / "out.png", "--task", "style-pencil", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "%|" not in r.stderr
    assert Path(tmp_path / "out.png").exists()
