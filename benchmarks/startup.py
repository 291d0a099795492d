"""Issue 22 figures: how long Akapen takes to start, against the floor of the same machine.

Run: .venv/bin/python benchmarks/startup.py [--repeat 5]

- window: process start → the main window's first paint (``AKAPEN_STARTUP_PROBE=1`` makes the app print the
  time of its first paint event and quit; offscreen, a fresh HOME), against ``python -c "import
  PySide6.QtWidgets"``;
- ``akapen backends``, ``akapen models`` and a classical headless edit (640×427, style-pencil), whole commands,
  against ``python -c "import numpy, cv2"``.
Medians of --repeat runs, in seconds, and each as a ratio to its floor. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=env["PYTHONPATH"], timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr[-1000:]}")
    return time.time() - t0


def first_paint(env: dict) -> float:
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "desktop.headless.cli"], capture_output=True, text=True,
                       env={**env, "AKAPEN_STARTUP_PROBE": "1"}, cwd=env["PYTHONPATH"], timeout=300)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("AKAPEN_FIRST_PAINT")), None)
    if line is None:
        raise SystemExit(f"the window did not report its first paint: {r.stderr[-1000:]}")
    return float(line.split()[1]) - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tree", type=Path, default=ROOT, help="another checkout to measure (a before/after)")
    args, _ = ap.parse_known_args()
    tree = args.tree.resolve()
    from PIL import Image

    from tests.inference.photos import astronaut

    home = Path(tempfile.mkdtemp(prefix="akapen-startup-"))
    photo = home / "photo.png"
    Image.fromarray(astronaut()).convert("RGB").resize((640, 427)).save(photo)
    env = {**os.environ, "PYTHONPATH": str(tree), "HOME": str(home), "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_STATE_HOME": str(home / ".local/state"), "XDG_CACHE_HOME": str(home / ".cache")}
    for k in ("HF_HOME", "HF_HUB_CACHE", "AKAPEN_MODEL_PATH"):
        env.pop(k, None)
    py = sys.executable
    cases = {
        "floor: import PySide6.QtWidgets": [py, "-c", "import PySide6.QtWidgets"],
        "floor: import numpy, cv2": [py, "-c", "import numpy, cv2"],
        "akapen backends": [py, "-m", "desktop.headless.cli", "backends"],
        "akapen models": [py, "-m", "desktop.headless.cli", "models"],
        "classical edit (640×427, style-pencil)": [py, "-m", "desktop.headless.cli", "edit", str(photo), "-o",
                                                   str(home / "out.png"), "--task", "style-pencil"],
    }
    results: dict[str, float] = {}
    for name, cmd in cases.items():
        timed(cmd, env)  # warm the file cache once
        results[name] = statistics.median(timed(cmd, env) for _ in range(args.repeat))
    first_paint(env)
    results["window: first paint"] = statistics.median(first_paint(env) for _ in range(args.repeat))
    qt, cv = results["floor: import PySide6.QtWidgets"], results["floor: import numpy, cv2"]
    print(f"{tree}: {os.cpu_count()} cores; medians of {args.repeat}")
    for name, secs in results.items():
        floor = qt if name.startswith("window") else cv if not name.startswith("floor") else None
        ratio = f"  {secs / floor:5.1f}× the floor" if floor else ""
        print(f"{name:<42} {secs:6.2f} s{ratio}")
    print("goals: window ≤ 1.5 s; akapen backends, akapen models, a classical edit ≤ 1.0 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
