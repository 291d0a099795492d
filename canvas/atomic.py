"""Atomic file replacement: a reader (or a crash) sees the old file or the new one, never a
partial one; the previous version is kept as ``NAME~``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from canvas.errors import SaveError


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _target_mode(path: Path) -> int:
    """The mode of the file being replaced, or what a new file would get (0666 & ~umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


STALE_TEMP_SECONDS = 600


def _remove_stale_temps(folder: Path, path: Path) -> None:
    """Temp files of saves that a crash interrupted (``.NAME.*.tmp``, older than ten minutes,
    so a save still running in another process is never touched)."""
    now = time.time()
    for pattern in (f".{path.name}.*.tmp", f".{backup_path(path).name}.*.tmp"):
        for p in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > STALE_TEMP_SECONDS:
                    p.unlink()


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + "~")


def atomic_write(path, write_fn: Callable[[BinaryIO], object], backup: bool = True) -> None:
    """Write ``path`` through ``write_fn(file)`` atomically.

    1. write a temp file in the same folder, flush and fsync it;
    2. if ``backup`` and the target exists: hard-link it (or copy it) to a temp name, then
       rename that over ``NAME~`` — the target itself never goes missing;
    3. rename the temp file over the target and fsync the folder.
    Any failure removes the temp file, leaves the old target intact and raises SaveError.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    bak_tmp = None
    try:
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        except FileNotFoundError:
            raise SaveError(f"{path}: the folder {folder} does not exist") from None
        except PermissionError:
            raise SaveError(f"{path}: no permission to write in {folder}") from None
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(OSError, AttributeError):  # mkstemp makes 0600; give the file its usual mode
                os.fchmod(f.fileno(), _target_mode(path))
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        if backup and path.exists():
            bak = backup_path(path)
            bak_tmp = folder / f".{bak.name}.{uuid.uuid4().hex[:12]}.tmp"
            try:
                os.link(path, bak_tmp)
            except OSError:  # no hard links here (FAT, some network shares): copy instead
                shutil.copy2(path, bak_tmp)
            os.replace(bak_tmp, bak)
            bak_tmp = None
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(folder)
        _remove_stale_temps(folder, path)
    except SaveError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SaveError(f"{path}: could not be saved ({reason}); the previous file is unchanged") from None
    except Exception as exc:
        raise SaveError(f"{path}: could not be saved ({type(exc).__name__}: {exc}); "
                        "the previous file is unchanged") from exc
    finally:
        for leftover in (tmp_name, bak_tmp):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
