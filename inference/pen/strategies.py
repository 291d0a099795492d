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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MARKS_FILE = Path(__file__).resolve().parents[2] / "resources" / "marks.json"
STRATEGIES = ("draw", "extra_image", "mask", "green", "region")
MARKS_IN_INPUT = frozenset({"draw", "extra_image"})  # the model sees the marks: its result is checked for them


@dataclass(frozen=True)
class FamilyMarks:
    strategies: tuple[str, ...]  # best first
    image_word: str = "image"  # how its documentation names an input picture ("Picture" for Qwen-Plus)
    lora_hint: tuple[str, str] | None = None  # (word in a LoRA's file name, the strategy it makes the default)


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
}
# the ComfyUI family graphs run the same models
FAMILIES.update({f"comfyui-{k}": v for k, v in {"kontext": FAMILIES["flux-kontext"],
                                                  "qwen-edit-2509": FAMILIES["qwen-image-edit-plus"],
                                                  "qwen-edit-2511": FAMILIES["qwen-image-edit-plus"],
                                                  "flux2-klein": FAMILIES["flux2-klein"],
                                                  "chronoedit": FAMILIES["chronoedit"]}.items()})


@cache
def wording() -> dict[str, dict[str, str]]:
    data = json.loads(MARKS_FILE.read_text(encoding="utf-8"))
    return data["strategies"]


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
    return text.replace("{Image}", image_word[:1].upper() + image_word[1:]).replace("{image}", image_word)


def label(strategy: str, name: str) -> str:
    fam = FAMILIES.get(name) or FamilyMarks(STRATEGIES)
    return _words(wording()[strategy]["label"], fam.image_word)


def describe(strategy: str, name: str) -> str:
    """What the edit panel says will happen, e.g. "the marked one Picture 2; the instruction says …"."""
    fam = FAMILIES.get(name) or FamilyMarks(STRATEGIES)
    return _words(wording()[strategy]["describe"], fam.image_word)


def instruction(strategy: str, name: str, user: str, where: str, colours: str, phrase: str) -> str:
    """The user's instruction with the strategy's words after it (the text the model sees)."""
    fam = FAMILIES.get(name) or FamilyMarks(STRATEGIES)
    extra = _words(wording()[strategy]["instruction"], fam.image_word)
    extra = extra.replace("{where}", where).replace("{colours}", colours).replace("{phrase}", phrase).strip()
    if not extra or extra in user:
        return user
    user = user.rstrip()
    if user and not extra.startswith("(") and user[-1] not in ".!?;:":
        user += "."  # a sentence of its own after the user's
    return f"{user} {extra}".strip()
