"""The shape, enforced: canvas/ imports neither Qt nor torch nor inference; inference/ imports
no Qt and not canvas; only desktop/ imports Qt. Exits non-zero naming every violation."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
RULES = {
    "canvas": QT + ("torch", "diffusers", "transformers", "inference", "desktop"),
    "inference": QT + ("canvas", "desktop"),
}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def main() -> int:
    problems = []
    for pkg, banned in RULES.items():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, mod in imported_modules(path):
                top = mod.split(".")[0]
                if top in banned:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {pkg}/ must not import {mod}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"layering: {len(problems)} violation(s)", file=sys.stderr)
        return 1
    print("layering: canvas/ and inference/ keep to their imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
