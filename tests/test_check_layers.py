"""The layering check (tests/check_layers.py) holds on this checkout, and catches what it is for:
a banned import in any form (absolute, relative, inside a function) and an import cycle."""

from __future__ import annotations

import textwrap

from tests.check_layers import ROOT, RULES, check


def test_this_checkout_keeps_to_its_packages_and_rooms():
    report, problems = check(ROOT)
    assert problems == []
    assert len(report) == len(RULES) + 3  # every rule, the cycles at load, the late cycles, the totals
    assert all(line.startswith("ok") for line in report[:-1])


def write(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_banned_imports_and_cycles_are_named_with_their_file_and_line(tmp_path):
    write(tmp_path, {
        "canvas/__init__.py": "",
        "canvas/a.py": "from canvas import b\n",
        "canvas/b.py": """\
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from canvas.a import Thing
            """,
        "inference/__init__.py": "",
        "inference/x.py": "def later():\n    import inference.y\n",  # inside a function: a late cycle
        "inference/y.py": "import inference.x\nimport torch\n",
        "desktop/__init__.py": "",
        "desktop/app.py": "",
        "desktop/jobs.py": "",
        "desktop/window/__init__.py": "",
        "desktop/window/main_window.py": "",
        "desktop/tools/__init__.py": "",
        "desktop/tools/brush.py": "def host():\n    from ..window import main_window\n",
        "desktop/panels/__init__.py": "",
        "desktop/panels/edit.py": "import desktop.app\nfrom desktop.tools import brush\n",
        "desktop/controllers/__init__.py": "",
        "desktop/controllers/files.py": "from desktop.window.main_window import MainWindow\n",
        "desktop/headless/__init__.py": "",
        "desktop/headless/cli.py": "def main():\n    from desktop.app import run_app\n",
        "desktop/headless/edit_request.py": "from PySide6.QtCore import QObject\nfrom desktop import jobs\n",
    })
    report, problems = check(tmp_path)
    assert sorted(p.split(" — ")[0] for p in problems) == sorted([
        "desktop/controllers/files.py:1: desktop.window.main_window",
        "desktop/headless/edit_request.py:1: PySide6.QtCore.QObject",
        "desktop/headless/edit_request.py:2: desktop.jobs",
        "desktop/panels/edit.py:1: desktop.app",
        "desktop/panels/edit.py:2: desktop.tools.brush",
        "desktop/tools/brush.py:2: desktop.window.main_window",
        "import cycle: canvas.a -> canvas.b (they import each other when loaded)",
        "import cycle: inference.x -> inference.y (through imports inside functions: a module that both need "
        "belongs in a third module, or pass the function in)",
    ])
    assert sum(line.startswith("FAIL") for line in report) == 7
    assert "inference/y.py" not in " ".join(problems)  # torch is only banned in canvas
