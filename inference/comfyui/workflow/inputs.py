"""Where a prompt's inputs are (:func:`analyse`: images, prompt text, seeds, steps, guidance,
outputs) and setting them for one job (:func:`apply`)."""

from __future__ import annotations

import copy
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from inference.comfyui.workflow.node_specs import spec_inputs, spec_options
from inference.comfyui.workflow.reading import SEED_MAX, SEED_NAMES, WorkflowError, id_key, is_api_format

KNOWN_OUTPUTS = {"SaveImage", "PreviewImage"}
KNOWN_TEXT = {"CLIPTextEncode": ("text",), "TextEncodeQwenImageEdit": ("prompt",),
              "TextEncodeQwenImageEditPlus": ("prompt",), "CLIPTextEncodeFlux": ("clip_l", "t5xxl"),
              "CLIPTextEncodeSD3": ("clip_l", "clip_g", "t5xxl"), "CLIPTextEncodeSDXL": ("text_g", "text_l")}


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
        return [n for n, s in spec_inputs(spec) if s[0] == "STRING" and spec_options(s).get("multiline")]
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
        return bool(spec["output_node"]) and any(s[0] == "IMAGE" for _, s in spec_inputs(spec))
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
    for nid in sorted(prompt, key=id_key):
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

    images.sort(key=lambda s: (not named_main(s), number(s), id_key(s.node_id)))
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
