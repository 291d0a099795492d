"""Single-file checkpoints: a ``.safetensors`` or ``.gguf`` file holding only a denoiser's weights, in a model
folder or a Hugging Face cache repo of its own, put on the diffusers base whose configuration and other
components it runs with (the base :func:`models.set_base_hint` names, else one whose denoiser its tensors fit,
else a weightless base's config); and LoRA files found beside them. What a file holds is read from it: its
precision ("GGUF Q4_K_M", "FP8 (e4m3fn)", "bf16"), its tensor layout (diffusers' names, or an original layout
diffusers converts); what diffusers cannot load (scaled FP8, GGUF types it has no kernels for) is refused here
with the reason, before anything is loaded. Model discovery (:mod:`models`) calls this module; it reads only
headers (no torch, diffusers or gguf package).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from inference.diffusion.models import (
    DIFFUSERS_GGUF_TYPES,
    FAMILIES,
    PICKLE_SUFFIXES,
    SINGLE_SUFFIXES,
    ModelError,
    ModelInfo,
    _cache_repos,
    _hint,
    _scaled_refusal,
    _scan,
    _user_folders,
    gguf_header,
    gguf_precision,
    hf_cache_dir,
    read_json,
    safetensors_header,
    safetensors_precision,
)

PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.", "unet.")
# folders of a single-file repo that hold other components (ComfyUI's split_files/…), never a denoiser
OTHER_PARTS = frozenset({"text_encoders", "text_encoder", "text_encoder_2", "text_encoder_3", "clip", "clip_vision",
                         "vae", "vae_approx", "tokenizer", "tokenizer_2", "image_encoder", "audio_encoders",
                         "upscale_models", "controlnet", "embeddings"})
SHARD = re.compile(r"-\d{5}-of-\d{5}\.")  # a shard of a transformers/diffusers model, never a single file
REPO_DEPTH = 4
REPO_FILES = 1000
# tensor names only a denoiser has (diffusers' and the original layouts)
DENOISER_MARKS = ("transformer_blocks.", "double_blocks.", "single_blocks.", "input_blocks.", "joint_blocks.")
# GGUF general.architecture (as ComfyUI-GGUF writes it) -> the diffusers classes it is a checkpoint of
GGUF_ARCHS = {"flux": ("FluxTransformer2DModel",), "flux2": ("Flux2Transformer2DModel",),
              "qwen_image": ("QwenImageTransformer2DModel",), "wan": ("WanTransformer3DModel",
                                                                       "ChronoEditTransformer3DModel"),
              "sd1": ("UNet2DConditionModel",), "sdxl": ("UNet2DConditionModel",)}
DIT_CLASSES = ("FluxTransformer2DModel", "Flux2Transformer2DModel", "QwenImageTransformer2DModel")


def _shapes(header: dict) -> dict[str, tuple]:
    return {k: tuple(v["shape"]) if isinstance(v.get("shape"), list) else ()
            for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


def _strip_prefix(shapes: dict[str, tuple]) -> tuple[str, dict[str, tuple]]:
    for prefix in PREFIXES:
        if shapes and all(k.startswith(prefix) for k in shapes):
            return prefix, {k[len(prefix):]: v for k, v in shapes.items()}
    return "", shapes


def _strip(shapes: dict[str, tuple]) -> dict[str, tuple]:
    return _strip_prefix(shapes)[1]


@dataclass(frozen=True)
class _View:
    """What a single file holds, read from its header (kept while the file is unchanged)."""

    shapes: dict[str, tuple]  # tensor name -> shape, torch's order
    precision: str | None
    lora: bool = False
    refusal: str | None = None  # why diffusers cannot load it at all
    arch: str | None = None  # GGUF general.architecture

    @property
    def denoiser(self) -> bool:
        """Looks like a denoiser (not a VAE or a text encoder lying beside one)."""
        if self.arch in GGUF_ARCHS:
            return True
        names = _strip(self.shapes)
        return any(m in k for k in names for m in DENOISER_MARKS) or any(
            k.startswith("blocks.") or ("down_blocks." in k and ".attentions." in k) for k in names)


_VIEWS: dict[tuple[str, int, int], _View] = {}
_VIEWS_LOCK = threading.Lock()


def _view(path: Path) -> _View:
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _VIEWS_LOCK:
        if key in _VIEWS:
            return _VIEWS[key]
    if path.suffix == ".gguf":
        h = gguf_header(path)
        bad = Counter(t.type for t in h.tensors.values() if t.type not in DIFFUSERS_GGUF_TYPES)
        refusal = None
        if bad:
            kinds = ", ".join(f"{t} ({n} tensors)" for t, n in bad.most_common())
            refusal = (f"its tensors use {kinds}, which diffusers cannot read; use a GGUF of another quantization "
                       "(Q8_0, Q6_K, Q5_K_M, Q4_K_M …)")
        view = _View({k: t.shape for k, t in h.tensors.items()}, gguf_precision(h), refusal=refusal,
                     arch=h.architecture)
    else:
        header = safetensors_header(path)
        view = _View(_shapes(header), safetensors_precision([header]), lora=is_lora(header),
                     refusal=_scaled_refusal(header))
    with _VIEWS_LOCK:
        if len(_VIEWS) > 512:
            _VIEWS.clear()
        _VIEWS[key] = view
    return view


def _denoiser_shapes(info: ModelInfo) -> tuple[dict[str, tuple], dict]:
    """The base's denoiser tensors (none for a base without them) and its configuration."""
    spec = FAMILIES[info.family]
    folder = info.path / spec.denoiser
    shapes: dict[str, tuple] = {}
    for f in sorted(folder.glob("*.safetensors")):
        shapes.update(_shapes(safetensors_header(f)))
    return shapes, read_json(folder / "config.json")


@dataclass(frozen=True)
class _Fit:
    ok: bool
    reason: str = ""  # why not
    prefix: str = ""  # a wrapper prefix on the file's names, stripped when it is loaded
    layout: str = "diffusers"
    checked: bool = True  # False: accepted unchecked (a base without weights, a class not checked here)
    specific: bool = False  # the reason is worth showing when the file fits no base at all


def _blocks(names, prefix: str) -> int:
    return len({k[len(prefix):].split(".", 1)[0] for k in names if k.startswith(prefix)})


def _cfg(cfg: dict, key: str):
    v = cfg.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _width(cfg: dict) -> int | None:
    heads, dim = _cfg(cfg, "num_attention_heads"), _cfg(cfg, "attention_head_dim")
    return heads * dim if heads is not None and dim is not None else None


def _size_check(names: dict[str, tuple], cfg: dict, embed: str, context: str, doubles: str, singles: str | None,
                what: str) -> str | None:
    """None when the file's structure is the configuration's; else how they differ."""
    width, in_ch, joint = _width(cfg), _cfg(cfg, "in_channels"), _cfg(cfg, "joint_attention_dim")
    e = names.get(embed, ())
    if len(e) != 2 or (in_ch is not None and e[1] != in_ch):
        return f"its input channels ({e[1] if len(e) == 2 else '?'}) are not the model's ({in_ch})"
    have = [e[0], _blocks(names, doubles), _blocks(names, singles) if singles else 0]
    want = [width, _cfg(cfg, "num_layers"), _cfg(cfg, "num_single_layers") if singles else 0]
    c = names.get(context, ())
    if len(c) == 2 and joint is not None:
        have.append(c[1])
        want.append(joint)
    if any(w is not None and h != w for h, w in zip(have, want, strict=True)):
        return (f"another size of {what}: {have[0]} wide, {have[1]}+{have[2]} blocks, text width "
                f"{have[3] if len(have) > 3 else '?'} — the model is {want[0]} wide, {want[1]}+{want[2]} blocks, "
                f"text width {want[3] if len(want) > 3 else '?'}")
    return None


def _fit(view: _View, base: ModelInfo, memo: dict) -> _Fit:
    """Can a file with ``view``'s tensors replace ``base``'s denoiser, and how is it loaded?"""
    spec = FAMILIES[base.family]
    if base.path not in memo:
        memo[base.path] = _denoiser_shapes(base)
    den, cfg = memo[base.path]
    cls = cfg.get("_class_name")
    prefix, names = _strip_prefix(view.shapes)
    ours = view.arch is not None and cls in GGUF_ARCHS.get(view.arch, ())
    if not spec.single_file:
        return _Fit(False, f"diffusers loads no single-file {cls} ({spec.label}); use the diffusers folder of the "
                    "whole model", specific=ours)
    if "double_blocks.0.img_attn.qkv.weight" in names:  # the original (BFL) layout of FLUX.1 and FLUX.2
        flux2 = "double_stream_modulation_img.lin.weight" in names
        layout = f"original FLUX.{2 if flux2 else 1} (BFL)"
        if cls not in ("FluxTransformer2DModel", "Flux2Transformer2DModel") or flux2 != (
                cls == "Flux2Transformer2DModel"):
            return _Fit(False, f"a FLUX.{2 if flux2 else 1} checkpoint in the original (BFL) layout; the model's "
                        f"{spec.denoiser} is a {cls}", layout=layout)
        why = _size_check(names, cfg, "img_in.weight", "txt_in.weight", "double_blocks.", "single_blocks.",
                          f"FLUX.{2 if flux2 else 1}")
        if why:
            return _Fit(False, why, layout=layout, specific=True)
        if not flux2 and _width(cfg) != 3072:
            return _Fit(False, f"diffusers converts the original FLUX.1 (BFL) layout only at the full model's width "
                        f"of 3072, and this one is {_width(cfg)} wide; use a file with diffusers tensor names",
                        layout=layout, specific=True)
        return _Fit(True, prefix=prefix, layout=layout)
    if cls == "UNet2DConditionModel" and "input_blocks.0.0.weight" in names:  # converted by diffusers as it is
        ok = names["input_blocks.0.0.weight"][1:2] == (cfg.get("in_channels"),)
        return _Fit(ok, "" if ok else "its input channels are not the model's", layout="original Stable Diffusion")
    if den:
        if names == den:
            return _Fit(True, prefix=prefix)
        return _difference(names, den, cls, ours)
    if cls not in DIT_CLASSES:  # nothing to compare with: the hint alone puts it there
        return _Fit(True, prefix=prefix, checked=False, reason=f"not checked: the base has no {spec.denoiser} weights")
    qwen = cls == "QwenImageTransformer2DModel"
    embed, context = ("img_in.weight", "txt_in.weight") if qwen else ("x_embedder.weight", "context_embedder.weight")
    if embed not in names or _blocks(names, "transformer_blocks.") == 0:
        return _names_refusal(names, cls, embed, ours)
    why = _size_check(names, cfg, embed, context, "transformer_blocks.",
                      None if qwen else "single_transformer_blocks.", "the model")
    return _Fit(False, why, specific=True) if why else _Fit(True, prefix=prefix)


def _names_refusal(names, cls, model_name: str, ours: bool) -> _Fit:
    first = next(iter(sorted(names)), "nothing")
    return _Fit(False, f"its tensor names are not diffusers' {cls} names (it has {first!r} where the model has "
                f"{model_name!r}), and diffusers converts no other layout of it", layout="other", specific=ours)


def _difference(names: dict[str, tuple], den: dict[str, tuple], cls, ours: bool) -> _Fit:
    if set(names) == set(den):
        k = next(k for k in sorted(den) if den[k] != names[k])
        return _Fit(False, f"another size of the model: {k!r} is {list(names[k])} in the file, {list(den[k])} in the "
                    "model", specific=True)
    common = set(names) & set(den)
    if len(common) * 2 >= len(den):
        missing, extra = sorted(set(den) - set(names)), sorted(set(names) - set(den))
        parts = [f"{len(missing)} of the model's tensors are missing (e.g. {missing[0]!r})"] if missing else []
        parts += [f"{len(extra)} are not the model's (e.g. {extra[0]!r})"] if extra else []
        return _Fit(False, "; ".join(parts), specific=True)
    return _names_refusal(names, cls, sorted(den)[0], ours)


def fits(file_shapes: dict[str, tuple], base: ModelInfo) -> bool:
    """Can a checkpoint with these tensors replace ``base``'s denoiser? Diffusers-format files must
    match it tensor for tensor; original-format FLUX and Stable Diffusion checkpoints (which diffusers
    converts) must match its class and size."""
    fit = _fit(_View(dict(file_shapes), None), base, {})
    return fit.ok and fit.checked


def _place(path: Path, view: _View, bases: list[ModelInfo], *, repo: str | None = None,
           weights_id: str | None = None, family: str | None = None, strict: bool = False, use_hint: bool = True,
           memo: dict | None = None) -> ModelInfo:
    """The file on its base: the hinted one, else one whose denoiser it fits."""
    memo = {} if memo is None else memo
    if view.refusal:
        raise ModelError(f"{path}: {view.refusal}")
    if view.lora:
        raise ModelError(f"{path}: a LoRA, not a model; use it with --lora on the model it was trained for")
    hint = _hint(repo, path) if use_hint else None
    if hint is not None:
        chosen = [b for b in bases if hint in (b.repo_id, str(b.path))]
        if not chosen:
            raise ModelError(f"{path}: its base model {hint} is not in the Hugging Face cache or the model folders; "
                             f"download it (akapen models download {hint}) or add its folder in settings")
        fit = _fit(view, chosen[0], memo)
        if not fit.ok:
            raise ModelError(f"{path}: does not fit its base model {hint}: {fit.reason}")
        return _on(path, view, chosen[0], fit, repo, weights_id)
    fitting: list[tuple[ModelInfo, _Fit]] = []
    reasons: list[str] = []
    for b in bases:
        if family is not None and b.family != family:
            continue
        fit = _fit(view, b, memo)
        if fit.ok and fit.checked:
            fitting.append((b, fit))
        elif fit.specific and fit.reason not in reasons:
            reasons.append(fit.reason)
    if not fitting:
        why = f" ({reasons[0]})" if reasons else ""
        raise ModelError(f"{path}: a single-file checkpoint that fits none of the diffusers models found"
                         f"{' of family ' + family if family else ''}{why}; it needs the diffusers folder of its base "
                         "model (its configuration and other components) in the Hugging Face cache or a model folder")
    families = sorted({b.family for b, _ in fitting})
    if strict and len(families) > 1:
        raise ModelError(f"{path}: its weights fit models of several families ({', '.join(families)}); "
                         "say which with --backend")
    return _on(path, view, *fitting[0], repo, weights_id)


def _on(path: Path, view: _View, base: ModelInfo, fit: _Fit, repo: str | None, weights_id: str | None) -> ModelInfo:
    den = FAMILIES[base.family].denoiser
    note = f"{den} weights from {path.name}" + (f", {view.precision}" if view.precision else "")
    if fit.layout != "diffusers":
        note += f" (in the {fit.layout} layout, converted by diffusers when loaded)"
    return replace(base, size_bytes=path.stat().st_size + base.size_bytes, source="hf-cache" if repo else "file",
                   notes=base.notes + (note,), weights=path, precision=view.precision, weights_id=weights_id,
                   prefix=fit.prefix, base_only=False)


def _in_cache(path: Path) -> tuple[str | None, str | None]:
    """(repo id, "repo:path/in/repo") when ``path`` lies in a Hugging Face cache snapshot."""
    try:
        rel = path.absolute().relative_to(hf_cache_dir().absolute())
    except ValueError:
        return None, None
    parts = rel.parts
    if len(parts) < 4 or not parts[0].startswith("models--") or parts[1] != "snapshots":
        return None, None
    repo = parts[0][len("models--"):].replace("--", "/", 1)
    return repo, f"{repo}:{'/'.join(parts[3:])}"


def single_file(path: Path, family: str | None = None, base: ModelInfo | None = None, folders=None) -> ModelInfo:
    """A single-file checkpoint of a denoiser (.safetensors or .gguf), on the diffusers folder it belongs to.

    The file holds only weights: the base folder (``base``, else the one the base hint names, else a
    discovered model whose denoiser the file fits) gives the configuration and the other components. The
    family is the base's, read from its files; when bases of several families fit, ``family`` must say which.
    """
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        raise ModelError(f"{path}: pickle checkpoints ({path.suffix}) are refused — they can run code when "
                         "loaded; use a safetensors version")
    if path.suffix not in SINGLE_SUFFIXES:
        raise ModelError(f"{path}: not a .safetensors or .gguf checkpoint")
    view = _view(path)
    if base is not None:
        bases = [base]
    else:
        found, bases_only, _ = _scan(folders, True)
        bases = [m for m in found if m.weights is None] + bases_only
    repo, weights_id = _in_cache(path)
    return _place(path, view, bases, repo=repo, weights_id=weights_id, family=family, strict=True,
                  use_hint=base is None)


def _repo_files(snap: Path) -> list[Path]:
    """The .safetensors and .gguf files of a single-file repo's snapshot (a few folders deep), without the
    folders of other components and without shards of multi-file models."""
    out: list[Path] = []
    todo = [(snap, 0)]
    while todo and len(out) < REPO_FILES:
        folder, depth = todo.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for p in entries:
            if p.name.startswith("."):
                continue
            if p.is_dir():
                if depth < REPO_DEPTH and p.name.lower() not in OTHER_PARTS:
                    todo.append((p, depth + 1))
            elif p.suffix in SINGLE_SUFFIXES and not SHARD.search(p.name):
                out.append(p)
    return sorted(out[:REPO_FILES])


def _loose_files(folders=None) -> list[Path]:
    out = []
    for base in _user_folders(folders):
        if base.is_dir() and not (base / "model_index.json").exists():
            out += sorted(p for p in base.iterdir() if p.is_file() and p.suffix in SINGLE_SUFFIXES)
            for sub in ("loras", "lora", "LoRA"):
                if (base / sub).is_dir():
                    out += sorted(p for p in (base / sub).iterdir() if p.is_file() and p.suffix == ".safetensors")
    return out


def is_lora(header: dict) -> bool:
    return any("lora" in k.lower() for k in header if k != "__metadata__")


def single_files(folders=None) -> list[Path]:
    """The .safetensors and .gguf files lying directly in the model folders that are not LoRAs
    (candidate single-file checkpoints)."""
    out = []
    for p in _loose_files(folders):
        try:
            if p.suffix == ".gguf" or not _view(p).lora:
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
    repo_id: str | None = None  # the Hugging Face cache repo it lies in (its path is in the snapshot)


def find_loras(folders=None, *, hf_cache: bool = True) -> list[LoraInfo]:
    """LoRA files (.safetensors) in the model folders and their ``loras/`` subfolders, and in the Hugging
    Face cache's repos of single files. Whether one fits a model is known only when it is loaded (a clear
    error if it does not)."""
    files = [(p, None) for p in _loose_files(folders) if p.suffix == ".safetensors"]
    if hf_cache:
        for repo, snap in _cache_repos():
            if not (snap / "model_index.json").exists():
                files += [(p, repo) for p in _repo_files(snap) if p.suffix == ".safetensors"]
    out = []
    for p, repo in files:
        try:
            header = safetensors_header(p)
        except ModelError:
            continue
        if is_lora(header):
            keys = [k for k in header if k != "__metadata__"]
            layout = "kohya" if any("lora_down" in k or k.startswith("lora_unet") for k in keys) else "diffusers/peft"
            out.append(LoraInfo(p, p.stat().st_size, len(keys), layout, repo))
    return out
