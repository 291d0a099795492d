"""Which files of a repo to fetch, how big they are, and what is already on disk — before any byte is fetched.

- A diffusers repo (``model_index.json`` at its root): ``model_index.json`` and, for each component it
  names, the component's folder — configs, tokenizer files and safetensors weights; never pickles
  (``.bin``, ``.pt``, ``.ckpt``…), ONNX or Flax copies, nor the root-level single-file checkpoints some
  repos carry beside their diffusers folders (FLUX.1 Kontext dev's 23.8 GB ``flux1-kontext-dev.safetensors``
  would be a second copy of its transformer). Precision variants (``*.fp16.safetensors``) are left out
  where plain weights exist.
- A repo of single files (GGUF or safetensors transformers, LoRAs): the file(s) asked for; with one weight
  file, that one. A single-file transformer needs its base's configuration and other components: with a
  ``base`` repo, its components are added (the denoiser's config, not its weights), skipping what is
  already in the cache.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from inference.diffusion import models
from inference.hub import api, cache, errors

MODEL_INDEX = "model_index.json"
KEEP = (".json", ".txt", ".model", ".safetensors", ".tiktoken", ".jinja")
WEIGHTS = (".safetensors", ".gguf")
_VARIANT = re.compile(r"\.(fp16|bf16|fp32|fp8|non_ema|ema_only|int8)(\.|-\d)")
INDEX_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Item:
    repo: str
    commit: str
    file: api.RemoteFile
    have: int  # bytes on disk (all of them when the file is installed; a partial file's otherwise)
    installed: bool = False  # linked into the snapshot with the right size

    @property
    def done(self) -> bool:
        return self.installed


@dataclass(frozen=True)
class Plan:
    repo: str
    revision: str
    commit: str
    kind: str  # "diffusers", "single-file" or "files"
    items: tuple[Item, ...]
    gated: bool = False
    base: Plan | None = None
    meta: dict = field(default_factory=dict, compare=False)  # catalogue id, label, variant …

    def all_items(self) -> list[Item]:
        return list(self.items) + (self.base.all_items() if self.base is not None else [])

    @property
    def total_bytes(self) -> int:
        return sum(i.file.size for i in self.all_items())

    @property
    def have_bytes(self) -> int:
        return sum(min(i.have, i.file.size) for i in self.all_items())

    @property
    def missing_bytes(self) -> int:
        return self.total_bytes - self.have_bytes

    @property
    def weight_files(self) -> list[str]:
        return [i.file.path for i in self.items if i.file.path.endswith(WEIGHTS)]

    def snapshot(self, cache_dir: Path | None = None) -> Path:
        return cache.repo_folder(self.repo, cache_dir) / "snapshots" / self.commit


def is_variant(name: str) -> bool:
    return bool(_VARIANT.search(name))


def diffusers_files(tree: list[api.RemoteFile], index: dict, *, repo: str,
                    skip_weights_of: tuple[str, ...] = ()) -> list[api.RemoteFile]:
    """The files a diffusers pipeline loads from ``tree``; components in ``skip_weights_of`` keep their
    configs but not their weights (a single file will replace them)."""
    by_folder: dict[str, list[api.RemoteFile]] = {}
    root = []
    for f in tree:
        head, _, _ = f.path.partition("/")
        if "/" in f.path:
            by_folder.setdefault(head, []).append(f)
        else:
            root.append(f)
    chosen = [f for f in root if f.path == MODEL_INDEX]
    if not chosen:
        raise errors.BadAnswer(f"{repo} has no {MODEL_INDEX} in its file list")
    for comp, entry in index.items():
        if not models.is_component(comp, entry):
            continue
        files = [f for f in by_folder.get(comp, []) if f.path.lower().endswith(KEEP)]
        if not files:
            raise errors.BadAnswer(f"{repo}: the component {comp!r} named in {MODEL_INDEX} has no files on the Hub")
        weights = [f for f in files if f.path.endswith(".safetensors")]
        plain = [f for f in weights if not is_variant(f.path.rsplit("/", 1)[-1])]
        if weights and not plain:
            raise errors.BadAnswer(f"{repo}: the component {comp!r} has only precision-variant weights "
                                   f"({weights[0].path}); Akapen loads the plain safetensors files")
        for f in files:
            name = f.path.rsplit("/", 1)[-1]
            if is_variant(name):
                continue
            if comp in skip_weights_of and (name.endswith(".safetensors") or name.endswith(".safetensors.index.json")):
                continue
            chosen.append(f)
    return chosen


def _read_index(hub: api.Hub, repo: str, commit: str, listed: api.RemoteFile, cache_dir: Path | None) -> dict:
    """``model_index.json``: from the cache when it is there, else read into memory (small; nothing is
    written before the plan is accepted)."""
    local = cache.snapshot_path(repo, commit, MODEL_INDEX, cache_dir)
    if cache.installed(repo, commit, listed, cache_dir) and cache.matches(local, listed):
        raw = local.read_bytes()
    else:
        resp = hub.open(hub.file_url(repo, commit, MODEL_INDEX), repo=repo, what=f"{repo}/{MODEL_INDEX}")
        try:
            raw = api._read_limited(resp, INDEX_LIMIT)
        except (OSError, ValueError) as exc:
            raise errors.NetworkError(f"the connection dropped while reading {repo}/{MODEL_INDEX}: "
                                      f"{api._why(exc)}") from None
        finally:
            resp.close()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise errors.BadAnswer(f"{repo}/{MODEL_INDEX} is not a JSON object")
    cls = data.get("_class_name")
    for comp, entry in data.items():
        if models.is_component(comp, entry):
            api.safe_path(comp)
            if entry[0] not in models.ALLOWED_LIBRARIES:
                raise errors.BadAnswer(f"{repo}: the component {comp!r} comes from {entry[0]!r}; Akapen runs no "
                                       "remote or custom code")
    if isinstance(cls, str) and cls not in models.BY_PIPELINE:
        known = ", ".join(sorted(models.BY_PIPELINE))
        raise errors.BadAnswer(f"{repo} is a {cls}, not an editing family Akapen drives ({known})")
    return data


def _denoiser(index: dict) -> str:
    fam = models.BY_PIPELINE.get(index.get("_class_name"))
    return models.FAMILIES[fam].denoiser if fam else "transformer"


def _items(repo: str, commit: str, files: list[api.RemoteFile], cache_dir: Path | None) -> tuple[Item, ...]:
    out = []
    for f in files:
        if cache.installed(repo, commit, f, cache_dir):
            out.append(Item(repo, commit, f, f.size, True))
        else:
            have = cache.partial_bytes(repo, f, cache_dir)
            blob = cache.blob_path(repo, f.etag, cache_dir)
            if blob.exists() and blob.stat().st_size == f.size:
                have = f.size  # the bytes are there; only the link is missing
            out.append(Item(repo, commit, f, have, False))
    # small files first (configs, tokenizers): a wrong repo or a missing licence shows at once
    return tuple(sorted(out, key=lambda i: (i.file.sha256 is not None, i.file.path)))


def single_weight_files(tree: list[api.RemoteFile]) -> list[api.RemoteFile]:
    return [f for f in tree if f.path.endswith(WEIGHTS)]


def make(hub: api.Hub, repo: str, revision: str = "main", files: tuple[str, ...] | list[str] = (),
         base: str | None = None, *, cache_dir: Path | None = None, meta: dict | None = None) -> Plan:
    """What downloading ``repo`` at ``revision`` (its ``files``, or what a pipeline needs) would fetch."""
    repo = api.check_repo_id(repo)
    info = hub.repo_info(repo, revision)
    if info.gated and not hub.token:
        raise errors.from_response(401, {"X-Error-Code": "GatedRepo"}, "", repo=repo, endpoint=hub.endpoint,
                                   token=False)
    tree = hub.tree(repo, info.commit)
    by_path = {f.path: f for f in tree}
    if files:
        missing = [p for p in files if p not in by_path]
        if missing:
            import difflib

            close = difflib.get_close_matches(missing[0], list(by_path), n=3)
            raise errors.FileNotOnHub(f"{repo} has no file {missing[0]!r}"
                                      + (f" (did you mean {', '.join(close)}?)" if close else ""))
        for p in files:
            if p.endswith(models.PICKLE_SUFFIXES):
                raise errors.BadAnswer(f"{p}: pickle files are refused — they can run code when loaded")
        chosen = [by_path[p] for p in files]
        kind = "files"
        if len(chosen) == 1 and MODEL_INDEX not in by_path and chosen[0].path.endswith(WEIGHTS):
            kind = "single-file"
    elif MODEL_INDEX in by_path:
        index = _read_index(hub, repo, info.commit, by_path[MODEL_INDEX], cache_dir)
        chosen = diffusers_files(tree, index, repo=repo)
        kind = "diffusers"
    else:
        weights = single_weight_files(tree)
        if not weights:
            raise errors.BadAnswer(f"{repo} holds no diffusers model ({MODEL_INDEX}) and no .safetensors or .gguf "
                                   "file; it is not a model Akapen can load")
        if len(weights) > 1:
            listing = ", ".join(f"{f.path} ({models.human_size(f.size)})" for f in sorted(weights, key=lambda f: f.size))
            raise errors.FileNotOnHub(f"{repo} holds {len(weights)} weight files; choose one with --file: {listing}")
        chosen = weights
        kind = "single-file"
    base_plan = None
    if base and kind in ("single-file", "files"):
        base = api.check_repo_id(base)
        binfo = hub.repo_info(base, "main")
        if binfo.gated and not hub.token:
            raise errors.from_response(401, {"X-Error-Code": "GatedRepo"}, "", repo=base, endpoint=hub.endpoint,
                                       token=False)
        btree = hub.tree(base, binfo.commit)
        if MODEL_INDEX not in {f.path for f in btree}:
            raise errors.BadAnswer(f"{base} is not a diffusers model (no {MODEL_INDEX}); a base must be one")
        bindex = _read_index(hub, base, binfo.commit, next(f for f in btree if f.path == MODEL_INDEX), cache_dir)
        bfiles = diffusers_files(btree, bindex, repo=base, skip_weights_of=(_denoiser(bindex),))
        base_plan = Plan(base, "main", binfo.commit, "diffusers", _items(base, binfo.commit, bfiles, cache_dir),
                         binfo.gated)
    return Plan(repo, revision, info.commit, kind, _items(repo, info.commit, chosen, cache_dir), info.gated,
                base_plan, dict(meta or {}))
