"""Issue 5 figures on a GPU: full-size editing transformers with random weights, 1024².

Run (on a CUDA machine): .venv/bin/python benchmarks/gpu_edit_bench.py [--models kontext,qwen2511,klein]
      [--steps default] [--no-compile]

For FLUX.1 Kontext [dev] (12B), Qwen-Image-Edit-2511 (20B) and FLUX.2 [klein] 4B, the real
diffusers pipeline class is assembled around a FULL-SIZE transformer and VAE built from their
published configs with random weights (speed does not depend on weight values; nothing is
downloaded). The text encoders are left out and random prompt embeddings of the real shape are
passed instead, so the figures cover reference encoding (VAE), the denoising loop and decoding
— not text encoding (one forward pass of the text model per edit).

Prints, in bf16 and then with ``torch.compile`` of the transformer's repeated blocks:
- one 1024×1024 edit step with one reference image (median time between step callbacks;
  Qwen's true CFG makes two transformer passes per step, as the model card runs it);
- a full default edit (the family's default steps) end to end.
Reference: a Kontext step at 1024² with one reference is ≈165 TFLOP, ≈0.21 s on an H100 at
800 TFLOP/s.

Without CUDA it prints "no CUDA device: nothing measured" and exits 0. ``--smoke`` runs the
same code path on the CPU with scaled-down configs (for checking the script, not figures).
The FLUX.2 klein 4B transformer config (5 double + 20 single blocks, 24 heads × 128, text
width 3 × 2560) is from its published model layout; change ``KLEIN_4B`` if it differs.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KONTEXT = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
               num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
               axes_dims_rope=(16, 56, 56))
FLUX1_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                 down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                 layers_per_block=2, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                 use_post_quant_conv=False)
QWEN_2511 = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
                 num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False,
                 axes_dims_rope=(16, 56, 56), zero_cond_t=True)
KLEIN_4B = dict(patch_size=1, in_channels=128, num_layers=5, num_single_layers=20, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=7680, axes_dims_rope=(32, 32, 32, 32),
                guidance_embeds=False)
DEFAULT_STEPS = {"kontext": 28, "qwen2511": 40, "klein": 4}
TEXT_TOKENS = {"kontext": 512, "qwen2511": 300, "klein": 512}


def smoke_configs() -> None:
    """Scaled-down configs (same code path) for a CPU check of this script."""
    KONTEXT.update(num_layers=1, num_single_layers=1, num_attention_heads=1, joint_attention_dim=64,
                   pooled_projection_dim=32)
    FLUX1_VAE.update(block_out_channels=(32, 32, 32, 32))
    QWEN_2511.update(num_layers=1, num_attention_heads=1, joint_attention_dim=64)
    KLEIN_4B.update(num_layers=1, num_single_layers=1, num_attention_heads=1, joint_attention_dim=96)


def build(name: str, device: str, dtype, smoke: bool):
    """(pipeline, call kwargs without image/size/steps) for ``name`` with random full-size weights."""
    import diffusers as d
    import torch

    torch.manual_seed(0)
    with torch.device(device):
        prev = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            if name == "kontext":
                tr = d.FluxTransformer2DModel(**KONTEXT)
                vae = d.AutoencoderKL(**FLUX1_VAE)
                pipe = d.FluxKontextPipeline(scheduler=d.FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=None,
                                             tokenizer=None, text_encoder_2=None, tokenizer_2=None, transformer=tr)
                kw = {"prompt_embeds": torch.randn(1, TEXT_TOKENS[name], KONTEXT["joint_attention_dim"]),
                      "pooled_prompt_embeds": torch.randn(1, KONTEXT["pooled_projection_dim"]), "guidance_scale": 2.5}
            elif name == "qwen2511":
                tr = d.QwenImageTransformer2DModel(**QWEN_2511)
                vae = d.AutoencoderKLQwenImage(**({"base_dim": 16} if smoke else {}))
                pipe = d.QwenImageEditPlusPipeline(scheduler=d.FlowMatchEulerDiscreteScheduler(), vae=vae,
                                                   text_encoder=None, tokenizer=None, processor=None, transformer=tr)
                n, dim = TEXT_TOKENS[name], QWEN_2511["joint_attention_dim"]
                kw = {"prompt_embeds": torch.randn(1, n, dim), "prompt_embeds_mask": torch.ones(1, n, dtype=torch.long),
                      "negative_prompt_embeds": torch.randn(1, n, dim),
                      "negative_prompt_embeds_mask": torch.ones(1, n, dtype=torch.long),
                      "true_cfg_scale": 4.0}
            else:
                tr = d.Flux2Transformer2DModel(**KLEIN_4B)
                vae = d.AutoencoderKLFlux2(**({"block_out_channels": (32, 32, 32, 32)} if smoke else {}))
                pipe = d.Flux2KleinPipeline(scheduler=d.FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=None,
                                            tokenizer=None, transformer=tr, is_distilled=True)
                kw = {"prompt_embeds": torch.randn(1, TEXT_TOKENS[name], KLEIN_4B["joint_attention_dim"]),
                      "guidance_scale": 1.0}
        finally:
            torch.set_default_dtype(prev)
    pipe.set_progress_bar_config(disable=True)
    params = sum(p.numel() for p in tr.parameters())
    return pipe, kw, params


def run(pipe, kw, size: int, steps: int, device: str):
    """(seconds per step: list, total seconds) of one edit with one reference image."""
    import numpy as np
    import torch
    from PIL import Image

    image = Image.fromarray((np.random.RandomState(0).rand(size, size, 3) * 255).astype(np.uint8))
    marks: list[float] = []

    def on_step(p, i, t, cb):  # noqa: ARG001
        if device == "cuda":
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return {}

    kontext = type(pipe).__name__ == "FluxKontextPipeline"
    extra = {"max_area": size * size, "_auto_resize": False} if kontext else {}
    img = image if kontext else [image]
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        pipe(image=img, height=size, width=size, num_inference_steps=steps, output_type="np",
             generator=torch.Generator("cpu").manual_seed(0), callback_on_step_end=on_step, **kw, **extra)
    if device == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    per_step = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return per_step, total


def device_setup(tiny: bool, size: int):
    """(device, dtype, size) to measure on: the CPU with the scaled-down configs when ``tiny``, else
    CUDA in bf16 (its name said); None, said, when there is no CUDA device."""
    import torch

    if tiny:
        smoke_configs()
        return "cpu", torch.float32, 64
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (run this on a machine with an NVIDIA GPU)")
        return None
    torch.backends.cuda.matmul.allow_tf32 = True
    cap = torch.cuda.get_device_capability()
    print(f"{torch.cuda.get_device_name()} (compute capability {cap[0]}.{cap[1]}), torch {torch.__version__}, "
          f"bf16, {size}×{size}, one reference image")
    return "cuda", torch.bfloat16, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kontext,qwen2511,klein")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", default="default", help="'default' (the model card's) or a number")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="CPU, scaled-down configs: checks the script only")
    args = ap.parse_args()
    import torch

    setup = device_setup(args.smoke, args.size)
    if setup is None:
        return 0
    device, dtype, size = setup
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        steps = DEFAULT_STEPS[name] if args.steps == "default" else int(args.steps)
        t0 = time.perf_counter()
        pipe, kw, params = build(name, device, dtype, args.smoke)
        print(f"== {name}: transformer {params / 1e9:.2f} B parameters (built in {time.perf_counter() - t0:.0f} s)",
              flush=True)
        variants = [("eager", False)] + ([] if args.no_compile or args.smoke else [("torch.compile", True)])
        for label, compiled in variants:
            if compiled:
                pipe.transformer.compile_repeated_blocks(fullgraph=True)
                t0 = time.perf_counter()
                run(pipe, kw, size, 3, device)  # compiles
                print(f"   compile warm-up {time.perf_counter() - t0:.0f} s", flush=True)
            else:
                run(pipe, kw, size, 2, device)  # warm-up
            per_step, _ = run(pipe, kw, size, 6 if not args.smoke else 3, device)
            _, total = run(pipe, kw, size, steps, device)
            step = statistics.median(per_step) if per_step else float("nan")
            print(f"   {label:<14} one step {step:7.3f} s   full default edit ({steps} steps) {total:7.2f} s",
                  flush=True)
        if device == "cuda":
            print(f"   peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
            torch.cuda.reset_peak_memory_stats()
        del pipe
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
