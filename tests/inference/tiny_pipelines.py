"""Real diffusers editing pipelines with tiny random weights, built offline.

Every family Akapen drives is built here from its real diffusers pipeline class, with a
1–2 block denoiser, a tiny VAE, tiny text encoder(s) and tokenizers/processors made locally
from a byte-level vocabulary (one token per character, no merges), so nothing is ever
fetched from the Hugging Face hub. ``save_tiny`` writes the pipeline with ``save_pretrained``
so the app can discover it (``model_index.json``) and load it through its own loader.

API
---
- ``FAMILIES``: the family names.
- ``build_pipeline(family, seed=0, variant=None)``: the pipeline in memory, every module in
  ``eval()`` mode; the same seed gives the same weights. ``variant="2511"`` builds
  Qwen-Image-Edit-2511 (``zero_cond_t=True``) for ``"qwen-image-edit-plus"``.
- ``save_tiny(family, folder, seed=0, variant=None)``: build and ``save_pretrained`` it.
- ``tiny_lora(family, pipe, folder, seed=1)``: a random LoRA for the denoiser saved with the
  pipeline class's ``save_lora_weights``; returns the ``.safetensors`` file.
- ``call_kwargs(family, image, prompt)``: the kwargs of a direct 2-step call at a tiny size
  (add ``generator=`` yourself; ``output_type="np"``).
- ``small_sizes(family)``: context manager lowering the hard-coded working sizes of the Qwen
  pipelines' modules (a no-op for the others).
- Helpers: ``pipeline_class``, ``has_lora_loader``, ``denoiser_name``, ``output_image`` (the
  edited image of an ``output_type="np"`` result: last frame for the video families),
  ``side_by_side`` (the FluxFill canvas and mask), ``realign`` (see its docstring: loaded
  weights are unaligned and CPU kernels round differently by ~1e-6 until they are copied).
"""

from __future__ import annotations

import contextlib
import importlib
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image

FAMILIES: tuple[str, ...] = (
    "instruct-pix2pix",
    "flux-kontext",
    "flux-fill",
    "qwen-image-edit",
    "qwen-image-edit-plus",
    "omnigen",
    "flux2",
    "flux2-klein",
    "chronoedit",
    "framepack",
    "qwen-image-layered",
)

PIPELINE_CLASSES: dict[str, str] = {
    "instruct-pix2pix": "StableDiffusionInstructPix2PixPipeline",
    "flux-kontext": "FluxKontextPipeline",
    "flux-fill": "FluxFillPipeline",
    "qwen-image-edit": "QwenImageEditPipeline",
    "qwen-image-edit-plus": "QwenImageEditPlusPipeline",
    "omnigen": "OmniGenPipeline",
    "flux2": "Flux2Pipeline",
    "flux2-klein": "Flux2KleinPipeline",
    "chronoedit": "ChronoEditPipeline",
    "framepack": "HunyuanVideoFramepackPipeline",
    "qwen-image-layered": "QwenImageLayeredPipeline",
}

# Variants a family can be built as (``build_pipeline(..., variant=...)``); None is the default.
VARIANTS: dict[str, tuple[str, ...]] = {"qwen-image-edit-plus": ("2509", "2511")}

# Working size of every direct call made by ``call_kwargs`` (pixels, square).
SIZE = 32
# Working areas installed by ``small_sizes`` for the Qwen modules.
QWEN_AREA = 64 * 64
QWEN_CONDITION_AREA = 56 * 56

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _check_family(family: str) -> None:
    if family not in PIPELINE_CLASSES:
        raise ValueError(f"unknown tiny pipeline family {family!r}; known: {', '.join(FAMILIES)}")


def pipeline_class(family: str) -> type:
    """The diffusers pipeline class of ``family``."""
    _check_family(family)
    import diffusers

    return getattr(diffusers, PIPELINE_CLASSES[family])


# --------------------------------------------------------------------------- tokenizers


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _printable() -> list[str]:
    return [c for c in string.printable if not c.isspace()]


def clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for symbol in _byte_symbols():
        vocab.setdefault(symbol, len(vocab))
    for symbol in _byte_symbols():
        vocab.setdefault(symbol + "</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    for char in _printable():
        pieces.append((char, -2.0))
        pieces.append(("▁" + char, -1.5))
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def _llama_vocab(specials: list[str]) -> dict[str, int]:
    vocab = {token: i for i, token in enumerate(specials)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    vocab.setdefault("▁", len(vocab))
    for char in _printable():
        vocab.setdefault(char, len(vocab))
        vocab.setdefault("▁" + char, len(vocab))
    return vocab


def llama_tokenizer(*, pad: bool = False):
    from transformers import LlamaTokenizer

    tokenizer = LlamaTokenizer(vocab=_llama_vocab(["<unk>", "<s>", "</s>"]), merges=[])
    if pad:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    return tokenizer


_QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and not enable_thinking -%}{{ '<think>\\n\\n</think>\\n\\n' }}{%- endif -%}"
    "{%- endif -%}"
)

_QWEN_SPECIALS = [
    "<|im_start|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


def qwen_tokenizer(*, thinking: bool = False):
    from transformers import Qwen2Tokenizer

    vocab: dict[str, int] = {}
    for symbol in _byte_symbols():
        vocab.setdefault(symbol, len(vocab))
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=_QWEN_CHAT_TEMPLATE,
    )
    specials = list(_QWEN_SPECIALS)
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    if thinking:
        tokenizer.add_tokens(["<think>", "</think>"])
    return tokenizer


def qwen_vl_processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    common = dict(patch_size=14, temporal_patch_size=2, merge_size=2)
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=112 * 112, **common)
    video_processor = Qwen2VLVideoProcessor(size={"shortest_edge": 28 * 28, "longest_edge": 112 * 112}, **common)
    return Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


_MISTRAL_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set text = message['content'] -%}"
    "{%- else -%}{%- set text = message['content'] | selectattr('type', 'equalto', 'text')"
    " | map(attribute='text') | join(' ') -%}{%- endif -%}"
    "{%- if message['role'] == 'system' -%}[SYSTEM_PROMPT]{{ text }}[/SYSTEM_PROMPT]"
    "{%- elif message['role'] == 'user' -%}[INST]"
    "{%- if message['content'] is not string -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}[IMG]{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ text }}[/INST]"
    "{%- else -%}{{ text }}</s>{%- endif -%}"
    "{%- endfor -%}"
)


def pixtral_processor():
    from transformers import LlamaTokenizer, PixtralImageProcessor, PixtralProcessor

    specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]
    specials += ["[IMG]", "[IMG_BREAK]", "[IMG_END]", "<pad>"]
    tokenizer = LlamaTokenizer(vocab=_llama_vocab(specials), merges=[], add_bos_token=False, padding_side="left")
    tokenizer.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": specials[3:10]})
    image_processor = PixtralImageProcessor(size={"longest_edge": 30}, patch_size={"height": 6, "width": 6})
    return PixtralProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=6,
        spatial_merge_size=1,
        chat_template=_MISTRAL_CHAT_TEMPLATE,
    )


# --------------------------------------------------------------------------- builders


def _seeded(seed: int) -> Callable[[Callable[[], Any]], Any]:
    """Build one component under its own seed (each component gets seed, seed+1, ...)."""
    counter = iter(range(10_000))

    def make(factory: Callable[[], Any]) -> Any:
        torch.manual_seed(seed * 1000 + next(counter))
        return factory()

    return make


def _clip_text(make, tokenizer, hidden: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=hidden,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return make(lambda: CLIPTextModel(config))


def _t5_config(tokenizer, d_model: int = 32):
    from transformers import T5Config

    return T5Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )


def _qwen_vl_encoder(make, tokenizer, hidden: int = 16):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": hidden,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "vocab_size": len(tokenizer),
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
            "bos_token_id": None,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": hidden,
        },
        hidden_size=hidden,
        vocab_size=len(tokenizer),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        vision_token_id=ids("<|vision_pad|>"),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return make(lambda: Qwen2_5_VLForConditionalGeneration(config))


def _build_instruct_pix2pix(make, variant):
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, UNet2DConditionModel

    tokenizer = clip_tokenizer()
    unet = make(
        lambda: UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=16,
            in_channels=8,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=4,
            norm_num_groups=4,
        )
    )
    vae = make(
        lambda: AutoencoderKL(
            block_out_channels=(8, 16),
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            norm_num_groups=4,
            sample_size=32,
        )
    )
    return dict(
        vae=vae,
        text_encoder=_clip_text(make, tokenizer),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000
        ),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def _flux_vae(make, latent_channels: int = 4):
    from diffusers import AutoencoderKL

    return make(
        lambda: AutoencoderKL(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=latent_channels,
            norm_num_groups=4,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
        )
    )


def _build_flux1(make, fill: bool):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import T5EncoderModel

    channels = 4
    vae = _flux_vae(make, channels)
    vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    tokenizer = clip_tokenizer()
    tokenizer_2 = t5_tokenizer()
    text_encoder = _clip_text(make, tokenizer)
    t5_config = _t5_config(tokenizer_2)
    text_encoder_2 = make(lambda: T5EncoderModel(t5_config))
    in_channels = 8 * channels + 4 * vae_scale_factor**2 if fill else 4 * channels
    transformer = make(
        lambda: FluxTransformer2DModel(
            patch_size=1,
            in_channels=in_channels,
            out_channels=4 * channels,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=t5_config.d_model,
            pooled_projection_dim=text_encoder.config.hidden_size,
            axes_dims_rope=[4, 4, 8],
            guidance_embeds=True,
        )
    )
    components = dict(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    if not fill:
        components.update(image_encoder=None, feature_extractor=None)
    return components


def _qwen_vae(make, z_dim: int, input_channels: int = 3):
    from diffusers import AutoencoderKLQwenImage

    return make(
        lambda: AutoencoderKLQwenImage(
            base_dim=8,
            z_dim=z_dim,
            dim_mult=[1, 2, 2, 2],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * z_dim,
            latents_std=[1.0] * z_dim,
            input_channels=input_channels,
        )
    )


def _build_qwen(make, variant, layered: bool = False):
    from diffusers import FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel

    z_dim = 8 if layered else 4
    tokenizer = qwen_tokenizer()
    processor = qwen_vl_processor(qwen_tokenizer())
    text_encoder = _qwen_vl_encoder(make, tokenizer)
    extra: dict[str, Any] = {}
    if variant == "2511":
        extra["zero_cond_t"] = True
    if layered:
        extra.update(use_additional_t_cond=True, use_layer3d_rope=True)
    transformer = make(
        lambda: QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=4 * z_dim,
            out_channels=z_dim,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=3,
            joint_attention_dim=text_encoder.config.text_config.hidden_size,
            guidance_embeds=False,
            axes_dims_rope=(8, 4, 4),
            **extra,
        )
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=256,
        base_shift=0.5,
        max_image_seq_len=8192,
        max_shift=0.9,
        shift=1.0,
        shift_terminal=0.02,
        use_dynamic_shifting=True,
        time_shift_type="exponential",
    )
    return dict(
        scheduler=scheduler,
        vae=_qwen_vae(make, z_dim, input_channels=4 if layered else 3),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        transformer=transformer,
    )


def _build_omnigen(make, variant):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, OmniGenTransformer2DModel

    tokenizer = llama_tokenizer()
    head_dim = 8
    transformer = make(
        lambda: OmniGenTransformer2DModel(
            in_channels=4,
            patch_size=2,
            hidden_size=16,
            num_attention_heads=2,
            num_key_value_heads=2,
            intermediate_size=32,
            num_layers=2,
            pad_token_id=tokenizer.convert_tokens_to_ids("<unk>"),
            vocab_size=len(tokenizer),
            max_position_embeddings=4096,
            original_max_position_embeddings=4096,
            rope_scaling={"short_factor": [1.0] * (head_dim // 2), "long_factor": [1.0] * (head_dim // 2)},
            pos_embed_max_size=64,
        )
    )
    # The OmniGen processor counts H*W/16² tokens per input image: the VAE must downsample by 8.
    vae = make(
        lambda: AutoencoderKL(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
        )
    )
    return dict(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, tokenizer=tokenizer)


def _flux2_vae(make):
    from diffusers import AutoencoderKLFlux2

    return make(
        lambda: AutoencoderKLFlux2(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            use_quant_conv=False,
            use_post_quant_conv=False,
        )
    )


def _flux2_transformer(make, text_hidden: int, guidance: bool):
    from diffusers import Flux2Transformer2DModel

    return make(
        lambda: Flux2Transformer2DModel(
            patch_size=1,
            in_channels=16,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=3 * text_hidden,
            timestep_guidance_channels=256,
            axes_dims_rope=[4, 4, 4, 4],
            guidance_embeds=guidance,
        )
    )


def _build_flux2(make, variant):
    from diffusers import FlowMatchEulerDiscreteScheduler
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    processor = pixtral_processor()
    tokenizer = processor.tokenizer
    hidden = 16
    config = Mistral3Config(
        text_config={
            "model_type": "mistral",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 37,
            "max_position_embeddings": 2048,
            "num_attention_heads": 4,
            "num_hidden_layers": 31,  # the pipeline reads hidden states (10, 20, 30) by default
            "num_key_value_heads": 2,
            "head_dim": 4,
            "rms_norm_eps": 1e-05,
            "rope_theta": 1000000000.0,
            "sliding_window": None,
            "bos_token_id": tokenizer.convert_tokens_to_ids("<s>"),
            "eos_token_id": tokenizer.convert_tokens_to_ids("</s>"),
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "model_type": "pixtral",
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "intermediate_size": 37,
            "image_size": 30,
            "patch_size": 6,
            "num_channels": 3,
        },
        image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"),
        spatial_merge_size=1,
        vision_feature_layer=-1,
    )
    text_encoder = make(lambda: Mistral3ForConditionalGeneration(config))
    return dict(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=_flux2_vae(make),
        text_encoder=text_encoder,
        tokenizer=processor,
        transformer=_flux2_transformer(make, hidden, guidance=True),
    )


def _build_flux2_klein(make, variant):
    from diffusers import FlowMatchEulerDiscreteScheduler
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = qwen_tokenizer(thinking=True)
    hidden = 16
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=16,
        num_hidden_layers=28,  # the pipeline reads hidden states (9, 18, 27) by default
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    text_encoder = make(lambda: Qwen3ForCausalLM(config))
    return dict(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=_flux2_vae(make),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=_flux2_transformer(make, hidden, guidance=False),
        is_distilled=True,
    )


def _build_chronoedit(make, variant):
    from diffusers import AutoencoderKLWan, ChronoEditTransformer3DModel, FlowMatchEulerDiscreteScheduler
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, UMT5EncoderModel

    tokenizer = t5_tokenizer()
    t5_config = _t5_config(tokenizer)
    t5_config.model_type = "umt5"
    from transformers import UMT5Config

    umt5_config = UMT5Config(**{k: v for k, v in t5_config.to_dict().items() if k != "model_type"})
    text_encoder = make(lambda: UMT5EncoderModel(umt5_config))
    vae = make(
        lambda: AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
    )
    image_encoder_config = CLIPVisionConfig(
        hidden_size=4,
        projection_dim=4,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        intermediate_size=16,
        patch_size=1,
    )
    image_encoder = make(lambda: CLIPVisionModel(image_encoder_config))
    transformer = make(
        lambda: ChronoEditTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=36,
            out_channels=16,
            text_dim=umt5_config.d_model,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
            image_dim=4,
        )
    )
    return dict(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        image_encoder=image_encoder,
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
    )


def _build_framepack(make, variant):
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoFramepackTransformer3DModel,
    )
    from transformers import LlamaConfig, LlamaModel, SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    tokenizer = llama_tokenizer(pad=True)
    tokenizer_2 = clip_tokenizer()
    siglip_hidden = 32
    transformer = make(
        lambda: HunyuanVideoFramepackTransformer3DModel(
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=10,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=2,
            patch_size_t=1,
            guidance_embeds=True,
            text_embed_dim=16,
            pooled_projection_dim=8,
            rope_axes_dim=(2, 4, 4),
            image_condition_type=None,
            has_image_proj=True,
            image_proj_dim=siglip_hidden,
            has_clean_x_embedder=True,
        )
    )
    block = "HunyuanVideoDownBlock3D"
    up_block = "HunyuanVideoUpBlock3D"
    vae = make(
        lambda: AutoencoderKLHunyuanVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=(block,) * 4,
            up_block_types=(up_block,) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            act_fn="silu",
            norm_num_groups=4,
            scaling_factor=0.476986,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
            mid_block_add_attention=True,
        )
    )
    llama_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    text_encoder = make(lambda: LlamaModel(llama_config))
    text_encoder_2 = _clip_text(make, tokenizer_2, hidden=8)
    siglip_config = SiglipVisionConfig(
        hidden_size=siglip_hidden,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=30,
        patch_size=6,
    )
    image_encoder = make(lambda: SiglipVisionModel(siglip_config))
    feature_extractor = SiglipImageProcessor(size={"height": 30, "width": 30})
    return dict(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        image_encoder=image_encoder,
        feature_extractor=feature_extractor,
    )


_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "instruct-pix2pix": _build_instruct_pix2pix,
    "flux-kontext": lambda make, variant: _build_flux1(make, fill=False),
    "flux-fill": lambda make, variant: _build_flux1(make, fill=True),
    "qwen-image-edit": _build_qwen,
    "qwen-image-edit-plus": _build_qwen,
    "omnigen": _build_omnigen,
    "flux2": _build_flux2,
    "flux2-klein": _build_flux2_klein,
    "chronoedit": _build_chronoedit,
    "framepack": _build_framepack,
    "qwen-image-layered": lambda make, variant: _build_qwen(make, variant, layered=True),
}


def build_pipeline(family: str, seed: int = 0, variant: str | None = None):
    """The real pipeline class of ``family`` with tiny random components, in eval mode."""
    _check_family(family)
    if variant is not None and variant not in VARIANTS.get(family, ()):
        raise ValueError(f"{family!r} has no variant {variant!r}; known: {VARIANTS.get(family, ())}")
    cls = pipeline_class(family)
    with torch.random.fork_rng(devices=[]):
        components = _BUILDERS[family](_seeded(seed), variant)
    pipe = cls(**components)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def realign(pipe):
    """Copy every parameter and buffer of ``pipe``'s modules into fresh storage; returns ``pipe``.

    ``from_pretrained`` leaves the weights in the memory-mapped safetensors file, at offsets
    that are not 64-byte aligned; CPU kernels then take other vectorised paths and the
    results of some families (FLUX.1, ChronoEdit, FramePack, Qwen-Layered) differ from the
    in-memory pipeline by ~1e-6. After ``realign`` both give exactly the same pixels.
    """
    with torch.no_grad():
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                for tensor in [*component.parameters(), *component.buffers()]:
                    tensor.data = tensor.data.clone()
    return pipe


def save_tiny(family: str, folder: Path, seed: int = 0, variant: str | None = None) -> Path:
    """Build ``family`` and ``save_pretrained`` it (safetensors) into ``folder``."""
    folder = Path(folder)
    pipe = build_pipeline(family, seed=seed, variant=variant)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


# --------------------------------------------------------------------------- LoRA


def has_lora_loader(family: str) -> bool:
    return hasattr(pipeline_class(family), "load_lora_weights")


def denoiser_name(family: str) -> str:
    return "unet" if family == "instruct-pix2pix" else "transformer"


def tiny_lora(family: str, pipe, folder: Path, seed: int = 1) -> Path:
    """A random rank-4 LoRA for ``pipe``'s denoiser, saved as ``folder/pytorch_lora_weights.safetensors``.

    ``pipe`` is left unchanged (the adapter is added to a copy of the denoiser).
    """
    import copy

    from peft import LoraConfig, get_peft_model_state_dict

    cls = pipeline_class(family)
    if not has_lora_loader(family):
        raise NotImplementedError(f"{cls.__name__} ({family}) has no LoRA loader (no load_lora_weights)")
    name = denoiser_name(family)
    denoiser = copy.deepcopy(getattr(pipe, name))
    config = LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGETS, init_lora_weights=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        denoiser.add_adapter(config)
    layers = get_peft_model_state_dict(denoiser)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cls.save_lora_weights(folder, safe_serialization=True, **{f"{name}_lora_layers": layers})
    path = folder / "pytorch_lora_weights.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"save_lora_weights wrote no {path.name} in {folder}")
    return path


# --------------------------------------------------------------------------- single files


def write_gguf(state_dict: dict[str, torch.Tensor], path: Path, qtype: str = "Q8_0", arch: str = "flux",
               prefix: str = "", file_type: bool = True) -> dict[str, str]:
    """``state_dict`` written as a GGUF file with the ``gguf`` package: matrices whose rows divide
    into 32-element blocks as ``qtype`` (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, BF16: the types Python can
    quantize), everything else F32. ``general.file_type`` is set unless ``file_type`` is False.
    Returns name -> type written."""
    import gguf

    q = gguf.GGMLQuantizationType[qtype]
    writer = gguf.GGUFWriter(str(path), arch=arch)
    types: dict[str, str] = {}
    for name, tensor in state_dict.items():
        arr = tensor.detach().float().cpu().numpy()
        if arr.ndim == 2 and arr.shape[-1] % 32 == 0:
            data = gguf.quants.quantize(arr, q)
            writer.add_tensor(prefix + name, data, raw_shape=data.shape, raw_dtype=q)
            types[name] = qtype
        else:
            writer.add_tensor(prefix + name, arr)
            types[name] = "F32"
    if file_type:
        writer.add_file_type(gguf.LlamaFileType[f"MOSTLY_{qtype}"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return types


# --------------------------------------------------------------------------- calls


def _images(image: Image.Image | list[Image.Image]) -> list[Image.Image]:
    return list(image) if isinstance(image, list | tuple) else [image]


def side_by_side(reference: Image.Image, target: Image.Image, size: int = SIZE) -> tuple[Image.Image, Image.Image]:
    """ACE++/IC-LoRA canvas: ``reference`` left, ``target`` right, both ``size``² ; mask white on the right."""
    canvas = Image.new("RGB", (2 * size, size))
    canvas.paste(reference.convert("RGB").resize((size, size)), (0, 0))
    canvas.paste(target.convert("RGB").resize((size, size)), (size, 0))
    mask = Image.new("L", (2 * size, size), 0)
    mask.paste(255, (size, 0, 2 * size, size))
    return canvas, mask


def call_kwargs(family: str, image: Image.Image | list[Image.Image], prompt: str) -> dict[str, Any]:
    """Kwargs for a direct 2-step call of the tiny ``family`` pipeline (add ``generator=``)."""
    _check_family(family)
    images = _images(image)
    first = images[0].convert("RGB")
    common: dict[str, Any] = {"prompt": prompt, "num_inference_steps": 2, "output_type": "np"}
    s = SIZE
    if family == "instruct-pix2pix":
        return common | {"image": first.resize((s, s)), "guidance_scale": 7.5, "image_guidance_scale": 1.5}
    if family == "flux-kontext":
        return common | {
            "image": first,
            "height": s,
            "width": s,
            "max_area": s * s,
            "_auto_resize": False,
            "guidance_scale": 2.5,
        }
    if family == "flux-fill":
        target = images[1] if len(images) > 1 else first
        canvas, mask = side_by_side(first, target, s)
        return common | {
            "image": canvas,
            "mask_image": mask,
            "height": s,
            "width": 2 * s,
            "guidance_scale": 30.0,
        }
    if family == "qwen-image-edit":
        return common | {"image": first, "true_cfg_scale": 1.0}
    if family == "qwen-image-edit-plus":
        return common | {"image": [im.convert("RGB") for im in images], "true_cfg_scale": 1.0}
    if family == "qwen-image-layered":
        return common | {"image": first.convert("RGBA"), "layers": 2, "true_cfg_scale": 1.0, "resolution": 640}
    if family == "omnigen":
        placeholders = " ".join(f"<img><|image_{i + 1}|></img>" for i in range(len(images)))
        return common | {
            "prompt": f"{placeholders} {prompt}",
            "input_images": [im.convert("RGB") for im in images],
            "height": s,
            "width": s,
            "max_input_image_size": s,
            "guidance_scale": 2.5,
            "img_guidance_scale": 1.6,
        }
    if family == "flux2":
        refs = [im.convert("RGB").resize((64, 64)) for im in images]
        return common | {"image": refs, "height": s, "width": s, "guidance_scale": 4.0}
    if family == "flux2-klein":
        refs = [im.convert("RGB").resize((64, 64)) for im in images]
        return common | {"image": refs, "height": s, "width": s, "guidance_scale": 1.0}
    if family == "chronoedit":
        return common | {
            "image": first.resize((s, s)),
            "height": s,
            "width": s,
            "num_frames": 5,
            "guidance_scale": 5.0,
        }
    if family == "framepack":
        return common | {
            "image": first.resize((s, s)),
            "height": s,
            "width": s,
            "num_frames": 1,
            "latent_window_size": 1,
            "guidance_scale": 10.0,
        }
    raise AssertionError(family)


def output_image(family: str, output) -> Any:
    """The edited image(s) of a pipeline output as a float array ``(H, W, C)`` (``(layers, H, W, 4)`` for
    qwen-image-layered), given ``output_type="np"``."""
    import numpy as np

    if family in ("chronoedit", "framepack"):
        frames = np.asarray(output.frames[0])
        return frames[-1]
    if family == "qwen-image-layered":
        return np.asarray(output.images[0])
    return np.asarray(output.images[0])


# --------------------------------------------------------------------------- working sizes

_QWEN_MODULES = {
    "qwen-image-edit": "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit",
    "qwen-image-edit-plus": "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus",
    "qwen-image-layered": "diffusers.pipelines.qwenimage.pipeline_qwenimage_layered",
}

# Areas above this are the hard-coded literal output areas (1024², 640²) of the Qwen modules.
_HARD_CODED_AREA = 512 * 512


@contextlib.contextmanager
def small_sizes(family: str, area: int = QWEN_AREA, condition_area: int = QWEN_CONDITION_AREA) -> Iterator[None]:
    """Lower the module-level working sizes of the Qwen pipelines for tests, restore them after.

    ``calculate_dimensions(target_area, ratio)`` of the family's module is wrapped so the
    hard-coded literal areas (1024², and 640²/1024² for Layered's ``resolution``) become
    ``area``; Plus's ``VAE_IMAGE_SIZE`` becomes ``area`` and ``CONDITION_IMAGE_SIZE``
    ``condition_area``. Other families have no such constants: a no-op for them.
    """
    _check_family(family)
    name = _QWEN_MODULES.get(family)
    if name is None:
        yield
        return
    module = importlib.import_module(name)
    original = module.calculate_dimensions
    saved = {key: getattr(module, key) for key in ("VAE_IMAGE_SIZE", "CONDITION_IMAGE_SIZE") if hasattr(module, key)}

    def calculate_dimensions(target_area, ratio):
        return original(area if target_area > _HARD_CODED_AREA else target_area, ratio)

    module.calculate_dimensions = calculate_dimensions
    if "VAE_IMAGE_SIZE" in saved:
        module.VAE_IMAGE_SIZE = area
    if "CONDITION_IMAGE_SIZE" in saved:
        module.CONDITION_IMAGE_SIZE = condition_area
    try:
        yield
    finally:
        module.calculate_dimensions = original
        for key, value in saved.items():
            setattr(module, key, value)
