"""atomic_write: the target is always the complete old or new file, the previous version is
kept as NAME~, and every failure leaves the old file intact, removes its temp files and raises
a SaveError that names the file and the reason."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import canvas.atomic as atomic_mod
from canvas.atomic import atomic_write, backup_path
from canvas.errors import SaveError

ROOT = Path(__file__).resolve().parents[2]


def writer(data: bytes):
    return lambda f: f.write(data)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_new_file_then_replacements_keep_the_previous_version(tmp_path):
    path = tmp_path / "drawing.ora"
    atomic_write(path, writer(b"one"))
    assert path.read_bytes() == b"one"
    assert names(tmp_path) == ["drawing.ora"]  # nothing to back up the first time
    atomic_write(str(path), writer(b"two"))  # str paths work too
    assert path.read_bytes() == b"two"
    assert backup_path(path).read_bytes() == b"one"
    atomic_write(path, writer(b"three"))
    assert (path.read_bytes(), (tmp_path / "drawing.ora~").read_bytes()) == (b"three", b"two")
    assert names(tmp_path) == ["drawing.ora", "drawing.ora~"]


def test_backup_false_writes_no_backup(tmp_path):
    path = tmp_path / "out.png"
    atomic_write(path, writer(b"a"), backup=False)
    atomic_write(path, writer(b"b"), backup=False)
    assert path.read_bytes() == b"b" and names(tmp_path) == ["out.png"]


def test_backup_is_a_separate_file_not_a_link_to_the_new_one(tmp_path):
    path = tmp_path / "d.ora"
    atomic_write(path, writer(b"old"))
    atomic_write(path, writer(b"new"))
    assert not os.path.samefile(path, backup_path(path))
    assert backup_path(path).read_bytes() == b"old"


def test_file_mode_follows_the_replaced_file_not_mkstemp(tmp_path):
    path = tmp_path / "shared.ora"
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write(path, writer(b"x"))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # what a plain open() would give
    path.chmod(0o640)
    atomic_write(path, writer(b"y"))
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("exc", [ValueError("the encoder broke"), OSError(errno.ENOSPC, "No space left on device")])
def test_write_fn_failure_leaves_old_file_and_no_temp(tmp_path, exc):
    path = tmp_path / "d.ora"
    atomic_write(path, writer(b"old"))
    atomic_write(path, writer(b"current"))

    def fail(f):
        f.write(b"half of the new fi")
        raise exc

    with pytest.raises(SaveError) as info:
        atomic_write(path, fail)
    msg = str(info.value)
    assert str(path) in msg and "previous file is unchanged" in msg
    assert ("the encoder broke" in msg) if isinstance(exc, ValueError) else ("No space left" in msg)
    assert path.read_bytes() == b"current" and backup_path(path).read_bytes() == b"old"
    assert names(tmp_path) == ["d.ora", "d.ora~"]


def test_failure_of_the_final_rename_leaves_everything_clean(tmp_path, monkeypatch):
    """A read-only file system refuses the rename: old file intact, both temp files removed."""
    path = tmp_path / "d.ora"
    atomic_write(path, writer(b"current"))
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == path:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic_mod.os, "replace", replace)
    with pytest.raises(SaveError, match="Read-only file system"):
        atomic_write(path, writer(b"new"))
    assert path.read_bytes() == b"current"
    assert not any(n.startswith(".") for n in names(tmp_path))


def test_failure_while_keeping_the_backup_leaves_no_temp(tmp_path):
    path = tmp_path / "d.ora"
    atomic_write(path, writer(b"current"))
    (tmp_path / "d.ora~").mkdir()  # the backup name is taken by a folder: renaming over it fails
    (tmp_path / "d.ora~" / "keep").write_text("x")
    with pytest.raises(SaveError, match=str(path)):
        atomic_write(path, writer(b"new"))
    assert path.read_bytes() == b"current"
    assert names(tmp_path) == ["d.ora", "d.ora~"]


def test_without_hard_links_the_backup_is_copied(tmp_path, monkeypatch):
    path = tmp_path / "d.ora"
    atomic_write(path, writer(b"old"))

    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic_mod.os, "link", no_link)
    atomic_write(path, writer(b"new"))
    assert path.read_bytes() == b"new" and backup_path(path).read_bytes() == b"old"
    assert names(tmp_path) == ["d.ora", "d.ora~"]


def test_missing_folder_and_directory_target(tmp_path):
    with pytest.raises(SaveError, match="does not exist"):
        atomic_write(tmp_path / "gone" / "d.ora", writer(b"x"))
    (tmp_path / "dir.ora").mkdir()
    with pytest.raises(SaveError, match="dir.ora"):
        atomic_write(tmp_path / "dir.ora", writer(b"x"))
    assert (tmp_path / "dir.ora").is_dir()
    assert names(tmp_path) == ["dir.ora"]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_a_save_error_and_old_file_intact(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "d.ora"
    atomic_write(path, writer(b"current"))
    folder.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="permission"):
            atomic_write(path, writer(b"new"))
        assert path.read_bytes() == b"current"
    finally:
        folder.chmod(0o700)
    assert names(folder) == ["d.ora"]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_real_write_failure_from_the_os(tmp_path):
    """A child process whose file size limit is tiny gets a real EFBIG from write(), like a full
    disk: the save fails cleanly and the old file survives."""
    path = tmp_path / "d.ora"
    path.write_bytes(b"current")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        from canvas.atomic import atomic_write
        from canvas.errors import SaveError
        try:
            atomic_write({str(path)!r}, lambda f: f.write(b"n" * 1_000_000))
        except SaveError as exc:
            print("SAVEERROR", exc)
        else:
            print("SAVED")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("SAVEERROR") and str(path) in out.stdout
    assert path.read_bytes() == b"current"
    assert names(tmp_path) == ["d.ora"]


def test_a_reader_never_sees_a_missing_or_partial_file(tmp_path):
    """While one thread saves again and again, another keeps opening the file: every read is
    one complete version, and the file is never missing (not even between the renames)."""
    path = tmp_path / "d.ora"
    versions = [b"A" * 50_000, b"B" * 70_001]
    atomic_write(path, writer(versions[0]))
    stop = threading.Event()
    seen: list[bytes | str] = []

    def read_loop():
        while not stop.is_set():
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                seen.append("missing")
                continue
            if data not in versions:
                seen.append(f"partial ({len(data)} bytes)")
            else:
                seen.append(data[:1])

    t = threading.Thread(target=read_loop)
    t.start()
    try:
        for i in range(300):
            atomic_write(path, writer(versions[i % 2]))
    finally:
        stop.set()
        t.join()
    bad = [s for s in seen if isinstance(s, str)]
    assert bad == []
    assert len(seen) > 10 and {b"A", b"B"} <= set(seen)  # it really read both versions


def test_stale_temp_files_of_an_interrupted_save_are_removed(tmp_path):
    import os
    import time

    from canvas.atomic import atomic_write

    target = tmp_path / "d.ora"
    old = tmp_path / ".d.ora.abc123.tmp"  # left by a save a crash interrupted an hour ago
    fresh = tmp_path / ".d.ora.def456.tmp"  # perhaps another process saving right now
    for p in (old, fresh):
        p.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    assert not old.exists() and fresh.exists()
