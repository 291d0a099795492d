"""DreamLite on this CPU: the full-size model with random weights, 2 threads, nothing downloaded.

Run: .venv/bin/python benchmarks/dreamlite_cpu.py [--size 512] [--steps 3] [--threads 2] [--no-mobile]

The configuration is the published checkpoint's (carlofkl/DreamLite-base, revision "diffusers"), not the
class defaults (``DreamLiteUNetModel()`` alone is an SDXL-like 320/640/1280 U-Net with 2048-d cross-attention):
- unet/config.json, as quoted by a third-party DreamLite integration's tests ("verified checkpoint facts",
  found with the code search): block_out_channels (256, 512, 896), attention_head_dim (4, 8, 14) (= heads:
  head size 64), layers_per_block 2, transformer_layers_per_block (1, 2, 4), cross_attention_dim 2304,
  encoder_hid_dim 2048 with "text_proj_rms", addition_embed_type "time" (256-d per id, 512 in),
  num_kv_heads 1 (MQA), qk_norm rms_norm, ff_mult 3, separable convs, linear projections, sample_size 128;
  the class's default block types (NoSelfAttn, NoSelfAttn, CrossAttn). They quote 0.39 B parameters, which
  this build reproduces.
- vae: ``AutoencoderTiny`` (taesdxl layout = the class defaults), scaling 1.0, 8x.
- text encoder: Qwen3-VL-2B (``encoder_hid_dim`` 2048 is its width): text 28 layers x 2048 (16 heads, 8 kv,
  head 128, MLP 6144, vocab 151936 tied), vision 24 blocks x 1024 (MLP 4096, 16 heads, patch 16, merge 2,
  deepstack 5/11/17), the public Qwen3-VL-2B config.json.
- scheduler: FlowMatchEuler, shift 3, dynamic shifting (0.5 / 1.15 over 256 / 4096 tokens).

Phases, each in its own subprocess so its peak resident memory (ru_maxrss) is its own:
1. ``denoise``: the real ``DreamLitePipeline`` with the full U-Net and VAE, its text encoding replaced by
   random embeddings of the right shape (3 rows x ``--text-tokens`` x 2048: the edit mode's negative /
   negative / prompt rows; the 512² condition image alone is 256 Qwen3-VL tokens). An edit of a
   ``--size``² image: one warm-up step, then a timed call of ``--steps`` steps; each U-Net call (3 CFG rows
   of the side-by-side [noise | image] latent, i.e. 64x128 at 512²), the VAE encode and decode are timed.
   ``--no-mobile`` skips the same for ``DreamLiteMobilePipeline`` (1 row per step, 4 steps by default).
2. ``text``: the parameter count of the full Qwen3-VL-2B (built on the meta device) and its forward time
   on the edit inputs (3 prompts, each with the 512² condition image), estimated from a full-width model
   with 4 of 28 text layers and 6 of 24 vision blocks (timed separately with hooks and scaled by depth;
   the embedding and the full-vocabulary logits the pipeline computes are timed as they are).
   ``--full-text-encoder`` runs the whole 2 B model instead (about 8.5 GB of float32 weights).
Prints the figures (s/step: median and minimum of the timed steps; the 30-step estimate uses the median)
and a JSON line, with the load average: the machine is shared and its seconds are noisy. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

UNET_CONFIG = dict(
    sample_size=128,
    in_channels=4,
    out_channels=4,
    block_out_channels=(256, 512, 896),
    attention_head_dim=(4, 8, 14),
    cross_attention_dim=2304,
    layers_per_block=2,
    transformer_layers_per_block=(1, 2, 4),
    use_linear_projection=True,
    encoder_hid_dim=2048,
    encoder_hid_dim_type="text_proj_rms",
    addition_embed_type="time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=512,
    num_kv_heads=1,
    qk_norm="rms_norm",
    ff_mult=3,
    use_sep_conv=True,
    norm_num_groups=32,
)
SCHEDULER_CONFIG = dict(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                        base_image_seq_len=256, max_image_seq_len=4096)
TEXT_HIDDEN = 2048
TEXT_LAYERS, VISION_BLOCKS = 28, 24
QWEN3_VL_2B = dict(
    text_config=dict(vocab_size=151936, hidden_size=TEXT_HIDDEN, intermediate_size=6144,
                     num_hidden_layers=TEXT_LAYERS, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                     max_position_embeddings=262144, rms_norm_eps=1e-6,
                     rope_parameters={"rope_type": "default", "rope_theta": 5000000.0,
                                      "mrope_section": [24, 20, 20], "mrope_interleaved": True}),
    vision_config=dict(depth=VISION_BLOCKS, hidden_size=1024, intermediate_size=4096, num_heads=16, patch_size=16,
                       spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=TEXT_HIDDEN,
                       num_position_embeddings=2304, deepstack_visual_indexes=[5, 11, 17]),
    tie_word_embeddings=True,
)
IMAGE_TOKEN, VISION_START, VISION_END = 151655, 151652, 151653


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def loadavg() -> float:
    """The 1-minute load average (this machine is shared: above the thread count, seconds are inflated)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_calls(module, name: str, log: dict) -> None:
    """Record the wall time of every call of ``module.<name>`` into ``log[name]``."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = original(*args, **kwargs)
        log.setdefault(name, []).append(time.perf_counter() - start)
        return out

    setattr(module, name, wrapper)


# --------------------------------------------------------------------------- phase 1: U-Net + VAE


def denoise_phase(size: int, steps: int, text_tokens: int, mobile: bool) -> dict:
    import numpy as np
    import torch
    from diffusers import (
        AutoencoderTiny,
        DreamLiteMobilePipeline,
        DreamLitePipeline,
        DreamLiteUNetModel,
        FlowMatchEulerDiscreteScheduler,
    )
    from PIL import Image

    from tests.inference import tiny_new_families as tn

    torch.manual_seed(0)
    unet = DreamLiteUNetModel(**UNET_CONFIG).eval()
    vae = AutoencoderTiny().eval()  # taesd(xl) layout, scaling_factor 1.0
    tiny = tn.build_new("dreamlite")  # tokenizer / processor / a stand-in text encoder (never run here)
    result: dict = {"unet_params": params(unet), "vae_params": params(vae),
                    "vae_encoder_params": params(vae.encoder), "vae_decoder_params": params(vae.decoder),
                    "rss_after_build_mb": peak_rss_mb()}
    image = Image.fromarray((np.random.RandomState(0).rand(size, size, 3) * 255).astype(np.uint8))
    for kind, cls in (("base", DreamLitePipeline), ("mobile", DreamLiteMobilePipeline)):
        if kind == "mobile" and not mobile:
            continue
        pipe = cls(text_encoder=tiny.text_encoder, tokenizer=tiny.tokenizer, processor=tiny.processor, vae=vae,
                   unet=unet, scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG))
        pipe.set_progress_bar_config(disable=True)
        def random_embeddings(mode, prompts, device, dtype, image=None, max_sequence_length=500,
                              text_pad_embedding=None):
            g = torch.Generator().manual_seed(1)
            return (torch.randn(len(prompts), text_tokens, TEXT_HIDDEN, generator=g, dtype=dtype),
                    torch.ones(len(prompts), text_tokens, dtype=torch.long))

        pipe.encode_prompt = random_embeddings
        log: dict = {}
        forward = pipe.unet.forward

        def counted(sample, *a, _log=log, _forward=forward, **k):
            _log.setdefault("rows", []).append(sample.shape[0])
            return _forward(sample, *a, **k)

        pipe.unet.forward = counted
        timed_calls(pipe.unet, "forward", log)
        timed_calls(pipe.vae, "encode", log)
        timed_calls(pipe.vae, "decode", log)
        kwargs = dict(prompt="make it snowy", image=image, height=size, width=size, output_type="np")
        pipe(**kwargs, num_inference_steps=1, generator=torch.Generator().manual_seed(0))  # warm-up
        log.clear()
        start = time.perf_counter()
        out = pipe(**kwargs, num_inference_steps=steps, generator=torch.Generator().manual_seed(0))
        total = time.perf_counter() - start
        assert np.asarray(out.images[0]).shape == (size, size, 3)
        result[kind] = {
            "rows_per_step": int(log["rows"][0]),
            "s_per_step": float(np.median(log["forward"])),
            "s_per_step_min": float(np.min(log["forward"])),
            "s_per_step_each": [round(t, 3) for t in log["forward"]],
            "vae_encode_s": log["encode"][0],
            "vae_decode_s": log["decode"][0],
            "call_s": total,
        }
        # the U-Net keeps its wrapper across pipelines: undo it
        del pipe.unet.forward
        del pipe.vae.encode
        del pipe.vae.decode
    result["peak_rss_mb"] = peak_rss_mb()
    result["loadavg_end"] = loadavg()
    return result


# --------------------------------------------------------------------------- phase 2: text encoder


def qwen3_vl_config(text_layers: int = TEXT_LAYERS, vision_blocks: int = VISION_BLOCKS):
    from transformers import Qwen3VLConfig

    text = dict(QWEN3_VL_2B["text_config"], num_hidden_layers=text_layers)
    deepstack = [5, 11, 17] if vision_blocks == VISION_BLOCKS else [1, 3, 5][: max(1, vision_blocks // 2)]
    vision = dict(QWEN3_VL_2B["vision_config"], depth=vision_blocks, deepstack_visual_indexes=deepstack)
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True,
                         image_token_id=IMAGE_TOKEN, video_token_id=151656, vision_start_token_id=VISION_START,
                         vision_end_token_id=VISION_END)


def edit_inputs(size: int, prompt_tokens: int, batch: int = 3):
    """What ``DreamLitePipeline.encode_prompt(mode="edit")`` hands the encoder: per row the template, the
    condition image resized to 512² (or ``size``²) as patches, the prompt; left as random token ids."""
    import torch

    grid = size // 16
    image_tokens = grid * grid // 4
    template = 64  # the pinned system/template prefix the pipeline drops
    ids = torch.randint(0, 150000, (batch, template + 2 + image_tokens + prompt_tokens))
    ids[:, template] = VISION_START
    ids[:, template + 1: template + 1 + image_tokens] = IMAGE_TOKEN
    ids[:, template + 1 + image_tokens] = VISION_END
    pixel_values = torch.randn(batch * grid * grid, 3 * 2 * 16 * 16)
    grid_thw = torch.tensor([[1, grid, grid]] * batch)
    mm = (ids == IMAGE_TOKEN).long()
    return dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixel_values,
                image_grid_thw=grid_thw, mm_token_type_ids=mm)


def text_phase(size: int, prompt_tokens: int, full: bool) -> dict:
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    with torch.device("meta"):
        whole = Qwen3VLForConditionalGeneration(qwen3_vl_config())
    result: dict = {
        "text_encoder_params": params(whole),
        "text_encoder_vision_params": params(whole.model.visual),
        "text_encoder_language_params": params(whole.model.language_model),
    }
    del whole
    text_layers, vision_blocks = (TEXT_LAYERS, VISION_BLOCKS) if full else (4, 6)
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(qwen3_vl_config(text_layers, vision_blocks)).eval()
    inputs = edit_inputs(512, prompt_tokens)  # the pipeline resizes the condition image to 512² at any size
    log: dict = {}
    timed_calls(model.model.visual, "forward", log)
    for layer in model.model.language_model.layers:
        timed_calls(layer, "forward", log)
    timed_calls(model.lm_head, "forward", log)
    with torch.no_grad():
        model(**inputs, output_hidden_states=True)  # warm-up
        log.clear()
        start = time.perf_counter()
        model(**inputs, output_hidden_states=True)
        total = time.perf_counter() - start
    # in call order: the vision tower (once), each decoder layer, the full-vocabulary lm_head
    calls = log["forward"]
    assert len(calls) == 1 + text_layers + 1
    vision, layers, logits = calls[0], sum(calls[1:-1]), calls[-1]
    rest = total - vision - layers - logits
    scale_vision = VISION_BLOCKS / vision_blocks
    scale_text = TEXT_LAYERS / text_layers
    estimate = vision * scale_vision + layers * scale_text + logits + rest
    result.update({
        "measured_text_layers": text_layers,
        "measured_vision_blocks": vision_blocks,
        "sequence_tokens": int(inputs["input_ids"].shape[1]),
        "rows": int(inputs["input_ids"].shape[0]),
        "measured_s": total,
        "vision_s": vision,
        "text_layers_s": layers,
        "logits_s": logits,
        "other_s": rest,
        "full_pass_estimate_s": estimate,
        "peak_rss_mb": peak_rss_mb(),
        "loadavg_end": loadavg(),
        "full_weights_fp32_gb": result["text_encoder_params"] * 4 / 1e9,
        "full_weights_bf16_gb": result["text_encoder_params"] * 2 / 1e9,
    })
    return result


# --------------------------------------------------------------------------- driver


def run_phase(args, phase: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--size", str(args.size), "--steps", str(args.steps),
           "--threads", str(args.threads), "--text-tokens", str(args.text_tokens),
           "--prompt-tokens", str(args.prompt_tokens)]
    if not args.mobile:
        cmd.append("--no-mobile")
    if args.full_text_encoder:
        cmd.append("--full-text-encoder")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--text-tokens", type=int, default=300,
                        help="rows of text embeddings the U-Net attends to (256 image tokens + template tail + prompt)")
    parser.add_argument("--prompt-tokens", type=int, default=40, help="prompt tokens in the text-encoder input")
    parser.add_argument("--no-mobile", dest="mobile", action="store_false")
    parser.add_argument("--full-text-encoder", action="store_true")
    parser.add_argument("--phase", choices=["denoise", "text"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        import torch

        torch.set_num_threads(args.threads)
        if args.phase == "denoise":
            result = denoise_phase(args.size, args.steps, args.text_tokens, args.mobile)
        else:
            result = text_phase(args.size, args.prompt_tokens, args.full_text_encoder)
        print(json.dumps(result))
        return

    load_start = loadavg()
    denoise = run_phase(args, "denoise")
    text = run_phase(args, "text")
    base = denoise["base"]
    print(f"DreamLite on the CPU, {args.threads} threads, {args.size}² edit, random weights "
          f"(load average {load_start:.1f} at start, {denoise['loadavg_end']:.1f} after the U-Net, "
          f"{text['loadavg_end']:.1f} at the end, on {os.cpu_count()} cores)")
    print(f"  U-Net  {denoise['unet_params'] / 1e6:8.1f} M parameters")
    print(f"  VAE    {denoise['vae_params'] / 1e6:8.2f} M parameters (AutoencoderTiny: encoder "
          f"{denoise['vae_encoder_params'] / 1e6:.2f} M, decoder {denoise['vae_decoder_params'] / 1e6:.2f} M)")
    print(f"  text encoder (Qwen3-VL-2B) {text['text_encoder_params'] / 1e9:.3f} B parameters "
          f"(vision {text['text_encoder_vision_params'] / 1e6:.0f} M, language "
          f"{text['text_encoder_language_params'] / 1e6:.0f} M incl. the tied 311 M embedding); "
          f"weights {text['full_weights_fp32_gb']:.1f} GB fp32 / {text['full_weights_bf16_gb']:.1f} GB bf16")
    print(f"  base: {base['s_per_step']:.2f} s/step median, {base['s_per_step_min']:.2f} min ({base['rows_per_step']} CFG rows of the diptych latent; "
          f"steps {base['s_per_step_each']}), VAE encode {base['vae_encode_s']:.2f} s, decode "
          f"{base['vae_decode_s']:.2f} s, {args.steps}-step call {base['call_s']:.1f} s")
    if "mobile" in denoise:
        mob = denoise["mobile"]
        print(f"  mobile: {mob['s_per_step']:.2f} s/step median, {mob['s_per_step_min']:.2f} min (1 row), "
              f"steps {mob['s_per_step_each']}")
    print(f"  peak RSS of the U-Net + VAE process: {denoise['peak_rss_mb']:.0f} MB "
          f"(after building: {denoise['rss_after_build_mb']:.0f} MB)")
    te = text["full_pass_estimate_s"]
    how = "measured" if args.full_text_encoder else (
        f"estimated from {text['measured_text_layers']}/{TEXT_LAYERS} text layers and "
        f"{text['measured_vision_blocks']}/{VISION_BLOCKS} vision blocks")
    print(f"  text-encoder pass ({text['rows']} rows x {text['sequence_tokens']} tokens, 512² image each): "
          f"{te:.1f} s ({how}; vision {text['vision_s']:.2f} s, layers {text['text_layers_s']:.2f} s, "
          f"logits {text['logits_s']:.2f} s measured), peak RSS {text['peak_rss_mb']:.0f} MB")
    loop = 30 * base["s_per_step"] + base["vae_encode_s"] + base["vae_decode_s"]
    print(f"  estimated 30-step {args.size}² edit: {loop:.0f} s denoise+VAE, {loop + te:.0f} s with the text encoder")
    if "mobile" in denoise:
        mob = denoise["mobile"]
        fast = 4 * mob["s_per_step"] + mob["vae_encode_s"] + mob["vae_decode_s"]
        print(f"  estimated 4-step mobile edit: {fast:.0f} s denoise+VAE, {fast + te:.0f} s with the text encoder")
    print(json.dumps({"denoise": denoise, "text": text, "estimate_30_steps_s": loop + te}))


if __name__ == "__main__":
    main()
