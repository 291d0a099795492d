"""The main window as an assembly: ``main_window`` (MainWindow), ``actions``, ``menus``,
``toolbars`` (the tools and the tool options), ``docks``, ``status_bar`` and ``banner``. What
the window does to its document is in ``desktop.controllers``."""

from desktop.window.main_window import MainWindow

__all__ = ["MainWindow"]
