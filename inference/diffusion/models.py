"""Model discovery: which diffusers editing models lie on this machine, and of which family.

Places looked at: the Hugging Face cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
``~/.cache/huggingface/hub``; layout ``models--org--name/snapshots/<rev>/``) and the folders
the user adds (:func:`set_model_folders`, or ``AKAPEN_MODEL_PATH`` joined with ``os.pathsep``).

The family is read FROM THE FILES — ``model_index.json``'s ``_class_name`` and the component
configs — never guessed from a name. Checking a folder (:func:`check_folder`) reads only JSON
and safetensors headers (no torch): a missing component, a pickle-only component, an unreadable
file or components of another family is a :class:`ModelError` naming the file.

Single-file transformers (a ``.safetensors`` or ``.gguf`` file holding only the denoiser's weights) are put on
their bases by :mod:`checkpoints`, which :func:`scan` and :func:`resolve` call; a base may hold its denoiser's
``config.json`` without weights (a download made for a single file): it is a base only, never a model by itself.

Nothing here imports torch, diffusers or the gguf package (GGUF headers: :mod:`gguf_file`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from inference.diffusion import gguf_file
from inference.diffusion.families import BY_PIPELINE, FAMILIES, FamilySpec  # noqa: F401 - re-exported
from inference.errors import InferenceError

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
WEIGHT_SUFFIXES = (".safetensors", ".gguf") + PICKLE_SUFFIXES
SINGLE_SUFFIXES = (".safetensors", ".gguf")
ALLOWED_LIBRARIES = ("diffusers", "transformers")


class ModelError(InferenceError):
    """A model folder or file cannot be used; the message names the file and what to do."""


def is_component(name: str, entry) -> bool:
    """Does ``model_index.json``'s ``name: entry`` name a component (``["library", "Class"]``)? A pipeline's own
    settings are other values, some of them two-item lists too (Qwen-Image-2.1 Turbo's ``sample_sigmas``)."""
    return (not name.startswith("_") and isinstance(entry, list | tuple) and len(entry) == 2
            and isinstance(entry[0], str) and (entry[1] is None or isinstance(entry[1], str)))


@dataclass(frozen=True)
class ModelInfo:
    """One model found on disk. ``variant``: e.g. "2511" for Qwen-Image-Edit-2511.

    A single-file model is its base folder (``path``, ``repo_id``) with ``weights``, the file that replaces
    the base's denoiser; ``weights_id`` ("org/name:path/in/repo.gguf") when that file lies in a Hugging
    Face cache repo; ``prefix``: a wrapper prefix on its diffusers tensor names, stripped when it is loaded.
    ``precision``: what the denoiser's weights are ("GGUF Q4_K_M", "FP8 (e4m3fn)", "bf16", ...).
    ``base_only``: the folder's denoiser has its configuration but no weights — a base for single files.
    """

    path: Path
    family: str
    pipeline: str
    size_bytes: int
    source: str  # "hf-cache", "folder" or "file"
    repo_id: str | None = None
    variant: str | None = None
    notes: tuple[str, ...] = field(default=())
    weights: Path | None = None  # a single-file denoiser that replaces the folder's own
    precision: str | None = None
    weights_id: str | None = None
    prefix: str = ""
    base_only: bool = False

    @property
    def name(self) -> str:
        if self.weights is not None:
            what = f"{self.precision} " if self.precision else ""
            return f"{self.weights.name} ({what}on {self.repo_id or self.path.name})"
        return self.repo_id or self.path.name

    @property
    def label(self) -> str:
        spec = FAMILIES[self.family]
        text = spec.label + (f" {self.variant}" if self.variant else "")
        return text + (f" ({self.precision})" if self.weights is not None and self.precision else "")

    def describe(self) -> str:
        tags = self.family + (f"-{self.variant}" if self.variant else "")
        if self.weights is None and self.precision:
            tags += f", {self.precision}"
        return f"{self.name} [{tags}]"


# --- file reading ------------------------------------------------------------------------------
def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
        raise ModelError(f"{path}: unreadable ({why}); the download may be incomplete — "
                         "download the model again") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a JSON object; the file is damaged")
    return data


def safetensors_header(path: Path) -> dict:
    """The JSON header of a .safetensors file (tensor names, dtypes, shapes), without torch."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n <= 0 or n > 100_000_000:
                raise ValueError("header size out of range")
            head = fh.read(n)
            if len(head) != n:
                raise ValueError("truncated header")
        data = json.loads(head)
        if not isinstance(data, dict):
            raise ValueError("header is not an object")
        return data
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
        raise ModelError(f"{path}: not a readable safetensors file ({why}); download it again") from None


def gguf_header(path: Path) -> gguf_file.GgufHeader:
    """The header of a .gguf file (tensor names, shapes, quant types, metadata), without torch."""
    try:
        return gguf_file.read_header(path)
    except gguf_file.GgufError as exc:
        raise ModelError(f"{path}: not a readable GGUF file ({' '.join(str(exc).split())[:200]}); download it "
                         "again") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


# safetensors dtypes as a person names them
PRECISIONS = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F64": "fp64", "F8_E4M3": "FP8 (e4m3fn)",
              "F8_E5M2": "FP8 (e5m2)"}
# what diffusers' GGUF loader reads (F32/F16 as plain tensors; the others through its dequantize kernels)
DIFFUSERS_GGUF_TYPES = frozenset({"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
                                  "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
# tensors that carry the per-tensor scales of ComfyUI's scaled FP8 (and other scaled quantized) files
SCALE_MARKS = (".scale_weight", ".weight_scale", ".scale_input", ".input_scale", ".weight_scale_2", ".comfy_quant",
               ".scaled_fp8")
SCALED_FP8 = ("scaled FP8 (per-tensor scales) is not readable by diffusers; use the bf16, GGUF or plain FP8 file")


def safetensors_precision(headers: list[dict]) -> str | None:
    """The dtype most of the weights' elements have ("bf16", "FP8 (e4m3fn)" ...); matrices and kernels count,
    1-D tensors (biases, norms) only when there is nothing else."""
    counts: Counter[str] = Counter()
    flat: Counter[str] = Counter()
    for header in headers:
        for k, v in header.items():
            if k == "__metadata__" or not isinstance(v, dict) or not isinstance(v.get("dtype"), str):
                continue
            shape = v.get("shape") if isinstance(v.get("shape"), list) else []
            n = 1
            for d in shape:
                n *= d if isinstance(d, int) and d > 0 else 1
            (counts if len(shape) >= 2 else flat)[v["dtype"]] += n
    top = (counts or flat).most_common(1)
    return PRECISIONS.get(top[0][0], top[0][0].lower()) if top else None


def gguf_precision(header: gguf_file.GgufHeader) -> str:
    """"GGUF Q4_K_M": the file's ``general.file_type``, else the type most of its matrices have."""
    if header.file_type:
        return f"GGUF {header.file_type}"
    types = Counter(t.type for t in header.tensors.values() if len(t.shape) >= 2) or \
        Counter(t.type for t in header.tensors.values())
    top = types.most_common(1)
    return f"GGUF {top[0][0]}" if top else "GGUF"


def _scaled_refusal(header: dict) -> str | None:
    names = [k for k in header if k != "__metadata__"]
    if not any(k == "scaled_fp8" or k.endswith(SCALE_MARKS) for k in names):
        return None
    fp8 = any(isinstance(v, dict) and str(v.get("dtype", "")).startswith("F8") for v in header.values())
    return SCALED_FP8 if fp8 else ("quantized weights with per-tensor scales (ComfyUI's format) are not readable by "
                                   "diffusers; use the bf16, GGUF or plain FP8 file")


def _folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size  # follows the HF cache's symlinks to blobs
        except OSError:
            pass
    return total


def _weights(folder: Path) -> tuple[list[Path], list[Path]]:
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    safe = [p for p in files if p.suffix == ".safetensors"]
    pickles = [p for p in files if p.suffix in PICKLE_SUFFIXES]
    return safe, pickles


def check_folder(path: str | Path) -> ModelInfo:
    """Read a diffusers model folder and say what it is; ModelError when it cannot be used. A folder whose
    denoiser has its ``config.json`` but no weights is no error: ``base_only`` (a base for single files)."""
    path = Path(path)
    index_file = path / "model_index.json"
    if not path.is_dir():
        raise ModelError(f"{path}: no such folder")
    if not index_file.exists():
        loose = [p.name for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES][:3]
        hint = (f" (it holds {', '.join(loose)}: single-file checkpoints need the base model's diffusers "
                "folder)") if loose else ""
        raise ModelError(f"{index_file}: missing — not a diffusers model folder{hint}")
    index = read_json(index_file)
    cls = index.get("_class_name")
    family = BY_PIPELINE.get(cls) if isinstance(cls, str) else None
    if family is None:
        known = ", ".join(sorted(BY_PIPELINE))
        raise ModelError(f"{index_file}: pipeline {cls!r} is not an editing family Akapen drives ({known})")
    spec = FAMILIES[family]
    configs: dict[str, dict] = {}
    base_only = False
    precision = None
    for comp, entry in index.items():
        if not is_component(comp, entry):
            continue
        lib, comp_cls = entry
        if lib not in ALLOWED_LIBRARIES:
            raise ModelError(f"{index_file}: component {comp!r} comes from {lib!r}; Akapen runs no remote or "
                             "custom code (only diffusers and transformers components)")
        sub = path / comp
        if not sub.is_dir():
            raise ModelError(f"{sub}: missing component {comp!r} ({comp_cls}) named in model_index.json; "
                             "the download is incomplete")
        cfg_file = next((sub / n for n in ("config.json", "scheduler_config.json", "preprocessor_config.json",
                                           "tokenizer_config.json", "processor_config.json")
                         if (sub / n).exists()), None)
        cfg = read_json(cfg_file) if cfg_file is not None else {}
        if cfg_file is not None and cfg_file.name == "config.json":
            configs[comp] = cfg
            safe, pickles = _weights(sub)
            if not safe and pickles:
                raise ModelError(f"{pickles[0]}: pickle weights ({pickles[0].suffix}) are refused — they can run "
                                 "code when loaded; use a safetensors version of this model")
            got = cfg.get("_class_name")
            if got is not None and got != comp_cls and lib == "diffusers":
                raise ModelError(f"{cfg_file}: component {comp!r} is a {got}, but model_index.json says {comp_cls}")
            if not safe and comp == spec.denoiser:
                base_only = True  # a base for single files: its configuration without weights
                continue
            if not safe:
                raise ModelError(f"{sub}: component {comp!r} has no .safetensors weights; the download is incomplete")
            headers = [safetensors_header(f) for f in safe]
            if comp == spec.denoiser:
                precision = safetensors_precision(headers)
    den = configs.get(spec.denoiser)
    if den is None:
        raise ModelError(f"{path / spec.denoiser / 'config.json'}: missing; a {spec.label} model needs its "
                         f"{spec.denoiser}")
    den_cls = den.get("_class_name")
    if den_cls not in spec.denoiser_classes:
        raise ModelError(f"{path / spec.denoiser / 'config.json'}: a {den_cls} does not belong to a {spec.label} "
                         f"model (family mismatch: model_index.json says {cls})")
    variant = None
    notes: list[str] = []
    vae = configs.get("vae", {})
    if spec.pipeline in ("FluxKontextPipeline", "FluxFillPipeline"):
        lc = _config_int(vae, "latent_channels", 16, path / "vae" / "config.json")
        blocks = vae.get("block_out_channels", [0, 0, 0, 0])
        if not isinstance(blocks, list) or not 1 <= len(blocks) <= 16:
            raise ModelError(f"{path / 'vae' / 'config.json'}: block_out_channels is not a list of channel counts")
        vsf = 2 ** (len(blocks) - 1)
        fill = _config_int(den, "in_channels", 0, path / "transformer" / "config.json") == 8 * lc + 4 * vsf * vsf
        if fill != (family == "flux-fill"):
            kind = "a Fill (inpainting)" if fill else "a text-to-image/Kontext"
            raise ModelError(f"{path / 'transformer' / 'config.json'}: the transformer is {kind} transformer, "
                             f"which does not match {cls} (family mismatch)")
    if family == "qwen-image-edit-plus":
        variant = "2511" if den.get("zero_cond_t") else "2509"
    if family == "qwen-image-2.1" and isinstance(index.get("sample_sigmas"), list) and index["sample_sigmas"]:
        variant = "turbo"  # the author's fixed sampling grid (its length is the step count)
    if family == "flux2-klein":
        cfg = index.get("is_distilled")
        variant = "base" if cfg is False else None
    return ModelInfo(path=path, family=family, pipeline=cls, size_bytes=_folder_size(path), source="folder",
                     variant=variant, notes=tuple(notes), precision=precision, base_only=base_only)


def base_only_problem(info: ModelInfo) -> str:
    """What to say of a base for single files that has none on it (or is asked for as a model)."""
    den = FAMILIES[info.family].denoiser
    return (f"{info.path}: the {den}'s weights are missing: a base for single-file {den}s, download a {den} file "
            f"for it (akapen models download …) or the full model")


def _config_int(cfg: dict, key: str, default: int, where: Path) -> int:
    v = cfg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1 << 20:
        raise ModelError(f"{where}: {key} is {v!r:.40}, not a whole number; the file is damaged")
    return v


# --- where to look -----------------------------------------------------------------------------
_FOLDERS: list[Path] = []
_LOCK = threading.Lock()


def set_model_folders(folders) -> None:
    """The user's model folders (from settings); each may be a model or hold models."""
    with _LOCK:
        _FOLDERS[:] = [Path(f).expanduser() for f in folders]


def model_folders() -> list[Path]:
    env = os.environ.get("AKAPEN_MODEL_PATH", "")
    extra = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    with _LOCK:
        return list(_FOLDERS) + extra


def hf_home() -> Path:
    """huggingface_hub's home: ``HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``."""
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "huggingface"


def hf_cache_dir() -> Path:
    """The Hugging Face cache as huggingface_hub finds it: ``HF_HUB_CACHE``, else ``hf_home()/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expandvars(os.environ["HF_HUB_CACHE"])).expanduser()
    return hf_home() / "hub"


def _snapshot(repo_dir: Path) -> Path | None:
    snaps = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        try:
            cand = snaps / ref.read_text(encoding="utf-8").strip()
            if cand.is_dir():
                return cand
        except OSError:
            pass
    if not snaps.is_dir():
        return None
    found = [p for p in snaps.iterdir() if p.is_dir()]
    pipelines = [p for p in found if (p / "model_index.json").exists()]
    found = pipelines or found  # a repo of single files has no model_index.json
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _cache_repos() -> list[tuple[str, Path]]:
    """(repo id, snapshot) of every model repo in the Hugging Face cache."""
    cache = hf_cache_dir()
    out: list[tuple[str, Path]] = []
    if not cache.is_dir():
        return out
    for repo_dir in sorted(cache.glob("models--*")):
        snap = _snapshot(repo_dir)
        if snap is not None:
            out.append((repo_dir.name[len("models--"):].replace("--", "/", 1), snap))
    return out


@dataclass(frozen=True)
class Problem:
    """A folder or file that looks like a model but cannot be used (shown by ``akapen models``);
    ``repo_id``: the Hugging Face cache repo it lies in."""

    path: Path
    reason: str
    repo_id: str | None = None

    @property
    def family(self) -> str | None:
        """The family the folder says it is (its ``model_index.json``), when it can be read."""
        try:
            cls = read_json(self.path / "model_index.json").get("_class_name")
        except ModelError:
            return None
        return BY_PIPELINE.get(cls) if isinstance(cls, str) else None


# --- base hints ---------------------------------------------------------------------------------
def catalogue_hint(repo_id: str | None, path: Path) -> str | None:
    """The default: the base recorded at download or named by the catalogue (imported on first use)."""
    from inference.hub import bases

    return bases.hint(repo_id, path)


_HINT: list[Callable[[str | None, Path], str | None] | None] = [catalogue_hint]


def set_base_hint(fn: Callable[[str | None, Path], str | None] | None) -> None:
    """Who says which base a single file runs on: ``fn(repo_id, path)`` → the base's repo id (or its
    folder), or None to match by tensors. ``repo_id`` is the cache repo the file lies in (None for a file
    in a model folder). By default the catalogue and the record of ``--base`` downloads answer
    (:mod:`inference.hub.bases`); None: no hints."""
    _HINT[0] = fn


def _hint(repo_id: str | None, path: Path) -> str | None:
    fn = _HINT[0]
    if fn is None:
        return None
    try:
        base = fn(repo_id, path)
    except Exception:  # noqa: BLE001 - a broken hint must not hide the model: match by tensors instead
        log.exception("base hint for %s", path)
        return None
    return base if isinstance(base, str) and base else None


# --- scanning -----------------------------------------------------------------------------------
def scan(folders=None, *, hf_cache: bool = True) -> tuple[list[ModelInfo], list[Problem]]:
    """Every editing model found (single files on their bases included), and what looks like a model
    but cannot be used."""
    found, _, problems = _scan(folders, hf_cache)
    return found, problems


def _scan(folders, hf_cache: bool) -> tuple[list[ModelInfo], list[ModelInfo], list[Problem]]:
    """(models, bases without their denoiser's weights, problems)."""
    from inference.diffusion import checkpoints  # (it builds on this module)

    full: list[ModelInfo] = []
    bases_only: list[ModelInfo] = []
    problems: list[Problem] = []
    singles: list[tuple[Path, str | None, str | None]] = []  # (file, its cache repo, "repo:path")

    def consider(folder: Path, source: str, repo: str | None) -> None:
        try:
            info = check_folder(folder)
        except ModelError as exc:
            problems.append(Problem(folder, str(exc), repo))
            return
        info = replace(info, source=source, repo_id=repo)
        (bases_only if info.base_only else full).append(info)

    if hf_cache:
        for repo, snap in _cache_repos():
            if (snap / "model_index.json").exists():
                consider(snap, "hf-cache", repo)
                continue
            for f in checkpoints._repo_files(snap):
                singles.append((f, repo, f"{repo}:{f.relative_to(snap).as_posix()}"))
    for base in _user_folders(folders):
        if (base / "model_index.json").exists():
            consider(base, "folder", None)
            continue
        if not base.is_dir():
            continue
        for sub in sorted(p for p in base.iterdir() if p.is_dir()):
            if (sub / "model_index.json").exists():
                consider(sub, "folder", None)
    singles += [(f, None, None) for f in checkpoints.single_files(folders)]
    found = list(full)
    used: set[Path] = set()
    memo: dict[Path, tuple[dict[str, tuple], dict]] = {}
    for f, repo, wid in singles:
        try:
            view = checkpoints._view(f)
            if repo is not None and (view.lora or not view.denoiser):
                continue  # a LoRA, a text encoder or a VAE lying beside it in the repo
            info = checkpoints._place(f, view, full + bases_only, repo=repo, weights_id=wid, memo=memo)
        except ModelError as exc:
            problems.append(Problem(f, str(exc), repo))
            continue
        found.append(info)
        used.add(info.path)
    problems += [Problem(b.path, base_only_problem(b), b.repo_id) for b in bases_only if b.path not in used]
    return found, bases_only, problems


def _user_folders(folders) -> list[Path]:
    return model_folders() if folders is None else [Path(f).expanduser() for f in folders]


def find_models(folders=None, *, hf_cache: bool = True) -> list[ModelInfo]:
    return scan(folders, hf_cache=hf_cache)[0]


_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def resolve(spec: str | Path, folders=None) -> ModelInfo:
    """A model from a folder or file path, or a repo id ("org/name") in the HF cache or the user folders;
    a cache repo of several single files takes the one meant as ``org/name:path/in/repo.gguf``."""
    from inference.diffusion import checkpoints  # (it builds on this module)

    p = Path(spec).expanduser()
    if p.exists():
        if p.is_file():
            return checkpoints.single_file(p, folders=folders)
        info = check_folder(p)
        if info.base_only:
            raise ModelError(base_only_problem(info))
        return info
    text = str(spec)
    repo, sep, inner = text.partition(":")
    if not (sep and _REPO_ID.fullmatch(repo) and inner):
        repo, inner = text, ""
    found, bases_only, problems = _scan(folders, True)
    for info in found:
        if info.weights is None and text in (info.repo_id, info.path.name):
            return info
    files = [m for m in found if m.weights_id and m.weights_id.partition(":")[0] == repo]
    if inner:
        chosen = [m for m in files if m.weights_id == text]
        if chosen:
            return chosen[0]
        bad = [pr for pr in problems if pr.repo_id == repo and pr.path.as_posix().endswith("/" + inner)]
        if bad:
            raise ModelError(bad[0].reason)
        have = ", ".join(m.weights_id or "" for m in files) or "no usable transformer file"
        raise ModelError(f"{text}: no such file of {repo} in the Hugging Face cache ({have})")
    if len(files) == 1:
        return files[0]
    if files:
        raise ModelError(f"{repo} holds several transformer files: {', '.join(m.weights_id or '' for m in files)}; "
                         f"say which as {repo}:<path in the repo>")
    for b in bases_only:
        if text in (b.repo_id, b.path.name):
            raise ModelError(base_only_problem(b))
    bad = [pr for pr in problems if pr.repo_id == repo]
    if bad:
        raise ModelError(bad[0].reason)
    cache = hf_cache_dir() / ("models--" + text.replace("/", "--"))
    if cache.is_dir():
        snap = _snapshot(cache)
        if snap is not None:
            info = check_folder(snap)
            if info.base_only:
                raise ModelError(base_only_problem(info))
            return replace(info, source="hf-cache", repo_id=text)
    raise ModelError(f"no model {text!r}: not a folder, and not in the Hugging Face cache ({hf_cache_dir()}) "
                     "or the model folders; download it or add its folder in settings")


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
