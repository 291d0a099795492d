"""What a server's ``/object_info`` says about a node type's inputs: their order, options,
choices, and which are widgets (values saved in the workflow) or upload buttons."""

from __future__ import annotations

from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def spec_inputs(spec: Any) -> list[tuple[str, list]]:
    """(name, spec) of a node type's inputs in the order its widgets appear (required, then optional)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("input"), dict):
        return []
    out = []
    order = spec.get("input_order") if isinstance(spec.get("input_order"), dict) else {}
    for part in ("required", "optional"):
        group = spec["input"].get(part)
        if not isinstance(group, dict):
            continue
        names = order.get(part) if isinstance(order.get(part), list) else list(group)
        out += [(n, group[n]) for n in names if n in group and isinstance(group[n], list | tuple) and group[n]]
    return out


def spec_options(ispec: list) -> dict:
    return ispec[1] if len(ispec) > 1 and isinstance(ispec[1], dict) else {}


def combo_options(ispec: Any) -> list | None:
    """The choices of a COMBO input spec (old style: a list first; new style: "COMBO" + options)."""
    if not isinstance(ispec, list | tuple) or not ispec:
        return None
    if isinstance(ispec[0], list):
        return ispec[0]
    if ispec[0] == "COMBO" and isinstance(spec_options(ispec).get("options"), list):
        return spec_options(ispec)["options"]
    return None


def input_spec(object_info: dict | None, class_type: str, name: str) -> list | None:
    for n, s in spec_inputs((object_info or {}).get(class_type)):
        if n == name:
            return s
    return None


def is_widget(ispec: list) -> bool:
    if spec_options(ispec).get("forceInput"):
        return False
    return isinstance(ispec[0], list) or (isinstance(ispec[0], str) and ispec[0] in WIDGET_TYPES)


def is_upload(ispec: list) -> bool:
    """True for an input with an upload button (LoadImage's image): its file is not a model."""
    return any(k.endswith("_upload") and v for k, v in spec_options(ispec).items())
