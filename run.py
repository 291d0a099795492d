#!/usr/bin/env python3
"""Akapen's launcher: sets up ``.venv`` in the checkout (the first time, and again when pyproject.toml or this
file changed), then starts the app, the test suite or the benchmarks. Only the standard library is used, so any
Python 3 can run it; the virtual environment itself is made with Python 3.11.

    python run.py [FILE ...]   set up and start the app (./run does this on Linux and macOS)
    python run.py tests [ARGS] set up, then ruff, the layering check and the whole suite (what CI runs)
    python run.py bench [ARGS] set up, then the benchmarks
    python run.py plan         say what the set-up would install on this machine, install nothing

On Windows: ``py -3.11 run.py`` and ``py -3.11 run.py tests``.

torch is installed first, pinned, from where this platform gets a build that uses its GPU:

- Linux (x86_64, aarch64): the package index's wheel, which is built with CUDA and runs on the CPU too.
- Windows with an NVIDIA GPU: PyTorch's own CUDA index (the package index's Windows wheel is CPU-only);
  without one, the package index's CPU wheel.
- macOS on Apple silicon: the package index's wheel (Metal, "mps"). Intel Macs: PyTorch publishes no builds of
  this version, so the set-up stops and says so.

``AKAPEN_TORCH_INDEX`` names another index for torch (a ROCm or other CUDA build, a local mirror).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON_VERSION = (3, 11)
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
# PyTorch's index for the CUDA build of TORCH on Windows (the Linux wheel of 2.14.1 on the package index is the
# CUDA 13.0 build, torch.version.cuda "13.0"; the same build for Windows lives here)
CUDA_INDEX = "https://download.pytorch.org/whl/cu130"
TEST_ENV = {"QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
LINT_PATHS = ("canvas", "inference", "desktop", "training", "tests", "benchmarks", "run.py")
COMMANDS = ("app", "tests", "test", "bench", "plan")
USAGE = "usage: python run.py [app|tests|bench|plan] [args...]  (or: python run.py FILE... to open files)"


class SetupError(Exception):
    """The set-up cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Host:
    """What the set-up decisions depend on (tests build these by hand to fake a platform)."""

    system: str  # platform.system(): "Linux", "Windows", "Darwin"
    machine: str  # platform.machine(): "x86_64", "AMD64", "arm64", "aarch64"
    nvidia: bool  # an NVIDIA GPU answers nvidia-smi

    @property
    def windows(self) -> bool:
        return self.system == "Windows"


@dataclass(frozen=True)
class TorchPlan:
    requirements: tuple[str, ...]
    index_url: str | None  # None: the package index pip is configured with
    says: str  # one line for the user

    def pip_args(self, replace: bool = False) -> list[str]:
        """``replace``: torch came from elsewhere before (a driver was installed since): install over it."""
        args = ["install", "-q", *(["--force-reinstall"] if replace else []), *self.requirements]
        if self.index_url:
            args += ["--index-url", self.index_url]
        return args


@dataclass
class Setup:
    host: Host
    venv: Path = VENV
    base_python: list[str] = field(default_factory=list)  # the command that makes the venv

    @property
    def python(self) -> Path:
        return venv_python(self.venv, self.host)

    def script(self, name: str) -> Path:
        return venv_bin(self.venv, self.host) / (name + (".exe" if self.host.windows else ""))


# --- decisions (pure: tests call these with a faked Host) --------------------------------------------------
def torch_plan(host: Host, env: dict[str, str] | None = None) -> TorchPlan:
    env = os.environ if env is None else env
    override = env.get("AKAPEN_TORCH_INDEX", "").strip()
    machine = host.machine.lower()
    if host.system == "Darwin":
        if machine not in ("arm64", "aarch64") and not override:
            raise SetupError(
                "Akapen needs torch 2.14.1, and PyTorch publishes no builds of it for Intel Macs (their last one "
                "was torch 2.2); set AKAPEN_TORCH_INDEX to an index that has one, or run Akapen on Apple silicon, "
                "Windows or Linux.")
        plan = TorchPlan(TORCH, None, "torch for Apple silicon from the package index (runs on the GPU via Metal, "
                                      "\"mps\")")
    elif host.windows:
        if host.nvidia:
            plan = TorchPlan(TORCH, CUDA_INDEX, f"torch with CUDA from PyTorch's index ({CUDA_INDEX}): an NVIDIA "
                                                "GPU was found")
        else:
            plan = TorchPlan(TORCH, None, "torch for the CPU from the package index (no NVIDIA GPU found: "
                                          "install its driver and run this again to get the CUDA build)")
    elif host.system == "Linux":
        plan = TorchPlan(TORCH, None, "torch from the package index (built with CUDA; it runs on the CPU too)"
                         + ("" if host.nvidia else ", no NVIDIA GPU found: AI models will run on the CPU"))
    else:
        plan = TorchPlan(TORCH, None, f"torch from the package index ({host.system} is not a platform Akapen is "
                                      "tested on)")
    if override:
        plan = TorchPlan(plan.requirements, override, f"torch from {override} (AKAPEN_TORCH_INDEX)")
    return plan


def venv_bin(venv: Path, host: Host) -> Path:
    return venv / ("Scripts" if host.windows else "bin")


def venv_python(venv: Path, host: Host) -> Path:
    return venv_bin(venv, host) / ("python.exe" if host.windows else "python")


def python_candidates(host: Host, env: dict[str, str] | None = None) -> list[list[str]]:
    """Commands that may start a Python 3.11, in the order they are tried (the one running this file first)."""
    env = os.environ if env is None else env
    major, minor = PYTHON_VERSION
    found = [[sys.executable]]
    if env.get("PYTHON"):
        found.insert(0, [env["PYTHON"]])
    if host.windows:
        found.append(["py", f"-{major}.{minor}"])
    found.append([f"python{major}.{minor}"])
    return found


def stamp(files: list[Path], plan: TorchPlan) -> str:
    """What the installed venv was made from: when it changes, the set-up runs again."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes() if f.exists() else b"")
    h.update(repr((plan.requirements, plan.index_url)).encode())
    return h.hexdigest()[:16]


def install_steps(setup: Setup, plan: TorchPlan, previous_index: str | None = None) -> list[list[str]]:
    """The commands of the set-up, in order (the venv's own pip, so nothing leaves the checkout).
    ``previous_index``: where the installed torch came from ("" for the package index, None when unknown)."""
    py = [str(setup.python), "-m", "pip"]
    steps: list[list[str]] = []
    if not setup.python.exists():
        steps.append([*setup.base_python, "-m", "venv", str(setup.venv)])
    steps += [
        [*py, "install", "-q", "--upgrade", "pip"],
        [*py, *plan.pip_args(replace=previous_index is not None and previous_index != (plan.index_url or ""))],
        [*py, "install", "-q", "-e", f"{ROOT}[test]"],
    ]
    return steps


# --- this machine ---------------------------------------------------------------------------------------------
def detect_host() -> Host:
    return Host(platform.system(), platform.machine(), _has_nvidia())


def _has_nvidia() -> bool:
    exe = shutil.which("nvidia-smi")
    if exe is None and sys.platform == "win32":
        fallback = Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32" / "nvidia-smi.exe"
        exe = str(fallback) if fallback.exists() else None
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def find_python(host: Host) -> list[str]:
    want = "{}.{}".format(*PYTHON_VERSION)
    for cmd in python_candidates(host):
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
            continue
        try:
            out = subprocess.run([*cmd, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip() == want:
            return cmd
    hint = "py -3.11 (install it from python.org)" if host.windows else "python3.11 (your package manager or python.org)"
    raise SetupError(f"Akapen needs Python {want} to make its .venv and none was found; install {hint}, or set "
                     f"PYTHON to its path")


def say(text: str) -> None:
    print(f"akapen: {text}", flush=True)


def ensure_setup(host: Host) -> Setup:
    setup = Setup(host)
    plan = torch_plan(host)
    want = stamp([ROOT / "pyproject.toml", Path(__file__).resolve()], plan)
    marker = setup.venv / ".akapen-setup"
    recorded = marker.read_text().split("\n") if marker.exists() else []
    if setup.python.exists() and recorded and recorded[0].strip() == want:
        return setup
    previous_index = recorded[1].strip() if len(recorded) > 1 and setup.python.exists() else None
    if not setup.python.exists():
        setup.base_python = find_python(host)
        say(f"creating {setup.venv.name} with Python {'.'.join(map(str, PYTHON_VERSION))}")
    say(f"installing: {plan.says}, then Akapen and its test tools")
    for step in install_steps(setup, plan, previous_index):
        if subprocess.run(step, check=False).returncode != 0:
            raise SetupError(f"this step failed (its output is above): {' '.join(step)}")
    marker.write_text(f"{want}\n{plan.index_url or ''}\n")  # the second line: where torch came from
    return setup


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` to its end; on POSIX replace this process (signals and the exit status go straight through)."""
    if os.name == "posix":
        if env is not None:
            os.environ.update(env)
        os.execv(cmd[0], cmd)
    return subprocess.run(cmd, env=None if env is None else {**os.environ, **env}, check=False).returncode


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("app", [])
    if command not in COMMANDS and command not in ("-h", "--help", "help") and (
            Path(command).exists() or command.startswith("-")):
        command, args = "app", argv  # ./run photo.jpg, ./run --version: the app's own arguments
    if command in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if command not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    host = detect_host()
    try:
        if command == "plan":
            plan = torch_plan(host)
            print(f"{host.system} {host.machine}, NVIDIA GPU: {'yes' if host.nvidia else 'no'}")
            print(plan.says)
            for step in install_steps(Setup(host, base_python=["<python 3.11>"]), plan):
                print("  " + " ".join(step))
            return 0
        setup = ensure_setup(host)
    except SetupError as e:
        say(str(e))
        return 1
    py = str(setup.python)
    if command == "app":
        return run([str(setup.script("akapen")), *args])
    if command == "bench":
        return run([py, str(ROOT / "benchmarks" / "run_all.py"), *args])
    env = {**TEST_ENV}
    os.chdir(ROOT)
    for check in ([py, "-m", "ruff", "check", *LINT_PATHS], [py, str(ROOT / "tests" / "check_layers.py")]):
        rc = subprocess.run(check, env={**os.environ, **env}, check=False).returncode
        if rc != 0:
            return rc
    return run([py, "-m", "pytest", *args], env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
