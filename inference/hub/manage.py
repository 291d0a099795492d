"""The operations the Models window and ``akapen models`` share: what a catalogue id or repo id means,
whether it is installed, download, verify, repair, remove, log in. Qt-free; no torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inference.diffusion import models
from inference.hub import api, auth, cache, download, errors, plan
from inference.progress import CancelToken


@dataclass(frozen=True)
class Request:
    """What to download: a repo (at a revision), optionally some of its files and the base they run on."""

    repo: str
    revision: str = "main"
    files: tuple[str, ...] = ()
    base: str | None = None
    catalogue_id: str | None = None
    label: str = ""
    family: str | None = None
    page: str = ""

    def meta(self) -> dict:
        return {"catalogue_id": self.catalogue_id, "label": self.label or self.repo, "files": list(self.files)}

    @property
    def name(self) -> str:
        return self.label or (f"{self.repo} ({', '.join(self.files)})" if self.files else self.repo)


def _catalogue():
    from inference.hub import catalogue

    return catalogue.load()


def request_for(spec: str, files=(), revision: str | None = None, base: str | None = None) -> Request:
    """A catalogue id (no slash) or a Hub repo id, as the user typed it."""
    spec = (spec or "").strip()
    if not spec:
        raise errors.RepoNotFound("say what to download: a catalogue id (akapen models catalogue) or a repo id "
                                  "(org/name)")
    if "/" not in spec:
        v = _catalogue().get(spec)  # CatalogueError names close ids
        # a LoRA's base is a separate model (its `requires`): only single-file transformers fetch their base's parts
        vbase = v.base if v.kind in ("single-file", "gguf") else None
        return Request(v.repo, revision or v.revision or "main", tuple(files) or tuple(v.files), base or vbase,
                       v.id, f"{v.model} ({v.variant})", v.family, v.page)
    repo = api.check_repo_id(spec)
    files = tuple(files)
    if base is None and len(files) == 1:
        known_file = [v for v in _catalogue().by_repo(repo) if tuple(v.files) == files]
        if not known_file or known_file[0].kind in ("single-file", "gguf"):
            base = _catalogue().base_for(repo, files[0])
    label, family = "", None
    known = [v for v in _catalogue().by_repo(repo) if tuple(v.files) == files or (not files and v.kind == "diffusers")]
    if known:
        label, family = f"{known[0].model} ({known[0].variant})", known[0].family
    return Request(repo, revision or "main", files, base, known[0].id if known else None, label, family)


def make_plan(req: Request, hub: api.Hub | None = None, cache_dir: Path | None = None) -> plan.Plan:
    hub = hub or api.Hub()
    return plan.make(hub, req.repo, req.revision, req.files, req.base, cache_dir=cache_dir, meta=req.meta())


def local_snapshot(repo: str, revision: str = "main", cache_dir: Path | None = None) -> Path | None:
    commit = cache.read_ref(repo, revision, cache_dir)
    if commit is None:
        return None
    snap = cache.repo_folder(repo, cache_dir) / "snapshots" / commit
    return snap if snap.is_dir() else None


def has_partials(repo: str, cache_dir: Path | None = None) -> bool:
    blobs = cache.repo_folder(repo, cache_dir) / "blobs"
    return blobs.is_dir() and any(p.name.endswith(".incomplete") for p in blobs.iterdir())


def status(req: Request, cache_dir: Path | None = None) -> str:
    """"installed", "partial" (some files, or an unfinished download) or "absent" — from the disk only."""
    snap = local_snapshot(req.repo, req.revision, cache_dir)
    partial = has_partials(req.repo, cache_dir)
    if snap is None:
        return "partial" if partial or cache.repo_folder(req.repo, cache_dir).is_dir() else "absent"
    if req.files:
        ok = all((snap / f).exists() for f in req.files)
        if ok and req.base:
            ok = local_snapshot(req.base, "main", cache_dir) is not None
    else:
        try:
            ok = not models.check_folder(snap).base_only  # a base for single files is not the whole model
        except models.ModelError:
            ok = False
    return "installed" if ok else "partial"


@dataclass
class Report:
    """What a verification found: every file checked, and whether the Hub's list was used."""

    checks: list[cache.Check] = field(default_factory=list)
    online: bool = False
    note: str = ""

    @property
    def bad(self) -> list[cache.Check]:
        return [c for c in self.checks if c.state not in ("ok", "unchecked")]

    def summary(self) -> str:
        n_ok = sum(1 for c in self.checks if c.state == "ok")
        if not self.bad:
            return f"{n_ok} file(s) verified" + ("" if self.online else " offline (against their blob names)") + \
                (f"; {self.note}" if self.note else "")
        return (f"{len(self.bad)} of {len(self.checks)} file(s) wrong: "
                + "; ".join(f"{c.path} {c.state}{' (' + c.detail + ')' if c.detail else ''}" for c in self.bad[:6])
                + (f"; {self.note}" if self.note else ""))


def verify_local(repo: str, revision: str = "main", cache_dir: Path | None = None,
                 cancel: CancelToken | None = None, on_file: Callable[[str], None] | None = None) -> Report:
    """Every file of the local snapshot hashed and compared with its blob's name (the Hub's checksum),
    without the network. Files not stored as blobs (no symlinks on this system) are "unchecked"."""
    snap = local_snapshot(repo, revision, cache_dir)
    if snap is None:
        raise errors.RepoNotFound(f"{repo} is not in the Hugging Face cache ({cache.repo_folder(repo, cache_dir)})")
    report = Report()
    for root, _dirs, names in os.walk(snap):
        for name in sorted(names):
            p = Path(root) / name
            rel = p.relative_to(snap).as_posix()
            if on_file is not None:
                on_file(rel)
            if not p.is_symlink():
                report.checks.append(cache.Check(rel, "unchecked", "not a link to a blob"))
                continue
            if not p.exists():
                report.checks.append(cache.Check(rel, "missing", "its blob is gone"))
                continue
            etag = Path(os.readlink(p)).name
            kind = "sha256" if len(etag) == 64 else "git" if len(etag) == 40 else None
            if kind is None:
                report.checks.append(cache.Check(rel, "unchecked", "blob not named by a checksum"))
                continue
            ok = cache.digest(p, kind, cancel=cancel) == etag
            report.checks.append(cache.Check(rel, "ok" if ok else "corrupt", "" if ok else "checksum differs"))
    if not any(snap.glob("model_index.json")):
        return report
    try:
        models.check_folder(snap)
    except models.ModelError as exc:
        report.checks.append(cache.Check("model_index.json", "incomplete", str(exc)))
    return report


def verify(req: Request, hub: api.Hub | None = None, cache_dir: Path | None = None, cancel: CancelToken | None = None,
           on_file: Callable[[str], None] | None = None) -> tuple[Report, plan.Plan | None]:
    """Check an installed model against the Hub's list (missing files too) when the Hub can be reached,
    else offline against the blob names. The plan is returned for :func:`repair`."""
    commit = cache.read_ref(req.repo, req.revision, cache_dir)
    if commit is None:
        raise errors.RepoNotFound(f"{req.name} is not installed (nothing in {cache.repo_folder(req.repo, cache_dir)})")
    try:
        hub = hub or api.Hub()
        p = plan.make(hub, req.repo, commit, req.files, req.base, cache_dir=cache_dir, meta=req.meta())
    except (errors.NetworkError, errors.Offline, errors.ServerError) as exc:
        report = verify_local(req.repo, req.revision, cache_dir, cancel, on_file)
        report.note = f"the Hub could not be asked ({exc}); missing files are found only with it"
        return report, None
    report = Report(online=True)
    for item in p.all_items():
        if on_file is not None:
            on_file(item.file.path)
        report.checks.append(cache.verify_file(item.repo, item.commit, item.file, cache_dir, cancel))
    return report, p


def repair(req: Request, hub: api.Hub | None = None, cache_dir: Path | None = None,
           control: download.Control | None = None, on_progress=None,
           on_file: Callable[[str], None] | None = None) -> tuple[Report, download.Installed | None]:
    """Verify, delete what is wrong, fetch only that again."""
    hub = hub or api.Hub()
    report, p = verify(req, hub, cache_dir, control, on_file)
    if p is None:
        raise errors.NetworkError(f"repair needs the Hub: {report.note}")
    if not report.bad:
        return report, None
    discard_bad(report, p, cache_dir)
    fresh = plan.make(hub, req.repo, p.commit, req.files, req.base, cache_dir=cache_dir, meta=req.meta())
    return report, download.run(hub, fresh, cache_dir=cache_dir, control=control, on_progress=on_progress)


@dataclass(frozen=True)
class Removed:
    freed: int
    text: str


def remove(req: Request, cache_dir: Path | None = None) -> Removed:
    """Delete a model from the cache: a whole repo, or only the asked files of a repo of single files."""
    folder = cache.repo_folder(req.repo, cache_dir)
    if not folder.is_dir():
        raise errors.RepoNotFound(f"{req.name} is not in the Hugging Face cache ({folder.parent})")
    kept = (f"; its base {req.base} is kept (other variants use it): `akapen models remove {req.base}` removes it"
            if req.base and local_snapshot(req.base, "main", cache_dir) else "")
    if req.files:
        freed = 0
        snap = local_snapshot(req.repo, req.revision, cache_dir)
        for f in req.files:
            p = (snap / f) if snap is not None else None
            if p is None or not (p.exists() or p.is_symlink()):
                continue
            blob = p.resolve() if p.is_symlink() else p
            freed += blob.stat().st_size if blob.exists() else 0
            p.unlink()
            if blob != p and blob.exists():
                blob.unlink()
        left = [q for q in folder.rglob("*") if q.is_file() and "refs" not in q.relative_to(folder).parts]
        if not left:
            cache.remove_repo(req.repo, cache_dir)
        return Removed(freed, f"removed {req.name}: {models.human_size(freed)} freed{kept}")
    freed = cache.remove_repo(req.repo, cache_dir)
    return Removed(freed, f"removed {req.name}: {models.human_size(freed)} freed{kept}")


def login(text: str, hub: api.Hub | None = None) -> str:
    """Check a token with the Hub (whoami) and keep it where huggingface_hub reads it; the owner's name.
    A token the Hub refuses is not saved."""
    token = auth.check_token_text(text)
    hub = hub or api.Hub(token=token)
    if hub.token is None or hub.token.reveal() != token:
        hub = api.Hub(hub.endpoint, token=token, timeout=hub.timeout)
    name = hub.whoami()
    auth.save_token(token)
    return name


def discard_bad(report: Report, p: plan.Plan, cache_dir: Path | None = None) -> int:
    """Delete the files ``report`` found wrong (so a download of the same plan fetches only them); how many."""
    n = 0
    for item in p.all_items():
        if any(c.path == item.file.path and c.state not in ("ok", "unchecked") for c in report.checks):
            cache.remove_file(item.repo, item.commit, item.file, cache_dir)
            n += 1
    return n
