"""The ComfyUI servers the user added: stored, checked, and chosen for each job.

Servers are kept in one JSON file (``servers.json`` in Akapen's configuration folder, written
only by its owner since it may hold tokens), shared by the window and the command line. A
check asks the server what it is (``/system_stats``), what it knows (``/object_info``) and how
busy it is (``/queue``); its :class:`ServerReport` says it in words ("connected, 397 node
types, 3 models"). :func:`choose` sends a job to the server with the shortest queue among
those that have every node type and model file the job needs, and says precisely what each
other server lacks when none does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from inference import remote_files
from inference.comfyui.client import ComfyClient, ServerError, normalise_url, transport_warning
from inference.errors import BackendUnavailable, InvalidRequest
from inference.remote_files import config_dir

STORE_LIMIT = 1024 * 1024
MAX_SERVERS = 64

# loader node → (input, models folder): what "these models" lists for a server
MODEL_LISTS = {
    "CheckpointLoaderSimple": ("ckpt_name", "checkpoints"),
    "UNETLoader": ("unet_name", "diffusion_models"),
    "CLIPLoader": ("clip_name", "text_encoders"),
    "VAELoader": ("vae_name", "vae"),
    "LoraLoaderModelOnly": ("lora_name", "loras"),
}


@dataclass(frozen=True)
class ServerConfig:
    """One server as the user added it: its address, an optional bearer token, a name."""

    url: str
    token: str = ""
    name: str = ""
    enabled: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", normalise_url(self.url))
        if any(not " " <= c <= "~" for c in self.token):  # it goes into an HTTP header as it is
            raise InvalidRequest("a bearer token is printable ASCII text, without control characters")

    @property
    def label(self) -> str:
        return self.name or self.url

    def warning(self) -> str:
        return transport_warning(self.url)

    def client(self, timeout: float = 20.0) -> ComfyClient:
        return ComfyClient(self.url, self.token, timeout=timeout)

    def to_dict(self) -> dict:
        return {"url": self.url, "token": self.token, "name": self.name, "enabled": self.enabled}


class ServerStore:
    """The servers file. ``load()`` never raises on a damaged file: it returns what it can read
    and puts the problem in ``problem``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / "servers.json"
        self.problem = ""

    def load(self) -> list[ServerConfig]:
        self.problem = ""
        try:
            if self.path.stat().st_size > STORE_LIMIT:
                self.problem = f"{self.path} is larger than 1 MB; ignored"
                return []
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
            self.problem = f"{self.path} could not be read ({why}); no servers loaded"
            return []
        items = data.get("servers") if isinstance(data, dict) else None
        out: list[ServerConfig] = []
        for item in (items if isinstance(items, list) else [])[:MAX_SERVERS]:
            try:
                out.append(ServerConfig(str(item["url"]), str(item.get("token", "")), str(item.get("name", "")),
                                        bool(item.get("enabled", True))))
            except (KeyError, TypeError, AttributeError, InvalidRequest) as exc:
                self.problem = f"{self.path}: an entry was skipped ({' '.join(str(exc).split())[:200]})"
        return out

    def save(self, servers: Sequence[ServerConfig]) -> None:
        text = json.dumps({"servers": [s.to_dict() for s in servers]}, indent=2)
        remote_files.write_private(self.path, text)  # it may hold tokens

    def add(self, server: ServerConfig) -> list[ServerConfig]:
        servers = [s for s in self.load() if s.url != server.url] + [server]
        self.save(servers)
        return servers

    def remove(self, url: str) -> list[ServerConfig]:
        url = normalise_url(url)
        servers = [s for s in self.load() if s.url != url]
        self.save(servers)
        return servers


# --- the servers this process uses (set by the window or the command line) ---------------------
_CONFIGURED: list[ServerConfig] = []
_LOCK = threading.Lock()


def set_servers(servers: Sequence[ServerConfig]) -> None:
    with _LOCK:
        _CONFIGURED[:] = list(servers)


def configured() -> list[ServerConfig]:
    with _LOCK:
        return [s for s in _CONFIGURED if s.enabled]


# --- checking a server ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerReport:
    """What a check found. ``ok`` False: ``error`` says why (unreachable, not ComfyUI, token)."""

    url: str
    ok: bool
    error: str = ""
    version: str = ""
    devices: tuple[str, ...] = ()
    node_types: int = 0
    models: dict[str, tuple[str, ...]] = field(default_factory=dict)
    queue: int = 0
    warning: str = ""
    checked_at: float = 0.0

    def summary(self) -> str:
        if not self.ok:
            return f"not connected: {self.error}"
        n_models = sum(len(v) for v in self.models.values())
        dev = f" on {', '.join(self.devices)}" if self.devices else ""
        busy = f", {self.queue} job(s) queued" if self.queue else ""
        return (f"connected: ComfyUI {self.version or '?'}{dev}, {self.node_types} node types, "
                f"{n_models} model file(s){busy}")

    def model_lines(self) -> list[str]:
        return [f"{folder}: {', '.join(files)}" for folder, files in self.models.items() if files]


def list_models(object_info: dict) -> dict[str, tuple[str, ...]]:
    """Model files the server lists, by models folder (read from its loader nodes' choices)."""
    out: dict[str, tuple[str, ...]] = {}
    for node, (inp, folder) in MODEL_LISTS.items():
        spec = (((object_info.get(node) or {}).get("input") or {}).get("required") or {}).get(inp)
        choices = combo_options(spec)
        if choices is not None:
            out[folder] = tuple(choices)
    return out


def combo_options(spec) -> list[str] | None:
    """The choices of a COMBO input in /object_info: ``[[a, b], {...}]`` or ``["COMBO", {"options": [a, b]}]``."""
    if not isinstance(spec, list) or not spec:
        return None
    if isinstance(spec[0], list):
        return [str(x) for x in spec[0] if isinstance(x, str)]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict) and isinstance(spec[1].get("options"), list):
        return [str(x) for x in spec[1]["options"] if isinstance(x, str)]
    return None


_REPORTS: dict[str, ServerReport] = {}


def check(server: ServerConfig, *, timeout: float = 10.0) -> ServerReport:
    """Ask the server what it is, what it knows and how busy it is (never raises)."""
    client = server.client(timeout)
    try:
        stats = client.system_stats()
        info = client.object_info(refresh=True)
        queue = client.queue()
    except (ServerError, InvalidRequest) as exc:
        report = ServerReport(server.url, False, str(exc), warning=server.warning(), checked_at=time.time())
    else:
        system = stats.get("system") or {}
        devices = tuple(str(d.get("name", "?")) for d in stats.get("devices") or () if isinstance(d, dict))
        report = ServerReport(server.url, True, "", str(system.get("comfyui_version", "")), devices, len(info),
                              list_models(info), queue.length, server.warning(), time.time())
    with _LOCK:
        _REPORTS[server.url] = report
    return report


def last_report(url: str) -> ServerReport | None:
    with _LOCK:
        return _REPORTS.get(normalise_url(url))


# --- choosing a server for a job ---------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    server: ServerConfig
    client: ComfyClient
    prompt: dict
    queue: int


@dataclass(frozen=True)
class Plan:
    """The job's graph for one server and what that server lacks to run it."""

    prompt: dict
    node_types: tuple[str, ...] = ()   # node types it does not know
    model_files: tuple[str, ...] = ()  # model files it does not list
    options: tuple[str, ...] = ()      # input choices it does not offer (an older ComfyUI)

    @property
    def lacks(self) -> str:
        parts = []
        if self.node_types:
            parts.append("node types " + ", ".join(self.node_types) + " (install or update ComfyUI or the custom nodes)")
        if self.model_files:
            parts.append("model files " + ", ".join(self.model_files) + " (in its ComfyUI/models folder)")
        if self.options:
            parts.append("options " + "; ".join(self.options))
        return "; ".join(parts)


Planner = Callable[[ComfyClient], Plan]
"""Builds the job's graph for one server."""


def choose(servers: Sequence[ServerConfig], plan: Planner, *, timeout: float = 10.0,
           exclude: Sequence[str] = ()) -> tuple[Candidate, list[str]]:
    """The server with the shortest queue that has everything ``plan`` needs, and notes on the
    servers passed over. BackendUnavailable says what each server lacks when none will do."""
    servers = [s for s in servers if s.url not in set(exclude)]
    if not servers:
        raise BackendUnavailable("no ComfyUI server is set up: add one in Edit › Servers… "
                                 "(or pass --server URL on the command line)")

    def ask(server: ServerConfig) -> tuple[str, Candidate | str]:
        client = server.client(timeout)
        try:
            found = plan(client)
            if found.lacks:  # what it lists may be a few seconds old: ask once more
                client.object_info(refresh=True)
                found = plan(client)
            queue = client.queue().length
        except ServerError as exc:
            with _LOCK:
                _REPORTS[server.url] = ServerReport(server.url, False, str(exc), checked_at=time.time())
            return "skipped", f"{server.label} skipped: {exc}"
        if found.lacks:
            return "lacks", f"{server.label} lacks {found.lacks}"
        return "fits", Candidate(server, client, found.prompt, queue)

    # all at once: a server that does not answer costs its timeout once, not once per server
    with ThreadPoolExecutor(max_workers=min(8, len(servers)), thread_name_prefix="akapen-comfy") as pool:
        answers = list(pool.map(ask, servers))
    fits = [v for k, v in answers if k == "fits"]
    notes = [v for k, v in answers if k == "skipped"]
    lacking = [v for k, v in answers if k == "lacks"]
    if not fits:
        why = lacking + notes
        raise BackendUnavailable("no ComfyUI server can run this edit:\n  " + "\n  ".join(why))
    best = min(fits, key=lambda c: c.queue)  # stable: the first listed wins a tie
    return best, notes + lacking
