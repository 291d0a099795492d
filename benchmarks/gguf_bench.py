"""Issue 21 figures: a small FLUX.1 Kontext transformer as bf16, GGUF Q8_0 and GGUF Q4_0, each loaded
through the app's loader on the same base folder.

Run: .venv/bin/python benchmarks/gguf_bench.py [--width 256] [--layers 2] [--single-layers 2] [--size 64]

A tiny real Kontext pipeline (tests/inference/tiny_pipelines.py, random weights, offline) gets a larger
transformer (``--width`` = heads x 64, ``--layers`` double and ``--single-layers`` single blocks), is
saved as the base, and its transformer is written as a bf16 safetensors file and as GGUF Q8_0 and Q4_0
files (``gguf`` package; matrices whose rows divide into 32-element blocks are quantized, the rest F32).
Each file is run through ``backend_for_model(file).run`` for one step with one seed. Prints per variant:
the file's bytes, the loaded transformer's parameter bytes (a GGUF layer keeps its quantized bytes; the
bf16 file is upcast to the placement's dtype, float32 on the CPU), the max / mean absolute difference of
the transformer's output (that one step) and of the image (levels of 255) against bf16, and the load and
run seconds (this machine is shared: the seconds are noise). The float32 base is shown for scale.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402


def build_base(folder: Path, width: int, layers: int, single_layers: int) -> object:
    """The tiny Kontext pipeline with a transformer ``width`` wide, saved into ``folder``."""
    import torch
    from diffusers import FluxTransformer2DModel

    from tests.inference import tiny_pipelines as tp

    pipe = tp.build_pipeline("flux-kontext", seed=0)
    small = pipe.transformer.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        pipe.transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=small.in_channels, out_channels=small.out_channels, num_layers=layers,
            num_single_layers=single_layers, attention_head_dim=64, num_attention_heads=width // 64,
            joint_attention_dim=small.joint_attention_dim, pooled_projection_dim=small.pooled_projection_dim,
            axes_dims_rope=[16, 24, 24], guidance_embeds=True).eval()
    pipe.save_pretrained(folder, safe_serialization=True)
    return pipe.transformer


def param_bytes(module) -> int:
    seen, total = set(), 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()  # a GGUFParameter holds its quantized bytes (uint8)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256, help="a multiple of 64")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--single-layers", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()

    import torch
    from safetensors.torch import save_file

    from benchmarks.scenes import noise_rgba
    from inference.diffusion import backend_for_model, checkpoints, models, runtime
    from inference.request import EditRequest
    from tests.inference import tiny_pipelines as tp

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    s = args.size
    pixels = noise_rgba(s)
    request = EditRequest(image=pixels, instruction="make the sky red", seed=7, steps=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        transformer = build_base(root / "base", args.width, args.layers, args.single_layers)
        state = transformer.state_dict()
        n_params = sum(t.numel() for t in state.values())
        files = {"bf16": root / "kontext-bf16.safetensors", "GGUF Q8_0": root / "kontext-Q8_0.gguf",
                 "GGUF Q4_0": root / "kontext-Q4_0.gguf"}
        save_file({k: v.to(torch.bfloat16).contiguous() for k, v in state.items()}, files["bf16"])
        quantized = tp.write_gguf(state, files["GGUF Q8_0"], "Q8_0")
        tp.write_gguf(state, files["GGUF Q4_0"], "Q4_0")
        share = sum(state[k].numel() for k, t in quantized.items() if t != "F32") / n_params
        base_info = models.check_folder(root / "base")
        rows = {}
        cache = runtime.PipelineCache()
        for name, spec in [("fp32 base", base_info)] + [(n, checkpoints.single_file(f, base=base_info))
                                                         for n, f in files.items()]:
            backend = backend_for_model(spec, working_size=s, cache=cache)
            t0 = time.perf_counter()
            loaded = backend.pipeline()
            load_s = time.perf_counter() - t0
            outputs = []
            hook = loaded.pipe.transformer.register_forward_hook(
                lambda mod, inp, out, into=outputs: into.append((out[0] if isinstance(out, tuple) else out.sample)
                                                                .float()))
            t0 = time.perf_counter()
            result = backend.run(request)
            run_s = time.perf_counter() - t0
            hook.remove()
            size = spec.weights.stat().st_size if spec.weights is not None else sum(
                p.stat().st_size for p in (root / "base" / "transformer").glob("*.safetensors"))
            rows[name] = dict(file=size, params=param_bytes(loaded.pipe.transformer), out=outputs[0],
                              image=result.images[0][..., :3].astype(np.int16), load=load_s, run=run_s,
                              dtype=str(loaded.placement.dtype).removeprefix("torch."),
                              layer=type(loaded.pipe.transformer.transformer_blocks[0].attn.to_q).__name__)
            cache.clear()

    ref = rows["bf16"]
    print(f"transformer: {args.width} wide, {args.layers}+{args.single_layers} blocks, {n_params / 1e6:.2f} M "
          f"parameters ({share:.1%} of them in matrices that quantize); one step at {s}x{s}, seed {request.seed}; "
          f"computed in {ref['dtype']} on {'cuda' if torch.cuda.is_available() else 'cpu'}")
    print(f"{'variant':<10} {'file MB':>8} {'loaded MB':>10} {'B/param':>8} {'out max':>9} {'out mean':>9} "
          f"{'img max':>8} {'img mean':>9} {'load s':>7} {'run s':>6}  layers")
    for name, r in rows.items():
        d_out = (r["out"] - ref["out"]).abs()
        d_img = np.abs(r["image"] - ref["image"])
        print(f"{name:<10} {r['file'] / 1e6:>8.2f} {r['params'] / 1e6:>10.2f} {r['params'] / n_params:>8.2f} "
              f"{d_out.max().item():>9.5f} {d_out.mean().item():>9.5f} {int(d_img.max()):>8d} {d_img.mean():>9.3f} "
              f"{r['load']:>7.2f} {r['run']:>6.2f}  {r['layer']}")
    print(f"(differences against bf16; the transformer output's own scale: mean |out| "
          f"{ref['out'].abs().mean().item():.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
