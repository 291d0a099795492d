"""The edit panel: instruction, task preset, backend, references, region, marks, seed and
parameters, Run / Cancel with progress and step previews, and a strip of results.

``panel`` assembles ``EditPanel`` from its parts: ``workflow`` ("your ComfyUI workflow"),
``references``, ``loras``, ``marks_options`` and ``running`` (jobs and the results strip), with
``widgets`` (an eliding label, thumbnails) shared between them.
"""

from desktop.panels.edit.panel import EditPanel
from desktop.panels.edit.workflow import read_workflow

__all__ = ["EditPanel", "read_workflow"]
