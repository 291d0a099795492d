"""Few-step distilled weights, recognised from their files: Lightning LoRAs and FLUX.2 klein's distilled model.

A distilled LoRA is trained for a fixed number of steps, a guidance and a sampling schedule; run with
the base model's card settings (40 steps, true CFG 4) it wastes time and looks worse. Recognised by
the file name or the safetensors metadata (nothing else tells them apart: their tensors are a plain
LoRA's), each rule with its source:

- Qwen-Image-Edit / -2509 / -2511 Lightning (lightx2v, "…-Lightning-4steps-…" and "…-8steps-…"):
  the steps the name says, true CFG 1.0 (no negative pass), and FlowMatchEulerDiscreteScheduler with a
  fixed shift of 3 (``base_shift = max_shift = log 3``, exponential time shift, ``shift`` 1.0) —
  ``generate_with_diffusers.py`` of ModelTC/Qwen-Image-Lightning, repeated on the model cards of
  lightx2v/Qwen-Image-Lightning and lightx2v/Qwen-Image-Edit-2511-Lightning.
- FLUX.2 klein: the distilled model runs 4 steps at guidance 1.0, the base model 50 steps at 4.0
  (black-forest-labs/FLUX.2-klein-4B and -base-4B model cards). A diffusers folder says which in
  ``model_index.json`` (``is_distilled``, read by :mod:`models`); a single-file checkpoint on a
  klein folder is told by its name (BFL's files: ``flux-2-klein-4b.safetensors``,
  ``flux-2-klein-base-4b.safetensors``) or an ``is_distilled`` metadata entry.

Nothing here imports torch or diffusers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from inference.diffusion.models import ModelError, safetensors_header

QWEN_LIGHTNING_SCHEDULER: Mapping[str, object] = MappingProxyType({
    "base_image_seq_len": 256, "max_image_seq_len": 8192, "base_shift": math.log(3), "max_shift": math.log(3),
    "shift": 1.0, "shift_terminal": None, "time_shift_type": "exponential", "use_dynamic_shifting": True,
    "invert_sigmas": False, "stochastic_sampling": False, "use_karras_sigmas": False,
    "use_exponential_sigmas": False, "use_beta_sigmas": False,
})
QWEN_LIGHTNING_SOURCE = ("ModelTC/Qwen-Image-Lightning generate_with_diffusers.py; lightx2v/Qwen-Image-Lightning and "
                         "lightx2v/Qwen-Image-Edit-2511-Lightning model cards")


@dataclass(frozen=True)
class Distilled:
    """What a few-step file needs: steps, guidance (None: the family's), scheduler settings (None: as loaded)."""

    name: str
    steps: int
    guidance: float | None
    scheduler: Mapping[str, object] | None = None
    source: str = ""
    path: Path | None = field(default=None, compare=False)

    def describe(self) -> str:
        g = "" if self.guidance is None else f", guidance {self.guidance:g}"
        sched = ", its scheduler settings" if self.scheduler else ""
        return f"{self.name}: {self.steps} steps{g}{sched} ({self.source})"


@dataclass(frozen=True)
class Rule:
    families: tuple[str, ...]
    word: str  # the word in the name or metadata (case-insensitive)
    steps: tuple[int, ...]  # the step counts such files are published for
    guidance: float | None
    scheduler: Mapping[str, object] | None
    source: str
    label: str


RULES: tuple[Rule, ...] = (
    Rule(("qwen-image-edit", "qwen-image-edit-plus"), "lightning", (4, 8), 1.0, QWEN_LIGHTNING_SCHEDULER,
         QWEN_LIGHTNING_SOURCE, "Qwen-Image-Edit Lightning LoRA"),
)
_STEPS = re.compile(r"(?<![0-9])([0-9]{1,2})[-_ ]?steps?(?![a-z])", re.IGNORECASE)


def _texts(path: Path) -> list[str]:
    """The file's name and its metadata's strings (keys and values)."""
    texts = [path.name]
    try:
        meta = safetensors_header(path).get("__metadata__")
    except ModelError:
        return texts
    if isinstance(meta, dict):
        texts += [f"{k} {v}" for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)][:200]
    return texts


def lora_file(path: str | Path) -> Path:
    """The .safetensors file a LoRA path names (a folder: its first .safetensors file)."""
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        return files[0] if files else p
    return p


def recognise(path: str | Path, family: str) -> Distilled | None:
    """The few-step settings a LoRA file of ``family`` needs, or None for an ordinary LoRA."""
    p = lora_file(path)
    if not p.is_file():
        return None
    texts = _texts(p)
    for rule in RULES:
        if family not in rule.families:
            continue
        hits = [t for t in texts if rule.word in t.lower()]
        if not hits:
            continue
        steps = [int(m.group(1)) for t in hits + texts for m in _STEPS.finditer(t)]
        steps = [s for s in steps if s in rule.steps]
        if not steps:
            continue  # a file that says it is distilled but not for how many steps: left as it is
        return Distilled(rule.label, steps[0], rule.guidance, rule.scheduler, rule.source, p)
    return None


def distilled_loras(loras, family: str) -> list[Distilled]:
    """The recognised few-step LoRAs among ``loras`` ((path, weight) pairs with a weight above 0)."""
    out = []
    for path, weight in loras:
        if weight > 0:
            d = recognise(path, family)
            if d is not None:
                out.append(d)
    return out


KLEIN_SOURCE = "black-forest-labs/FLUX.2-klein-4B and FLUX.2-klein-base-4B model cards"


def klein_distilled(weights: Path) -> bool | None:
    """Is a single-file klein checkpoint the distilled model (True), the base (False), or unknown (None)?"""
    try:
        meta = safetensors_header(weights).get("__metadata__")
    except ModelError:
        meta = None
    if isinstance(meta, dict) and str(meta.get("is_distilled", "")).lower() in ("true", "false"):
        return str(meta["is_distilled"]).lower() == "true"
    name = weights.name.lower()
    if "klein" not in name:
        return None
    return not re.search(r"(?<![a-z])base(?![a-z])", name.replace("_", "-"))
