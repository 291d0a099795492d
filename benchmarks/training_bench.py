"""Issue 12 figures: seconds per training step and peak memory.

Run: .venv/bin/python benchmarks/training_bench.py [--steps 20] [--families flux-kontext,…]
     .venv/bin/python benchmarks/training_bench.py --gpu [--smoke]

CPU (always): every family that trains, on its tiny real pipeline (tests/inference/tiny_pipelines),
two pairs at 64², through ``training.trainer.train`` — median s/step over the run, and the peak
resident memory of a process that did only that (each family in its own subprocess).

GPU (``--gpu``, only with CUDA): full-size FLUX.2 klein 4B and FLUX.1 Kontext transformers with
random weights (configs of benchmarks/gpu_edit_bench.py), a rank-16 LoRA, gradient checkpointing,
AdamW, one training step on latents of 512² and 1024² (one control image, 512 text tokens): median
s/step of 10 steps after 2, and torch.cuda.max_memory_allocated, per memory mode (bf16; 8bit with
bitsandbytes; fp8 with torchao). Without CUDA it says so and measures nothing. ``--smoke`` runs the
GPU code path on the CPU with scaled-down configs, to check the script. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
FAMILIES = [("flux-kontext", None), ("flux2-klein", None), ("flux2", None), ("qwen-image-edit", None),
            ("qwen-image-edit-plus", "2511"), ("instruct-pix2pix", None)]


def cpu_one(family: str, variant: str | None, steps: int) -> dict:
    import resource

    import numpy as np

    from inference.diffusion import models
    from tests.inference import tiny_pipelines as tp
    from tests.inference.photos import astronaut, coffee
    from tests.training.conftest import inverted, small
    from training.dataset import from_arrays
    from training.trainer import Settings, train

    with tempfile.TemporaryDirectory() as tmp:
        tp.build_pipeline(family, seed=0, variant=variant).save_pretrained(Path(tmp) / "m", safe_serialization=True)
        info = models.check_folder(Path(tmp) / "m")
        ds = from_arrays([(small(p), inverted(small(p))) for p in (astronaut(), coffee())], instruction="invert it")
        stamps: list[float] = []

        def seen(u):
            if u.phase == "train":
                stamps.append(time.perf_counter())

        with tp.small_sizes(family):
            train(ds, info, Path(tmp) / "out.safetensors", Settings(steps=steps, rank=16, resolution=64,
                                                                     sample_every=0, checkpoint_every=0),
                  device="cpu", progress=seen)
    per = float(np.median(np.diff(stamps))) if len(stamps) > 2 else float("nan")
    return {"family": family + (f"-{variant}" if variant else ""), "s_per_step": per,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cpu_figures(steps: int, only: set[str]) -> None:
    print(f"CPU, tiny pipelines, 2 pairs at 64², rank 16, {steps} steps (each family in its own process):")
    for family, variant in FAMILIES:
        if only and family not in only:
            continue
        code = (f"import json,sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.training_bench import cpu_one; "
                f"print('RESULT', json.dumps(cpu_one({family!r}, {variant!r}, {steps})))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=1800)
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"  {family}: failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        res = json.loads(line[7:])
        print(f"  {res['family']:<26} {res['s_per_step'] * 1000:8.0f} ms/step   peak {res['peak_rss_mb']:7.0f} MB")


def gpu_step(name: str, size: int, mode: str, device: str, smoke: bool) -> tuple[float, float]:
    import diffusers as d
    import torch

    import benchmarks.gpu_edit_bench as g
    from training.lora import add_lora
    from training.recipes.flux2 import TARGETS as KLEIN_TARGETS
    from training.recipes.kontext import KontextRecipe

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        if name == "kontext":
            model = d.FluxTransformer2DModel(**g.KONTEXT).to(dtype)
            targets, ch, text_dim = KontextRecipe.lora_targets, g.KONTEXT["in_channels"], g.KONTEXT["joint_attention_dim"]
        else:
            model = d.Flux2Transformer2DModel(**g.KLEIN_4B).to(dtype)
            targets, ch, text_dim = KLEIN_TARGETS, g.KLEIN_4B["in_channels"], g.KLEIN_4B["joint_attention_dim"]
    if mode in ("8bit", "fp8"):
        from training.session import quantize

        quantize(model, mode, device)
    params, _ = add_lora(model, targets, 16, 16, 0)
    model.enable_gradient_checkpointing()
    model.train()
    opt = torch.optim.AdamW(params, lr=1e-4)
    side = size // 16  # tokens a side (VAE ×8, packing ×2)
    n = side * side
    x = torch.randn(1, 2 * n, ch, device=device, dtype=dtype)  # target + one control
    text = torch.randn(1, 512, text_dim, device=device, dtype=dtype)
    if name == "kontext":
        ids = torch.zeros(2 * n, 3, device=device)
        txt_ids = torch.zeros(512, 3, device=device)
        kw = dict(pooled_projections=torch.randn(1, g.KONTEXT["pooled_projection_dim"], device=device, dtype=dtype),
                  guidance=torch.ones(1, device=device), txt_ids=txt_ids, img_ids=ids)
    else:
        kw = dict(txt_ids=torch.zeros(1, 512, 4, device=device), img_ids=torch.zeros(1, 2 * n, 4, device=device),
                  guidance=None)
    times = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(3 if smoke else 12):
        t0 = time.perf_counter()
        out = model(hidden_states=x, timestep=torch.full((1,), 0.5, device=device, dtype=dtype),
                    encoder_hidden_states=text, return_dict=False, **kw)[0][:, :n]
        loss = out.float().pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 2 or smoke:
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    del model, opt, params
    return statistics.median(times), peak


def gpu_figures(smoke: bool) -> None:
    import torch

    import benchmarks.gpu_edit_bench as g

    if not torch.cuda.is_available() and not smoke:
        print("GPU: no CUDA device: nothing measured")
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if smoke:
        g.smoke_configs()
    from inference.diffusion.device import has_package

    modes = ["bf16"] + (["8bit"] if has_package("bitsandbytes") and device == "cuda" else []) + (
        ["fp8"] if has_package("torchao") and device == "cuda" else [])
    print(f"GPU ({torch.cuda.get_device_name() if device == 'cuda' else 'CPU smoke test'}): one training step, "
          "rank-16 LoRA, gradient checkpointing, one control image, 512 text tokens")
    for name in ("klein", "kontext"):
        for size in ((64,) if smoke else (512, 1024)):
            for mode in modes:
                try:
                    per, peak = gpu_step(name, size, mode, device, smoke)
                    print(f"  {name:<8} {size:>5}²  {mode:<5} {per:7.3f} s/step ({1 / per:5.2f} step/s)  "
                          f"peak {peak:6.1f} GiB")
                except Exception as exc:  # noqa: BLE001 - a figure that could not be taken is said
                    print(f"  {name:<8} {size:>5}²  {mode:<5} failed: {type(exc).__name__}: {str(exc)[:200]}")
                finally:
                    if device == "cuda":
                        torch.cuda.empty_cache()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--families", default="")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.gpu or args.smoke:
        gpu_figures(args.smoke)
        return 0
    cpu_figures(args.steps, set(filter(None, args.families.split(","))))
    gpu_figures(False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
