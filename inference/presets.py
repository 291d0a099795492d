"""Task presets (``resources/presets.json``): an instruction template per task and, where one
exists, the classical task that implements it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from inference.errors import InvalidRequest

PRESETS_FILE = Path(__file__).resolve().parent.parent / "resources" / "presets.json"
# the classical backend's tasks (defined here, light, so the command line's help names them without OpenCV)
CLASSICAL_TASKS = ("refine-collage", "remove", "stylise", "replace-background", "extend")
BLANK = re.compile(r"\{[^{}\n]+\}")  # a preset's blank for the user to fill in, e.g. "{new object}"


def first_blank(text: str) -> re.Match | None:
    """The first preset blank left in ``text`` (sent as it is, a model would read the braces)."""
    return BLANK.search(text)


@dataclass(frozen=True)
class Preset:
    id: str
    label: str
    instruction: str
    classical_task: str | None = None
    classical_params: dict[str, Any] = field(default_factory=dict)
    annotation_use: frozenset[str] = frozenset()
    references: int = 0

    @property
    def has_placeholders(self) -> bool:
        return first_blank(self.instruction) is not None


def load_presets(path: Path | str | None = None) -> list[Preset]:
    p = Path(path) if path is not None else PRESETS_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequest(f"{p}: the task presets cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise InvalidRequest(f"{p}: the task presets are not valid JSON ({exc})") from exc
    out = []
    for d in data.get("presets", []):
        cl = d.get("classical") or {}
        out.append(Preset(
            id=str(d["id"]), label=str(d.get("label", d["id"])), instruction=str(d.get("instruction", "")),
            classical_task=cl.get("task"), classical_params=dict(cl.get("params") or {}),
            annotation_use=frozenset(d.get("annotation_use") or ()), references=int(d.get("references", 0)),
        ))
    return out


@lru_cache(maxsize=1)
def _default() -> tuple[Preset, ...]:
    return tuple(load_presets())


def presets() -> list[Preset]:
    return list(_default())


def get_preset(preset_id: str) -> Preset:
    for p in _default():
        if p.id == preset_id:
            return p
    raise InvalidRequest(f"no task preset {preset_id!r}; the presets are: {', '.join(p.id for p in _default())}")


def resolve_task(name: str, caps) -> tuple[str | None, dict[str, Any], Preset | None]:
    """A ``--task`` name → (task for the backend, its parameters, the preset if it was one).

    A task the backend implements passes through. A preset id maps to its classical task for a
    backend that does not read instructions; a backend that reads them gets the preset's
    instruction instead (task None).
    """
    if name in caps.tasks:
        return name, {}, None
    preset = get_preset(name)
    if not caps.reads_instruction:
        if preset.classical_task is None or preset.classical_task not in caps.tasks:
            raise InvalidRequest(f"the “{preset.label}” preset needs an editing model; this backend only "
                                 f"does: {', '.join(caps.tasks)}")
        return preset.classical_task, dict(preset.classical_params), preset
    return None, model_params(preset), preset


def model_params(preset: Preset | None) -> dict[str, Any]:
    """What a preset tells a model backend beside its instruction: refining a collage makes each piece's
    identity strength count (:mod:`inference.collage.identity`)."""
    return {"refine": True} if preset is not None and preset.id == "refine-collage" else {}
