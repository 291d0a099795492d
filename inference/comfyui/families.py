"""API-format graphs for the seed families ComfyUI runs with its stock nodes, after the official templates.

Each builder follows one official ComfyUI template (``comfyui-workflow-templates-json``, named
in :attr:`Family.template`): the same nodes, wiring and defaults (steps, cfg, sampler,
scheduler, shift, model files), written out by hand as an API prompt. What differs, and why:

- UI-only parts are gone (notes, subgraph frames, the preview/bypassed branches);
- the templates' "4-step LoRA" switches (``ComfySwitchNode`` + primitives, not in ComfyUI
  0.3.x) are resolved to the template's default position: on for Qwen-Image-Edit-2509, off for
  2511 and ChronoEdit;
- one LoadImage per image: the canvas image first (``images[0]``), then the references;
- the output is one SaveImage with our file prefix;
- Kontext: references each get their own ReferenceLatent (the template's own note on multiple
  images) instead of the ImageStitch, so the result keeps the canvas's framing;
- FLUX.2 klein: the canvas is scaled to exactly ``width``×``height`` (ImageScale) and the
  latent and scheduler take that size, instead of ImageScaleToTotalPixels + GetImageSize;
- ChronoEdit generates at ``width``×``height`` (the template's 720×720 are its widget values).

Kontext and Qwen keep the template's FluxKontextImageScale: their output has the size that node
picks (about 1 MP at a preferred aspect), not ``width``×``height``; the caller resizes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from inference.comfyui.workflow import SEED_MAX, WorkflowError, combo_options, input_spec


@dataclass(frozen=True)
class ModelSlot:
    """One model file a family's graph loads, and how to recognise a fitting file on a server."""

    key: str
    node_type: str
    input: str
    folder: str
    default: str  # the file the official template names
    patterns: tuple[str, ...]  # lower-case substrings of a fitting file name
    url: str = ""  # where the template says to download the default


@dataclass(frozen=True)
class Family:
    """A seed family's ComfyUI graph: what it takes (references, size) and its template's defaults."""

    name: str
    label: str
    max_references: int
    default_steps: int
    default_guidance: float
    size_multiple: int
    working_size: int
    models: tuple[ModelSlot, ...]
    template: str  # the official template file (comfyui_workflow_templates_json/templates/) it follows


def _slot(key: str, loader: str, folder: str, default: str, patterns: tuple[str, ...], where: str) -> ModelSlot:
    """A model slot; ``loader``: "NodeType.input"; ``where``: the Hugging Face folder of the template's download."""
    node_type, inp = loader.split(".")
    return ModelSlot(key, node_type, inp, folder, default, patterns, f"https://huggingface.co/{where}/{default}")


COMFY = "Comfy-Org/{}/resolve/main/split_files/{}"
WAN21, WAN22 = "Wan_2.1_ComfyUI_repackaged", "Wan_2.2_ComfyUI_Repackaged"
FLUX_VAE = _slot("vae", "VAELoader.vae_name", "vae", "ae.safetensors",
                 ("flux_vae", "flux1_vae", "flux-vae", "ae.sft"), COMFY.format("Lumina_Image_2.0_Repackaged", "vae"))
QWEN_CLIP = _slot("clip", "CLIPLoader.clip_name", "text_encoders", "qwen_2.5_vl_7b_fp8_scaled.safetensors",
                  ("qwen_2.5_vl_7b", "qwen2.5_vl_7b", "qwen2.5-vl-7b", "qwen_2_5_vl_7b"),
                  COMFY.format("Qwen-Image_ComfyUI", "text_encoders"))
QWEN_VAE = _slot("vae", "VAELoader.vae_name", "vae", "qwen_image_vae.safetensors",
                 ("qwen_image_vae", "qwen-image-vae"), COMFY.format("Qwen-Image_ComfyUI", "vae"))
QWEN_EDIT = COMFY.format("Qwen-Image-Edit_ComfyUI", "diffusion_models")

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("kontext", "FLUX.1 Kontext [dev]", 2, 20, 2.5, 16, 1024, (
        _slot("unet", "UNETLoader.unet_name", "diffusion_models", "flux1-dev-kontext_fp8_scaled.safetensors",
              ("kontext",), COMFY.format("flux1-kontext-dev_ComfyUI", "diffusion_models")),
        _slot("clip_l", "DualCLIPLoader.clip_name1", "text_encoders", "clip_l.safetensors",
              ("clip_l",), "comfyanonymous/flux_text_encoders/resolve/main"),
        _slot("t5", "DualCLIPLoader.clip_name2", "text_encoders", "t5xxl_fp8_e4m3fn_scaled.safetensors",
              ("t5xxl",), "comfyanonymous/flux_text_encoders/resolve/main"),
        FLUX_VAE), "flux_kontext_dev_basic.json"),
    Family("qwen-edit-2509", "Qwen-Image-Edit-2509", 2, 4, 1.0, 16, 1024, (
        _slot("unet", "UNETLoader.unet_name", "diffusion_models", "qwen_image_edit_2509_fp8_e4m3fn.safetensors",
              ("qwen_image_edit_2509", "qwen-image-edit-2509"), QWEN_EDIT),
        QWEN_CLIP, QWEN_VAE,
        _slot("lora", "LoraLoaderModelOnly.lora_name", "loras",
              "Qwen-Image-Edit-2509-Lightning-4steps-V1.0-bf16.safetensors",
              ("2509-lightning-4steps", "2509_lightning_4steps"),
              "lightx2v/Qwen-Image-Lightning/resolve/main/Qwen-Image-Edit-2509")), "image_qwen_image_edit_2509.json"),
    Family("qwen-edit-2511", "Qwen-Image-Edit-2511", 2, 40, 4.0, 16, 1024, (
        _slot("unet", "UNETLoader.unet_name", "diffusion_models", "qwen_image_edit_2511_fp8mixed.safetensors",
              ("qwen_image_edit_2511", "qwen-image-edit-2511"), QWEN_EDIT),
        QWEN_CLIP, QWEN_VAE), "image_qwen_image_edit_2511.json"),
    Family("flux2-klein", "FLUX.2 [klein] 4B", 3, 4, 1.0, 16, 1024, (
        _slot("unet", "UNETLoader.unet_name", "diffusion_models", "flux-2-klein-4b-fp8.safetensors",
              ("flux-2-klein-4b", "flux2-klein-4b", "flux2_klein_4b", "flux-2-klein_4b"),
              "black-forest-labs/FLUX.2-klein-4b-fp8/resolve/main"),
        _slot("clip", "CLIPLoader.clip_name", "text_encoders", "qwen_3_4b.safetensors",
              ("qwen_3_4b", "qwen3_4b", "qwen3-4b"), COMFY.format("z_image_turbo", "text_encoders")),
        _slot("vae", "VAELoader.vae_name", "vae", "flux2-vae.safetensors",
              ("flux2-vae", "flux2_vae", "flux_2_vae"), COMFY.format("flux2-dev", "vae"))),
        "image_flux2_klein_image_edit_4b_distilled.json"),
    Family("chronoedit", "ChronoEdit 14B", 0, 20, 4.0, 16, 832, (
        _slot("unet", "UNETLoader.unet_name", "diffusion_models", "chrono_edit_14B_fp16.safetensors",
              ("chrono_edit", "chronoedit", "chrono-edit"), COMFY.format(WAN22, "diffusion_models")),
        _slot("clip", "CLIPLoader.clip_name", "text_encoders", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
              ("umt5_xxl", "umt5-xxl"), COMFY.format(WAN21, "text_encoders")),
        _slot("vae", "VAELoader.vae_name", "vae", "wan_2.1_vae.safetensors",
              ("wan_2.1_vae", "wan2.1_vae", "wan_2_1_vae"), COMFY.format(WAN22, "vae")),
        _slot("clip_vision", "CLIPVisionLoader.clip_name", "clip_vision", "clip_vision_h.safetensors",
              ("clip_vision_h",), COMFY.format(WAN21, "clip_vision"))), "image_chrono_edit_14B.json"),
)}

# the Wan 2.1 negative prompt the ChronoEdit template uses
WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
                "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
                "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")


def _family(name: str) -> Family:
    if name not in FAMILIES:
        raise WorkflowError(f"no ComfyUI graph for {name!r}; the families are {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _fits(name: str, slot: ModelSlot) -> bool:
    low = name.lower()
    return low.replace("\\", "/").rsplit("/", 1)[-1] == slot.default.lower() or any(p in low for p in slot.patterns)


def _likeness(name: str, slot: ModelSlot) -> tuple[bool, float]:
    low, default = name.lower(), slot.default.lower()
    return low.endswith(default), SequenceMatcher(None, low, default).ratio()


def pick_models(family: str, object_info: dict | None) -> dict[str, str]:
    """Slot key → model file: the server's file that fits the slot best, else the template's default.

    A file fits when its lower-case name contains one of the slot's patterns (or is the default,
    in any subfolder); among fitting files the default itself, then the one most like it, wins.
    """
    picked = {}
    for slot in _family(family).models:
        listed = combo_options(input_spec(object_info, slot.node_type, slot.input)) or []
        fitting = sorted(n for n in listed if isinstance(n, str) and _fits(n, slot))
        picked[slot.key] = max(fitting, key=lambda n, s=slot: _likeness(n, s)) if fitting else slot.default
    return picked


class _Graph:
    """An API prompt being written: ``add`` returns the new node's id; ``_out(id, slot)`` links to it."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict] = {}

    def add(self, class_type: str, title: str | None = None, **inputs) -> str:
        nid = str(len(self.nodes) + 1)
        self.nodes[nid] = {"class_type": class_type, "inputs": inputs, "_meta": {"title": title or class_type}}
        return nid


def _out(node_id: str, slot: int = 0) -> list:
    return [node_id, slot]


def _load_images(g: _Graph, images: list[str]) -> list[str]:
    return [g.add("LoadImage", f"Image {i + 1}" if i else "Image 1 (canvas)", image=name)
            for i, name in enumerate(images)]


def _ksampler(g: _Graph, model, positive, negative, latent, *, seed: int, steps: int, cfg: float, sampler: str,
              scheduler: str) -> str:
    return g.add("KSampler", model=model, positive=positive, negative=negative, latent_image=latent, seed=seed,
                 steps=steps, cfg=cfg, sampler_name=sampler, scheduler=scheduler, denoise=1.0)


def _kontext(g: _Graph, images, instruction, seed, steps, guidance, width, height, m) -> str:
    """flux_kontext_dev_basic: image → FluxKontextImageScale → VAEEncode → ReferenceLatent → FluxGuidance → KSampler."""
    unet = g.add("UNETLoader", unet_name=m["unet"], weight_dtype="default")
    clip = g.add("DualCLIPLoader", clip_name1=m["clip_l"], clip_name2=m["t5"], type="flux", device="default")
    vae = g.add("VAELoader", vae_name=m["vae"])
    loads = _load_images(g, images)
    text = g.add("CLIPTextEncode", "Prompt", text=instruction, clip=_out(clip))
    latent, cond = None, _out(text)
    for load in loads:
        scaled = g.add("FluxKontextImageScale", image=_out(load))
        encoded = g.add("VAEEncode", pixels=_out(scaled), vae=_out(vae))
        latent = latent or _out(encoded)
        cond = _out(g.add("ReferenceLatent", conditioning=cond, latent=_out(encoded)))
    positive = g.add("FluxGuidance", conditioning=cond, guidance=guidance)
    negative = g.add("ConditioningZeroOut", conditioning=_out(text))
    sampled = _ksampler(g, _out(unet), _out(positive), _out(negative), latent, seed=seed, steps=steps, cfg=1.0,
                        sampler="euler", scheduler="simple")
    return g.add("VAEDecode", samples=_out(sampled), vae=_out(vae))


def _qwen(version: str) -> Callable:
    def qwen(g: _Graph, images, instruction, seed, steps, guidance, width, height, m) -> str:
        """image_qwen_image_edit_25xx: UNET (→ Lightning LoRA for 2509) → ModelSamplingAuraFlow → CFGNorm → KSampler;
        the canvas through FluxKontextImageScale as image1 and the latent, references as image2/image3."""
        model = _out(g.add("UNETLoader", unet_name=m["unet"], weight_dtype="default"))
        clip = g.add("CLIPLoader", clip_name=m["clip"], type="qwen_image", device="default")
        vae = g.add("VAELoader", vae_name=m["vae"])
        if version == "2509":  # the template's "Enable Lightning LoRA" is on by default
            model = _out(g.add("LoraLoaderModelOnly", model=model, lora_name=m["lora"], strength_model=1.0))
        model = _out(g.add("ModelSamplingAuraFlow", model=model, shift=3.0 if version == "2509" else 3.1))
        model = _out(g.add("CFGNorm", model=model, strength=1.0, pre_cfg=False))  # pre_cfg: newer ComfyUI only
        loads = _load_images(g, images)
        scaled = g.add("FluxKontextImageScale", image=_out(loads[0]))
        pics = {"image1": _out(scaled), **{f"image{i + 1}": _out(load) for i, load in enumerate(loads) if i}}
        positive = g.add("TextEncodeQwenImageEditPlus", "Prompt", clip=_out(clip), vae=_out(vae), prompt=instruction,
                         **pics)
        negative = g.add("TextEncodeQwenImageEditPlus", "Negative prompt", clip=_out(clip), vae=_out(vae), prompt="",
                         **pics)
        if version == "2511":
            positive = g.add("FluxKontextMultiReferenceLatentMethod", conditioning=_out(positive),
                             reference_latents_method="index_timestep_zero")
            negative = g.add("FluxKontextMultiReferenceLatentMethod", conditioning=_out(negative),
                             reference_latents_method="index_timestep_zero")
        latent = g.add("VAEEncode", pixels=_out(scaled), vae=_out(vae))
        sampled = _ksampler(g, model, _out(positive), _out(negative), _out(latent), seed=seed, steps=steps, cfg=guidance,
                            sampler="euler", scheduler="simple")
        return g.add("VAEDecode", samples=_out(sampled), vae=_out(vae))
    return qwen


def _klein(g: _Graph, images, instruction, seed, steps, guidance, width, height, m) -> str:
    """image_flux2_klein_image_edit_4b_distilled: every image VAE-encoded into a ReferenceLatent on the prompt and on
    its zeroed copy → CFGGuider; RandomNoise, KSamplerSelect, Flux2Scheduler → SamplerCustomAdvanced."""
    unet = g.add("UNETLoader", unet_name=m["unet"], weight_dtype="default")
    clip = g.add("CLIPLoader", clip_name=m["clip"], type="flux2", device="default")
    vae = g.add("VAELoader", vae_name=m["vae"])
    loads = _load_images(g, images)
    text = g.add("CLIPTextEncode", "Prompt", text=instruction, clip=_out(clip))
    positive, negative = _out(text), _out(g.add("ConditioningZeroOut", conditioning=_out(text)))
    for i, load in enumerate(loads):
        if i == 0:
            pixels = g.add("ImageScale", image=_out(load), upscale_method="lanczos", width=width, height=height,
                           crop="disabled")
        else:  # resolution_steps: an input of newer ComfyUI (the template's value); older servers ignore it
            pixels = g.add("ImageScaleToTotalPixels", image=_out(load), upscale_method="nearest-exact", megapixels=1.0,
                           resolution_steps=1)
        encoded = g.add("VAEEncode", pixels=_out(pixels), vae=_out(vae))
        positive = _out(g.add("ReferenceLatent", conditioning=positive, latent=_out(encoded)))
        negative = _out(g.add("ReferenceLatent", conditioning=negative, latent=_out(encoded)))
    guider = g.add("CFGGuider", model=_out(unet), positive=positive, negative=negative, cfg=guidance)
    noise = g.add("RandomNoise", noise_seed=seed)
    sampler = g.add("KSamplerSelect", sampler_name="euler")
    sigmas = g.add("Flux2Scheduler", steps=steps, width=width, height=height)
    latent = g.add("EmptyFlux2LatentImage", width=width, height=height, batch_size=1)
    sampled = g.add("SamplerCustomAdvanced", noise=_out(noise), guider=_out(guider), sampler=_out(sampler),
                    sigmas=_out(sigmas), latent_image=_out(latent))
    return g.add("VAEDecode", samples=_out(sampled), vae=_out(vae))


def _chrono(g: _Graph, images, instruction, seed, steps, guidance, width, height, m) -> str:
    """image_chrono_edit_14B: Wan image-to-video for 5 frames (ModelSamplingSD3 5, ScaleROPE t×7); the last frame."""
    unet = g.add("UNETLoader", unet_name=m["unet"], weight_dtype="fp8_e4m3fn")
    model = g.add("ModelSamplingSD3", model=_out(unet), shift=5.0)
    model = g.add("ScaleROPE", model=_out(model), scale_x=1.0, shift_x=0.0, scale_y=1.0, shift_y=0.0, scale_t=7.0,
                  shift_t=0.0)
    clip = g.add("CLIPLoader", clip_name=m["clip"], type="wan", device="default")
    vae = g.add("VAELoader", vae_name=m["vae"])
    vision = g.add("CLIPVisionLoader", clip_name=m["clip_vision"])
    (load,) = _load_images(g, images)
    seen = g.add("CLIPVisionEncode", clip_vision=_out(vision), image=_out(load), crop="none")
    positive = g.add("CLIPTextEncode", "Prompt", text=instruction, clip=_out(clip))
    negative = g.add("CLIPTextEncode", "Negative prompt", text=WAN_NEGATIVE, clip=_out(clip))
    video = g.add("WanImageToVideo", positive=_out(positive), negative=_out(negative), vae=_out(vae), width=width,
                  height=height, length=5, batch_size=1, clip_vision_output=_out(seen), start_image=_out(load))
    sampled = _ksampler(g, _out(model), _out(video, 0), _out(video, 1), _out(video, 2), seed=seed, steps=steps,
                        cfg=guidance, sampler="uni_pc", scheduler="simple")
    frames = g.add("VAEDecode", samples=_out(sampled), vae=_out(vae))
    return g.add("ImageFromBatch", image=_out(frames), batch_index=4, length=1)


_BUILDERS: dict[str, Callable] = {"kontext": _kontext, "qwen-edit-2509": _qwen("2509"), "qwen-edit-2511": _qwen("2511"),
                                  "flux2-klein": _klein, "chronoedit": _chrono}


def build(family: str, *, images: list[str], instruction: str, seed: int, steps: int | None,
          guidance: float | None, width: int, height: int, models: dict[str, str] | None = None,
          output_prefix: str = "akapen") -> dict:
    """The API prompt for one edit: ``images[0]`` is the canvas image's upload name, ``images[1:]``
    the references'; ``steps``/``guidance`` None take the family's defaults; ``models`` (slot key
    → file) overrides :func:`pick_models`' defaults. The result goes to one SaveImage."""
    fam = _family(family)
    if not images:
        raise WorkflowError(f"{fam.label} needs the image to edit")
    if len(images) - 1 > fam.max_references:
        raise WorkflowError(f"{fam.label} on ComfyUI takes at most {fam.max_references} reference image(s); "
                            f"{len(images) - 1} were given")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise WorkflowError(f"seed {seed!r} is outside ComfyUI's range 0 … {SEED_MAX}")
    steps = fam.default_steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise WorkflowError(f"steps must be a whole number of at least 1, not {steps!r}")
    guidance = float(fam.default_guidance if guidance is None else guidance)
    m = fam.size_multiple
    if not all(isinstance(v, int) and v >= m for v in (width, height)):
        raise WorkflowError(f"the size must be at least {m}×{m} pixels, not {width}×{height}")
    width, height = width // m * m, height // m * m
    chosen = {s.key: s.default for s in fam.models}
    unknown = set(models or ()) - set(chosen)
    if unknown:
        raise WorkflowError(f"{fam.label} has no model slot {', '.join(sorted(unknown))}; its slots are "
                            f"{', '.join(chosen)}")
    chosen.update(models or {})
    g = _Graph()
    image = _BUILDERS[fam.name](g, list(images), instruction, seed, steps, guidance, width, height, chosen)
    g.add("SaveImage", "Result", images=_out(image), filename_prefix=output_prefix)
    return g.nodes


def node_types(family: str) -> set[str]:
    """Every node type the family's graph can use (with the most references it takes)."""
    fam = _family(family)
    graph = build(fam.name, images=["x.png"] * (1 + fam.max_references), instruction="", seed=0, steps=None,
                  guidance=None, width=fam.working_size, height=fam.working_size)
    return {n["class_type"] for n in graph.values()}
