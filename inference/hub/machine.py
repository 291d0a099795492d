"""This machine, as far as choosing a model goes: its GPU and memory, its RAM, its free disk.

:func:`detect` imports no torch (start-up stays fast). It asks, in order:

1. ``AKAPEN_GPU_MEMORY_GB``: set it (GiB, e.g. ``24``) for a GPU the probes miss, or ``0`` for none.
   Tests use it too. It stands for a discrete GPU of that size.
2. ``nvidia-smi`` (3 s at most; no binary, no answer or an error: no NVIDIA GPU): the largest GPU.
3. Apple silicon (macOS on arm64): the unified memory, from ``sysctl -n hw.memsize``.
4. torch, only if something already imported it: ``torch.cuda`` (also ROCm builds), else MPS.

The GPU probe is made once per process (:func:`clear_cache` forgets it); the free disk is read on
every call. Qt-free.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from inference.errors import InferenceError

GIB = 1 << 30
ENV = "AKAPEN_GPU_MEMORY_GB"
PROBE_TIMEOUT_S = 3.0
# On Apple silicon the GPU shares the memory with macOS and every app, and Metal lets one process keep
# only part of it resident (its recommended working set is roughly two thirds to three quarters of the
# RAM); 70% leaves the system and Akapen's own canvas room to breathe.
UNIFIED_SHARE = 0.7


class MachineError(InferenceError, ValueError):
    """``AKAPEN_GPU_MEMORY_GB`` is set to something that is not a size."""


@dataclass(frozen=True)
class Machine:
    gpu_name: str | None
    gpu_bytes: int | None  # the largest GPU's memory; on Apple silicon the whole unified memory
    unified: bool  # Apple silicon: the GPU uses the system memory
    ram_bytes: int
    free_disk_bytes: int | None
    platform: str

    @property
    def usable_gpu_bytes(self) -> int | None:
        """What a model may use: the whole card, or 70% of unified memory (see :data:`UNIFIED_SHARE`)."""
        if not self.gpu_bytes:
            return None
        return int(self.gpu_bytes * UNIFIED_SHARE) if self.unified else self.gpu_bytes

    def describe(self) -> str:
        """One line for the UI: "NVIDIA GeForce RTX 4090 (24 GB); 64 GB RAM; 812.4 GB free"."""
        if not self.gpu_bytes:
            gpu = "no GPU"
        elif self.unified:
            gpu = (f"{self.gpu_name or 'Apple silicon'} ({_gib(self.gpu_bytes)} GB unified memory, "
                   f"about {_gib(self.usable_gpu_bytes or 0)} GB for models)")
        else:
            gpu = f"{self.gpu_name or 'GPU'} ({_gib(self.gpu_bytes)} GB)"
        parts = [gpu, f"{_gib(self.ram_bytes)} GB RAM"]
        if self.free_disk_bytes is not None:
            parts.append(f"{self.free_disk_bytes / 1e9:.1f} GB free")
        return "; ".join(parts)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f}".rstrip("0").rstrip(".")


# --- probes ----------------------------------------------------------------------------------------
def _run(*cmd: str) -> str | None:
    """Stdout of ``cmd`` or None (absent, failed, timed out). No shell."""
    exe = shutil.which(cmd[0])
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _nvidia_smi() -> tuple[str, int] | None:
    """(name, bytes) of the largest NVIDIA GPU, from ``nvidia-smi`` (memory.total is in MiB)."""
    out = _run("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits")
    best: tuple[str, int] | None = None
    for line in (out or "").splitlines():
        name, _, mib = line.rpartition(",")
        try:
            size = int(float(mib.strip()) * (1 << 20))
        except ValueError:  # "[N/A]" and the like
            continue
        if size > 0 and (best is None or size > best[1]):
            best = (name.strip() or "NVIDIA GPU", size)
    return best


def _apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine().lower() in ("arm64", "aarch64")


def _sysctl_int(name: str) -> int | None:
    out = _run("sysctl", "-n", name)
    try:
        return int(out.strip()) if out else None
    except ValueError:
        return None


def _apple_gpu() -> tuple[str, int] | None:
    size = _sysctl_int("hw.memsize")
    if not size:
        return None
    chip = (_run("sysctl", "-n", "machdep.cpu.brand_string") or "").strip()
    return (chip or "Apple silicon", size)


def _torch_gpu() -> tuple[str, int, bool] | None:
    """(name, bytes, unified) from torch, only when it is already imported (this never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available():
            props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
            best = max(props, key=lambda p: p.total_memory)
            return (best.name, int(best.total_memory), False)
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            size = _sysctl_int("hw.memsize") or _ram_bytes()
            return ("Apple GPU (MPS)", size, True)
    except Exception:  # noqa: BLE001 - a broken torch install means "no GPU found", not a crash at start-up
        return None
    return None


def _ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    size = _sysctl_int("hw.memsize")
    if size:
        return size
    if sys.platform == "win32":
        import ctypes

        class _MemoryStatus(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = _MemoryStatus()
        status.dwLength = ctypes.sizeof(status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.ullTotalPhys)
    return 0


def _free_disk(path: Path | str) -> int | None:
    """Free bytes on the disk that holds ``path`` (or its nearest existing parent)."""
    p = Path(path).expanduser().absolute()
    for candidate in (p, *p.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


# --- detection -------------------------------------------------------------------------------------
_gpu: tuple[str | None, int | None, bool] | None = None  # (name, bytes, unified), once per process
_ram: int | None = None


def clear_cache() -> None:
    """Forget the GPU and RAM probes (the next :func:`detect` runs them again)."""
    global _gpu, _ram
    _gpu = _ram = None


def _gpu_probe() -> tuple[str | None, int | None, bool]:
    global _gpu
    if _gpu is None:
        found: tuple[str | None, int | None, bool] = (None, None, False)
        smi = _nvidia_smi()
        if smi is not None:
            found = (smi[0], smi[1], False)
        elif _apple_silicon() and (apple := _apple_gpu()) is not None:
            found = (apple[0], apple[1], True)
        elif (tg := _torch_gpu()) is not None:
            found = tg
        _gpu = found
    return _gpu


def _ram_probe() -> int:
    global _ram
    if _ram is None:
        _ram = _ram_bytes()
    return _ram


def _platform() -> str:
    return f"{sys.platform}-{platform.machine().lower() or 'unknown'}"


def detect(disk_path: Path | str = ".") -> Machine:
    """This machine; ``disk_path`` is where models go (the Hugging Face cache), for its free space."""
    override = os.environ.get(ENV, "").strip()
    if override:
        try:
            gib = float(override)
        except ValueError:
            gib = -1.0
        if not gib >= 0:  # also NaN
            raise MachineError(f"{ENV}={override!r}: give the GPU memory in GB, e.g. {ENV}=24 (0 for no GPU)")
        size = int(gib * GIB)
        return Machine(f"GPU set by {ENV}" if size else None, size or None, False, _ram_probe(),
                       _free_disk(disk_path), _platform())
    name, size, unified = _gpu_probe()
    return Machine(name, size, unified, _ram_probe(), _free_disk(disk_path), _platform())
