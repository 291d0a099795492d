"""Which families train, by which recipe — and, for the others, why not (said in the panel and the CLI).

One small module per family states only how that family differs (:mod:`training.recipes.base`).
"""

from __future__ import annotations

from training.errors import CannotTrain
from training.recipes.base import Recipe

RECIPES: dict[str, str] = {
    "flux-kontext": "training.recipes.kontext:KontextRecipe",
    "flux2-klein": "training.recipes.flux2:Flux2KleinRecipe",
    "flux2": "training.recipes.flux2:Flux2DevRecipe",
    "qwen-image-edit": "training.recipes.qwen_edit:QwenEditRecipe",
    "qwen-image-edit-plus": "training.recipes.qwen_edit:QwenEditPlusRecipe",
    "instruct-pix2pix": "training.recipes.pix2pix:Pix2PixRecipe",
}

WHY_NOT: dict[str, str] = {
    "flux-fill": "an ACE++ / IC-LoRA side-by-side LoRA trains FLUX.1 Fill on double-width pictures with a mask; "
                 "Akapen has no recipe for it yet — train a FLUX.1 Kontext LoRA for the same edit",
    "omnigen": "OmniGen is fine-tuned as a whole model with its own scripts; Akapen has no LoRA recipe for it",
    "chronoedit": "ChronoEdit is a 14B video model; training it on edit pairs as a two-frame video is not offered "
                  "here",
    "framepack": "FramePack is a video model; one-frame edit LoRAs for it are not offered here",
    "qwen-image-layered": "Qwen-Image-Layered splits a picture into layers; there is no before/after edit to learn",
}


def can_train(family: str) -> tuple[bool, str]:
    """(True, "") when the family trains here, else (False, why not)."""
    if family in RECIPES:
        return True, ""
    return False, WHY_NOT.get(family, f"no training recipe for the {family} family")


def recipe_for(family: str) -> Recipe:
    import importlib

    ok, why = can_train(family)
    if not ok:
        raise CannotTrain(f"this model cannot be trained in Akapen: {why}")
    module, _, cls = RECIPES[family].partition(":")
    return getattr(importlib.import_module(module), cls)()
