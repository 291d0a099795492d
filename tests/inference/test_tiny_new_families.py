"""The tiny real pipelines of the new edit families (``tiny_new_families.py``), offline, on the CPU.

Each family (and variant) is built once per module, saved with ``save_pretrained`` and reloaded with
``DiffusionPipeline.from_pretrained``; the tests then check that the reload is the same class and gives
the very pixels of the in-memory pipeline, that a 2-step call is repeatable with a seed and has the
expected size, and the per-family behaviour the app will rely on (Qwen-Image-2.1: RGBA in and out,
several references, step callbacks, cancel, the Turbo ``sample_sigmas``; JoyAI: the global-RNG quirk;
LongCat / DreamLite: no step callback, and whether ``_interrupt`` is honoured).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tests.inference import tiny_new_families as tn

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "make the hat red"
SEED = 4
CASES = [(f, None) for f in tn.NEW_FAMILIES] + [("qwen-image-2.1", "turbo"), ("dreamlite", "mobile")]
IDS = [f if v is None else f"{f}-{v}" for f, v in CASES]


def photo(width: int = tn.SIZE, height: int = tn.SIZE, seed: int = 7, alpha: bool = False) -> Image.Image:
    rng = np.random.RandomState(seed)
    px = (rng.rand(height, width, 3) * 255).astype(np.uint8)
    if not alpha:
        return Image.fromarray(px, "RGB")
    a = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([px, a]), "RGBA")


class Built:
    """Per (family, variant): the in-memory pipeline, its saved folder and the reloaded pipeline."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._cache: dict[tuple[str, str | None], tuple] = {}

    def __call__(self, family: str, variant: str | None = None):
        key = (family, variant)
        if key not in self._cache:
            from diffusers import DiffusionPipeline

            pipe = tn.build_new(family, seed=0, variant=variant)
            name = family if variant is None else f"{family}-{variant}"
            folder = self._factory.mktemp(f"tiny-new-{name}", numbered=True)
            pipe.save_pretrained(folder, safe_serialization=True)
            loaded = DiffusionPipeline.from_pretrained(folder)
            loaded.set_progress_bar_config(disable=True)
            self._cache[key] = (pipe, folder, loaded)
        return self._cache[key]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory)


def run(family: str, pipe, images, variant: str | None = None, seed: int = SEED, **extra) -> np.ndarray:
    with tn.new_small_sizes(family):
        kwargs = tn.new_call_kwargs(family, images, PROMPT, variant=variant) | extra
        return tn.new_output_image(family, pipe(**kwargs, generator=tn.seed_everything(family, seed)))


def call_counter(module) -> list[int]:
    """Count ``module``'s forward calls (instance attribute: gone when the test's pipeline is dropped)."""
    calls: list[int] = []
    forward = module.forward

    def counted(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    module.forward = counted
    return calls


# --------------------------------------------------------------------------- every family


@pytest.mark.parametrize(("family", "variant"), CASES, ids=IDS)
def test_saved_folder_reloads_as_the_same_class(built, family, variant):
    pipe, folder, loaded = built(family, variant)
    expected = tn.new_pipeline_class(family, variant)
    assert type(pipe) is expected
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == expected.__name__
    assert type(loaded) is expected
    assert not any(isinstance(m, torch.nn.Module) and m.training for m in loaded.components.values())
    weights = list(folder.rglob("*.safetensors"))
    assert weights and sum(f.stat().st_size for f in weights) < 5_000_000  # tiny


@pytest.mark.parametrize(("family", "variant"), CASES, ids=IDS)
def test_two_steps_repeatable_and_identical_after_reload(built, family, variant):
    pipe, _, loaded = built(family, variant)
    images = [photo(), photo(seed=8)]
    first = run(family, loaded, images, variant)
    again = run(family, loaded, images, variant)
    in_memory = run(family, pipe, images, variant)
    other_seed = run(family, loaded, images, variant, seed=SEED + 1)
    channels = 4 if family == "qwen-image-2.1" else 3
    assert first.shape == (tn.SIZE, tn.SIZE, channels)
    assert np.isfinite(first).all() and 0.0 <= first.min() and first.max() <= 1.0
    assert np.array_equal(first, again)
    assert np.array_equal(first, in_memory)
    assert not np.array_equal(first, other_seed)


def test_same_weights_from_the_same_seed_other_weights_from_another():
    a = tn.build_new("dreamlite", seed=0).unet.state_dict()
    b = tn.build_new("dreamlite", seed=0).unet.state_dict()
    c = tn.build_new("dreamlite", seed=1).unet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_lora_loader_only_on_qwen_image_21():
    assert {f: tn.has_new_lora_loader(f) for f in tn.NEW_FAMILIES} == {
        "qwen-image-2.1": True,
        "longcat-image-edit": False,
        "joyai-image-edit": False,
        "joyai-image-edit-plus": False,
        "dreamlite": False,
    }


def test_unknown_family_or_variant_is_refused():
    with pytest.raises(ValueError, match="unknown new tiny family"):
        tn.build_new("qwen-image-3")
    with pytest.raises(ValueError, match="no variant"):
        tn.build_new("longcat-image-edit", variant="turbo")


# --------------------------------------------------------------------------- Qwen-Image-2.1


def test_qwen21_rgba_in_gives_rgba_out_with_varying_alpha(built):
    _, _, pipe = built("qwen-image-2.1")
    with tn.new_small_sizes("qwen-image-2.1"):
        kwargs = tn.new_call_kwargs("qwen-image-2.1", photo(alpha=True), PROMPT) | {"output_type": "pil"}
        out = pipe(**kwargs, generator=torch.Generator().manual_seed(SEED)).images[0]
        from_rgb = pipe(**(kwargs | {"image": [photo()]}), generator=torch.Generator().manual_seed(SEED)).images[0]
    assert out.mode == "RGBA" and out.size == (tn.SIZE, tn.SIZE)
    alpha = np.asarray(out)[..., 3]
    assert np.asarray(out).shape[-1] == 4 and alpha.min() < alpha.max()
    assert from_rgb.mode == "RGBA"  # the VAE is 4-channel: RGB input comes back RGBA too


def test_qwen21_accepts_three_references_as_one_list(built):
    _, _, pipe = built("qwen-image-2.1")
    shapes: list = []
    forward = pipe.transformer.forward

    def spy(*args, **kwargs):
        shapes.append(kwargs["img_shapes"][0])
        return forward(*args, **kwargs)

    pipe.transformer.forward = spy
    try:
        refs = [photo(seed=1), photo(seed=2, alpha=True), photo(seed=3)]
        out = run("qwen-image-2.1", pipe, refs)
    finally:
        del pipe.transformer.forward
    assert out.shape == (tn.SIZE, tn.SIZE, 4)
    # three condition blocks then the target, each (frames, H/16, W/16) latent tokens
    assert shapes and all(s == [(1, 4, 4)] * 4 for s in shapes)
    assert not np.array_equal(out, run("qwen-image-2.1", pipe, refs[:1]))


def test_qwen21_output_follows_the_last_reference_and_rounds_to_32(built):
    _, _, pipe = built("qwen-image-2.1")
    wide = run("qwen-image-2.1", pipe, [photo(), photo(width=128)])
    assert wide.shape[:2] == (32, 96)  # 2:1 at output_resolution² = 64², sides multiples of 32
    sized = run("qwen-image-2.1", pipe, [photo()], height=100, width=70)
    assert sized.shape[:2] == (96, 64)  # rounded down


def test_qwen21_step_callback_fires_per_step_and_interrupt_stops(built):
    _, _, pipe = built("qwen-image-2.1")
    steps: list[int] = []

    def record(p, i, t, kwargs):
        steps.append(i)
        return kwargs

    run("qwen-image-2.1", pipe, [photo()], num_inference_steps=3, callback_on_step_end=record)
    assert steps == [0, 1, 2]

    calls = call_counter(pipe.transformer)

    def cancel(p, i, t, kwargs):
        p._interrupt = True
        return kwargs

    try:
        out = run("qwen-image-2.1", pipe, [photo()], num_inference_steps=4, callback_on_step_end=cancel)
    finally:
        del pipe.transformer.forward
    assert len(calls) == 1  # the loop breaks after the first step ...
    assert out.shape == (tn.SIZE, tn.SIZE, 4)  # ... and still decodes an image


def test_qwen21_prefix_cache_switches(built):
    _, _, pipe = built("qwen-image-2.1")
    assert pipe.transformer.config.causal_condition is True
    cached = run("qwen-image-2.1", pipe, [photo()], use_kv_cache=True)
    uncached = run("qwen-image-2.1", pipe, [photo()], use_kv_cache=False)
    np.testing.assert_allclose(cached, uncached, atol=1e-5)  # fp32: the cache only reorders rounding


def test_qwen21_turbo_steps_come_from_sample_sigmas(built):
    _, folder, turbo = built("qwen-image-2.1", "turbo")
    assert json.loads((folder / "model_index.json").read_text())["sample_sigmas"] == tn.TURBO_SIGMAS
    assert turbo.config.sample_sigmas == tn.TURBO_SIGMAS
    steps: list[int] = []
    run("qwen-image-2.1", turbo, [photo()], variant="turbo", num_inference_steps=7,
        callback_on_step_end=lambda p, i, t, kwargs: steps.append(i) or kwargs)
    assert len(steps) == len(tn.TURBO_SIGMAS)
    _, _, base = built("qwen-image-2.1")
    assert base.config.sample_sigmas is None


# --------------------------------------------------------------------------- the others


def test_joyai_edit_reference_draws_from_the_global_rng(built):
    _, _, pipe = built("joyai-image-edit")
    with tn.new_small_sizes("joyai-image-edit"):
        kwargs = tn.new_call_kwargs("joyai-image-edit", photo(), PROMPT)
        torch.manual_seed(100)
        a = pipe(**kwargs, generator=torch.Generator().manual_seed(SEED)).images[0]
        torch.manual_seed(200)
        b = pipe(**kwargs, generator=torch.Generator().manual_seed(SEED)).images[0]
    assert not np.array_equal(a, b)  # same generator, other global seed: other pixels
    assert np.array_equal(run("joyai-image-edit", pipe, [photo()]), run("joyai-image-edit", pipe, [photo()]))


def test_joyai_output_sizes_are_buckets(built):
    _, _, edit = built("joyai-image-edit")
    assert run("joyai-image-edit", edit, [photo()], height=48, width=128).shape[:2] == (32, 96)  # nearest bucket
    _, _, plus = built("joyai-image-edit-plus")
    assert run("joyai-image-edit-plus", plus, [photo()], height=48, width=96).shape[:2] == (48, 96)  # as asked
    refs = [photo(), photo(width=128)]
    assert run("joyai-image-edit-plus", plus, refs, height=None, width=None).shape[:2] == (48, 96)  # last ref


def test_new_small_sizes_restores_the_modules():
    import importlib

    longcat = importlib.import_module(tn.LONGCAT_MODULE)
    joy = importlib.import_module(tn.JOYAI_IMAGE_PROCESSOR_MODULE)
    original, buckets = longcat.calculate_dimensions, joy.BUCKETS[1024]
    assert longcat.calculate_dimensions(1024 * 1024, 1.0) == (1024, 1024)
    with tn.new_small_sizes("longcat-image-edit"):
        assert longcat.calculate_dimensions(1024 * 1024, 1.0) == (64, 64)
    with tn.new_small_sizes("joyai-image-edit-plus"):
        assert joy.find_best_bucket(1000, 1000, 1024) == (64, 64)
        assert all(h % 16 == 0 and w % 16 == 0 for h, w in joy.BUCKETS[1024])
    assert longcat.calculate_dimensions is original and joy.BUCKETS[1024] is buckets
    assert joy.find_best_bucket(1000, 1000, 1024) == (1024, 1024)


@pytest.mark.parametrize("family", ["longcat-image-edit", "dreamlite"])
def test_no_step_callback_and_interrupt(built, family):
    _, _, pipe = built(family)
    import inspect

    assert "callback_on_step_end" not in inspect.signature(type(pipe).__call__).parameters
    denoiser = pipe.unet if family == "dreamlite" else pipe.transformer
    calls: list[int] = []
    forward = denoiser.forward

    def interrupting(*args, **kwargs):  # cancel from "another thread" during the first step
        calls.append(1)
        pipe._interrupt = True
        return forward(*args, **kwargs)

    denoiser.forward = interrupting
    try:
        out = run(family, pipe, [photo()], num_inference_steps=4)
    finally:
        del denoiser.forward
        pipe._interrupt = False
    assert out.shape == (tn.SIZE, tn.SIZE, 3)
    # LongCat honours it (CFG: two calls in the first step, then `continue`); DreamLite runs all 4 steps
    assert len(calls) == (4 if family == "dreamlite" else 2)


def test_dreamlite_base_runs_three_cfg_rows_mobile_one(built):
    rows: dict[str, list[int]] = {}
    for variant in (None, "mobile"):
        _, _, pipe = built("dreamlite", variant)
        seen: list[int] = []
        forward = pipe.unet.forward

        def spy(sample, *args, _seen=seen, _forward=forward, **kwargs):
            _seen.append(tuple(sample.shape))
            return _forward(sample, *args, **kwargs)

        pipe.unet.forward = spy
        try:
            run("dreamlite", pipe, [photo()], variant=variant)
        finally:
            del pipe.unet.forward
        rows[variant or "base"] = seen
    lat = tn.SIZE // 8
    assert rows["base"] == [(3, 4, lat, 2 * lat)] * 2  # uncond / image / text rows, diptych width
    assert rows["mobile"] == [(1, 4, lat, 2 * lat)] * 2


@pytest.mark.parametrize("family", ["longcat-image-edit", "joyai-image-edit-plus", "dreamlite"])
def test_rgba_input_crashes_where_the_code_says(built, family):
    _, _, pipe = built(family)
    with tn.new_small_sizes(family):
        kwargs = tn.new_call_kwargs(family, photo(), PROMPT)
        key = "images" if family == "joyai-image-edit-plus" else "image"
        kwargs[key] = [photo(alpha=True)] if key == "images" else photo(alpha=True)
        with pytest.raises(RuntimeError):
            pipe(**kwargs, generator=torch.Generator().manual_seed(SEED))
