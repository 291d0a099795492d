"""Issue 16 figures on a GPU: the speed modes on full-size random-weight transformers, 1024², one reference.

Run (on a CUDA machine, one prepared run): python benchmarks/gpu_speed_bench.py [--models kontext,klein,qwen2511]
Check on the CPU first: python benchmarks/gpu_speed_bench.py --tiny   (scaled-down configs, same code path)

The pipelines are built as ``benchmarks/gpu_edit_bench.py`` builds them (the real diffusers pipeline
class around a FULL-SIZE transformer and VAE from the published configs, random weights, random prompt
embeddings of the real shape; text encoding not included). Each mode is applied with the app's own
functions (:mod:`inference.diffusion.speed`), and every figure is one timed run after a warm-up run (a
step-cache note counts the transformer calls of both).

- FLUX.1 Kontext, 28 steps: eager bf16; step cache (the app's table: First-Block Cache) on eager;
  regional torch.compile; compiled + step cache; compiled + FP8 (torchao); compiled + FP8 + step cache
  (what "fast" does on an FP8 GPU). Each with the relative L2 error of its final latents against eager
  bf16 from the same noise (``output_type="latent"``). Goal: ≤ 5.0 s with a stated error.
- FLUX.2 klein 4B, 4 steps (distilled: no step cache): eager, compiled, compiled + FP8. Goal ≤ 0.5 s.
- Qwen-Image-Edit-2511 with the Lightning 4-step schedule (true CFG 1.0, the Lightning scheduler settings
  from :mod:`inference.diffusion.lightning`): eager, compiled, compiled + FP8. Goal ≤ 2 s.

Prints a table and writes ``$OUT/gpu_speed.json`` when ``OUT`` is set. Without CUDA (and without
``--tiny``) it prints "no CUDA device: nothing measured" and exits 0. A mode that cannot run here (no
torchao, no FP8 on this GPU, compile failing) is printed as "not available: <reason>", never a figure.

On the lent GPU machine (no diffusers, no torchao installed there), carry wheels and install first:
``python3 -m pip install -q --no-deps gpu-wheels/*.whl && python3 benchmarks/gpu_speed_bench.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import gpu_edit_bench as geb  # noqa: E402

FAMILY = {"kontext": "flux-kontext", "klein": "flux2-klein", "qwen2511": "qwen-image-edit-plus"}
STEPS = {"kontext": 28, "klein": 4, "qwen2511": 4}
GOALS = {"kontext": 5.0, "klein": 0.5, "qwen2511": 2.0}


def loaded_for(pipe, device: str, dtype_name: str):
    from inference.diffusion import device as dev
    from inference.diffusion import runtime

    return runtime.Loaded(key=("bench",), info=None, placement=dev.Placement(device, dtype_name, "gpu"), pipe=pipe)


def lightning_schedule(pipe) -> None:
    from inference.diffusion.lightning import QWEN_LIGHTNING_SCHEDULER

    pipe.scheduler = type(pipe.scheduler).from_config({**dict(pipe.scheduler.config), **QWEN_LIGHTNING_SCHEDULER})


def edit(pipe, kw, size: int, steps: int, device: str, timed: bool = True):
    """(seconds, final latents) of one edit with one reference image, from the same noise every time."""
    import numpy as np
    import torch
    from PIL import Image

    image = Image.fromarray((np.random.RandomState(0).rand(size, size, 3) * 255).astype(np.uint8))
    kontext = type(pipe).__name__ == "FluxKontextPipeline"
    extra = {"max_area": size * size, "_auto_resize": False} if kontext else {}
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = pipe(image=image if kontext else [image], height=size, width=size, num_inference_steps=steps,
                   output_type="latent", generator=torch.Generator("cpu").manual_seed(0), **kw, **extra)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out.images.float().cpu()


def rel_l2(a, b) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def measure(name: str, device: str, dtype, size: int, tiny: bool, cpu_compile: bool,
            params: dict | None = None) -> list[dict]:
    """The rows of one model: mode, seconds, relative L2 against eager, notes."""
    import contextlib

    import torch

    from inference.diffusion import speed

    family, steps = FAMILY[name], STEPS[name]
    t0 = time.perf_counter()
    pipe, kw, n_params = geb.build(name, device, dtype, tiny)
    if name == "qwen2511":  # the Lightning 4-step way: true CFG 1.0 (no negative pass), its scheduler
        kw = {k: v for k, v in kw.items() if not k.startswith("negative_")} | {"true_cfg_scale": 1.0}
        lightning_schedule(pipe)
    print(f"== {name} ({family}): transformer {n_params / 1e9:.2f} B parameters, {steps} steps, "
          f"built in {time.perf_counter() - t0:.0f} s", flush=True)
    loaded = loaded_for(pipe, device, str(dtype).removeprefix("torch."))
    cache = speed.plan("fast", family, steps).caches
    rows: list[dict] = []
    reference = None

    def row(mode: str, cached: bool) -> None:
        nonlocal reference
        notes: list[str] = []
        try:  # one cache context for both runs: putting hooks on again would make torch.compile trace again
            with speed.step_cache(pipe, family, params or {}, notes) if cached else contextlib.nullcontext():
                warm, _ = edit(pipe, kw, size, steps, device)  # warm-up (compiles where compiled)
                seconds, latents = edit(pipe, kw, size, steps, device)
        except Exception as exc:  # noqa: BLE001 - a mode that fails is reported, the others still run
            rows.append({"model": name, "mode": mode, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            print(f"   {mode:<26} failed: {rows[-1]['error']}", flush=True)
            return
        if reference is None:
            reference = latents
        err = rel_l2(latents, reference)
        rows.append({"model": name, "mode": mode, "seconds": seconds, "warmup_seconds": warm, "rel_l2": err,
                     "goal_seconds": GOALS[name], "notes": notes[-1:] if notes else []})
        print(f"   {mode:<26} {seconds:8.3f} s  (warm-up {warm:6.1f} s)  rel L2 vs eager {err:.4f}"
              + (f"   {notes[-1][:110]}" if notes else ""), flush=True)

    def unavailable(mode: str, why: str) -> None:
        rows.append({"model": name, "mode": mode, "not_available": why})
        print(f"   {mode:<26} not available: {why}", flush=True)

    row("eager bf16" if device == "cuda" else "eager", False)
    if cache:
        row("eager + step cache", True)
    if device != "cuda" and not cpu_compile:
        unavailable("compiled", "CUDA only (pass --cpu-compile to try the CPU inductor)")
        return rows
    notes: list[str] = []
    if not speed.compile_blocks(loaded, notes):
        unavailable("compiled", notes[-1])
        return rows
    row("compiled", False)
    if cache:
        row("compiled + step cache", True)
    notes = []
    if device != "cuda":
        unavailable("compiled + FP8", "CUDA only")
    elif speed.fp8_weights(loaded, family, (), notes):
        row("compiled + FP8", False)
        if cache:
            row("compiled + FP8 + step cache", True)
    else:
        unavailable("compiled + FP8", notes[-1])
    if device == "cuda":
        print(f"   peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)
        torch.cuda.reset_peak_memory_stats()
    pipe = loaded = None  # freed before the next model is built
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kontext,klein,qwen2511")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--tiny", action="store_true", help="CPU, scaled-down configs: checks the script, no figures")
    ap.add_argument("--cpu-compile", action="store_true", help="with --tiny: also try torch.compile on the CPU")
    ap.add_argument("--recompile-limit", type=int,
                    help="raise torch._dynamo's recompile limit (default 8): the cache hooks' frame is compiled once "
                    "per block type and state, and past the limit runs eagerly (seen on the CPU with --tiny)")
    ap.add_argument("--cache-threshold", type=float,
                    help="override the table's First-Block Cache threshold (tiny random models need about 0.3)")
    args = ap.parse_args(argv)
    import torch

    setup = geb.device_setup(args.tiny, args.size)
    if setup is None:
        return 0
    device, dtype, size = setup
    if args.tiny:
        print("--tiny: scaled-down configs on the CPU (checks the script; the figures mean nothing)")
    if args.recompile_limit:
        torch._dynamo.config.recompile_limit = args.recompile_limit
    import diffusers

    print(f"diffusers {diffusers.__version__}, dynamo recompile limit {torch._dynamo.config.recompile_limit}",
          flush=True)
    rows: list[dict] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in FAMILY:
            ap.error(f"unknown model {name!r}; any of {', '.join(FAMILY)}")
        params = {} if args.cache_threshold is None else {"cache_threshold": args.cache_threshold}
        rows += measure(name, device, dtype, size, args.tiny, args.cpu_compile, params)
    print("\nmodel      mode                          seconds  ×eager  rel L2   goal")
    eager = {r["model"]: r["seconds"] for r in rows if r["mode"].startswith("eager") and "seconds" in r
             and "cache" not in r["mode"]}
    for r in rows:
        if "seconds" in r:
            ratio = eager[r["model"]] / r["seconds"] if r["model"] in eager else float("nan")
            goal = ("— (--tiny)" if args.tiny else
                    f"≤ {r['goal_seconds']:.1f} s {'met' if r['seconds'] <= r['goal_seconds'] else 'not met'}")
            print(f"{r['model']:<10} {r['mode']:<28} {r['seconds']:8.3f}  {ratio:5.2f}×  {r['rel_l2']:.4f}  {goal}")
        else:
            print(f"{r['model']:<10} {r['mode']:<28} {r.get('not_available') or r.get('error')}")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu_speed.json").write_text(json.dumps({"device": device, "size": size, "rows": rows},
                                                             indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
