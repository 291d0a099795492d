"""The launcher (run.py) on each desktop platform, with the platform faked: which torch build it installs and
from where, where the venv's programs are, which Python makes the venv. The Linux path runs for real in CI
(``./run tests`` is this launcher)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("akapen_launcher", ROOT / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


run = _load()
LINUX = run.Host("Linux", "x86_64", nvidia=True)
LINUX_ARM = run.Host("Linux", "aarch64", nvidia=False)
WIN_NVIDIA = run.Host("Windows", "AMD64", nvidia=True)
WIN_CPU = run.Host("Windows", "AMD64", nvidia=False)
MAC_ARM = run.Host("Darwin", "arm64", nvidia=False)
MAC_INTEL = run.Host("Darwin", "x86_64", nvidia=False)


@pytest.mark.parametrize("host", [LINUX, LINUX_ARM, MAC_ARM, WIN_CPU])
def test_the_package_index_serves_torch_where_its_wheel_uses_the_gpu(host):
    plan = run.torch_plan(host, env={})
    assert plan.requirements == ("torch==2.14.1", "torchvision==0.29.1")
    assert plan.index_url is None
    assert "--index-url" not in plan.pip_args()


def test_windows_with_nvidia_takes_the_cuda_build_from_pytorchs_index():
    plan = run.torch_plan(WIN_NVIDIA, env={})
    assert plan.index_url == run.CUDA_INDEX and plan.index_url.startswith("https://download.pytorch.org/whl/cu")
    args = plan.pip_args()
    assert args[args.index("--index-url") + 1] == run.CUDA_INDEX
    assert "torch==2.14.1" in args and "CUDA" in plan.says


def test_windows_without_nvidia_says_how_to_get_cuda_later():
    assert "driver" in run.torch_plan(WIN_CPU, env={}).says


def test_mac_plans_say_mps_or_why_not():
    assert "mps" in run.torch_plan(MAC_ARM, env={}).says
    with pytest.raises(run.SetupError, match="Intel Macs"):
        run.torch_plan(MAC_INTEL, env={})


def test_an_index_named_by_the_user_wins():
    plan = run.torch_plan(WIN_NVIDIA, env={"AKAPEN_TORCH_INDEX": "https://mirror.example/rocm"})
    assert plan.index_url == "https://mirror.example/rocm"
    assert run.torch_plan(MAC_INTEL, env={"AKAPEN_TORCH_INDEX": "https://x"}).index_url == "https://x"


def test_venv_programs_live_in_scripts_on_windows_and_bin_elsewhere(tmp_path):
    assert run.venv_python(tmp_path, WIN_NVIDIA) == tmp_path / "Scripts" / "python.exe"
    assert run.venv_python(tmp_path, LINUX) == tmp_path / "bin" / "python"
    assert run.Setup(WIN_CPU, venv=tmp_path).script("akapen") == tmp_path / "Scripts" / "akapen.exe"
    assert run.Setup(MAC_ARM, venv=tmp_path).script("akapen") == tmp_path / "bin" / "akapen"


def test_windows_looks_for_python_through_the_py_launcher():
    win = run.python_candidates(WIN_CPU, env={})
    assert ["py", "-3.11"] in win and win[0] == [sys.executable]
    assert ["py", "-3.11"] not in run.python_candidates(LINUX, env={})
    assert run.python_candidates(LINUX, env={"PYTHON": "/opt/py311/bin/python"})[0] == ["/opt/py311/bin/python"]


def test_setup_steps_make_the_venv_then_torch_then_akapen(tmp_path):
    setup = run.Setup(WIN_NVIDIA, venv=tmp_path / ".venv", base_python=["py", "-3.11"])
    steps = run.install_steps(setup, run.torch_plan(WIN_NVIDIA, env={}))
    assert steps[0] == ["py", "-3.11", "-m", "venv", str(tmp_path / ".venv")]
    pip = [str(tmp_path / ".venv" / "Scripts" / "python.exe"), "-m", "pip"]
    assert all(s[:3] == pip for s in steps[1:])
    torch_at = next(i for i, s in enumerate(steps) if "torch==2.14.1" in s)
    akapen_at = next(i for i, s in enumerate(steps) if "-e" in s)
    assert torch_at < akapen_at and run.CUDA_INDEX in steps[torch_at]
    assert steps[akapen_at][-1].endswith("[test]")
    # an existing venv is not made again
    (tmp_path / ".venv" / "Scripts").mkdir(parents=True)
    (tmp_path / ".venv" / "Scripts" / "python.exe").write_bytes(b"")
    assert run.install_steps(setup, run.torch_plan(WIN_NVIDIA, env={}))[0][:3] == pip


def test_the_stamp_changes_with_the_project_or_the_torch_source(tmp_path):
    f = tmp_path / "pyproject.toml"
    f.write_text("a")
    linux, win = run.torch_plan(LINUX, env={}), run.torch_plan(WIN_NVIDIA, env={})
    first = run.stamp([f], linux)
    assert run.stamp([f], linux) == first
    assert run.stamp([f], win) != first
    f.write_text("b")
    assert run.stamp([f], linux) != first


def test_plan_and_usage_from_the_command_line():
    out = subprocess.run([sys.executable, str(ROOT / "run.py"), "plan"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "torch==2.14.1" in out and "[test]" in out
    bad = subprocess.run([sys.executable, str(ROOT / "run.py"), "nonsense"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_a_gpu_found_later_replaces_the_cpu_torch(tmp_path):
    setup = run.Setup(WIN_NVIDIA, venv=tmp_path / ".venv")
    plan = run.torch_plan(WIN_NVIDIA, env={})

    def torch_step(previous):
        return next(s for s in run.install_steps(setup, plan, previous) if "torch==2.14.1" in s)

    assert "--force-reinstall" in torch_step("")  # it came from the package index (the CPU wheel)
    assert "--force-reinstall" not in torch_step(run.CUDA_INDEX)  # same source: nothing to replace
    assert "--force-reinstall" not in torch_step(None)  # a first install


def test_files_and_options_go_to_the_app(monkeypatch, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    ran = []
    monkeypatch.setattr(run, "ensure_setup", lambda host: run.Setup(host, venv=tmp_path / ".venv"))
    monkeypatch.setattr(run, "run", lambda cmd, env=None: ran.append(cmd) or 0)
    assert run.main([str(photo)]) == 0
    assert ran[-1][0].endswith("akapen") and ran[-1][1:] == [str(photo)]
    assert run.main(["--version"]) == 0 and ran[-1][1:] == ["--version"]
    assert run.main(["no-such-command"]) == 2
