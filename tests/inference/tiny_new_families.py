"""The edit families of late 2026, built tiny and random from their real diffusers classes, offline.

Same recipe as ``tiny_pipelines.py`` (whose helpers are imported, not copied): the real pipeline
class with a 1–2 block denoiser, a tiny VAE, a tiny text encoder and tokenizers / processors made
locally from a byte-level vocabulary, so nothing is ever fetched from the hub. ``save_new`` writes
the pipeline with ``save_pretrained``; ``DiffusionPipeline.from_pretrained(folder)`` reloads the same
class from ``model_index.json``.

Families (diffusers 0.42.1, transformers 5.x)
---------------------------------------------
- ``"qwen-image-2.1"``: ``QwenImage21Pipeline`` (``QwenImage21Transformer2DModel``, 4-channel RGBA
  ``AutoencoderKLQwenImage21``, ``Qwen3VLForConditionalGeneration`` + ``Qwen3VLProcessor``).
  Variant ``"turbo"``: the same class with ``sample_sigmas`` in the pipeline config (see below).
- ``"longcat-image-edit"``: ``LongCatImageEditPipeline`` (Qwen2.5-VL encoder, 16-channel ``AutoencoderKL``).
- ``"joyai-image-edit"``: ``JoyImageEditPipeline`` (``JoyImageEditTransformer3DModel``, ``AutoencoderKLWan``,
  Qwen3-VL encoder).
- ``"joyai-image-edit-plus"``: ``JoyImageEditPlusPipeline`` (``JoyImageEditPlusTransformer3DModel``).
- ``"dreamlite"``: ``DreamLitePipeline`` (``DreamLiteUNetModel``, ``AutoencoderTiny``, Qwen3-VL encoder).
  Variant ``"mobile"``: ``DreamLiteMobilePipeline`` (same components, CFG distilled away).

API
---
- ``NEW_FAMILIES``, ``NEW_PIPELINE_CLASSES``, ``NEW_VARIANTS``.
- ``build_new(family, seed=0, variant=None)``: the pipeline in memory, every module in ``eval()``; the
  same seed gives the same weights.
- ``save_new(family, folder, seed=0, variant=None)``: build and ``save_pretrained`` it (safetensors).
- ``new_call_kwargs(family, images, prompt)``: kwargs of a direct 2-step call at ``SIZE`` px (add
  ``generator=``; ``output_type="np"``). Call inside ``new_small_sizes(family)``.
- ``new_small_sizes(family)``: context manager lowering the hard-coded working sizes of the LongCat and
  JoyAI modules for tests (a no-op for the others, whose size is a call argument).
- ``new_output_image(family, output)``: the edited image, float array ``(H, W, C)`` (C = 4 for Qwen-Image-2.1).
- ``seed_everything(family, seed)``: the generator for a call, seeding torch's global RNG too where the
  pipeline draws from it (JoyAI-Image-Edit).

Facts read from the installed code (diffusers 0.42.1)
------------------------------------------------------
Qwen-Image-2.1 (``pipelines/qwenimage21/pipeline_qwenimage21.py``)
  ``__call__(prompt, image=None, negative_prompt=None, true_cfg_scale=1.0, height=None, width=None,
  num_inference_steps=40, sigmas=None, num_images_per_prompt=1, generator, latents, prompt_embeds,
  prompt_embeds_mask, negative_prompt_embeds, negative_prompt_embeds_mask, output_type="pil",
  return_dict=True, attention_kwargs, callback_on_step_end, callback_on_step_end_tensor_inputs=["latents"],
  output_resolution=1024, use_kv_cache=True)``.
  - ``image``: one PIL / ndarray or a flat list (one set shared by every prompt; a nested list raises).
    The pipeline sets no maximum count (the model page says up to 10). No mask input: marks are drawn
    into the image or passed as another reference.
  - The output size follows the LAST image's aspect ratio at ``output_resolution**2`` area (multiples of 32);
    ``height``/``width`` override it and are rounded DOWN to multiples of 32 (VAE 16x, hard-coded
    ``vae_scale_factor = 16``). Every condition image is resized to about ``output_resolution**2``:
    ``output_resolution`` is the one working-size knob (no module constant to patch).
  - CFG only when ``true_cfg_scale > 1`` AND a negative prompt is given (default 1.0: no guidance).
  - ``callback_on_step_end`` fires once per step (tensor inputs: latents, prompt_embeds).
  - ``pipe._interrupt = True`` is honoured: the loop ``break``s (not ``continue``), then still decodes.
  - Every input is converted to RGBA for the VAE (the vision encoder sees it composited over white), and
    the VAE decodes 4 channels: the output is PIL mode ``RGBA`` for RGB and RGBA input alike (np: 4 channels).
  - LoRA: the class mixes in ``QwenImageLoraLoaderMixin`` (``load_lora_weights`` exists; the transformer is a
    ``PeftAdapterMixin``).
  - Prefix cache: transformer config ``causal_condition`` (default True); the pipeline caches the text and
    condition-image keys/values after step 0 when ``use_kv_cache=True`` (call argument, default True) and
    ``causal_condition`` is true. ``use_kv_cache=False`` or ``causal_condition=False`` turns it off
    (the cache changes low-precision samples slightly, not fp32 ones beyond rounding).
  - Turbo tell-tale: the pipeline's own config key ``sample_sigmas`` (``model_index.json``); when set it
    fixes the number of steps (``num_inference_steps`` ignored unless ``sigmas=`` is passed). diffusers'
    modular map picks ``QwenImage21TurboModularPipeline`` exactly when ``sample_sigmas`` is truthy.
LongCat-Image-Edit (``pipelines/longcat_image/pipeline_longcat_image_edit.py``)
  ``__call__(image=None, prompt=None, negative_prompt=None, num_inference_steps=50, sigmas=None,
  guidance_scale=4.5, num_images_per_prompt=1, generator, latents, prompt_embeds, negative_prompt_embeds,
  output_type="pil", return_dict=True, joint_attention_kwargs=None)``: one image; no height/width (output
  = input aspect at the literal area ``1024 * 1024`` via the module's ``calculate_dimensions``, rounded UP to
  multiples of 16); no ``callback_on_step_end``; ``_interrupt`` honoured (``continue``, then decodes);
  CFG when ``guidance_scale > 1``; prompt padded to ``tokenizer_max_length = 512`` tokens; an RGBA image
  crashes in the 3-channel VAE (convert to RGB); no LoRA loader
  (only ``FromSingleFileMixin``). Turbo: nothing in the installed code tells a Turbo/distilled checkpoint
  apart — the transformer config has no guidance / distillation key (``forward`` ignores ``guidance``), the
  scheduler is read generically and ``model_index.json`` names the same class; only the repository name
  (or a step count the caller picks) can.
JoyAI-Image-Edit (``pipelines/joyimage/pipeline_joyimage_edit.py``)
  ``__call__(image=None, prompt, height, width, num_inference_steps=40, timesteps, sigmas,
  guidance_scale=4.0, negative_prompt, num_images_per_prompt=1, generator, latents, prompt_embeds(+_mask),
  negative_prompt_embeds(+_mask), output_type, return_dict, callback_on_step_end,
  callback_on_step_end_tensor_inputs, max_sequence_length=4096, enable_denormalization=True)``: the output
  is always the nearest bucket of ``BUCKETS[1024]`` in ``pipelines/joyimage/image_processor.py`` (~1 MP);
  the reference is VAE-encoded with ``latent_dist.sample()`` WITHOUT the generator (seed torch globally);
  callback per step; ``_interrupt`` honoured (``continue``); no LoRA loader; RGBA input is flattened to RGB.
  The text encoder's system prompt is dropped by a fixed 34 tokens; CFG (``guidance_scale > 1``) runs two
  transformer calls per step.
JoyAI-Image-Edit-Plus (``pipeline_joyimage_edit_plus.py``)
  ``__call__(images=None, prompt, height, width, num_inference_steps=30, ..., guidance_scale=4.0, ...)``:
  ``images`` (a flat list = one sample); each reference is bucket-resized (same ``BUCKETS``); the output
  follows ``height``/``width`` when both are given, else the last reference's bucket; encoding uses
  ``latent_dist.mode()`` (deterministic); an RGBA reference crashes in the VAE (convert to RGB); CFG is
  batched (one transformer call per step); callback per step; ``_interrupt`` honoured; no LoRA loader;
  no maximum count in the code (model page: 1–5).
DreamLite (``pipelines/dreamlite/pipeline_dreamlite.py``)
  ``__call__(prompt=None, negative_prompt=None, image=None, height=None, width=None, guidance_scale=3.5,
  image_guidance_scale=1.5, num_inference_steps=30, sigmas=None, num_images_per_prompt=1, generator,
  output_type, return_dict, max_sequence_length=200, text_pad_embedding=None)``: no callback, no
  ``_interrupt``; with ``image`` it edits as a diptych (the UNet sees ``[noise | image latents]`` side by
  side, width doubled) with three-branch CFG always on (3 UNet rows per step); output = ``height``/``width``
  or the input size floored to multiples of 8 — but sides that are not multiples of 16 crash (its image
  processor floors to 16, so noise and image latents differ in size); the condition image is resized to the
  literal 512x512 for the processor; an RGBA picture crashes (a 4-channel tensor is taken as latents: pass
  RGB). No LoRA loader (``TextualInversionLoaderMixin``,
  ``FromSingleFileMixin``). ``DreamLiteMobilePipeline``: same components, default 4 steps, no
  ``negative_prompt``, guidance arguments ignored (one UNet row per step); told apart by ``_class_name``
  in ``model_index.json``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from tests.inference.tiny_pipelines import (
    _QWEN_CHAT_TEMPLATE,
    _qwen_vl_encoder,
    _seeded,
    qwen_tokenizer,
    qwen_vl_processor,
)

NEW_FAMILIES: tuple[str, ...] = (
    "qwen-image-2.1",
    "longcat-image-edit",
    "joyai-image-edit",
    "joyai-image-edit-plus",
    "dreamlite",
)

NEW_PIPELINE_CLASSES: dict[str, str] = {
    "qwen-image-2.1": "QwenImage21Pipeline",
    "longcat-image-edit": "LongCatImageEditPipeline",
    "joyai-image-edit": "JoyImageEditPipeline",
    "joyai-image-edit-plus": "JoyImageEditPlusPipeline",
    "dreamlite": "DreamLitePipeline",
}

NEW_VARIANTS: dict[str, tuple[str, ...]] = {"qwen-image-2.1": ("turbo",), "dreamlite": ("mobile",)}

# Working size of every direct call made by ``new_call_kwargs`` (pixels, square). Qwen-Image-2.1 needs
# multiples of 32 (16x VAE, 2x2 vision merge); 64 is the smallest size with a 2x2 grid of merged tokens.
SIZE = 64
# The sampling grid a tiny "turbo" Qwen-Image-2.1 ships with (``sample_sigmas``: its length is the step count).
TURBO_SIGMAS = [1.0, 0.5]

# Module-level working sizes (see ``new_small_sizes``).
LONGCAT_MODULE = "diffusers.pipelines.longcat_image.pipeline_longcat_image_edit"
JOYAI_IMAGE_PROCESSOR_MODULE = "diffusers.pipelines.joyimage.image_processor"
_HARD_CODED_AREA = 512 * 512


def _check_family(family: str) -> None:
    if family not in NEW_PIPELINE_CLASSES:
        raise ValueError(f"unknown new tiny family {family!r}; known: {', '.join(NEW_FAMILIES)}")


def new_pipeline_class(family: str, variant: str | None = None) -> type:
    """The diffusers pipeline class of ``family`` (``DreamLiteMobilePipeline`` for dreamlite/mobile)."""
    _check_family(family)
    import diffusers

    if family == "dreamlite" and variant == "mobile":
        return diffusers.DreamLiteMobilePipeline
    return getattr(diffusers, NEW_PIPELINE_CLASSES[family])


def has_new_lora_loader(family: str) -> bool:
    return hasattr(new_pipeline_class(family), "load_lora_weights")


# --------------------------------------------------------------------------- Qwen3-VL text side


def qwen3_vl_processor(tokenizer, *, min_pixels: int = 32 * 32, max_pixels: int = 1024 * 1024):
    """A ``Qwen3VLProcessor`` (patch 16, merge 2, temporal 2) around ``tokenizer`` (see ``qwen_tokenizer``).

    ``min_pixels`` is lowered from Qwen3-VL's 256² so tiny images are not upscaled; sizes that are
    multiples of 32 within [min_pixels, max_pixels] pass unchanged (no second resize), which
    Qwen-Image-2.1 needs: its image-token count must match its latents.
    """
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2)
    image_processor = Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels, **common)
    video_processor = Qwen3VLVideoProcessor(size={"shortest_edge": min_pixels, "longest_edge": max_pixels}, **common)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _qwen3_vl_encoder(make, tokenizer, hidden: int = 16):
    """A 2-layer ``Qwen3VLForConditionalGeneration`` (vision: 2 blocks, patch 16, merge 2, one deepstack layer)."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    head_dim = 8
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": head_dim,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1000000.0,
                "mrope_section": [2, 1, 1],  # sums to head_dim / 2
                "mrope_interleaved": True,
            },
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "out_hidden_size": hidden,
            "num_position_embeddings": 64,  # a square: 8x8 learned positions, interpolated
            "deepstack_visual_indexes": [1],
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    return make(lambda: Qwen3VLForConditionalGeneration(config))


def _flow_scheduler(**overrides):
    from diffusers import FlowMatchEulerDiscreteScheduler

    config: dict[str, Any] = dict(
        base_image_seq_len=256,
        base_shift=0.5,
        max_image_seq_len=8192,
        max_shift=0.9,
        shift=1.0,
        shift_terminal=0.02,
        use_dynamic_shifting=True,
        time_shift_type="exponential",
    )
    return FlowMatchEulerDiscreteScheduler(**(config | overrides))


# --------------------------------------------------------------------------- builders


def _build_qwen21(make, variant):
    from diffusers import AutoencoderKLQwenImage21, QwenImage21Transformer2DModel

    z_dim = 8  # not 4: VaeImageProcessor takes a 4-channel tensor whose channels equal the latent's as latents
    tokenizer = qwen_tokenizer()
    processor = qwen3_vl_processor(tokenizer)
    text_encoder = _qwen3_vl_encoder(make, tokenizer)
    vae = make(
        lambda: AutoencoderKLQwenImage21(
            base_dim=8,
            decoder_base_dim=8,
            z_dim=z_dim,
            dim_mult=[1, 1, 1, 1, 1],  # five stages: four 2x downsamples = the 16x the pipeline assumes
            num_res_blocks=1,
            temperal_downsample=[False, True, True, True],
            latents_mean=[0.0] * z_dim,
            latents_std=[1.0] * z_dim,
            in_channels=4,
            out_channels=4,
        )
    )
    transformer = make(
        lambda: QwenImage21Transformer2DModel(
            patch_size=1,
            in_channels=z_dim,
            out_channels=z_dim,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=2,
            context_in_dim=text_encoder.config.text_config.hidden_size,
            mlp_ratio=3,
            axes_dims_rope=(4, 6, 6),  # frame, height, width; sums to the head size
            causal_condition=True,
        )
    )
    return dict(
        scheduler=_flow_scheduler(),
        vae=vae,
        text_encoder=text_encoder,
        processor=processor,
        transformer=transformer,
        sample_sigmas=list(TURBO_SIGMAS) if variant == "turbo" else None,
    )


def _build_longcat(make, variant):
    from diffusers import AutoencoderKL, LongCatImageTransformer2DModel

    tokenizer = qwen_tokenizer()
    text_processor = qwen_vl_processor(qwen_tokenizer())
    text_encoder = _qwen_vl_encoder(make, tokenizer)
    hidden = text_encoder.config.text_config.hidden_size
    vae = make(
        lambda: AutoencoderKL(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,  # 8x, as the real one
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            latent_channels=16,  # the pipeline hard-codes 16 latent channels
            norm_num_groups=4,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
        )
    )
    transformer = make(
        lambda: LongCatImageTransformer2DModel(
            patch_size=1,
            in_channels=64,  # 16 latent channels packed 2x2
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=hidden,
            pooled_projection_dim=hidden,
            axes_dims_rope=[4, 6, 6],
        )
    )
    return dict(
        scheduler=_flow_scheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_processor=text_processor,
        transformer=transformer,
    )


def _wan_vae(make):
    from diffusers import AutoencoderKLWan

    return make(
        lambda: AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
    )


def _build_joyai(make, variant, plus: bool = False):
    from diffusers import JoyImageEditPlusTransformer3DModel, JoyImageEditTransformer3DModel

    tokenizer = qwen_tokenizer()
    processor = qwen3_vl_processor(qwen_tokenizer())
    text_encoder = _qwen3_vl_encoder(make, tokenizer)
    cls = JoyImageEditPlusTransformer3DModel if plus else JoyImageEditTransformer3DModel
    transformer = make(
        lambda: cls(
            patch_size=[1, 2, 2],
            in_channels=16,
            hidden_size=32,
            num_attention_heads=2,
            text_dim=text_encoder.config.text_config.hidden_size,
            mlp_width_ratio=2.0,
            num_layers=1,
            rope_dim_list=[4, 6, 6],  # sums to the head size (32 / 2)
        )
    )
    return dict(
        scheduler=_flow_scheduler(use_dynamic_shifting=False, shift=3.0, time_shift_type="exponential"),
        vae=_wan_vae(make),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        processor=processor,
    )


def _build_dreamlite(make, variant):
    from diffusers import AutoencoderTiny, DreamLiteUNetModel

    tokenizer = qwen_tokenizer()
    processor = qwen3_vl_processor(qwen_tokenizer())
    text_encoder = _qwen3_vl_encoder(make, tokenizer)
    hidden = text_encoder.config.text_config.hidden_size
    # The real checkpoint's layout, narrowed: 3 levels (NoSelfAttn, NoSelfAttn, CrossAttn), MQA (one kv head),
    # rms qk-norm, separable convs, a Linear+RMSNorm text projection and the "time" (W, H) embedding.
    unet = make(
        lambda: DreamLiteUNetModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            block_out_channels=(8, 16, 16),
            layers_per_block=1,
            transformer_layers_per_block=(1, 1, 1),
            attention_head_dim=(2, 2, 2),  # = heads per level (the UNet naming quirk)
            cross_attention_dim=16,
            norm_num_groups=4,
            use_linear_projection=True,
            encoder_hid_dim=hidden,
            encoder_hid_dim_type="text_proj_rms",
            addition_embed_type="time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=16,  # 2 time ids (W, H) x 8
            num_kv_heads=1,
            qk_norm="rms_norm",
            ff_mult=3,
            use_sep_conv=True,
        )
    )
    vae = make(
        lambda: AutoencoderTiny(
            encoder_block_out_channels=(8, 8, 8, 8),  # 8x, as the real one (taesdxl)
            decoder_block_out_channels=(8, 8, 8, 8),
            num_encoder_blocks=(1, 1, 1, 1),
            num_decoder_blocks=(1, 1, 1, 1),
            latent_channels=4,
        )
    )
    return dict(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        vae=vae,
        unet=unet,
        scheduler=_flow_scheduler(shift=3.0, max_shift=1.15, max_image_seq_len=4096, shift_terminal=None,
                                  time_shift_type="exponential"),
    )


_BUILDERS = {
    "qwen-image-2.1": _build_qwen21,
    "longcat-image-edit": _build_longcat,
    "joyai-image-edit": _build_joyai,
    "joyai-image-edit-plus": lambda make, variant: _build_joyai(make, variant, plus=True),
    "dreamlite": _build_dreamlite,
}


def build_new(family: str, seed: int = 0, variant: str | None = None):
    """The real pipeline class of ``family`` with tiny random components, in eval mode."""
    _check_family(family)
    if variant is not None and variant not in NEW_VARIANTS.get(family, ()):
        raise ValueError(f"{family!r} has no variant {variant!r}; known: {NEW_VARIANTS.get(family, ())}")
    cls = new_pipeline_class(family, variant)
    with torch.random.fork_rng(devices=[]):
        components = _BUILDERS[family](_seeded(seed), variant)
    pipe = cls(**components)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_new(family: str, folder: Path, seed: int = 0, variant: str | None = None) -> Path:
    """Build ``family`` and ``save_pretrained`` it (safetensors) into ``folder``."""
    folder = Path(folder)
    build_new(family, seed=seed, variant=variant).save_pretrained(folder, safe_serialization=True)
    return folder


# --------------------------------------------------------------------------- working sizes


def _small_buckets(buckets: list[tuple[int, int]], scale: int = 16) -> list[tuple[int, int]]:
    """JoyAI's ~1 MP buckets shrunk ``scale`` times, each side a multiple of 16 (8x VAE, 2x2 patches)."""

    def side(x: int) -> int:
        return max(16, round(x / scale / 16) * 16)

    return sorted({(side(h), side(w)) for h, w in buckets})


@contextlib.contextmanager
def new_small_sizes(family: str, area: int = SIZE * SIZE) -> Iterator[None]:
    """Lower the hard-coded working sizes of a family's module for tests; restore them after.

    - LongCat-Image-Edit: ``calculate_dimensions(1024 * 1024, ratio)`` of its module is wrapped so the
      literal area becomes ``area`` (64² by default: a 64 px square stays 64 px).
    - JoyAI-Image-Edit / -Plus: ``BUCKETS[1024]`` of ``pipelines/joyimage/image_processor.py`` (shared by
      both) becomes the same buckets shrunk 16 times ((1024, 1024) -> (64, 64)).
    Qwen-Image-2.1 (``output_resolution=``) and DreamLite (``height``/``width``) take their size as call
    arguments: a no-op for them.
    """
    _check_family(family)
    if family == "longcat-image-edit":
        module = importlib.import_module(LONGCAT_MODULE)
        original = module.calculate_dimensions

        def calculate_dimensions(target_area, ratio):
            return original(area if target_area > _HARD_CODED_AREA else target_area, ratio)

        module.calculate_dimensions = calculate_dimensions
        try:
            yield
        finally:
            module.calculate_dimensions = original
        return
    if family in ("joyai-image-edit", "joyai-image-edit-plus"):
        module = importlib.import_module(JOYAI_IMAGE_PROCESSOR_MODULE)
        original_buckets = module.BUCKETS[1024]
        module.BUCKETS[1024] = _small_buckets(original_buckets)
        try:
            yield
        finally:
            module.BUCKETS[1024] = original_buckets
        return
    yield


# --------------------------------------------------------------------------- calls


def _images(image: Image.Image | list[Image.Image]) -> list[Image.Image]:
    return list(image) if isinstance(image, list | tuple) else [image]


def new_call_kwargs(
    family: str, image: Image.Image | list[Image.Image], prompt: str, variant: str | None = None
) -> dict[str, Any]:
    """Kwargs for a direct 2-step call of the tiny ``family`` pipeline at ``SIZE`` px (add ``generator=``).

    Qwen-Image-2.1 and JoyAI-Image-Edit-Plus take every image as a reference (RGBA kept for Qwen-Image-2.1,
    RGB for JoyAI-Plus, whose VAE crashes on 4 channels); the others take the first, as RGB, resized to
    ``SIZE``² (LongCat's VAE and DreamLite's diptych crash on RGBA too). Run the call inside
    ``new_small_sizes(family)`` (LongCat and JoyAI have no size argument that reaches below ~1 MP).
    The dreamlite "mobile" variant gets no guidance arguments (it ignores them, with a warning).
    """
    _check_family(family)
    images = _images(image)
    first = images[0].convert("RGB").resize((SIZE, SIZE))
    common: dict[str, Any] = {"prompt": prompt, "num_inference_steps": 2, "output_type": "np"}
    if family == "qwen-image-2.1":
        return common | {"image": images, "output_resolution": SIZE, "true_cfg_scale": 1.0}
    if family == "longcat-image-edit":
        return common | {"image": first, "guidance_scale": 4.5}
    if family == "joyai-image-edit":
        return common | {"image": first, "height": SIZE, "width": SIZE, "guidance_scale": 4.0}
    if family == "joyai-image-edit-plus":
        refs = [im.convert("RGB") for im in images]
        return common | {"images": refs, "height": SIZE, "width": SIZE, "guidance_scale": 4.0}
    if family == "dreamlite":
        # sides must be multiples of 16: the pipeline floors the noise to 8 px, its image processor to 16
        sized = {"image": first, "height": SIZE, "width": SIZE}
        if variant == "mobile":
            return common | sized
        return common | sized | {"guidance_scale": 3.5, "image_guidance_scale": 1.5}
    raise AssertionError(family)


def seed_everything(family: str, seed: int) -> torch.Generator:
    """The generator for a call with ``seed``; JoyAI-Image-Edit also draws its reference latents from torch's
    global RNG (``latent_dist.sample()`` without the generator), so that is seeded too."""
    _check_family(family)
    if family == "joyai-image-edit":
        torch.manual_seed(seed)
    return torch.Generator("cpu").manual_seed(seed)


def new_output_image(family: str, output) -> Any:
    """The edited image of an ``output_type="np"`` result as a float array ``(H, W, C)`` in [0, 1]
    (C = 4 for Qwen-Image-2.1, whose VAE is RGBA; 3 otherwise)."""
    import numpy as np

    _check_family(family)
    return np.asarray(output.images[0])
