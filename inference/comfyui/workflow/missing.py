"""What a server lacks for a prompt, said before anything is sent: node types, model files,
and choices its ComfyUI is too old to offer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.comfyui.workflow.node_specs import combo_options, input_spec, is_upload

MODEL_EXTS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


def missing_node_types(prompt: dict, object_info: dict) -> list[str]:
    """Node types the prompt uses that the server does not have (custom nodes to install)."""
    return sorted({n["class_type"] for n in prompt.values() if n["class_type"] not in object_info})


@dataclass(frozen=True)
class MissingModel:
    """A model file a node asks for that the server does not list."""

    node_id: str
    class_type: str
    input_name: str
    filename: str
    folder: str  # best guess of the ComfyUI models folder ("vae", "diffusion_models", ...); "" unknown

    def __str__(self) -> str:
        where = f"{self.folder}/{self.filename}" if self.folder else self.filename
        return f"{where} ({self.class_type})"


_FOLDER_BY_INPUT = {"unet_name": "diffusion_models", "vae_name": "vae", "lora_name": "loras",
                    "ckpt_name": "checkpoints", "control_net_name": "controlnet", "style_model_name": "style_models",
                    "gligen_name": "gligen", "hypernetwork_name": "hypernetworks",
                    "audio_encoder_name": "audio_encoders"}
_FOLDER_BY_CLASS = (("CLIPVision", "clip_vision"), ("Lora", "loras"), ("VAE", "vae"), ("ControlNet", "controlnet"),
                    ("CLIP", "text_encoders"), ("Checkpoint", "checkpoints"), ("UNET", "diffusion_models"),
                    ("Diffusion", "diffusion_models"), ("Upscale", "upscale_models"), ("Style", "style_models"),
                    ("Patch", "model_patches"))


def model_folder(class_type: str, input_name: str) -> str:
    """Best guess of the ComfyUI models folder a loader's file input reads from."""
    if input_name.startswith("clip_name"):
        return "clip_vision" if "CLIPVision" in class_type else "text_encoders"
    if class_type.startswith("LoraLoader"):
        return "loras"
    if input_name in _FOLDER_BY_INPUT:
        return _FOLDER_BY_INPUT[input_name]
    return next((folder for key, folder in _FOLDER_BY_CLASS if key in class_type), "")


def _is_model_input(class_type: str, name: str, value: Any, ispec: list) -> bool:
    if not isinstance(value, str) or is_upload(ispec):
        return False  # LoadImage's image is an uploaded picture, not a model
    return value.lower().endswith(MODEL_EXTS) or (name.endswith("_name") and "Loader" in class_type)


def _choices(prompt: dict, object_info: dict):
    """(node id, node, input name, value, choices) of every COMBO value the prompt sets."""
    for nid, node in prompt.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                continue
            ispec = input_spec(object_info, node["class_type"], name)
            choices = combo_options(ispec)
            if choices is not None:
                yield nid, node, name, value, choices, ispec


def missing_models(prompt: dict, object_info: dict) -> list[MissingModel]:
    """The model files the prompt's loaders ask for that the server does not list."""
    out = []
    for nid, node, name, value, choices, ispec in _choices(prompt, object_info):
        if _is_model_input(node["class_type"], name, value, ispec) and value not in choices:
            out.append(MissingModel(nid, node["class_type"], name, value, model_folder(node["class_type"], name)))
    return out


def unknown_choices(prompt: dict, object_info: dict) -> list[str]:
    """Choices (not model files or images) the server does not offer: its ComfyUI is older than the graph.

    E.g. Qwen-Image-Edit-2511's ``reference_latents_method`` "index_timestep_zero", which
    ComfyUI 0.3.75 does not have. Each line names the node, the input and what it offers.
    """
    out = []
    for nid, node, name, value, choices, ispec in _choices(prompt, object_info):
        if is_upload(ispec) or _is_model_input(node["class_type"], name, value, ispec) or value in choices:
            continue
        offered = ", ".join(map(str, choices[:12])) + (", …" if len(choices) > 12 else "")
        out.append(f"{node['class_type']} (node {nid}) {name} {value!r}: this server offers {offered or 'nothing'}; "
                   "update its ComfyUI")
    return out
