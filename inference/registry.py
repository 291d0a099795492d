"""Every backend Akapen knows, by name, with "available" or the reason it is not.

Backends register a *factory* (a "module:Class" path or a callable) under a name, so listing
them imports nothing heavy until one is used, and a backend whose module cannot be imported
(a missing package) is still listed with that reason instead of breaking the list. Only
backends that exist are registered: the diffusers families and ComfyUI add themselves here
when they are built.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from inference.backend import Availability, Backend, Capabilities
from inference.errors import BackendUnavailable, UnknownBackend

Factory = Callable[[], Backend] | str

_FACTORIES: dict[str, Factory] = {}
_INSTANCES: dict[str, Backend] = {}
_LOCK = threading.Lock()
_BUILDING: dict[str, threading.Lock] = {}


def register(name: str, factory: Factory, *, replace: bool = False) -> None:
    """Register ``factory`` (a callable returning a Backend, or "package.module:Class")."""
    if not name or name != name.strip() or " " in name:
        raise ValueError(f"a backend name is one word, not {name!r}")
    with _LOCK:
        if name in _FACTORIES and not replace:
            raise ValueError(f"a backend named {name!r} is already registered")
        _FACTORIES[name] = factory
        _INSTANCES.pop(name, None)


def unregister(name: str) -> None:
    with _LOCK:
        _FACTORIES.pop(name, None)
        _INSTANCES.pop(name, None)


def names() -> list[str]:
    with _LOCK:
        return list(_FACTORIES)


def _build(name: str) -> Backend:
    factory = _FACTORIES[name]
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            raise BackendUnavailable(f"the {name} backend needs the Python package {missing!r}, which "
                                     "is not installed") from exc
        factory = getattr(module, attr)
    return factory()


def get(name: str) -> Backend:
    """The backend called ``name`` (built once). UnknownBackend lists the names there are."""
    with _LOCK:
        if name not in _FACTORIES:
            known = ", ".join(_FACTORIES) or "none"
            raise UnknownBackend(f"no backend called {name!r}; the backends are: {known}")
        if name in _INSTANCES:
            return _INSTANCES[name]
        build_lock = _BUILDING.setdefault(name, threading.Lock())
    with build_lock:  # build outside the global lock: importing a backend (torch) takes seconds
        with _LOCK:
            if name in _INSTANCES:
                return _INSTANCES[name]
        made = _build(name)
        with _LOCK:
            return _INSTANCES.setdefault(name, made)


def built() -> dict[str, Backend]:
    """The backends made so far (name -> instance), e.g. to apply a changed setting to them."""
    with _LOCK:
        return dict(_INSTANCES)


@dataclass(frozen=True)
class BackendInfo:
    """One row of the backend list: what the UI shows (greyed with ``reason`` when unavailable)."""

    name: str
    label: str
    available: bool
    reason: str
    capabilities: Capabilities | None
    model: str = ""


def info(name: str) -> BackendInfo:
    try:
        b = get(name)
    except BackendUnavailable as exc:
        return BackendInfo(name, name, False, str(exc), None)
    try:
        avail = b.availability()
    except Exception as exc:  # an availability probe must never break the list
        avail = Availability(False, f"its check failed: {exc}")
    return BackendInfo(name, b.label or name, avail.ok, avail.reason, b.capabilities, b.model if avail.ok else "")


def list_backends() -> list[BackendInfo]:
    """Every registered backend, available or with the reason it is not."""
    return [info(n) for n in names()]


def default_backend() -> Backend:
    """The first available backend (registration order puts the preferred ones first)."""
    rows = list_backends()
    for row in rows:
        if row.available:
            return get(row.name)
    reasons = "; ".join(f"{r.name}: {r.reason}" for r in rows) or "none are registered"
    raise BackendUnavailable(f"no editing backend is available ({reasons})")


register("classical", "inference.classical:ClassicalBackend")

# the diffusers families (importing the table imports no torch; a backend module loads on use)
from inference.diffusion import BACKENDS as _DIFFUSION_BACKENDS  # noqa: E402

for _name, _factory in _DIFFUSION_BACKENDS.items():
    register(_name, _factory)

# ComfyUI servers as a remote engine (importing the table imports no network code)
from inference.comfyui import BACKENDS as _COMFY_BACKENDS  # noqa: E402

for _name, _factory in _COMFY_BACKENDS.items():
    register(_name, _factory)

# nano banana: Google's Gemini image API (importing the table imports neither the SDK nor network code)
from inference.gemini import BACKENDS as _GEMINI_BACKENDS  # noqa: E402

for _name, _factory in _GEMINI_BACKENDS.items():
    register(_name, _factory)
