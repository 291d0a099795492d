"""``akapen servers [list|add|remove]``: the ComfyUI servers the window and the command line share; and
the glue ``akapen edit`` uses to run on them (the stored servers, or --server URL / --workflow FILE)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    ps = sub.add_parser("servers", help="list the ComfyUI servers and check them; add or remove one")
    ps.add_argument("action", nargs="?", choices=("list", "add", "remove"), default="list")
    ps.add_argument("url", nargs="?")
    ps.add_argument("--name", help="a name for the server (add)")
    ps.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each server (list)")
    ps.add_argument("-v", "--verbose", action="store_true", help="also list each server's model files")
    ps.set_defaults(func=cmd_servers)


def load_servers() -> None:
    """Use the servers added in the window (or with `akapen servers add`)."""
    from inference.comfyui import servers

    store = servers.ServerStore()
    servers.set_servers(store.load())
    if store.problem:
        print(f"akapen: note: {store.problem}", file=sys.stderr)


def comfy_backend(args, backend: str | None = None):
    """--server URL / --workflow FILE: a ComfyUI backend on these servers (or the stored ones)."""
    import os

    from inference.comfyui import FAMILY_BACKENDS
    from inference.comfyui.backend import ComfyFamilyBackend, ComfyWorkflowBackend
    from inference.comfyui.servers import ServerConfig, configured
    from inference.errors import InvalidRequest

    token = os.environ.get("AKAPEN_COMFYUI_TOKEN", "")
    targets = [ServerConfig(u, token) for u in args.server] if args.server else configured()
    for s in targets:
        if s.warning():
            print(f"akapen: warning: {s.warning()}", file=sys.stderr)
    if args.workflow:
        if backend not in (None, "comfyui-workflow"):
            raise InvalidRequest("--workflow runs your workflow; leave --backend out")
        return ComfyWorkflowBackend(targets)
    name = backend or "comfyui-kontext"
    family = name.removeprefix("comfyui-")
    if family not in FAMILY_BACKENDS:
        raise InvalidRequest(f"--server takes a ComfyUI backend: --workflow FILE.json or --backend one of "
                             f"{', '.join('comfyui-' + f for f in FAMILY_BACKENDS)}")
    return ComfyFamilyBackend(family, targets)


def cmd_servers(args) -> int:
    from inference.comfyui import servers

    store = servers.ServerStore()
    if args.action == "add":
        if not args.url:
            raise SystemExit("akapen servers add URL [--name NAME] (token from AKAPEN_COMFYUI_TOKEN)")
        import os

        cfg = servers.ServerConfig(args.url, os.environ.get("AKAPEN_COMFYUI_TOKEN", ""), args.name or "")
        store.add(cfg)
        print(f"added {cfg.url} to {store.path}")
    elif args.action == "remove":
        if not args.url:
            raise SystemExit("akapen servers remove URL")
        before = store.load()
        after = store.remove(args.url)
        print(f"removed {args.url}" if len(after) < len(before) else f"{args.url} was not in the list")
        return 0
    listed = store.load()
    if store.problem:
        print(f"akapen: note: {store.problem}", file=sys.stderr)
    if not listed:
        print(f"no ComfyUI servers set up ({store.path}); add one: akapen servers add http://127.0.0.1:8188")
        return 0
    worst = 0
    for cfg in listed:
        if not cfg.enabled:
            print(f"{cfg.label}  disabled")
            continue
        report = servers.check(cfg, timeout=args.timeout)
        name = f"{cfg.name} ({cfg.url})" if cfg.name else cfg.url
        print(f"{name}  {report.summary()}")
        if report.warning:
            print(f"  warning: {report.warning}")
        if args.verbose:
            for line in report.model_lines():
                print(f"  {line}")
        worst = worst if report.ok else 1
    return worst
