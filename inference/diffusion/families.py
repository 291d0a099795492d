"""The diffusers editing families as their files show them: the pipeline class in ``model_index.json``, the
denoiser component and its classes, a repository to suggest, the extra packages it needs.

:data:`FAMILIES` (name → :class:`FamilySpec`) and :data:`BY_PIPELINE` (pipeline class → name) are read by model
discovery (:mod:`inference.diffusion.models`, which re-exports them), the backends and the catalogue. Split from
``models`` to keep that module about finding and checking folders. Imports neither torch nor diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FamilySpec:
    """How a family shows in its files: pipeline class, the denoiser and its class."""

    name: str
    label: str
    pipeline: str
    denoiser: str  # component name in model_index.json
    denoiser_classes: tuple[str, ...]
    download: str  # a repo to suggest when none is found
    extra_packages: tuple[str, ...] = ()
    single_file: bool = True  # diffusers' from_single_file reads this denoiser class


FAMILIES: dict[str, FamilySpec] = {f.name: f for f in (
    FamilySpec("instruct-pix2pix", "InstructPix2Pix", "StableDiffusionInstructPix2PixPipeline", "unet",
               ("UNet2DConditionModel",), "timbrooks/instruct-pix2pix"),
    FamilySpec("flux-kontext", "FLUX.1 Kontext", "FluxKontextPipeline", "transformer",
               ("FluxTransformer2DModel",), "black-forest-labs/FLUX.1-Kontext-dev"),
    FamilySpec("flux-fill", "ACE++ / IC-LoRA side-by-side (FLUX.1 Fill)", "FluxFillPipeline", "transformer",
               ("FluxTransformer2DModel",), "black-forest-labs/FLUX.1-Fill-dev (with an ACE++ LoRA)"),
    FamilySpec("qwen-image-edit", "Qwen-Image-Edit", "QwenImageEditPipeline", "transformer",
               ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Edit", ("torchvision",)),
    FamilySpec("qwen-image-edit-plus", "Qwen-Image-Edit-2509 / 2511", "QwenImageEditPlusPipeline", "transformer",
               ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Edit-2511", ("torchvision",)),
    FamilySpec("omnigen", "OmniGen", "OmniGenPipeline", "transformer",
               ("OmniGenTransformer2DModel",), "Shitao/OmniGen-v1-diffusers", ("torchvision",), single_file=False),
    FamilySpec("flux2", "FLUX.2 dev", "Flux2Pipeline", "transformer",
               ("Flux2Transformer2DModel",), "black-forest-labs/FLUX.2-dev", ("torchvision",)),
    FamilySpec("flux2-klein", "FLUX.2 klein", "Flux2KleinPipeline", "transformer",
               ("Flux2Transformer2DModel",), "black-forest-labs/FLUX.2-klein-4B"),
    FamilySpec("chronoedit", "ChronoEdit", "ChronoEditPipeline", "transformer",
               ("ChronoEditTransformer3DModel", "WanTransformer3DModel"), "nvidia/ChronoEdit-14B-Diffusers",
               ("ftfy",)),
    FamilySpec("framepack", "FramePack one-frame", "HunyuanVideoFramepackPipeline", "transformer",
               ("HunyuanVideoFramepackTransformer3DModel",),
               "a HunyuanVideoFramepackPipeline folder (hunyuanvideo-community/HunyuanVideo with the "
               "lllyasviel/FramePackI2V_HY transformer, saved with save_pretrained)", single_file=False),
    FamilySpec("qwen-image-layered", "Qwen-Image-Layered (split into layers)", "QwenImageLayeredPipeline",
               "transformer", ("QwenImageTransformer2DModel",), "Qwen/Qwen-Image-Layered", ("torchvision",)),
    FamilySpec("qwen-image-2.1", "Qwen-Image-2.1", "QwenImage21Pipeline", "transformer",
               ("QwenImage21Transformer2DModel",), "Qwen/Qwen-Image-2.1", ("torchvision",)),
)}
BY_PIPELINE = {f.pipeline: f.name for f in FAMILIES.values()}
