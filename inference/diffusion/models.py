"""Model discovery: which diffusers editing models lie on this machine, and of which family.

Places looked at: the Hugging Face cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
``~/.cache/huggingface/hub``; layout ``models--org--name/snapshots/<rev>/``) and the folders
the user adds (:func:`set_model_folders`, or ``AKAPEN_MODEL_PATH`` joined with ``os.pathsep``).

The family is read FROM THE FILES — ``model_index.json``'s ``_class_name`` and the component
configs — never guessed from a name. Checking a folder (:func:`check_folder`) reads only JSON
and safetensors headers (no torch): a missing component, a pickle-only component, an unreadable
file or components of another family is a :class:`ModelError` naming the file.

Nothing here imports torch or diffusers.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from inference.errors import InferenceError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
WEIGHT_SUFFIXES = (".safetensors",) + PICKLE_SUFFIXES
ALLOWED_LIBRARIES = ("diffusers", "transformers")


class ModelError(InferenceError):
    """A model folder or file cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class FamilySpec:
    """How a family shows in its files: pipeline class, the denoiser and its class."""

    name: str
    label: str
    pipeline: str
    denoiser: str  # component name in model_index.json
    denoiser_classes: tuple[str, ...]
    download: str  # a repo to suggest when none is found
    extra_packages: tuple[str, ...] = ()


FAMILIES: dict[str, FamilySpec] = {f.name: f for f in (
    FamilySpec("instruct-pix2pix", "InstructPix2Pix", "StableDiffusionInstructPix2PixPipeline", "unet",
               ("UNet2DConditionModel",), "timbrooks/instruct-pix2pix"),
    FamilySpec("flux-kontext", "FLUX.1 Kontext", "FluxKontextPipeline", "transformer",
               ("FluxTransformer2DModel",), "black-forest-labs/FLUX.1-Kontext-dev"),
    FamilySpec("flux-fill", "ACE++ / IC-LoRA side-by-side (FLUX.1 Fill)", "FluxFillPipeline", "transformer",
               ("FluxTransformer2DModel",), "black-forest-labs/FLUX.1-Fill-dev (with an ACE++ LoRA)"),
    FamilySpec("qwen-image-edit", "Qwen-Image-Edit", "QwenImageEditPipeline", "transformer",
               ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Edit", ("torchvision",)),
    FamilySpec("qwen-image-edit-plus", "Qwen-Image-Edit-2509 / 2511", "QwenImageEditPlusPipeline", "transformer",
               ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Edit-2511", ("torchvision",)),
    FamilySpec("omnigen", "OmniGen", "OmniGenPipeline", "transformer",
               ("OmniGenTransformer2DModel",), "Shitao/OmniGen-v1-diffusers", ("torchvision",)),
    FamilySpec("flux2", "FLUX.2 dev", "Flux2Pipeline", "transformer",
               ("Flux2Transformer2DModel",), "black-forest-labs/FLUX.2-dev", ("torchvision",)),
    FamilySpec("flux2-klein", "FLUX.2 klein", "Flux2KleinPipeline", "transformer",
               ("Flux2Transformer2DModel",), "black-forest-labs/FLUX.2-klein-4B"),
    FamilySpec("chronoedit", "ChronoEdit", "ChronoEditPipeline", "transformer",
               ("ChronoEditTransformer3DModel", "WanTransformer3DModel"), "nvidia/ChronoEdit-14B-Diffusers",
               ("ftfy",)),
    FamilySpec("framepack", "FramePack one-frame", "HunyuanVideoFramepackPipeline", "transformer",
               ("HunyuanVideoFramepackTransformer3DModel",),
               "a HunyuanVideoFramepackPipeline folder (hunyuanvideo-community/HunyuanVideo with the "
               "lllyasviel/FramePackI2V_HY transformer, saved with save_pretrained)"),
    FamilySpec("qwen-image-layered", "Qwen-Image-Layered (split into layers)", "QwenImageLayeredPipeline",
               "transformer", ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Layered", ("torchvision",)),
)}
BY_PIPELINE = {f.pipeline: f.name for f in FAMILIES.values()}


@dataclass(frozen=True)
class ModelInfo:
    """One model found on disk. ``variant``: e.g. "2511" for Qwen-Image-Edit-2511."""

    path: Path
    family: str
    pipeline: str
    size_bytes: int
    source: str  # "hf-cache" or "folder"
    repo_id: str | None = None
    variant: str | None = None
    notes: tuple[str, ...] = field(default=())
    weights: Path | None = None  # a single-file denoiser that replaces the folder's own

    @property
    def name(self) -> str:
        if self.weights is not None:
            return f"{self.weights.name} (on {self.repo_id or self.path.name})"
        return self.repo_id or self.path.name

    @property
    def label(self) -> str:
        spec = FAMILIES[self.family]
        return spec.label + (f" {self.variant}" if self.variant else "")

    def describe(self) -> str:
        return f"{self.name} [{self.family}{'-' + self.variant if self.variant else ''}]"


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
    """Read a diffusers model folder and say what it is; ModelError when it cannot be used."""
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
    for comp, entry in index.items():
        if comp.startswith("_") or not isinstance(entry, list | tuple) or len(entry) != 2 or entry[0] is None:
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
            if not safe:
                raise ModelError(f"{sub}: component {comp!r} has no .safetensors weights; the download is incomplete")
            for f in safe:
                safetensors_header(f)
            got = cfg.get("_class_name")
            if got is not None and got != comp_cls and lib == "diffusers":
                raise ModelError(f"{cfg_file}: component {comp!r} is a {got}, but model_index.json says {comp_cls}")
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
    if family == "flux2-klein":
        cfg = index.get("is_distilled")
        variant = "base" if cfg is False else None
    return ModelInfo(path=path, family=family, pipeline=cls, size_bytes=_folder_size(path), source="folder",
                     variant=variant, notes=tuple(notes))


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


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


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
    found = [p for p in snaps.iterdir() if p.is_dir() and (p / "model_index.json").exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


@dataclass(frozen=True)
class Problem:
    """A folder that looks like a model but cannot be used (shown by ``akapen models``)."""

    path: Path
    reason: str


def scan(folders=None, *, hf_cache: bool = True) -> tuple[list[ModelInfo], list[Problem]]:
    """Every editing model found, and the model-like folders that cannot be used."""
    found: list[ModelInfo] = []
    problems: list[Problem] = []

    def consider(folder: Path, source: str, repo: str | None) -> None:
        try:
            info = check_folder(folder)
        except ModelError as exc:
            problems.append(Problem(folder, str(exc)))
            return
        found.append(ModelInfo(info.path, info.family, info.pipeline, info.size_bytes, source, repo,
                               info.variant, info.notes))

    if hf_cache:
        cache = hf_cache_dir()
        if cache.is_dir():
            for repo_dir in sorted(cache.glob("models--*")):
                snap = _snapshot(repo_dir)
                if snap is None or not (snap / "model_index.json").exists():
                    continue
                repo = repo_dir.name[len("models--"):].replace("--", "/", 1)
                consider(snap, "hf-cache", repo)
    for base in (model_folders() if folders is None else [Path(f).expanduser() for f in folders]):
        if (base / "model_index.json").exists():
            consider(base, "folder", None)
            continue
        if not base.is_dir():
            continue
        for sub in sorted(p for p in base.iterdir() if p.is_dir()):
            if (sub / "model_index.json").exists():
                consider(sub, "folder", None)
    bases = list(found)
    for f in single_files(folders):
        try:
            found.append(_single_on(f, bases))
        except ModelError as exc:
            problems.append(Problem(f, str(exc)))
    return found, problems


def _single_on(path: Path, bases: list[ModelInfo]) -> ModelInfo:
    shapes = _shapes(safetensors_header(path))
    fitting = [m for m in bases if fits(shapes, m)]
    if not fitting:
        raise ModelError(f"{path}: a single-file checkpoint that fits none of the diffusers models found; add the "
                         "diffusers folder of its base model")
    return single_file(path, family=fitting[0].family, base=fitting[0])


def find_models(folders=None, *, hf_cache: bool = True) -> list[ModelInfo]:
    return scan(folders, hf_cache=hf_cache)[0]


def resolve(spec: str | Path, folders=None) -> ModelInfo:
    """A model from a folder path or a repo id ("org/name") in the HF cache or the user folders."""
    p = Path(spec).expanduser()
    if p.exists():
        if p.is_file():
            return single_file(p, folders=folders)
        return check_folder(p)
    text = str(spec)
    for info in find_models(folders):
        if info.repo_id == text or info.path.name == text:
            return info
    cache = hf_cache_dir() / ("models--" + text.replace("/", "--"))
    if cache.is_dir():
        snap = _snapshot(cache)
        if snap is not None:
            info = check_folder(snap)
            return ModelInfo(info.path, info.family, info.pipeline, info.size_bytes, "hf-cache", text,
                             info.variant, info.notes)
    raise ModelError(f"no model {text!r}: not a folder, and not in the Hugging Face cache ({hf_cache_dir()}) "
                     "or the model folders; download it or add its folder in settings")


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


# --- single-file checkpoints -------------------------------------------------------------------
PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.", "unet.")


def _shapes(header: dict) -> dict[str, tuple]:
    return {k: tuple(v["shape"]) if isinstance(v.get("shape"), list) else ()
            for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


def _strip(shapes: dict[str, tuple]) -> dict[str, tuple]:
    for prefix in PREFIXES:
        if shapes and all(k.startswith(prefix) for k in shapes):
            return {k[len(prefix):]: v for k, v in shapes.items()}
    return shapes


def _denoiser_shapes(info: ModelInfo) -> tuple[dict[str, tuple], dict]:
    spec = FAMILIES[info.family]
    folder = info.path / spec.denoiser
    shapes: dict[str, tuple] = {}
    for f in sorted(folder.glob("*.safetensors")):
        shapes.update(_shapes(safetensors_header(f)))
    return shapes, read_json(folder / "config.json")


def fits(file_shapes: dict[str, tuple], base: ModelInfo) -> bool:
    """Can a checkpoint with these tensors replace ``base``'s denoiser? Diffusers-format files must
    match it tensor for tensor; original-format FLUX.1 and Stable Diffusion checkpoints (which
    diffusers converts) must match its class and input channels."""
    shapes, cfg = _denoiser_shapes(base)
    stripped = _strip(file_shapes)
    if stripped == shapes:
        return True
    cls = cfg.get("_class_name")
    if cls == "FluxTransformer2DModel" and "img_in.weight" in stripped and "double_blocks.0.img_attn.qkv.weight" in stripped:
        return stripped["img_in.weight"][1:] == (cfg.get("in_channels"),)
    if cls == "UNet2DConditionModel" and "input_blocks.0.0.weight" in stripped:
        return stripped["input_blocks.0.0.weight"][1:2] == (cfg.get("in_channels"),)
    return False


def single_file(path: Path, family: str | None = None, base: ModelInfo | None = None, folders=None) -> ModelInfo:
    """A single-file checkpoint of a denoiser, on the diffusers folder it belongs to.

    The file holds only weights: the base folder (``base``, else a discovered model whose
    denoiser the file fits) gives the configuration and the other components. The family is the
    base's, read from its files; when bases of several families fit, ``family`` must say which.
    """
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        raise ModelError(f"{path}: pickle checkpoints ({path.suffix}) are refused — they can run code when "
                         "loaded; use a safetensors version")
    if path.suffix != ".safetensors":
        raise ModelError(f"{path}: not a .safetensors checkpoint")
    shapes = _shapes(safetensors_header(path))
    candidates = [base] if base is not None else find_models(folders)
    fitting = [m for m in candidates if m.weights is None and (family is None or m.family == family) and fits(shapes, m)]
    if not fitting:
        raise ModelError(f"{path}: a single-file checkpoint that fits none of the diffusers models found"
                         f"{' of family ' + family if family else ''}; it needs the diffusers folder of its base "
                         "model (its configuration and other components) in the Hugging Face cache or a model folder")
    families = sorted({m.family for m in fitting})
    if len(families) > 1:
        raise ModelError(f"{path}: its weights fit models of several families ({', '.join(families)}); "
                         "say which with --backend")
    b = fitting[0]
    return ModelInfo(b.path, b.family, b.pipeline, path.stat().st_size + b.size_bytes, "file", b.repo_id,
                     b.variant, b.notes + (f"denoiser weights from {path.name}",), weights=path)


def _loose_files(folders=None) -> list[Path]:
    out = []
    for base in (model_folders() if folders is None else [Path(f).expanduser() for f in folders]):
        if base.is_dir() and not (base / "model_index.json").exists():
            out += sorted(p for p in base.iterdir() if p.is_file() and p.suffix == ".safetensors")
            for sub in ("loras", "lora", "LoRA"):
                if (base / sub).is_dir():
                    out += sorted(p for p in (base / sub).iterdir() if p.is_file() and p.suffix == ".safetensors")
    return out


def is_lora(header: dict) -> bool:
    return any("lora" in k.lower() for k in header if k != "__metadata__")


def single_files(folders=None) -> list[Path]:
    """The .safetensors files lying directly in the model folders that are not LoRAs (candidate
    single-file checkpoints)."""
    out = []
    for p in _loose_files(folders):
        try:
            if not is_lora(safetensors_header(p)):
                out.append(p)
        except ModelError:
            out.append(p)  # reported as a problem by scan()
    return out


@dataclass(frozen=True)
class LoraInfo:
    path: Path
    size_bytes: int
    tensors: int
    layout: str  # "diffusers/peft" or "kohya"


def find_loras(folders=None) -> list[LoraInfo]:
    """LoRA files (.safetensors) in the model folders and their ``loras/`` subfolders. Whether one
    fits a model is known only when it is loaded (a clear error if it does not)."""
    out = []
    for p in _loose_files(folders):
        try:
            header = safetensors_header(p)
        except ModelError:
            continue
        if is_lora(header):
            keys = [k for k in header if k != "__metadata__"]
            layout = "kohya" if any("lora_down" in k or k.startswith("lora_unet") for k in keys) else "diffusers/peft"
            out.append(LoraInfo(p, p.stat().st_size, len(keys), layout))
    return out
