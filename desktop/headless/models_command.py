"""``akapen models [list|catalogue|download|verify|repair|remove|login|logout|resume]``: the models on this
machine and getting more, on the command line (the Models window does the same with the same code).

Every failure is one line on stderr and a non-zero exit (1; 130 when stopped with Ctrl+C); Ctrl+C during a
download keeps what was fetched, and the same command continues it.
"""

from __future__ import annotations

import contextlib
import getpass
import signal
import sys
import threading
import time
from pathlib import Path

from desktop.headless.terminal import INTERRUPTED

ACTIONS = ("list", "catalogue", "download", "verify", "repair", "remove", "login", "logout", "resume")


def add_parser(sub) -> None:
    pm = sub.add_parser("models", help="the editing models here; download, verify, remove models; log in to the Hub",
                        description="Without an action: the models found (Hugging Face cache, model folders) and "
                        "unfinished downloads. ID is a catalogue id (akapen models catalogue) or a Hub repo id.")
    pm.add_argument("--folder", action="append", metavar="DIR", help="also look in this folder (repeatable)")
    acts = pm.add_subparsers(dest="action", metavar="ACTION")
    acts.add_parser("list", help="the models found (the default)").add_argument(
        "--folder", action="append", metavar="DIR", dest="folder2", help="also look in this folder")
    pc = acts.add_parser("catalogue", help="what can be downloaded, its size and whether it fits this machine")
    pc.add_argument("--family", help="only this family (e.g. flux-kontext)")
    pd = acts.add_parser("download", help="download a model into the Hugging Face cache (continues an unfinished one)")
    pd.add_argument("id", metavar="ID")
    pd.add_argument("--file", action="append", default=[], metavar="PATH", help="only this file of the repo "
                    "(repeatable): a GGUF or safetensors transformer, a LoRA")
    pd.add_argument("--revision", help="a branch, tag or commit (default: main)")
    pd.add_argument("--base", metavar="REPO", help="the diffusers model a single-file transformer runs on (its "
                    "configuration and other components are fetched when missing)")
    pd.add_argument("-n", "--dry-run", action="store_true", help="say what would be fetched and how much; fetch nothing")
    pv = acts.add_parser("verify", help="check installed files against the Hub's checksums")
    pv.add_argument("id", nargs="?", metavar="ID", help="default: every model downloaded into the cache")
    pr = acts.add_parser("repair", help="verify, then fetch again only the files that are wrong or missing")
    pr.add_argument("id", metavar="ID")
    prm = acts.add_parser("remove", help="delete a model from the Hugging Face cache and say how much was freed")
    prm.add_argument("id", metavar="ID")
    pl = acts.add_parser("login", help="check a Hugging Face token and keep it (read from standard input or HF_TOKEN)")
    pl.add_argument("--token-stdin", action="store_true", help="read the token from standard input even on a terminal")
    acts.add_parser("logout", help="forget the saved Hugging Face token")
    acts.add_parser("resume", help="continue every unfinished download")
    pm.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    action = args.action or "list"
    return {"list": _list, "catalogue": _catalogue, "download": _download, "verify": _verify, "repair": _repair,
            "remove": _remove, "login": _login, "logout": _logout, "resume": _resume}[action](args)


# --- list ------------------------------------------------------------------------------------------
def _list(args) -> int:
    from inference.diffusion import checkpoints, models
    from inference.hub import state

    extra = (args.folder or []) + (getattr(args, "folder2", None) or [])
    folders = None if not extra else models.model_folders() + [Path(f) for f in extra]
    found, problems = models.scan(folders)
    if not found:
        print(f"no diffusers editing models found (Hugging Face cache: {models.hf_cache_dir()}; "
              f"folders: {', '.join(str(f) for f in (folders or models.model_folders())) or 'none'})")
        print("  see what can be downloaded: akapen models catalogue; then: akapen models download ID")
    for m in found:
        print(f"{m.name:<40} {m.label:<40} {models.human_size(m.size_bytes):>9}  {m.source}  "
              f"{m.weights_id or m.weights or m.path}")
    for lora in checkpoints.find_loras(folders):
        print(f"{lora.path.name:<40} {'LoRA (' + lora.layout + ')':<40} {models.human_size(lora.size_bytes):>9}  "
              f"lora  {lora.path}")
    for p in problems:
        print(f"unusable: {p.reason}")
    for r in state.unfinished():
        done = f"{models.human_size(r.done_bytes)} of {models.human_size(r.total_bytes)}" if r.total_bytes else ""
        why = f" ({r.error})" if r.error else ""
        print(f"unfinished download: {r.label} — {r.state}{why}; {done} kept; continue with: "
              f"akapen models download {_again(r)}")
    return 0


def _again(r) -> str:
    if r.catalogue_id:
        return r.catalogue_id
    parts = [r.repo] + [f"--file {f}" for f in r.files] + ([f"--base {r.base}"] if r.base else [])
    if r.revision != "main":
        parts.append(f"--revision {r.revision}")
    return " ".join(parts)


# --- catalogue -------------------------------------------------------------------------------------
def _catalogue(args) -> int:
    from inference.diffusion import models
    from inference.hub import catalogue, machine, manage

    cat = catalogue.load()
    here = machine.detect(models.hf_cache_dir())
    print(f"this machine: {here.describe()}")
    variants = cat.for_family(args.family) if args.family else list(cat.variants)
    if args.family and not variants:
        raise catalogue.CatalogueError(f"no catalogue entries for the family {args.family!r}; families: "
                                       f"{', '.join(sorted({v.family for v in cat.variants}))}")
    fams = list(dict.fromkeys(v.family for v in variants))
    for fam in fams:
        label = models.FAMILIES[fam].label if fam in models.FAMILIES else fam
        rec = catalogue.recommend(cat, fam, here)
        print(f"\n{label} — recommended here: {rec.variant.id if rec.variant else 'none'} ({rec.why})")
        for v in (v for v in variants if v.family == fam):
            st = manage.status(manage.request_for(v.id))
            mark = {"installed": "installed", "partial": "partial", "absent": ""}[st]
            size = f"{v.download_gb:.1f} GB" + (f" (+{v.base_gb:.1f} base)" if v.base_gb else "")
            fit = "LoRA" if v.kind == "lora" else catalogue.fit(v, here).text
            gated = "gated" if v.gated else ""
            print(f"  {v.id:<40} {v.variant:<22} {size:>20}  {fit:<34} {gated:<5} {mark}")
    print("\ndownload one: akapen models download ID   (gated models: accept the licence on the model's page, "
          "then akapen models login)")
    return 0


# --- download ---------------------------------------------------------------------------------------
class ByteBar:
    """``label: 42%|████      | 2.1 GB of 6.9 GB · 45 MB/s · 1:46 left`` on stderr, only on a terminal."""

    def __init__(self, label: str, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.width = 0
        self.last = 0.0

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and p.done < p.total and not p.note:
            return
        self.last = now
        import shutil

        cols = shutil.get_terminal_size((100, 20)).columns
        tail = " " + p.text()
        bar_w = max(10, min(30, cols - len(self.label) - len(tail) - 10))
        full = int(p.fraction * bar_w)
        line = f"{self.label}: {p.fraction * 100:3.0f}%|{'█' * full}{' ' * (bar_w - full)}|{tail}"[: cols - 1]
        self.stream.write("\r" + line + " " * max(0, self.width - len(line)))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


@contextlib.contextmanager
def interruptible(label: str):
    """(control, bar) for one download: the first Ctrl+C pauses (the partial files are kept), a second one stops
    at once; the bar ends its line and the Ctrl+C handler is put back on the way out."""
    from inference.hub import download

    control = download.Control()
    bar = ByteBar(label if len(label) < 40 else label[:37] + "…")

    def handler(signum, frame):  # noqa: ARG001
        if control.cancelled:
            raise KeyboardInterrupt
        control.pause()
        sys.stderr.write("\nakapen: stopping; what was fetched is kept (Ctrl+C again to stop at once)\n")

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, handler) if main else None
    try:
        yield control, bar
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def fetch(req, *, dry_run: bool = False, out=None) -> int:
    """Plan, show the size, fetch with a bar; the exit status."""
    from inference.diffusion import models
    from inference.hub import api, download, errors

    out = out or sys.stdout
    hub = api.Hub()
    p = download_plan(req, hub)
    name = req.name
    total, have = p.total_bytes, p.have_bytes
    where = p.snapshot().parent.parent.parent
    line = f"{name}: {models.human_size(total)}" + (f", {models.human_size(have)} already here" if have else "")
    if p.base is not None:
        line += f" (with {p.base.repo}'s other components: {models.human_size(p.base.total_bytes)})"
    print(f"{line}; into {where}", file=out)
    if dry_run:
        for item in p.all_items():
            state = "here" if item.done else f"{models.human_size(item.have)} kept" if item.have else "to fetch"
            print(f"  {item.repo}/{item.file.path}  {models.human_size(item.file.size)}  {state}", file=out)
        return 0
    try:
        with interruptible(name) as (control, bar):
            installed = download.run(hub, p, control=control, on_progress=bar)
    except errors.Paused:
        print("akapen: paused; what was fetched is kept — run the same command to continue", file=sys.stderr)
        return INTERRUPTED
    print(f"installed: {installed.path} ({models.human_size(installed.fetched_bytes)} fetched)", file=out)
    _say_how_to_use(req, installed, out)
    return 0


def download_plan(req, hub):
    from inference.hub import manage

    return manage.make_plan(req, hub)


def _say_how_to_use(req, installed, out) -> None:
    from inference.diffusion import models

    try:
        info = models.resolve(_model_arg(req))
        print(f"ready: {info.describe()} — akapen edit PHOTO -o OUT.png --model {_model_arg(req)} \"instruction\"",
              file=out)
    except models.ModelError as exc:
        if req.files and all(f.endswith(".safetensors") for f in req.files) and req.base is None:
            print(f"a LoRA or a file for a base model: use it with --lora {installed.path}", file=out)
        else:
            print(f"note: not usable yet: {exc}", file=out)


def _model_arg(req) -> str:
    return req.repo if not req.files else f"{req.repo}:{req.files[0]}"


def _download(args) -> int:
    from inference.hub import manage

    req = manage.request_for(args.id, args.file, args.revision, args.base)
    return fetch(req, dry_run=args.dry_run)


def _resume(args) -> int:
    from inference.hub import manage, state

    pending = state.unfinished()
    if not pending:
        print("no unfinished downloads")
        return 0
    status = 0
    for r in pending:
        req = manage.Request(r.repo, r.revision, tuple(r.files), r.base, r.catalogue_id, r.label)
        status = fetch(req) or status
        if status == INTERRUPTED:
            return status
    return status


# --- verify / repair / remove -------------------------------------------------------------------------
def _installed_requests():
    from inference.diffusion import models
    from inference.hub import cache, manage

    root = models.hf_cache_dir()
    for folder in sorted(root.glob("models--*")) if root.is_dir() else []:
        repo = cache.repo_of(folder)
        if repo and manage.local_snapshot(repo) is not None:
            yield manage.Request(repo)


def _verify(args) -> int:
    from inference.hub import errors, manage

    reqs = [manage.request_for(args.id)] if args.id else list(_installed_requests())
    if not reqs:
        print("nothing downloaded into the Hugging Face cache yet")
        return 0
    bad = 0
    for req in reqs:
        try:
            report, _ = manage.verify(req)
        except errors.RepoNotFound as exc:
            print(f"{req.name}: {exc}")
            bad += 1
            continue
        print(f"{req.name}: {report.summary()}")
        if report.bad:
            bad += 1
            print(f"  repair with: akapen models repair {req.catalogue_id or req.repo}")
    return 1 if bad else 0


def _repair(args) -> int:
    from inference.diffusion import models
    from inference.hub import errors, manage

    req = manage.request_for(args.id)
    try:
        with interruptible("repair") as (control, bar):
            report, installed = manage.repair(req, control=control, on_progress=bar)
    except errors.Paused:
        print("akapen: paused; run the same command to continue", file=sys.stderr)
        return INTERRUPTED
    if installed is None:
        print(f"{req.name}: {report.summary()}; nothing to repair")
    else:
        print(f"{req.name}: repaired {len(report.bad)} file(s) ({models.human_size(installed.fetched_bytes)} fetched)")
    return 0


def _remove(args) -> int:
    from inference.hub import manage

    req = manage.request_for(args.id)
    print(manage.remove(req).text)
    return 0


# --- token -------------------------------------------------------------------------------------------
def _login(args) -> int:
    import os

    from inference.hub import auth, manage

    text = os.environ.get("HF_TOKEN", "").strip()
    source = "HF_TOKEN"
    if not text or args.token_stdin:
        source = "standard input"
        if sys.stdin.isatty() and not args.token_stdin:
            text = getpass.getpass("Hugging Face token (read access; hidden): ")
        else:
            text = sys.stdin.readline()
    try:
        name = manage.login(text)
    except ValueError as exc:
        print(f"akapen: {exc} (from {source})", file=sys.stderr)
        return 1
    print(f"logged in to {auth.endpoint()} as {name}; the token is kept in {auth.token_path()} (readable by you only)")
    return 0


def _logout(args) -> int:
    import os

    from inference.hub import auth

    removed = auth.delete_token()
    print(f"the saved token was removed ({auth.token_path()})" if removed else "no saved token")
    if os.environ.get("HF_TOKEN"):
        print("note: HF_TOKEN is still set in this environment and is still used")
    return 0
