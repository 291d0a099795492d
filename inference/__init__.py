"""Editing backends: requests, results, the model families, the classical backend, remote engines. No Qt.

The contract (every backend and the window meet here)
- :mod:`~inference.request`: the edit request and its result, frozen plain data.
- :mod:`~inference.backend`: what a backend can do, whether it can run here, and ``run()``.
- :mod:`~inference.progress`: progress reports and cancellation. :mod:`~inference.errors`: failures worded for
  the user.
- :mod:`~inference.registry`: every backend by name, available or why not. :mod:`~inference.presets`: the tasks.

Around a model run
- :mod:`~inference.region`: crop to the selection with context, paste back.
- :mod:`~inference.postprocess`: what is done to a model's images before they are pasted back.

Rooms
- :mod:`inference.pen`: the red pen (marks into inputs, per-family strategies, clean-up, alignment).
- :mod:`inference.collage`: the collage (classical refine, identity strength).
- :mod:`~inference.classical`: the embedded OpenCV backend, no GPU, no weights.
- Engines, which never import each other: :mod:`inference.diffusion` (diffusers families in-process),
  :mod:`inference.comfyui` (ComfyUI servers), :mod:`inference.gemini` (nano banana); what the remote ones share:
  :mod:`~inference.remote_files`.
- :mod:`inference.hub`: getting models (catalogue, downloads, tokens).

The rules between them are checked by ``tests/check_layers.py``.
"""
