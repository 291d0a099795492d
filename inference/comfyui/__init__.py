"""ComfyUI servers as a remote editing engine.

The same :class:`~inference.request.EditRequest` that runs in-process can go to a ComfyUI
server (local, on a studio's GPU farm, or rented), spoken to over its native HTTP + WebSocket
API with stock nodes only — nothing to install on the server:

- :mod:`client`: one server's API (upload, queue, WebSocket events, outputs, cancel);
- :mod:`servers`: the servers the user added, their check ("connected, N node types, these
  models") and the choice of server for a job;
- :mod:`workflow`: ComfyUI workflow JSON (UI → API format through the server's
  ``/object_info``, what a workflow needs, where its images, prompt, seed and outputs are);
- :mod:`families`: graphs for the seed families ComfyUI runs natively, after the official
  templates;
- :mod:`backend`: the backends the registry lists (one per family, and "bring your own
  workflow").

ComfyUI itself is never imported or bundled: it is only ever another process.
"""

from __future__ import annotations

FAMILY_BACKENDS = ("kontext", "qwen-edit-2509", "qwen-edit-2511", "flux2-klein", "chronoedit")
WORKFLOW_BACKEND = "comfyui-workflow"


def _family_factory(family: str):
    def make():
        from inference.comfyui.backend import ComfyFamilyBackend

        return ComfyFamilyBackend(family)

    return make


BACKENDS = {f"comfyui-{f}": _family_factory(f) for f in FAMILY_BACKENDS}
BACKENDS[WORKFLOW_BACKEND] = "inference.comfyui.backend:ComfyWorkflowBackend"
