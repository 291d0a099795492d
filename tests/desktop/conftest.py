"""Fixtures for the window tests: a window with a fresh document, settings in a temporary INI
file (never the user's), a temporary recovery folder, and helpers that send real mouse events
to the canvas view at canvas coordinates mapped through the view's own transform."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


@pytest.fixture(scope="session", autouse=True)
def _isolated_qsettings(tmp_path_factory):
    """Any QSettings() made during the tests lands in a temporary folder."""
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    QCoreApplication.setOrganizationName("AkapenTests")
    QCoreApplication.setApplicationName("AkapenTests")
    yield


@pytest.fixture
def settings(tmp_path):
    from desktop.settings import Settings

    return Settings.at(str(tmp_path / "settings.ini"))


@pytest.fixture
def recovery_dir(tmp_path):
    return tmp_path / "recovery"


@pytest.fixture
def make_window(qtbot, settings, recovery_dir):
    """Factory: ``make_window(document=None, path=None)`` → a shown MainWindow at 100 % zoom."""
    from desktop.window import MainWindow

    made = []

    def make(document=None, path=None, **kw):
        kw.setdefault("settings", settings)
        kw.setdefault("recovery_folder", str(recovery_dir))
        w = MainWindow(document, path, **kw)
        w.files.ask_unsaved = lambda: "discard"  # never a modal question when the test closes it
        qtbot.addWidget(w)
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        w.view.set_view(1.0, QPointF(20, 20))  # 100 %, canvas (0, 0) at widget (20, 20)
        made.append(w)
        return w

    yield make
    for w in made:
        w.files.ask_unsaved = lambda: "discard"
        if w.isVisible():
            w.close()


@pytest.fixture
def window(make_window):
    return make_window()


def photo(w: int = 64, h: int = 48, alpha: bool = False) -> np.ndarray:
    """A deterministic test image (gradients), optionally with a transparent hole."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), np.uint8)
    img[..., 0] = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    img[..., 1] = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    img[..., 2] = 128
    img[..., 3] = 255
    if alpha:
        img[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, 3] = 0
        img[: h // 8, :, 3] = 100
    return img


def send_mouse(view, kind, canvas_pt, button=Qt.MouseButton.LeftButton, buttons=None,
               modifiers=Qt.KeyboardModifier.NoModifier):
    """Send one real QMouseEvent to ``view`` at a canvas point (through the view transform)."""
    wp = view.to_widget(QPointF(*canvas_pt))
    gp = QPointF(view.mapToGlobal(wp.toPoint()))
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease, "double": QEvent.Type.MouseButtonDblClick}
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == "release" else button
    ev = QMouseEvent(types[kind], wp, gp, Qt.MouseButton.NoButton if kind == "move" else button,
                     buttons, modifiers)
    QApplication.sendEvent(view, ev)


def drag(view, points, button=Qt.MouseButton.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier):
    """Press at the first canvas point, move through the others, release at the last."""
    send_mouse(view, "press", points[0], button, modifiers=modifiers)
    for pt in points[1:]:
        send_mouse(view, "move", pt, button, buttons=button, modifiers=modifiers)
    send_mouse(view, "release", points[-1], button, modifiers=modifiers)


@pytest.fixture
def bridge(doc):
    """A DocumentBridge over the test module's own ``doc`` fixture, closed afterwards."""
    from desktop.bridge import DocumentBridge

    br = DocumentBridge(doc)
    yield br
    br.close()


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """Akapen's configuration folder (the servers file) is a temporary one, never ~/.config."""
    monkeypatch.setenv("AKAPEN_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def reset_servers():
    """The ComfyUI servers this process uses are put back to none after the test."""
    yield
    from inference.comfyui import servers

    servers.set_servers([])
