"""ComfyUI workflow JSON: reading it, turning the UI format into an API prompt, finding its inputs.

ComfyUI saves workflows in two shapes. The *UI format* (what the editor saves: ``nodes``,
``links``, widget values by position, subgraphs under ``definitions.subgraphs``) and the *API
format* (what ``POST /prompt`` takes: ``{node_id: {"class_type", "inputs"}}``). A UI workflow
becomes a prompt the way ComfyUI's own front end does it: each node's ``widgets_values`` are
paired with the input names the server lists for that node type in ``/object_info``, links
become ``[source_id, output_slot]``, UI-only nodes (notes, reroutes, primitives) dissolve,
muted nodes drop out, bypassed ones pass their inputs through, and subgraphs are expanded with
inner ids ``"outer:inner"``.

Then :func:`analyse` says where the prompt's image inputs, prompt text, seeds, steps, guidance
and outputs are, :func:`apply` sets them for one job, and :func:`missing_node_types` /
:func:`missing_models` / :func:`unknown_choices` say what a server lacks before anything is sent.
Everything here is pure: no network, no files. Malformed input raises :class:`WorkflowError`.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from inference.errors import InvalidRequest

MAX_BYTES = 32 * 1024 * 1024
MAX_NODES = 10_000
MAX_DEPTH = 8  # subgraphs inside subgraphs; ComfyUI's own templates use 2
SEED_MAX = 2**64 - 1  # ComfyUI's seed range: 0 .. 0xffffffffffffffff
UI_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}  # never sent to the server
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}  # "control after generate"
UPLOAD_VALUES = {"image", "upload", "", None}  # what the upload button widget stores
SEED_NAMES = {"seed", "noise_seed"}
MODEL_EXTS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
MUTED, BYPASSED = 2, 4
KNOWN_OUTPUTS = {"SaveImage", "PreviewImage"}
KNOWN_TEXT = {"CLIPTextEncode": ("text",), "TextEncodeQwenImageEdit": ("prompt",),
              "TextEncodeQwenImageEditPlus": ("prompt",), "CLIPTextEncodeFlux": ("clip_l", "t5xxl"),
              "CLIPTextEncodeSD3": ("clip_l", "clip_g", "t5xxl"), "CLIPTextEncodeSDXL": ("text_g", "text_l")}


class WorkflowError(InvalidRequest):
    """The workflow cannot be read or used as given; the message says what to fix."""


# --- reading ----------------------------------------------------------------------------------------
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
        subs = _subgraph_list(data)
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


def _subgraph_list(wf: dict) -> list:
    defs = wf.get("definitions")
    subs = defs.get("subgraphs") if isinstance(defs, dict) else None
    return subs if isinstance(subs, list) else []


# --- object_info helpers ------------------------------------------------------------------------------
def _spec_inputs(spec: Any) -> list[tuple[str, list]]:
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


def _options(ispec: list) -> dict:
    return ispec[1] if len(ispec) > 1 and isinstance(ispec[1], dict) else {}


def combo_options(ispec: Any) -> list | None:
    """The choices of a COMBO input spec (old style: a list first; new style: "COMBO" + options)."""
    if not isinstance(ispec, list | tuple) or not ispec:
        return None
    if isinstance(ispec[0], list):
        return ispec[0]
    if ispec[0] == "COMBO" and isinstance(_options(ispec).get("options"), list):
        return _options(ispec)["options"]
    return None


def input_spec(object_info: dict | None, class_type: str, name: str) -> list | None:
    for n, s in _spec_inputs((object_info or {}).get(class_type)):
        if n == name:
            return s
    return None


def _is_widget(ispec: list) -> bool:
    if _options(ispec).get("forceInput"):
        return False
    return isinstance(ispec[0], list) or (isinstance(ispec[0], str) and ispec[0] in WIDGET_TYPES)


# --- UI format → API prompt ---------------------------------------------------------------------------
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


def _uploads(ispec: list) -> bool:
    """True for an input with an upload button (LoadImage's image): its file is not a model."""
    return any(k.endswith("_upload") and v for k, v in _options(ispec).items())


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
        for s in _subgraph_list(wf):
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
        names = [(n, s) for n, s in _spec_inputs(spec) if _is_widget(s)]
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
                opts = _options(s)
                control = opts.get("control_after_generate") or (s[0] == "INT" and n in SEED_NAMES)
                if control and i < len(wv) and _among(wv[i], CONTROL_VALUES):
                    i += 1
                if _uploads(s) and i < len(wv) and _among(wv[i], UPLOAD_VALUES):
                    i += 1
        values = {n: {"__value__": v} if isinstance(v, list) else v for n, v in values.items()}  # not a link
        for n, s in names:
            if n not in values:  # a widget newer than the saved node: the server's default
                opts, choices = _options(s), combo_options(s)
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
        stuck = sorted((nid for nid, deps in pending.items() if deps), key=_id_key)
        raise WorkflowError(f"the workflow's links form a loop through nodes {', '.join(stuck[:8])}; "
                            "ComfyUI cannot run a graph that feeds itself")


# --- what a server lacks ---------------------------------------------------------------------------
def missing_node_types(prompt: dict, object_info: dict) -> list[str]:
    """Node types the prompt uses that the server does not have (custom nodes to install)."""
    return sorted({n["class_type"] for n in prompt.values() if n["class_type"] not in object_info})


@dataclass(frozen=True)
class MissingModel:
    """A model file a node asks for that the server does not list."""

    node_id: str
    class_type: str
    input_name: str
    filename: str
    folder: str  # best guess of the ComfyUI models folder ("vae", "diffusion_models", ...); "" unknown

    def __str__(self) -> str:
        where = f"{self.folder}/{self.filename}" if self.folder else self.filename
        return f"{where} ({self.class_type})"


_FOLDER_BY_INPUT = {"unet_name": "diffusion_models", "vae_name": "vae", "lora_name": "loras",
                    "ckpt_name": "checkpoints", "control_net_name": "controlnet", "style_model_name": "style_models",
                    "gligen_name": "gligen", "hypernetwork_name": "hypernetworks",
                    "audio_encoder_name": "audio_encoders"}
_FOLDER_BY_CLASS = (("CLIPVision", "clip_vision"), ("Lora", "loras"), ("VAE", "vae"), ("ControlNet", "controlnet"),
                    ("CLIP", "text_encoders"), ("Checkpoint", "checkpoints"), ("UNET", "diffusion_models"),
                    ("Diffusion", "diffusion_models"), ("Upscale", "upscale_models"), ("Style", "style_models"),
                    ("Patch", "model_patches"))


def model_folder(class_type: str, input_name: str) -> str:
    """Best guess of the ComfyUI models folder a loader's file input reads from."""
    if input_name.startswith("clip_name"):
        return "clip_vision" if "CLIPVision" in class_type else "text_encoders"
    if class_type.startswith("LoraLoader"):
        return "loras"
    if input_name in _FOLDER_BY_INPUT:
        return _FOLDER_BY_INPUT[input_name]
    return next((folder for key, folder in _FOLDER_BY_CLASS if key in class_type), "")


def _is_model_input(class_type: str, name: str, value: Any, ispec: list) -> bool:
    if not isinstance(value, str) or _uploads(ispec):
        return False  # LoadImage's image is an uploaded picture, not a model
    return value.lower().endswith(MODEL_EXTS) or (name.endswith("_name") and "Loader" in class_type)


def _choices(prompt: dict, object_info: dict):
    """(node id, node, input name, value, choices) of every COMBO value the prompt sets."""
    for nid, node in prompt.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                continue
            ispec = input_spec(object_info, node["class_type"], name)
            choices = combo_options(ispec)
            if choices is not None:
                yield nid, node, name, value, choices, ispec


def missing_models(prompt: dict, object_info: dict) -> list[MissingModel]:
    """The model files the prompt's loaders ask for that the server does not list."""
    out = []
    for nid, node, name, value, choices, ispec in _choices(prompt, object_info):
        if _is_model_input(node["class_type"], name, value, ispec) and value not in choices:
            out.append(MissingModel(nid, node["class_type"], name, value, model_folder(node["class_type"], name)))
    return out


def unknown_choices(prompt: dict, object_info: dict) -> list[str]:
    """Choices (not model files or images) the server does not offer: its ComfyUI is older than the graph.

    E.g. Qwen-Image-Edit-2511's ``reference_latents_method`` "index_timestep_zero", which
    ComfyUI 0.3.75 does not have. Each line names the node, the input and what it offers.
    """
    out = []
    for nid, node, name, value, choices, ispec in _choices(prompt, object_info):
        if _uploads(ispec) or _is_model_input(node["class_type"], name, value, ispec) or value in choices:
            continue
        offered = ", ".join(map(str, choices[:12])) + (", …" if len(choices) > 12 else "")
        out.append(f"{node['class_type']} (node {nid}) {name} {value!r}: this server offers {offered or 'nothing'}; "
                   "update its ComfyUI")
    return out


# --- where the inputs are ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """One settable input of a prompt: ``prompt[node_id]["inputs"][input_name]``."""

    node_id: str
    class_type: str
    input_name: str
    title: str
    value: Any


@dataclass(frozen=True)
class WorkflowInfo:
    """Where a prompt takes its images, text, seed, steps and guidance, and where its images come out.

    ``guidance_inputs`` are FLUX-style ``guidance`` inputs when the graph has them (its ``cfg``
    then stays as the workflow set it, usually 1), else the samplers' ``cfg``.
    """

    image_inputs: tuple[Slot, ...] = ()
    prompt_inputs: tuple[Slot, ...] = ()
    negative_inputs: tuple[Slot, ...] = ()
    seed_inputs: tuple[Slot, ...] = ()
    steps_inputs: tuple[Slot, ...] = ()
    guidance_inputs: tuple[Slot, ...] = ()
    outputs: tuple[Slot, ...] = ()

    def describe(self) -> str:
        """One line for the UI, e.g. "2 image inputs, prompt, seed, 20 steps, guidance 2.5, 1 output"."""
        n = len(self.image_inputs)
        parts = [f"{n} image input{'s' * (n != 1)}" if n else "no image input",
                 "prompt" if self.prompt_inputs else "no prompt input"]
        if self.negative_inputs:
            parts.append("negative prompt")
        if self.seed_inputs:
            parts.append("seed")
        if self.steps_inputs:
            parts.append(f"{self.steps_inputs[0].value} steps")
        if self.guidance_inputs:
            parts.append(f"guidance {self.guidance_inputs[0].value}")
        k = len(self.outputs)
        parts.append(f"{k} output{'s' * (k != 1)}" if k else "no image output (add a SaveImage node)")
        return ", ".join(parts)


def _id_key(node_id: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in node_id.split(":"))


def _title(node: dict) -> str:
    meta = node.get("_meta")
    t = meta.get("title") if isinstance(meta, dict) else None
    return t if isinstance(t, str) else node["class_type"]


def _text_inputs(node: dict, object_info: dict | None) -> list[str]:
    """The prompt-text inputs of a text encoder node (multiline STRING inputs of a CONDITIONING node)."""
    spec = (object_info or {}).get(node["class_type"])
    if isinstance(spec, dict) and spec.get("input"):
        if "CONDITIONING" not in (spec.get("output") or ()):
            return []
        return [n for n, s in _spec_inputs(spec) if s[0] == "STRING" and _options(s).get("multiline")]
    return list(KNOWN_TEXT.get(node["class_type"], ()))


def _slot(prompt: dict, nid: str, name: str) -> Slot:
    node = prompt[nid]
    return Slot(nid, node["class_type"], name, _title(node), node["inputs"].get(name))


def _text_slot(prompt: dict, nid: str, name: str) -> Slot | None:
    """The slot holding a text input's words: the input itself, or the string primitive linked to it."""
    node = prompt[nid]
    value = node["inputs"].get(name)
    if isinstance(value, list) and len(value) == 2 and str(value[0]) in prompt:
        nid, node, name = str(value[0]), prompt[str(value[0])], "value"
        if not node["class_type"].startswith("PrimitiveString"):
            return None
        value = node["inputs"].get(name)
    return _slot(prompt, nid, name) if isinstance(value, str) else None


def _consumers(prompt: dict) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for nid, node in prompt.items():
        for name, v in node["inputs"].items():
            if isinstance(v, list) and len(v) == 2:
                out.setdefault(str(v[0]), []).append((nid, name))
    return out


def _polarity(prompt: dict, consumers: dict, start: str) -> str | None:
    """"positive" if ``start``'s conditioning reaches a sampler's or guider's positive input (through
    FluxGuidance, ReferenceLatent, ...), else "negative" if it reaches a negative one, else None."""
    seen, queue, found = {start}, deque([start]), set()
    while queue:
        for nid, name in consumers.get(queue.popleft(), ()):
            kind = prompt[nid]["class_type"]
            if name == "positive" or (name == "conditioning" and kind.endswith("Guider")):
                found.add("positive")
            elif name == "negative":
                found.add("negative")
            elif nid not in seen:
                seen.add(nid)
                queue.append(nid)
    return "positive" if "positive" in found else "negative" if found else None


def _ancestors(prompt: dict, start: set[str]) -> set[str]:
    """``start`` and every node they depend on through links."""
    seen, queue = set(start), deque(start)
    while queue:
        for v in prompt[queue.popleft()]["inputs"].values():
            if isinstance(v, list) and len(v) == 2 and str(v[0]) in prompt and str(v[0]) not in seen:
                seen.add(str(v[0]))
                queue.append(str(v[0]))
    return seen


def _is_output(node: dict, object_info: dict | None) -> bool:
    spec = (object_info or {}).get(node["class_type"])
    if isinstance(spec, dict) and "output_node" in spec:
        return bool(spec["output_node"]) and any(s[0] == "IMAGE" for _, s in _spec_inputs(spec))
    return node["class_type"] in KNOWN_OUTPUTS


def analyse(prompt: dict, object_info: dict | None = None) -> WorkflowInfo:
    """Find the prompt's image inputs, prompt text, seeds, steps, guidance and image outputs.

    Image inputs are its LoadImage nodes: one the user named as the main image ("Photo") first,
    then by the number in their title ("Image 2", "reference 1"), then by node id, so the canvas
    image goes to the first. Prompt text is
    a text encoder's text that flows into a sampler's ``positive`` (negative: ``negative``).
    """
    if not is_api_format(prompt):
        raise WorkflowError("analyse() takes an API-format prompt (convert a UI workflow with ui_to_api)")
    consumers = _consumers(prompt)
    images, pos, neg, seeds, steps, cfg, guid, outs = [], [], [], [], [], [], [], []
    numbers = {"seed": seeds, "noise_seed": seeds, "steps": steps, "cfg": cfg, "guidance": guid}
    for nid in sorted(prompt, key=_id_key):
        node = prompt[nid]
        if node["class_type"] == "LoadImage" and isinstance(node["inputs"].get("image"), str):
            images.append(_slot(prompt, nid, "image"))
        texts = [_text_slot(prompt, nid, n) for n in _text_inputs(node, object_info)]
        if any(texts):
            side = _polarity(prompt, consumers, nid)
            (pos if side == "positive" else neg if side == "negative" else []).extend(t for t in texts if t)
        for name, value in node["inputs"].items():
            if name in numbers and isinstance(value, int | float) and not isinstance(value, bool) \
                    and (isinstance(value, int) or name not in SEED_NAMES):
                numbers[name].append(_slot(prompt, nid, name))
        if _is_output(node, object_info):
            outs.append(_slot(prompt, nid, "images"))

    used = _ancestors(prompt, {s.node_id for s in outs})
    if outs:  # what no output depends on is not an input of the job (e.g. an image fed only to a bypassed node)
        images, pos, neg, seeds, steps, cfg, guid = ([s for s in group if s.node_id in used]
                                                     for group in (images, pos, neg, seeds, steps, cfg, guid))

    def number(s: Slot) -> float:
        m = re.search(r"\d+", s.title)
        return int(m.group()) if m and s.title != s.class_type else float("inf")

    def named_main(s: Slot) -> bool:  # a user's own name for the edited image: "Photo", "Input"
        return (s.title not in (s.class_type, "Load Image") and not re.search(r"\d", s.title)
                and not re.search(r"ref|style|mask", s.title, re.IGNORECASE))

    images.sort(key=lambda s: (not named_main(s), number(s), _id_key(s.node_id)))
    return WorkflowInfo(tuple(images), tuple(pos), tuple(neg), tuple(seeds), tuple(steps), tuple(guid or cfg),
                        tuple(outs))


def apply(prompt: dict, info: WorkflowInfo, *, images: dict[str, str] | None = None, instruction: str | None = None,
          seed: int | None = None, steps: int | None = None, guidance: float | None = None,
          output_prefix: str = "akapen") -> dict:
    """A copy of ``prompt`` set up for one job: uploaded images into its LoadImage nodes
    (``images``: node id → upload name), the instruction into every prompt input, the seed,
    steps and guidance into theirs, and ``output_prefix`` as every SaveImage's file prefix."""
    out = copy.deepcopy(prompt)

    def put(slots: tuple[Slot, ...], value: Any) -> None:
        for s in slots:
            if s.node_id not in out:
                raise WorkflowError(f"node {s.node_id} is not in this prompt: analyse the prompt you apply to")
            out[s.node_id]["inputs"][s.input_name] = value

    known = {s.node_id: s for s in info.image_inputs}
    for node_id, name in (images or {}).items():
        if str(node_id) not in known:
            raise WorkflowError(f"node {node_id} is not an image input (LoadImage) of this workflow; its image inputs "
                                f"are {', '.join(known) or 'none'}")
        put((known[str(node_id)],), name)
    if instruction:
        if not info.prompt_inputs:
            raise WorkflowError("this workflow has no prompt input (a text encoder feeding a sampler's positive "
                                "input), so the instruction would be ignored: leave it empty or add a prompt to it")
        put(info.prompt_inputs, instruction)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
            raise WorkflowError(f"seed {seed!r} is outside ComfyUI's range 0 … {SEED_MAX}")
        put(info.seed_inputs, seed)
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise WorkflowError(f"steps must be a whole number of at least 1, not {steps!r}")
        put(info.steps_inputs, steps)
    if guidance is not None:
        put(info.guidance_inputs, float(guidance))
    for s in info.outputs:
        if s.node_id in out and "filename_prefix" in out[s.node_id]["inputs"]:
            out[s.node_id]["inputs"]["filename_prefix"] = output_prefix
    return out
