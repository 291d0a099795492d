"""The diffusers editing families, in-process (named ``diffusion`` so it never shadows the
``diffusers`` library).

Public API
----------
- ``BACKENDS``: family name → "module:Class" (registered in :mod:`inference.registry`).
- ``backend_for_model(spec, backend=None, **options)``: the backend for a model folder or repo
  id, its family read from the files (``backend`` must agree when given).
- :mod:`inference.diffusion.models`: ``find_models``, ``scan``, ``resolve``, ``check_folder``,
  ``set_model_folders``, ``set_base_hint``, ``find_loras``, ``ModelInfo``, ``ModelError``; single-file
  transformers (.safetensors, .gguf: :mod:`inference.diffusion.gguf_file`) on their bases.
- :mod:`inference.diffusion.runtime`: ``CACHE`` (the loaded pipeline; ``CACHE.loads``,
  ``CACHE.clear()``).
- ``is_layer_split(result)``: the result is a split into layers (insert every image).

Importing this package imports neither torch nor diffusers.
"""

from __future__ import annotations

BACKENDS: dict[str, str] = {
    "instruct-pix2pix": "inference.diffusion.pix2pix:InstructPix2PixBackend",
    "flux-kontext": "inference.diffusion.kontext:KontextBackend",
    "flux-fill": "inference.diffusion.side_by_side:SideBySideBackend",
    "qwen-image-edit": "inference.diffusion.qwen_edit:QwenImageEditBackend",
    "qwen-image-edit-plus": "inference.diffusion.qwen_edit_plus:QwenImageEditPlusBackend",
    "omnigen": "inference.diffusion.omnigen:OmniGenBackend",
    "flux2": "inference.diffusion.flux2:Flux2Backend",
    "flux2-klein": "inference.diffusion.flux2:Flux2KleinBackend",
    "chronoedit": "inference.diffusion.chronoedit:ChronoEditBackend",
    "framepack": "inference.diffusion.framepack:FramePackBackend",
    "qwen-image-layered": "inference.diffusion.qwen_layered:QwenImageLayeredBackend",
    "qwen-image-2.1": "inference.diffusion.qwen21:QwenImage21Backend",
}


def backend_class(family: str):
    import importlib

    module, _, cls = BACKENDS[family].partition(":")
    return getattr(importlib.import_module(module), cls)


def backend_for_model(spec, backend: str | None = None, **options):
    """A backend instance for the model ``spec`` (folder, repo id or ModelInfo)."""
    from inference.diffusion import models
    from inference.errors import InvalidRequest

    info = spec if isinstance(spec, models.ModelInfo) else models.resolve(spec, options.get("folders"))
    if backend is not None and backend != info.family:
        if backend not in BACKENDS:
            raise InvalidRequest(f"the {backend} backend does not load diffusers models; {info.name} is a "
                                 f"{info.label} model (backend {info.family})")
        raise models.ModelError(f"{info.path}: a {info.label} model, not {models.FAMILIES[backend].label} "
                                f"(family mismatch); use --backend {info.family} or leave --backend out")
    return backend_class(info.family)(info, **options)


def is_layer_split(result) -> bool:
    from inference.diffusion.qwen_layered import is_layer_split as check

    return check(result)
