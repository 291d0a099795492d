"""ComfyUI workflow JSON: reading it, turning the UI format into an API prompt, finding its inputs.

ComfyUI saves workflows in two shapes. The *UI format* (what the editor saves: ``nodes``,
``links``, widget values by position, subgraphs under ``definitions.subgraphs``) and the *API
format* (what ``POST /prompt`` takes: ``{node_id: {"class_type", "inputs"}}``). A UI workflow
becomes a prompt the way ComfyUI's own front end does it: each node's ``widgets_values`` are
paired with the input names the server lists for that node type in ``/object_info``, links
become ``[source_id, output_slot]``, UI-only nodes (notes, reroutes, primitives) dissolve,
muted nodes drop out, bypassed ones pass their inputs through, and subgraphs are expanded with
inner ids ``"outer:inner"``.

Then :func:`analyse` says where the prompt's image inputs, prompt text, seeds, steps, guidance
and outputs are, :func:`apply` sets them for one job, and :func:`missing_node_types` /
:func:`missing_models` / :func:`unknown_choices` say what a server lacks before anything is sent.
Everything here is pure: no network, no files. Malformed input raises :class:`WorkflowError`.

The parts: ``reading`` (the JSON, limits, the error), ``node_specs`` (what ``/object_info`` says
about inputs), ``convert`` (UI → API), ``missing`` (what a server lacks) and ``inputs``
(analyse / apply). This module is their one front door: ``from inference.comfyui import
workflow as W`` then ``W.parse_workflow``, ``W.ui_to_api``, ``W.analyse``, ``W.apply``, ….
"""

from inference.comfyui.workflow.convert import (
    BYPASSED,
    CONTROL_VALUES,
    MAX_DEPTH,
    MISSING,
    MUTED,
    UI_ONLY,
    UPLOAD_VALUES,
    check_acyclic,
    ui_to_api,
)
from inference.comfyui.workflow.inputs import KNOWN_OUTPUTS, KNOWN_TEXT, Slot, WorkflowInfo, analyse, apply
from inference.comfyui.workflow.missing import (
    MODEL_EXTS,
    MissingModel,
    missing_models,
    missing_node_types,
    model_folder,
    unknown_choices,
)
from inference.comfyui.workflow.node_specs import WIDGET_TYPES, combo_options, input_spec
from inference.comfyui.workflow.reading import (
    MAX_BYTES,
    MAX_NODES,
    SEED_MAX,
    SEED_NAMES,
    WorkflowError,
    is_api_format,
    parse_workflow,
)

__all__ = [
    "BYPASSED", "CONTROL_VALUES", "KNOWN_OUTPUTS", "KNOWN_TEXT", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MISSING",
    "MODEL_EXTS", "MUTED", "SEED_MAX", "SEED_NAMES", "UI_ONLY", "UPLOAD_VALUES", "WIDGET_TYPES",
    "MissingModel", "Slot", "WorkflowError", "WorkflowInfo",
    "analyse", "apply", "check_acyclic", "combo_options", "input_spec", "is_api_format", "missing_models",
    "missing_node_types", "model_folder", "parse_workflow", "ui_to_api", "unknown_choices",
]
