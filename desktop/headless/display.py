"""Can the window open here? Asked before Qt is started, because Qt aborts the process (SIGABRT,
a core dump) when its platform plugin cannot load or cannot reach a display.

Linux only (elsewhere Qt uses the system's own window system): no ``DISPLAY`` / ``WAYLAND_DISPLAY``,
an X display that does not answer, or a platform plugin whose libraries are missing (a fresh
Debian or Ubuntu desktop lacks ``libxcb-cursor0``) each give one line saying what to do.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

# what to install on Debian / Ubuntu for the libraries Qt's X11 and Wayland plugins load
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0", "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1", "libglib-2.0.so.0": "libglib2.0-0",
}
# everything the Qt 6 wheels need beyond a minimal system (the README's list)
QT_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
               "libxcb-randr0", "libxcb-shape0", "libxcb-xkb1", "libxkbcommon-x11-0", "libegl1", "libgl1",
               "libfontconfig1", "libdbus-1-3")
HEADLESS_NOTE = "the headless commands (akapen info, flatten, edit, models, …) work without one"


def _plugin(name: str) -> Path | None:
    try:
        import PySide6  # the package only: no Qt library is loaded by this
    except ImportError:
        return None
    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / f"libq{name}.so"
    return path if path.exists() else None


def _missing_library(plugin: Path) -> str | None:
    """The error of loading the plugin as Qt would (it names the first library that is missing), or None."""
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return str(exc)
    return None


def _install_hint(error: str) -> str:
    """"libxcb-icccm.so.4: cannot open shared object file: …" → what is missing and what to install."""
    m = re.match(r"\s*([^:\s]+\.so[.\d]*): cannot open shared object file", error)
    missing = Path(m.group(1)).name if m else None
    first = [DEBIAN_PACKAGES[missing]] if missing in DEBIAN_PACKAGES else []
    packages = " ".join(dict.fromkeys(first + list(QT_PACKAGES)))
    what = f"{missing} is missing" if missing else " ".join(error.split())[:200]
    return f"{what}; on Debian or Ubuntu: sudo apt install {packages}"


def _x_display_answers() -> bool:
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # the plugin check names the library
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(None, None)
    try:
        return xcb.xcb_connection_has_error(conn) == 0
    finally:
        xcb.xcb_disconnect(conn)


def problem(environ: dict[str, str] | None = None) -> str | None:
    """Why the window cannot open here (one line), or None when it can (or when this cannot be known)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if platform and platform not in ("xcb", "wayland"):
        return None  # offscreen, vnc, eglfs…: chosen on purpose
    x11, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    want_x11 = platform == "xcb" or (not platform and (x11 or not wayland))
    if want_x11:
        if not x11:
            if wayland:
                return None
            return (f"no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
                    f"{HEADLESS_NOTE}")
        plugin = _plugin("xcb")
        if plugin is not None:
            err = _missing_library(plugin)
            if err is not None:
                return f"the window cannot start: Qt's X11 plugin does not load ({_install_hint(err)})"
        if not _x_display_answers():
            return f"the X display {x11} does not answer (is it running, and may you use it?); {HEADLESS_NOTE}"
        return None
    plugin = _plugin("wayland")
    if plugin is not None:
        err = _missing_library(plugin)
        if err is not None:
            return f"the window cannot start: Qt's Wayland plugin does not load ({_install_hint(err)})"
    return None


def check_or_exit() -> None:
    """Before Qt starts: print why the window cannot open and exit with status 3, instead of an abort."""
    why = problem()
    if why is not None:
        print(f"akapen: {why}", file=sys.stderr)
        raise SystemExit(3)
