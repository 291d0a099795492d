"""The model catalogue (``resources/catalogue.json``): the variants of each family users run, and which fits.

The catalogue is data, read and checked here: every entry names its repository and files, its base
(for a single-file, GGUF or LoRA variant), its download size, the GPU memory it needs, its licence and
whether it is gated. A damaged or hand-edited file is a :class:`CatalogueError` naming the entry and the
field, never a half-loaded list.

Units: sizes on disk (``download_gb``, ``base_gb``) are GB of 10^9 bytes, as the Hub shows them; memory
(``vram_gb``, ``offload_gb``, ``ram_gb``) is GiB, as GPUs are sold and torch reports them.

:func:`fit` says whether one variant suits a :class:`~inference.hub.machine.Machine` (fully on the GPU, with
offload, too big, CPU only, no disk room); :func:`recommend` picks the best variant of a family for it.

Qt-free; imports no torch.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from inference.diffusion.models import FAMILIES
from inference.errors import InferenceError
from inference.hub.machine import GIB, Machine

CATALOGUE_FILE = Path(__file__).resolve().parent.parent.parent / "resources" / "catalogue.json"
SCHEMA = 1
GB = 1_000_000_000
KINDS = ("diffusers", "single-file", "gguf", "lora")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
FIT_KINDS = ("fits", "offload", "too-big", "cpu", "no-gpu", "no-disk", "no-loader")


class CatalogueError(InferenceError):
    """The catalogue file cannot be used; the message names the file, the entry and the field."""


# field name -> (accepted types, may be null)
_NUM = (int, float)
FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), False), "family": ((str,), False), "model": ((str,), False), "variant": ((str,), False),
    "kind": ((str,), False), "repo": ((str,), False), "revision": ((str,), False), "files": ((list,), False),
    "base": ((str,), True), "download_gb": (_NUM, False), "base_gb": (_NUM, False), "vram_gb": (_NUM, False),
    "offload_gb": (_NUM, True), "ram_gb": (_NUM, False), "cpu": ((bool,), False), "steps": ((int,), True),
    "guidance": (_NUM, True), "licence": ((str,), False), "licence_url": ((str,), False), "gated": ((bool,), False),
    "page": ((str,), False), "requires": ((list,), False), "source": ((str,), False), "notes": ((str,), False),
}


@dataclass(frozen=True)
class Variant:
    """One downloadable variant of a model (see the module docstring for the units)."""

    id: str
    family: str
    model: str
    variant: str
    kind: str
    repo: str
    revision: str
    files: tuple[str, ...]
    base: str | None
    download_gb: float
    base_gb: float
    vram_gb: float
    offload_gb: float | None
    ram_gb: float
    cpu: bool
    steps: int | None
    guidance: float | None
    licence: str
    licence_url: str
    gated: bool
    page: str
    requires: tuple[str, ...]
    source: str
    notes: str

    @property
    def download_bytes(self) -> int:
        """This variant's own files, in bytes (approximate where the catalogue says so)."""
        return int(round(self.download_gb * GB))

    @property
    def total_gb(self) -> float:
        """Download with the base's other components, for when none of them is on disk yet."""
        return self.download_gb + self.base_gb

    @property
    def label(self) -> str:
        return f"{self.model} ({self.variant})"

    @property
    def quality(self) -> int:
        """Rank of the weights' precision, 0 best: bf16/fp16/fp32 > fp8 > Q8 > Q6 > Q5 > Q4 > lower."""
        return quality_rank(self.variant)

    @property
    def scaled_fp8(self) -> bool:
        """FP8 with per-layer scale tensors ("fp8 (scaled)", "fp8 (mixed)"): diffusers' single-file loader (0.42)
        does not apply those scales, so such a file loads without error and draws noise. :func:`recommend`
        passes over them until the loader reads them; :func:`fit` still reports them."""
        v = self.variant.lower()
        return "fp8" in v and ("scaled" in v or "mixed" in v)

    @property
    def cuda_only(self) -> bool:
        """FP8 weights and bitsandbytes 4-bit need an NVIDIA GPU (no float8 or bitsandbytes on Apple's MPS)."""
        v = self.variant.lower()
        return "fp8" in v or "bnb" in v


def quality_rank(variant: str) -> int:
    """0 for full precision, then fp8, GGUF Q8, Q6, Q5, Q4; 6 for anything lower (Q3, NF4 ...)."""
    v = variant.lower()
    if re.search(r"\b(bf16|fp16|fp32|f16|f32)\b", v):
        return 0
    if "fp8" in v:
        return 1
    m = re.search(r"\bq(\d)", v)
    if m:
        return {8: 2, 6: 3, 5: 4, 4: 5}.get(int(m.group(1)), 6)
    return 6


# --- loading ---------------------------------------------------------------------------------------
def _entry_name(i: int, raw: Any) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return f"variant {i + 1} ({ident!r})" if isinstance(ident, str) and ident else f"variant {i + 1}"


def _check_entry(where: str, raw: Any) -> Variant:
    def bad(field: str, why: str) -> CatalogueError:
        return CatalogueError(f"{where}: field {field!r} {why}")

    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: an entry must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise bad(unknown[0], f"is not a catalogue field (the fields are: {', '.join(FIELDS)})")
    for name, (types, nullable) in FIELDS.items():
        if name not in raw:
            raise bad(name, "is missing")
        value = raw[name]
        if value is None:
            if not nullable:
                raise bad(name, "must not be null")
            continue
        if isinstance(value, bool) and bool not in types:  # JSON true is not a number here
            raise bad(name, f"must be {_type_words(types)}, got {value!r}")
        if not isinstance(value, types):
            raise bad(name, f"must be {_type_words(types)}, got {value!r}")
        if isinstance(value, str) and not value.strip() and name not in ("notes",):
            raise bad(name, "must not be empty")
        if isinstance(value, float | int) and not isinstance(value, bool) and value < 0:
            raise bad(name, f"must not be negative, got {value!r}")
    for name in ("files", "requires"):
        if not all(isinstance(x, str) and x for x in raw[name]):
            raise bad(name, "must be a list of non-empty strings")
    if not ID_RE.match(raw["id"]):
        raise bad("id", f"must be lowercase letters, digits, '.' and '-', got {raw['id']!r}")
    if raw["family"] not in FAMILIES:
        close = difflib.get_close_matches(raw["family"], list(FAMILIES), n=2)
        raise bad("family", f"names no Akapen family: {raw['family']!r}"
                  + (f" (did you mean {' or '.join(close)}?)" if close else f"; the families are {', '.join(FAMILIES)}"))
    if raw["kind"] not in KINDS:
        raise bad("kind", f"must be one of {', '.join(KINDS)}, got {raw['kind']!r}")
    for name in ("repo",) + (("base",) if raw["base"] is not None else ()):
        if not REPO_RE.match(raw[name]):
            raise bad(name, f"must be a Hub repo id (owner/name), got {raw[name]!r}")
    for name in ("page", "licence_url"):
        if not raw[name].startswith("https://"):
            raise bad(name, f"must be an https:// address, got {raw[name]!r}")
    kind, files = raw["kind"], raw["files"]
    if kind == "diffusers":
        if files:
            raise bad("files", "must be [] for a diffusers repo (the downloader picks the pipeline's files)")
        if raw["base"] is not None or raw["base_gb"]:
            raise bad("base", "must be null (and base_gb 0) for a diffusers repo")
    else:
        if not files:
            raise bad("files", f"must name the file(s) of a {kind} variant")
        if raw["base"] is None:
            raise bad("base", f"must name the diffusers repo a {kind} variant runs on")
        suffix = ".gguf" if kind == "gguf" else ".safetensors"
        wrong = [f for f in files if not f.endswith(suffix)]
        if wrong:
            raise bad("files", f"must be {suffix} files for a {kind} variant, got {wrong[0]!r}")
    if kind == "lora" and raw["base_gb"]:
        raise bad("base_gb", "must be 0 for a LoRA (its base is a separate model)")
    if raw["download_gb"] <= 0 or raw["vram_gb"] <= 0:
        raise bad("download_gb" if raw["download_gb"] <= 0 else "vram_gb", "must be more than 0")
    if raw["offload_gb"] is not None and raw["offload_gb"] > raw["vram_gb"]:
        raise bad("offload_gb", f"({raw['offload_gb']}) must not exceed vram_gb ({raw['vram_gb']})")
    return Variant(
        id=raw["id"], family=raw["family"], model=raw["model"], variant=raw["variant"], kind=kind, repo=raw["repo"],
        revision=raw["revision"], files=tuple(files), base=raw["base"], download_gb=float(raw["download_gb"]),
        base_gb=float(raw["base_gb"]), vram_gb=float(raw["vram_gb"]),
        offload_gb=None if raw["offload_gb"] is None else float(raw["offload_gb"]), ram_gb=float(raw["ram_gb"]),
        cpu=raw["cpu"], steps=raw["steps"], guidance=None if raw["guidance"] is None else float(raw["guidance"]),
        licence=raw["licence"], licence_url=raw["licence_url"], gated=raw["gated"], page=raw["page"],
        requires=tuple(raw["requires"]), source=raw["source"], notes=raw["notes"])


def _type_words(types: tuple[type, ...]) -> str:
    if types == _NUM:
        return "a number"
    return " or ".join({str: "a string", list: "a list", bool: "true or false", int: "an integer"}[t] for t in types)


def parse(data: Any, where: str = "catalogue") -> Catalogue:
    """A :class:`Catalogue` from the decoded JSON ``data``; ``where`` names the file in errors."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: not a JSON object")
    if data.get("schema") != SCHEMA:
        raise CatalogueError(f"{where}: schema {data.get('schema')!r} is not {SCHEMA}; this Akapen reads schema {SCHEMA}")
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, list) or not raw_variants:
        raise CatalogueError(f"{where}: 'variants' must be a non-empty list")
    notes = data.get("not_in_catalogue", [])
    if not isinstance(notes, list) or not all(isinstance(n, dict) and isinstance(n.get("family"), str)
                                              and isinstance(n.get("why"), str) for n in notes):
        raise CatalogueError(f"{where}: 'not_in_catalogue' must be a list of {{\"family\", \"why\"}} objects")
    variants: list[Variant] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_variants):
        name = f"{where}: {_entry_name(i, raw)}"
        v = _check_entry(name, raw)
        if v.id in seen:
            raise CatalogueError(f"{name}: duplicate id {v.id!r} (also variant {seen[v.id] + 1})")
        seen[v.id] = i
        variants.append(v)
    by_id = {v.id: v for v in variants}
    diffusers_repos = {v.repo for v in variants if v.kind == "diffusers"}
    for i, v in enumerate(variants):
        name = f"{where}: {_entry_name(i, {'id': v.id})}"
        for r in v.requires:
            if r not in by_id:
                raise CatalogueError(f"{name}: field 'requires' names {r!r}, which is not in the catalogue")
        if v.base is not None and v.base not in diffusers_repos:
            raise CatalogueError(f"{name}: field 'base' names {v.base!r}, which is no diffusers entry of the catalogue")
    return Catalogue(tuple(variants), tuple((n["family"], n["why"]) for n in notes), str(data.get("updated", "")))


@dataclass(frozen=True)
class Catalogue:
    variants: tuple[Variant, ...]
    not_in_catalogue: tuple[tuple[str, str], ...] = ()  # (family, why)
    updated: str = ""

    def get(self, variant_id: str) -> Variant:
        for v in self.variants:
            if v.id == variant_id:
                return v
        ids = [v.id for v in self.variants]
        close = difflib.get_close_matches(variant_id, ids, n=3, cutoff=0.5)
        raise CatalogueError(f"no catalogue entry {variant_id!r}"
                             + (f"; did you mean {', '.join(close)}?" if close else "; `akapen models catalogue` lists them"))

    def for_family(self, family: str) -> list[Variant]:
        return [v for v in self.variants if v.family == family]

    def by_repo(self, repo_id: str) -> list[Variant]:
        return [v for v in self.variants if v.repo.lower() == repo_id.lower()]

    def base_for(self, repo_id: str, filename: str) -> str | None:
        """The base repo of the single-file, GGUF or LoRA variant ``filename`` in ``repo_id``, if catalogued."""
        for v in self.by_repo(repo_id):
            if v.kind != "diffusers" and filename in v.files:
                return v.base
        return None


def load(path: Path | str | None = None) -> Catalogue:
    """The catalogue at ``path`` (default: the packaged one); re-read only when the file changes."""
    p = Path(path) if path is not None else CATALOGUE_FILE
    try:
        st = os.stat(p)
    except OSError as exc:
        raise CatalogueError(f"{p}: the model catalogue cannot be read ({exc.strerror or exc})") from None
    return _load(str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int, _size: int) -> Catalogue:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: the model catalogue cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise CatalogueError(f"{path}: the model catalogue is not valid JSON ({exc})") from None
    return parse(data, path)


# --- which variant fits ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fit:
    """How ``variant`` suits a machine. ``kind``: one of :data:`FIT_KINDS`; ``text``: a phrase for the UI."""

    kind: str
    text: str
    disk_ok: bool = True

    @property
    def runs(self) -> bool:
        return self.kind in ("fits", "offload", "cpu")


def _gb(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def fit(variant: Variant, machine: Machine) -> Fit:
    """Whether ``variant`` runs on ``machine``: fully on the GPU, with offload, on the CPU, or why not."""
    need_disk = variant.total_gb
    free = machine.free_disk_bytes
    disk_ok = free is None or need_disk * GB <= free
    usable = machine.usable_gpu_bytes
    if not usable:
        kind, text = ("cpu", "no GPU: runs on the CPU, slowly") if variant.cpu else \
            ("no-gpu", f"no GPU: {variant.model} needs one")
    elif machine.unified and variant.cuda_only:
        kind, text = "no-gpu", f"no usable GPU: {variant.variant} weights need an NVIDIA GPU"
    else:
        have = usable / GIB
        if machine.unified:  # CPU and GPU share the memory: offloading to the CPU frees nothing
            where = f"this Mac ({_gb(machine.gpu_bytes / GIB)} GB unified memory, about {_gb(have)} GB for models)"
            kind, text = ("fits", f"fits {where}") if variant.vram_gb <= have else \
                ("too-big", f"too big for {where}")
        else:
            card = f"{_gb(round(have))} GB"
            if variant.vram_gb <= have:
                kind, text = "fits", f"fits this GPU ({card})"
            elif variant.offload_gb is not None and variant.offload_gb <= have:
                kind, text = "offload", f"needs offload ({_gb(variant.vram_gb)} GB in full, {card} here)"
            else:
                kind, text = "too-big", f"too big for this GPU ({card})"
    if kind in ("fits", "offload", "cpu") and not disk_ok:
        kind, text = "no-disk", f"not enough disk: needs {_gb(need_disk)} GB, {_gb(free / GB)} GB free"
    if variant.scaled_fp8 and kind in ("fits", "offload", "cpu", "no-disk"):  # it would run, but is refused
        kind, text = "no-loader", "for ComfyUI only: Akapen's loader cannot read scaled FP8"
    return Fit(kind, text, disk_ok)


@dataclass(frozen=True)
class Recommendation:
    variant: Variant | None
    why: str


def _best(variants: list[Variant], order: dict[str, int]) -> Variant:
    # best precision first; at equal precision the larger model (more GPU memory), then catalogue order
    return min(variants, key=lambda v: (v.quality, -v.vram_gb, order[v.id]))


def recommend(catalogue: Catalogue, family: str, machine: Machine) -> Recommendation:
    """The best variant of ``family`` for ``machine``: fully on the GPU, else with offload, else on the CPU."""
    label = FAMILIES[family].label if family in FAMILIES else family
    order = {v.id: i for i, v in enumerate(catalogue.variants)}
    candidates = [v for v in catalogue.for_family(family) if v.kind != "lora" and not v.scaled_fp8]
    if not candidates:
        why = next((w for f, w in catalogue.not_in_catalogue if f == family), "")
        return Recommendation(None, f"The catalogue has no {label} model." + (f" {why}" if why else ""))
    fits = {v.id: fit(v, machine) for v in candidates}
    by_kind = {k: [v for v in candidates if fits[v.id].kind == k] for k in FIT_KINDS}
    if not machine.usable_gpu_bytes:
        if by_kind["cpu"]:
            best = _best(by_kind["cpu"], order)
            return Recommendation(best, f"No GPU found: {best.label} runs on the CPU, slowly.")
        elsewhere = sorted({v.model for v in catalogue.variants if v.cpu and v.kind != "lora" and v.family != family})
        tail = f" On a CPU: {', '.join(elsewhere)}." if elsewhere else ""
        if by_kind["no-disk"]:
            v = min(by_kind["no-disk"], key=lambda v: v.total_gb)
            return Recommendation(None, f"No GPU found; {v.label} would run on the CPU but {fits[v.id].text}.")
        return Recommendation(None, f"No GPU found, and no {label} variant runs on a CPU in reasonable time.{tail}")
    if by_kind["fits"]:
        best = _best(by_kind["fits"], order)
        return Recommendation(best, f"{best.label} {fits[best.id].text}.")
    if by_kind["offload"]:
        best = _best(by_kind["offload"], order)
        return Recommendation(best, f"{best.label} runs with offload (slower): nothing fits fully; "
                                    f"{fits[best.id].text}.")
    if by_kind["no-disk"]:  # name the smallest download: the one most likely to fit once space is freed
        v = min(by_kind["no-disk"], key=lambda v: v.total_gb)
        return Recommendation(None, f"{v.label} would run here, but {fits[v.id].text}.")
    sized = [v for v in candidates if not (machine.unified and v.cuda_only)]
    if not sized:
        return Recommendation(None, f"No {label} variant runs on this GPU: {fits[candidates[0].id].text}.")
    smallest = min(sized, key=lambda v: (v.vram_gb if machine.unified or v.offload_gb is None else v.offload_gb))
    need = smallest.vram_gb if machine.unified or smallest.offload_gb is None else smallest.offload_gb
    return Recommendation(None, f"No {label} variant fits: {fits[smallest.id].text}; the smallest, {smallest.label}, "
                                f"needs {_gb(need)} GB{'' if machine.unified else ' with offload'}.")
