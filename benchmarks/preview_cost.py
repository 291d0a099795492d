"""What a step preview costs next to the final decode, with a full-size VAE (random weights).

Run: .venv/bin/python benchmarks/preview_cost.py [--device cpu|cuda] [--repeat N]
(on this 2-core CPU one repeat takes about three minutes; the default is 1 on the CPU, 5 on CUDA)

Builds the FLUX.1 VAE architecture (16 latent channels, blocks 128/256/512/512) with random
weights — speed does not depend on the weight values — and times, alternately:
- preview: ``previews.shrink`` of a 1 MP image's latents (128² → 64²) and a decode (512² out);
- final: the decode of the full latents (1024² out), what every run does once at its end.
Prints the medians and their ratio. With ``previews.BUDGET`` a run spends at most a quarter of
its time on previews; this says how many previews that buys per final decode. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere


def flux_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2, norm_num_groups=32, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
        use_quant_conv=False, use_post_quant_conv=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    args.repeat = args.repeat or (5 if args.device == "cuda" else 1)

    import torch

    from inference.diffusion import previews

    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    vae = flux_vae().to(args.device, dtype).eval()
    latents = torch.randn(1, 16, 128, 128, device=args.device, dtype=dtype)

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    def timed(fn) -> float:
        sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            fn()
        sync()
        return time.perf_counter() - t0

    def preview():
        return vae.decode(previews.shrink(latents)).sample

    def final():
        return vae.decode(latents).sample

    timed(preview)  # warm-up
    p, f = [], []
    for _ in range(args.repeat):
        p.append(timed(preview))
        f.append(timed(final))
    mp, mf = statistics.median(p), statistics.median(f)
    print(f"FLUX.1 VAE on {args.device} ({dtype}), median of {args.repeat}:")
    print(f"  preview decode (64² latents → 512²): {mp * 1000:.0f} ms")
    print(f"  final decode (128² latents → 1024²): {mf * 1000:.0f} ms")
    print(f"  ratio preview / final: {mp / mf:.2f}")
    print(f"  with a {previews.BUDGET:.0%} budget, a preview at most every {mp / previews.BUDGET:.1f} s "
          f"(and never more often than every {previews.MIN_INTERVAL} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
