"""How each model family reads the red pen: one declarative entry per family, the wording as data.

A *strategy* is one way of giving the marks to a model (its wording lives in ``resources/marks.json``):

- ``draw``: drawn into the picture; the instruction names them by colour and asks to leave them out.
- ``extra_image``: the clean picture as image 1, the marked picture as image 2, named in the instruction.
- ``mask``: the area the marks enclose is the edit mask.
- ``green``: that area filled with pure green, "fill the green spaces according to the image".
- ``region``: the region the marks enclose, cropped with context, plus where it is in words.

Each family lists the strategies it reads, best first (the panel offers them; the user can switch),
with where that comes from:

- Qwen-Image-Edit: its model card's chained calligraphy correction marks what to fix with boxes drawn on the
  picture ("within the red box") → ``draw``.
- Qwen-Image-Edit-2509/2511 and FLUX.2 dev/klein: multi-image models. diffusers' QwenImageEditPlusPipeline
  prompt template numbers its inputs "Picture 1", "Picture 2"; BFL's FLUX.2 image-editing docs refer to
  inputs as "image 1", "image 2"; the Krita AI plugin sends sketches as an extra image → ``extra_image``
  first, ``draw`` as the alternative; klein also takes the Krita plugin's green fill.
- FLUX.1 Fill side-by-side (ACE++ / IC-LoRA): an inpainting model → ``mask`` (or ``green``); klein also
  takes a mask where diffusers has ``Flux2KleinInpaintPipeline``.
- FLUX.1 Kontext, InstructPix2Pix, OmniGen, FramePack: instruction models with no notion of drawn marks
  (Kontext's guide asks for precise words instead) → ``region``.
- ChronoEdit: NVIDIA's Paint-Brush LoRA reads marks drawn in → ``draw`` when a LoRA whose name has
  "paint" is loaded, else as Kontext.
- nano banana (Gemini): its docs show annotated images as input → ``draw``.
- Qwen-Image-2.1: its model page (QwenLM/Qwen-Image-2.1) takes "local edits via circles, painted annotations, or
  separate masks" and shows circle-guided multi-region edits; ComfyUI's guide addresses its inputs as ``<image1>``,
  ``<image2>`` (the labels diffusers' QwenImage21Pipeline writes before each image) and points an edit at painted
  marks by naming their colour → ``draw`` (its own wording in ``marks.json``), ``extra_image`` with up to 10 images,
  ``region``. ``mask`` is not available: the pipeline has no mask input (:data:`FamilyMarks.unavailable`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MARKS_FILE = Path(__file__).resolve().parents[2] / "resources" / "marks.json"
STRATEGIES = ("draw", "extra_image", "mask", "green", "region")
MARKS_IN_INPUT = frozenset({"draw", "extra_image"})  # the model sees the marks: its result is checked for them


@dataclass(frozen=True)
class FamilyMarks:
    strategies: tuple[str, ...]  # best first
    image_word: str = "image"  # how its documentation names an input picture ("Picture" for Qwen-Plus; with
    # "{n}" a numbered label, e.g. "<image{n}>" for Qwen-Image-2.1: "{image} 2" becomes "<image2>")
    lora_hint: tuple[str, str] | None = None  # (word in a LoRA's file name, the strategy it makes the default)
    unavailable: tuple[tuple[str, str], ...] = ()  # (strategy, why this family cannot take it): refused, not offered


FAMILIES: dict[str, FamilyMarks] = {
    "qwen-image-edit": FamilyMarks(("draw", "region")),
    "qwen-image-edit-plus": FamilyMarks(("extra_image", "draw", "region"), image_word="Picture"),
    "flux2": FamilyMarks(("extra_image", "draw", "region")),
    "flux2-klein": FamilyMarks(("extra_image", "draw", "mask", "green", "region")),
    "flux-fill": FamilyMarks(("mask", "green")),
    "flux-kontext": FamilyMarks(("region", "draw")),
    "instruct-pix2pix": FamilyMarks(("region",)),
    "omnigen": FamilyMarks(("region", "draw")),
    "framepack": FamilyMarks(("region",)),
    "chronoedit": FamilyMarks(("region", "draw"), lora_hint=("paint", "draw")),
    "nano-banana": FamilyMarks(("draw", "extra_image")),
    "qwen-image-2.1": FamilyMarks(("draw", "extra_image", "region"), image_word="<image{n}>", unavailable=(
        ("mask", "diffusers' QwenImage21Pipeline has no mask input, so nothing confines its edit to an area; the "
                 "marks drawn into the picture (the default) show it where, or the marked region, cropped, "
                 "confines the edit"),)),
}
# the ComfyUI family graphs run the same models
FAMILIES.update({f"comfyui-{k}": v for k, v in {"kontext": FAMILIES["flux-kontext"],
                                                  "qwen-edit-2509": FAMILIES["qwen-image-edit-plus"],
                                                  "qwen-edit-2511": FAMILIES["qwen-image-edit-plus"],
                                                  "flux2-klein": FAMILIES["flux2-klein"],
                                                  "chronoedit": FAMILIES["chronoedit"]}.items()})


@cache
def _marks_file() -> dict:
    return json.loads(MARKS_FILE.read_text(encoding="utf-8"))


def wording() -> dict[str, dict[str, str]]:
    return _marks_file()["strategies"]


def family_wording(name: str) -> dict[str, dict[str, str]]:
    """A family's own wording of some strategies (``marks.json``'s "families"), over the shared one."""
    return {k: v for k, v in _marks_file().get("families", {}).get(name, {}).items() if isinstance(v, dict)}


def _text(strategy: str, name: str, key: str) -> str:
    return family_wording(name).get(strategy, {}).get(key) or wording()[strategy][key]


def unavailable(name: str) -> dict[str, str]:
    """The strategies ``name`` cannot take, each with why (say so; do not fall back silently)."""
    fam = FAMILIES.get(name)
    return dict(fam.unavailable) if fam is not None else {}


def for_backend(name: str) -> FamilyMarks | None:
    return FAMILIES.get(name)


def default(name: str, loras=()) -> str | None:
    """The strategy a backend uses unless told otherwise (a LoRA can change it, e.g. ChronoEdit's Paint-Brush)."""
    fam = FAMILIES.get(name)
    if fam is None:
        return None
    if fam.lora_hint and any(fam.lora_hint[0] in Path(str(p)).name.lower() for p, _w in loras):
        return fam.lora_hint[1]
    return fam.strategies[0]


def offered(name: str, caps) -> tuple[str, ...]:
    """The family's strategies this backend can take as it is (a mask needs ``takes_mask``, a second image
    room for one)."""
    fam = FAMILIES.get(name)
    if fam is None:
        return ()
    out = []
    for s in fam.strategies:
        if s == "mask" and not caps.takes_mask:
            continue
        if s == "extra_image" and caps.max_references < 1:
            continue
        out.append(s)
    return tuple(out) or fam.strategies[-1:]


def _words(text: str, image_word: str) -> str:
    if "{n}" in image_word:  # numbered labels: "{image} 2" -> "<image2>"; an unnumbered one is a plain "image"
        text = re.sub(r"\{[Ii]mage\} (\d+)", lambda m: image_word.replace("{n}", m.group(1)), text)
        image_word = "image"
    return text.replace("{Image}", image_word[:1].upper() + image_word[1:]).replace("{image}", image_word)


def _user_word(name: str) -> str:
    """The family's word for an input picture as the panel shows it: a model's token ("<image{n}>") is for the
    instruction only; the person reads "picture 2"."""
    word = (FAMILIES.get(name) or FamilyMarks(STRATEGIES)).image_word
    return "picture" if "{n}" in word else word


def label(strategy: str, name: str) -> str:
    return _words(_text(strategy, name, "label"), _user_word(name))


def describe(strategy: str, name: str) -> str:
    """What the edit panel says will happen, e.g. "the marked one Picture 2; the instruction says …"."""
    return _words(_text(strategy, name, "describe"), _user_word(name))


def instruction(strategy: str, name: str, user: str, where: str, colours: str, phrase: str) -> str:
    """The user's instruction with the strategy's words after it (the text the model sees)."""
    fam = FAMILIES.get(name) or FamilyMarks(STRATEGIES)
    extra = _words(_text(strategy, name, "instruction"), fam.image_word)
    extra = extra.replace("{where}", where).replace("{colours}", colours).replace("{phrase}", phrase).strip()
    if not extra or extra in user:
        return user
    user = user.rstrip()
    if user and not extra.startswith("(") and user[-1] not in ".!?;:":
        user += "."  # a sentence of its own after the user's
    return f"{user} {extra}".strip()
