"""Reading a ComfyUI workflow file: the JSON, within size and node limits, in either shape.

Here too what the other parts share: :class:`WorkflowError`, the seed range, the seed input
names and the sort order of node ids.
"""

from __future__ import annotations

import json
from typing import Any

from inference.errors import InvalidRequest

MAX_BYTES = 32 * 1024 * 1024
MAX_NODES = 10_000
SEED_MAX = 2**64 - 1  # ComfyUI's seed range: 0 .. 0xffffffffffffffff
SEED_NAMES = {"seed", "noise_seed"}


class WorkflowError(InvalidRequest):
    """The workflow cannot be read or used as given; the message says what to fix."""


def parse_workflow(data: bytes | str | dict) -> dict:
    """JSON text (or an already parsed dict) → the workflow dict, within size and node limits."""
    if isinstance(data, bytes | bytearray | str):
        if len(data) > MAX_BYTES:
            raise WorkflowError(f"the workflow is larger than {MAX_BYTES // 2**20} MB: not a ComfyUI workflow")
        try:
            data = json.loads(data)
        except UnicodeDecodeError:
            raise WorkflowError("the workflow file is not text (UTF-8 JSON)") from None
        except json.JSONDecodeError as exc:
            raise WorkflowError(f"the workflow is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg})") from None
        except RecursionError:
            raise WorkflowError("the workflow JSON is nested too deeply to be a ComfyUI workflow") from None
    if not isinstance(data, dict):
        raise WorkflowError("the workflow must be a JSON object (a ComfyUI workflow, UI or API format)")
    if is_api_format(data):
        count = len(data)
    elif isinstance(data.get("nodes"), list):
        subs = subgraph_list(data)
        count = len(data["nodes"]) + sum(len(s["nodes"]) for s in subs
                                         if isinstance(s, dict) and isinstance(s.get("nodes"), list))
    else:
        raise WorkflowError("this JSON is not a ComfyUI workflow: it has neither \"nodes\" (UI format) nor "
                            "nodes with \"class_type\" (API format)")
    if count > MAX_NODES:
        raise WorkflowError(f"the workflow has {count} nodes; more than {MAX_NODES} is not supported")
    return data


def is_api_format(wf: Any) -> bool:
    """True for an API prompt: every entry a node with a ``class_type`` and ``inputs``."""
    return (isinstance(wf, dict) and bool(wf) and "nodes" not in wf
            and all(isinstance(v, dict) and isinstance(v.get("class_type"), str) and isinstance(v.get("inputs"), dict)
                    for v in wf.values()))


def subgraph_list(wf: dict) -> list:
    defs = wf.get("definitions")
    subs = defs.get("subgraphs") if isinstance(defs, dict) else None
    return subs if isinstance(subs, list) else []


def id_key(node_id: str) -> tuple:
    """Sort key of a prompt node id: "2" before "10", "3:1" (inside subgraph node 3) after "3"."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in node_id.split(":"))
