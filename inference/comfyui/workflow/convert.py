"""UI format → API prompt, the way ComfyUI's own front end does it.

Each node's ``widgets_values`` are paired with the input names the server lists for that node
type in ``/object_info``, links become ``[source_id, output_slot]``, UI-only nodes (notes,
reroutes, primitives) dissolve, muted nodes drop out, bypassed ones pass their inputs through,
and subgraphs are expanded with inner ids ``"outer:inner"``.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from typing import Any

from inference.comfyui.workflow.node_specs import (
    WIDGET_TYPES,
    combo_options,
    is_upload,
    is_widget,
    spec_inputs,
    spec_options,
)
from inference.comfyui.workflow.reading import (
    MAX_NODES,
    SEED_NAMES,
    WorkflowError,
    id_key,
    is_api_format,
    subgraph_list,
)

MAX_DEPTH = 8  # subgraphs inside subgraphs; ComfyUI's own templates use 2
UI_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}  # never sent to the server
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}  # "control after generate"
UPLOAD_VALUES = {"image", "upload", "", None}  # what the upload button widget stores
MUTED, BYPASSED = 2, 4
MISSING = object()


class _Value:
    """A constant where a link was: a PrimitiveNode's value, or what a subgraph node holds for an
    unlinked input (MISSING: nothing, the inner node keeps its own widget value)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _links(raw: Any) -> dict[str, tuple[str, int]]:
    """Link id → (origin node id, origin slot), from list or dict link entries."""
    out = {}
    for ln in raw if isinstance(raw, list) else ():
        if isinstance(ln, list) and len(ln) >= 5:
            lid, origin, slot = ln[0], ln[1], ln[2]
        elif isinstance(ln, dict):
            lid, origin, slot = ln.get("id"), ln.get("origin_id"), ln.get("origin_slot")
        else:
            continue
        if isinstance(slot, int) and isinstance(origin, int | str) and isinstance(lid, int | str):
            out[str(lid)] = (str(origin), slot)
    return out


def _node_map(nodes: Any, where: str) -> dict[str, dict]:
    if not isinstance(nodes, list):
        raise WorkflowError(f"{where}: \"nodes\" must be a list")
    out = {}
    for i, n in enumerate(nodes):
        if not isinstance(n, dict) or not isinstance(n.get("id"), int | str) or not isinstance(n.get("type"), str):
            raise WorkflowError(f"{where}: node #{i + 1} is not a node (it needs an \"id\" and a \"type\")")
        out[str(n["id"])] = n
    return out


def _entries(node: dict) -> list[dict]:
    ins = node.get("inputs")
    return [e for e in ins if isinstance(e, dict)] if isinstance(ins, list) else []


def _among(value: Any, values: set) -> bool:
    return (value is None or isinstance(value, str)) and value in values


def _seedish(name: str) -> bool:
    return name.rstrip("_0123456789") in SEED_NAMES


class _Scope:
    """One graph level: the top graph, or one subgraph node's expansion (ids prefixed "outer:")."""

    def __init__(self, prefix: str, nodes: dict, links: dict, *, parent: _Scope | None = None,
                 instance: dict | None = None, definition: dict | None = None, depth: int = 0) -> None:
        self.prefix, self.nodes, self.links = prefix, nodes, links
        self.parent, self.instance, self.definition, self.depth = parent, instance, definition, depth
        self.proxy: dict[tuple[str, str], Any] = {}  # (inner node id, widget) → value held by the subgraph node
        self.promoted: dict[str, Any] = {}  # subgraph input name → value held by the subgraph node
        if instance is not None and definition is not None:
            self._read_instance_values()

    def input_names(self) -> list[str]:
        ins = self.definition.get("inputs") if self.definition else None
        return [i.get("name") if isinstance(i, dict) else None for i in ins] if isinstance(ins, list) else []

    def output_link(self, slot: int) -> str | None:
        outs = self.definition.get("outputs") if self.definition else None
        if isinstance(outs, list) and 0 <= slot < len(outs) and isinstance(outs[slot], dict):
            ids = outs[slot].get("linkIds")
            if isinstance(ids, list) and ids:
                return str(ids[0])
        return None

    def _read_instance_values(self) -> None:
        """The values a subgraph node holds for its promoted widgets.

        Newer front ends list them in ``properties.proxyWidgets`` ([inner id, widget] pairs, the
        value living in the inner node unless the subgraph node saved one); older ones give the
        subgraph node one widget per subgraph input that feeds a widget, in input order.
        """
        wv = self.instance.get("widgets_values")
        wv = wv if isinstance(wv, list) else []
        props = self.instance.get("properties")
        proxy = props.get("proxyWidgets") if isinstance(props, dict) else None
        if isinstance(proxy, str):
            try:
                proxy = json.loads(proxy)
            except ValueError:
                proxy = None
        if isinstance(proxy, list) and proxy:
            pairs = [p for p in proxy if isinstance(p, list | tuple) and len(p) == 2]
            if len(pairs) == len(wv):
                for (nid, name), value in zip(pairs, wv, strict=True):
                    if name == "control_after_generate":
                        continue
                    if str(nid) == "-1":
                        self.promoted[str(name)] = value
                    else:
                        self.proxy[(str(nid), str(name))] = value
            return
        names = self._widget_inputs()
        i = 0
        for name in names:
            if i >= len(wv):
                break
            self.promoted[name] = wv[i]
            i += 1
            if _seedish(name) and len(wv) > len(names) and i < len(wv) and _among(wv[i], CONTROL_VALUES):
                i += 1

    def _widget_inputs(self) -> list[str]:
        """Subgraph inputs that feed a widget of an inner node (these get a widget outside)."""
        links = self.definition.get("links")
        targets = {}
        for ln in links if isinstance(links, list) else ():
            if isinstance(ln, dict):
                targets[str(ln.get("id"))] = (str(ln.get("target_id")), ln.get("target_slot"))
            elif isinstance(ln, list) and len(ln) >= 5:
                targets[str(ln[0])] = (str(ln[3]), ln[4])
        names = []
        for inp in self.definition.get("inputs") or ():
            if not isinstance(inp, dict) or not isinstance(inp.get("name"), str):
                continue
            ids = inp.get("linkIds") if isinstance(inp.get("linkIds"), list) else []
            widget = not ids and inp.get("type") in WIDGET_TYPES
            for lid in ids:
                tid, tslot = targets.get(str(lid), (None, None))
                entries = _entries(self.nodes.get(tid, {}))
                if isinstance(tslot, int) and 0 <= tslot < len(entries) and entries[tslot].get("widget"):
                    widget = True
            if widget:
                names.append(inp["name"])
        return names


class _Converter:
    def __init__(self, wf: dict, object_info: dict) -> None:
        self.info = object_info
        self.defs: dict[str, dict] = {}
        for s in subgraph_list(wf):
            if not isinstance(s, dict) or not isinstance(s.get("id"), str):
                raise WorkflowError("a subgraph definition of the workflow has no id")
            self.defs[s["id"]] = s
        self.count = len(wf["nodes"])
        self.top = _Scope("", _node_map(wf["nodes"], "the workflow"), _links(wf.get("links")))
        self.scopes: dict[str, _Scope] = {}
        self.steps = 0
        self.out: dict[str, dict] = {}

    def inner(self, scope: _Scope, node: dict) -> _Scope:
        """The expansion of subgraph node ``node`` of ``scope``."""
        prefix = f"{scope.prefix}{node['id']}:"
        if prefix in self.scopes:
            return self.scopes[prefix]
        if scope.depth + 1 > MAX_DEPTH:
            raise WorkflowError(f"subgraphs are nested more than {MAX_DEPTH} deep (or a subgraph contains itself)")
        d = self.defs[node["type"]]
        name = d.get("name") or node["type"]
        nodes = _node_map(d.get("nodes"), f"subgraph {name!r}")
        self.count += len(nodes)
        if self.count > MAX_NODES:
            raise WorkflowError(f"expanding the subgraphs gives more than {MAX_NODES} nodes")
        sc = _Scope(prefix, nodes, _links(d.get("links")), parent=scope, instance=node, definition=d,
                    depth=scope.depth + 1)
        self.scopes[prefix] = sc
        return sc

    def resolve(self, scope: _Scope, link: Any):
        """Where the value on ``link`` comes from: ``[node_id, slot]``, a _Value, or None (nothing)."""
        lid, hops = str(link), 0
        while True:
            hops += 1
            if hops > 2 * self.count + 16:
                raise WorkflowError("the workflow's links form a loop (through reroutes, bypassed nodes or subgraphs)")
            self.steps += 1
            if self.steps > 2_000_000:
                raise WorkflowError("the workflow's links are too tangled to convert (over two million hops)")
            origin = scope.links.get(lid)
            if origin is None:
                return None
            oid, slot = origin
            if oid == "-10" and scope.instance is not None:  # a subgraph input: continue outside
                names = scope.input_names()
                name = names[slot] if 0 <= slot < len(names) else None
                entry = next((e for e in _entries(scope.instance) if e.get("name") == name), None)
                if entry is not None and entry.get("link") is not None:
                    scope, lid = scope.parent, str(entry["link"])
                    continue
                return _Value(scope.promoted.get(name, MISSING))
            node = scope.nodes.get(oid)
            if node is None:
                return None
            mode, kind = node.get("mode", 0), node["type"]
            if mode == MUTED or kind in ("Note", "MarkdownNote"):
                return None
            if mode == BYPASSED:
                nxt = self._bypass_input(node, slot)
                if nxt is None:
                    return None
                lid = nxt
                continue
            if kind == "Reroute":
                entries = _entries(node)
                if not entries or entries[0].get("link") is None:
                    return None
                lid = str(entries[0]["link"])
                continue
            if kind == "PrimitiveNode":
                wv = node.get("widgets_values")
                return _Value(wv[0]) if isinstance(wv, list) and wv else None
            if kind in self.defs:
                sc = self.inner(scope, node)
                nxt = sc.output_link(slot)
                if nxt is None:
                    return None
                scope, lid = sc, nxt
                continue
            return [scope.prefix + oid, slot]

    @staticmethod
    def _bypass_input(node: dict, slot: int) -> str | None:
        """A bypassed node passes an input of the output's type through (same slot first)."""
        outs = node.get("outputs") if isinstance(node.get("outputs"), list) else []
        otype = outs[slot].get("type") if 0 <= slot < len(outs) and isinstance(outs[slot], dict) else None
        entries = _entries(node)
        order = ([slot] if slot < len(entries) else []) + list(range(len(entries)))
        for i in order:
            e = entries[i]
            if e.get("link") is not None and (otype in (None, "*") or e.get("type") in (otype, "*")):
                return str(e["link"])
        return None

    def widgets(self, scope: _Scope, lid: str, node: dict, spec: dict) -> dict:
        """Widget input name → value: the node's ``widgets_values`` paired with the server's input names."""
        names = [(n, s) for n, s in spec_inputs(spec) if is_widget(s)]
        wv = node.get("widgets_values")
        named = node.get("widgets_values_named")
        named = named if isinstance(named, dict) else wv if isinstance(wv, dict) else None
        values: dict[str, Any] = {}
        if named is not None:
            values = {n: named[n] for n, _ in names if n in named}
        elif isinstance(wv, list):
            i = 0
            for n, s in names:
                if i >= len(wv):
                    break
                values[n] = wv[i]
                i += 1
                opts = spec_options(s)
                control = opts.get("control_after_generate") or (s[0] == "INT" and n in SEED_NAMES)
                if control and i < len(wv) and _among(wv[i], CONTROL_VALUES):
                    i += 1
                if is_upload(s) and i < len(wv) and _among(wv[i], UPLOAD_VALUES):
                    i += 1
        values = {n: {"__value__": v} if isinstance(v, list) else v for n, v in values.items()}  # not a link
        for n, s in names:
            if n not in values:  # a widget newer than the saved node: the server's default
                opts, choices = spec_options(s), combo_options(s)
                if "default" in opts:
                    values[n] = opts["default"]
                elif choices:
                    values[n] = choices[0]
            if (lid, n) in scope.proxy:
                values[n] = scope.proxy[(lid, n)]
        return values

    def node_prompt(self, scope: _Scope, lid: str, node: dict) -> dict:
        spec = self.info.get(node["type"])
        inputs = self.widgets(scope, lid, node, spec) if isinstance(spec, dict) else {}
        for e in _entries(node):
            name, link = e.get("name"), e.get("link")
            if not isinstance(name, str) or link is None:
                continue
            src = self.resolve(scope, link)
            if isinstance(src, list):
                inputs[name] = src
            elif isinstance(src, _Value) and src.value is not MISSING:
                inputs[name] = src.value
        title = node.get("title") if isinstance(node.get("title"), str) else node["type"]
        return {"class_type": node["type"], "inputs": inputs, "_meta": {"title": title}}

    def emit(self, scope: _Scope) -> None:
        for lid, node in scope.nodes.items():
            if node.get("mode", 0) in (MUTED, BYPASSED) or node["type"] in UI_ONLY:
                continue
            if node["type"] in self.defs:
                self.emit(self.inner(scope, node))
            else:
                self.out[scope.prefix + lid] = self.node_prompt(scope, lid, node)


def ui_to_api(wf: dict, object_info: dict) -> dict:
    """A UI-format workflow → the API prompt ComfyUI's front end would queue for it.

    ``object_info`` is the server's ``/object_info``: it names each node type's widgets, in the
    order the UI saved their values. Node types it does not list are kept (so that
    :func:`missing_node_types` names them) with only their linked inputs. An API-format
    workflow is returned as a copy.
    """
    if is_api_format(wf):
        check_acyclic(wf)
        return copy.deepcopy(wf)
    if not isinstance(wf, dict) or not isinstance(wf.get("nodes"), list):
        raise WorkflowError("this JSON is not a ComfyUI workflow (no \"nodes\" list)")
    if not isinstance(object_info, dict):
        raise WorkflowError("the server's node list (/object_info) is not a JSON object")
    try:
        conv = _Converter(wf, object_info)
        conv.emit(conv.top)
    except WorkflowError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        raise WorkflowError(f"the workflow is malformed and cannot be converted ({type(exc).__name__}: {exc}); "
                            "save it again from ComfyUI") from None
    if not conv.out:
        raise WorkflowError("the workflow has no nodes to run (they are all notes, muted or bypassed)")
    check_acyclic(conv.out)
    return conv.out


def check_acyclic(prompt: dict) -> None:
    """Raise WorkflowError when the prompt's links go round in a loop (ComfyUI could never run it)."""
    pending = {nid: {str(v[0]) for v in n["inputs"].values() if isinstance(v, list) and len(v) == 2
                     and str(v[0]) in prompt} for nid, n in prompt.items()}
    users: dict[str, list[str]] = {}
    for nid, deps in pending.items():
        for d in deps:
            users.setdefault(d, []).append(nid)
    ready = deque(nid for nid, deps in pending.items() if not deps)
    done = 0
    while ready:
        nid = ready.popleft()
        done += 1
        for u in users.get(nid, ()):
            pending[u].discard(nid)
            if not pending[u]:
                ready.append(u)
    if done < len(prompt):
        stuck = sorted((nid for nid, deps in pending.items() if deps), key=id_key)
        raise WorkflowError(f"the workflow's links form a loop through nodes {', '.join(stuck[:8])}; "
                            "ComfyUI cannot run a graph that feeds itself")
