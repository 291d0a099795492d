"""Python's cyclic garbage collector, kept off the interactive path.

A full collection walks every object the collector tracks. With the app's modules and a large
document loaded that was about 600,000 objects and 265 ms here: one tick of a slider drag in thirty
froze for that long (issue 16's window figure). ``settle()`` collects at a moment that is a pause
anyway (the window just shown; a job just ended, when it imported new modules: torch, diffusers)
and freezes what is left, so that later collections walk only what was made since. Each settle
unfreezes first, so nothing that died meanwhile is kept for good; the window settles again just
after it lets a document go (a document is a reference cycle: frozen, it would wait for that).
"""

from __future__ import annotations

import gc
import sys

_modules_then = 0  # how many modules were loaded at the last settle


def settle(force: bool = False) -> bool:
    """Collect and freeze if new modules were loaded since the last time (or ``force``); returns
    whether it did."""
    global _modules_then
    n = len(sys.modules)
    if not force and n <= _modules_then:
        return False
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _modules_then = n
    return True
