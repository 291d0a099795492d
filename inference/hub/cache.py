"""The Hugging Face cache, written the way huggingface_hub writes it, so diffusers, ``hf`` and other
tools find what Akapen downloaded (and Akapen what they did): no second copy.

    {cache}/models--{org}--{name}/blobs/{etag}                 the file's bytes, named by its checksum
                                 /blobs/{etag}.incomplete      a download in progress (kept across restarts)
                                 /snapshots/{commit}/{path}    a relative symlink to the blob
                                 /refs/{revision}              the commit a branch pointed at

The cache folder is ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub`` (the
function of :mod:`inference.diffusion.models` that discovery uses). Where symlinks cannot be made
(Windows without developer mode) the file is moved into the snapshot instead, as huggingface_hub does.

A blob's name is its checksum (the sha256 of a large file, the git blob id of a small one), so an
installed file is verified offline by hashing it (:func:`verify_file`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from inference.diffusion.models import hf_cache_dir
from inference.hub import api, errors

HASH_BLOCK = 4 * 1024 * 1024


def repo_folder(repo: str, cache: Path | None = None) -> Path:
    return (cache or hf_cache_dir()) / ("models--" + repo.replace("/", "--"))


def repo_of(folder: Path) -> str | None:
    name = folder.name
    if not name.startswith("models--") or "--" not in name[len("models--"):]:
        return None
    return name[len("models--"):].replace("--", "/", 1)


def blob_path(repo: str, etag: str, cache: Path | None = None) -> Path:
    return repo_folder(repo, cache) / "blobs" / etag


def part_path(repo: str, etag: str, cache: Path | None = None) -> Path:
    return repo_folder(repo, cache) / "blobs" / (etag + ".incomplete")


def snapshot_path(repo: str, commit: str, path: str, cache: Path | None = None) -> Path:
    return repo_folder(repo, cache) / "snapshots" / commit / api.safe_path(path)


def write_ref(repo: str, revision: str, commit: str, cache: Path | None = None) -> None:
    """Record that ``revision`` (a branch or tag, not a commit) points at ``commit``."""
    if api.is_commit(revision):
        return
    ref = repo_folder(repo, cache) / "refs" / api.safe_path(revision)
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(ref.name + ".tmp")
    tmp.write_text(commit, encoding="utf-8")
    os.replace(tmp, ref)


def read_ref(repo: str, revision: str, cache: Path | None = None) -> str | None:
    if api.is_commit(revision):
        return revision
    try:
        text = (repo_folder(repo, cache) / "refs" / api.safe_path(revision)).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError, errors.HubError):
        return None
    return text if api.is_commit(text) else None


def link(blob: Path, target: Path) -> None:
    """Make ``target`` (in a snapshot) point at ``blob``: a relative symlink, else move the bytes there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    try:
        os.symlink(os.path.relpath(blob, target.parent), target)
    except OSError:  # no symlinks here (Windows without developer mode): the snapshot holds the file itself
        shutil.move(str(blob), str(target))


def installed(repo: str, commit: str, f: api.RemoteFile, cache: Path | None = None) -> bool:
    """The snapshot holds ``f`` with the right size (the checksum is :func:`verify_file`'s job)."""
    p = snapshot_path(repo, commit, f.path, cache)
    try:
        return p.stat().st_size == f.size
    except OSError:
        return False


def partial_bytes(repo: str, f: api.RemoteFile, cache: Path | None = None) -> int:
    try:
        return min(f.size, part_path(repo, f.etag, cache).stat().st_size)
    except OSError:
        return 0


def digest(path: Path, kind: str, size: int | None = None, cancel=None) -> str:
    """``kind`` "sha256", or "git" (the git blob id: sha1 of ``blob {size}\\0`` + the bytes)."""
    h = hashlib.sha256() if kind == "sha256" else hashlib.sha1()
    if kind == "git":
        h.update(b"blob %d\x00" % (path.stat().st_size if size is None else size))
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            h.update(block)
            if cancel is not None:
                cancel.raise_if_cancelled()
    return h.hexdigest()


def matches(path: Path, f: api.RemoteFile, cancel=None) -> bool:
    if f.sha256:
        return digest(path, "sha256", cancel=cancel) == f.sha256
    return digest(path, "git", cancel=cancel) == f.git_oid


@dataclass(frozen=True)
class Check:
    """What :func:`verify_file` found for one file: "ok", "missing", "wrong-size" or "corrupt"."""

    path: str
    state: str
    detail: str = ""


def verify_file(repo: str, commit: str, f: api.RemoteFile, cache: Path | None = None, cancel=None) -> Check:
    p = snapshot_path(repo, commit, f.path, cache)
    if not p.exists():  # (a symlink to a missing blob does not exist either)
        return Check(f.path, "missing")
    size = p.stat().st_size
    if size != f.size:
        return Check(f.path, "wrong-size", f"{size} bytes, the Hub lists {f.size}")
    if not matches(p, f, cancel):
        return Check(f.path, "corrupt", "its checksum differs from the Hub's")
    return Check(f.path, "ok")


def remove_file(repo: str, commit: str, f: api.RemoteFile, cache: Path | None = None) -> None:
    """Drop one file from a snapshot and its blob (before fetching it again)."""
    p = snapshot_path(repo, commit, f.path, cache)
    if p.is_symlink() or p.exists():
        p.unlink()
    for b in (blob_path(repo, f.etag, cache), part_path(repo, f.etag, cache)):
        b.unlink(missing_ok=True)


def disk_usage(folder: Path) -> int:
    """Bytes a repo folder takes on disk: every regular file once (symlinks are not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if os.path.stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def remove_repo(repo: str, cache: Path | None = None) -> int:
    """Delete everything of ``repo`` in the cache (every snapshot, blob and partial file); bytes freed."""
    folder = repo_folder(repo, cache)
    if not folder.is_dir():
        raise errors.RepoNotFound(f"{repo} is not in the Hugging Face cache ({folder.parent})")
    freed = disk_usage(folder)
    shutil.rmtree(folder)
    return freed


def free_bytes(path: Path) -> int | None:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def locate(path: Path, cache: Path | None = None) -> tuple[str, str, str] | None:
    """(repo, commit, path in the repo) of a file or folder inside the cache's snapshots, else None."""
    root = (cache or hf_cache_dir())
    try:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) < 3 or parts[1] != "snapshots":
        return None
    repo = repo_of(root / parts[0])
    return (repo, parts[2], "/".join(parts[3:])) if repo else None
