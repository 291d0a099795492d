"""Speed modes (quality / fast / draft) and few-step LoRAs, on the tiny real pipelines (CPU).

Block work is counted with forward hooks on every linear layer inside the transformer blocks: a
block a step cache reuses runs none of them. Tolerance of fast against quality: the mean absolute
difference of the RGB pixels at most ``TOLERANCE`` levels of 255 (measured here: 0.01–0.06).

The tiny random models change more from step to step than trained ones, so the tests raise the
First-Block Cache threshold with ``params["cache_threshold"]`` (0.3; Qwen 0.4, Fill 0.5: with the
table's 0.08–0.12 the cache would reuse nothing on them); the table itself stays as its sources say.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.diffusion import BACKENDS, backend_for_model, lightning, runtime, speed
from inference.errors import InvalidRequest
from inference.request import EditRequest
from tests.inference import tiny_pipelines as tp

STEPS = 12
SIZE = 64
TOLERANCE = 1.0  # mean |fast - quality| in levels of 255
PARAMS = {"cache_threshold": 0.3}
FAST_PARAMS = {  # CFG's two calls a step (Qwen) and Fill's masked canvas differ more from step to step
    "qwen-image-edit-plus": {"cache_threshold": 0.4}, "qwen-image-edit": {"cache_threshold": 0.4},
    "qwen-image-layered": {"cache_threshold": 0.4, "layers": 2}, "flux-fill": {"cache_threshold": 0.5},
}
# the families built by tiny_pipelines (Qwen-Image-2.1's cache is tested in test_qwen21.py)
CACHED = [f for f, c in speed.CACHE_CHOICES.items() if not isinstance(c, str) and f in tp.FAMILIES]


def photo(seed: int = 3) -> np.ndarray:
    px = np.full((SIZE, SIZE, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(seed).rand(SIZE, SIZE, 3) * 255).astype(np.uint8)
    return px


class Counter:
    """Calls of the transformer and of the linear layers inside its blocks."""

    def __init__(self, transformer) -> None:
        self.transformer_calls = 0
        self.block_linears = 0
        self.handles = [transformer.register_forward_pre_hook(self._call)]
        for name in ("transformer_blocks", "single_transformer_blocks"):
            for block in getattr(transformer, name, None) or ():
                for m in block.modules():
                    if isinstance(m, torch.nn.Linear):
                        self.handles.append(m.register_forward_pre_hook(self._linear))

    def _call(self, *_):
        self.transformer_calls += 1

    def _linear(self, *_):
        self.block_linears += 1

    def close(self):
        for h in self.handles:
            h.remove()


def run(b, family, *, speed_mode="quality", steps=STEPS, loras=(), params=PARAMS, progress=None):
    req = EditRequest(photo(), "put a hat on it", seed=3, steps=steps, speed=speed_mode, loras=loras,
                      params=params, align=False)
    with tp.small_sizes(family):
        return b.run(req, progress)


def counted(b, family, **kw):
    """(result, counter) of one run, counting on the loaded pipeline's transformer."""
    run(b, family, steps=2, params=kw.get("params", PARAMS))  # loaded (and LoRAs applied) before hooks go on
    counter = Counter(runtime.CACHE.current.pipe.transformer)
    try:
        return run(b, family, **kw), counter
    finally:
        counter.close()


def rgb(result) -> np.ndarray:
    return np.concatenate([im[..., :3].astype(np.float64) for im in result.images])


def test_every_family_of_the_cache_table_is_tested():
    assert sorted(CACHED) == sorted(["flux-kontext", "flux-fill", "qwen-image-edit", "qwen-image-edit-plus",
                                     "qwen-image-layered", "flux2", "flux2-klein"])
    assert set(speed.CACHE_CHOICES) == set(BACKENDS)  # every family has a choice or a reason


@pytest.mark.parametrize("family", CACHED)
def test_fast_runs_the_blocks_fewer_times_within_tolerance_and_quality_is_left_as_it_was(tiny_models, family):
    b = backend_for_model(tiny_models(family), working_size=SIZE if family != "flux-fill" else 32)
    params = FAST_PARAMS.get(family, PARAMS)
    quality, qc = counted(b, family, params=params)
    fast, fc = counted(b, family, speed_mode="fast", params=params)
    again, ac = counted(b, family, params=params)
    assert fc.transformer_calls == qc.transformer_calls  # the same steps ...
    assert fc.block_linears < 0.8 * qc.block_linears  # ... with less block work
    diff = float(np.abs(rgb(fast) - rgb(quality)).mean())
    assert 0 < diff <= TOLERANCE
    assert any(n.startswith("step caching: ") and "ran in" in n for n in fast.notes), fast.notes
    assert any("CUDA only" in n for n in fast.notes)  # compile and FP8: said, not silently skipped
    # the hooks are gone: a quality run after a fast one does the same work and gives the same pixels
    assert (ac.transformer_calls, ac.block_linears) == (qc.transformer_calls, qc.block_linears)
    assert all(np.array_equal(a, q) for a, q in zip(again.images, quality.images, strict=True))
    assert not quality.notes and not again.notes
    assert not runtime.CACHE.current.pipe.transformer.is_cache_enabled


def test_draft_runs_its_step_count_with_a_note(tiny_models):
    family = "flux-kontext"
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    updates = []
    result, c = counted(b, family, speed_mode="draft", steps=30, progress=updates.append)
    want = speed.draft_steps(30)
    assert want == 12 and c.transformer_calls == want
    assert sum(1 for u in updates if u.phase == "denoise" and not u.phase_start) == want
    assert updates[-1].step == updates[-1].total  # the progress bar planned for the draft's steps
    assert "draft: 12 of 30 steps" in result.notes
    assert any(n.startswith("step caching: First-Block Cache") for n in result.notes)  # 12 steps: cached


def test_draft_steps_and_plans():
    assert [speed.draft_steps(n) for n in (4, 8, 28, 40, 50)] == [4, 4, 11, 16, 20]
    p = speed.plan("draft", "flux2-klein", 4)  # the distilled klein
    assert p.steps == 4 and not p.caches
    assert p.notes == ["draft: 4 steps (already a few-step run)",
                       "step caching: not used (4 steps: a few-step run has no step to reuse)"]
    assert speed.plan("quality", "flux-kontext", 28).notes == []
    with pytest.raises(InvalidRequest, match="unknown speed"):
        EditRequest(photo(), "x", speed="ludicrous")
    assert EditRequest(photo(), "x", speed="fast").describe()["speed"] == "fast"


def test_a_family_without_a_cache_hook_still_runs_with_a_note(tiny_models):
    family = "instruct-pix2pix"
    b = backend_for_model(tiny_models(family), working_size=32)
    req = EditRequest(photo()[:32, :32], "x", seed=1, steps=speed.MIN_CACHED_STEPS, align=False)
    quality = b.run(req)
    fast = b.run(req.replace(speed="fast"))
    assert np.array_equal(fast.images[0], quality.images[0])  # on the CPU fast changes nothing here
    assert any(n.startswith("step caching: not available for this family") for n in fast.notes), fast.notes


def test_a_cache_hook_that_does_not_fit_or_fails_mid_run_leaves_the_edit_running(tiny_models, monkeypatch):
    family = "flux-kontext"
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    quality = run(b, family)
    # MagCache without calibrated ratios for this model: diffusers refuses the config
    monkeypatch.setitem(speed.CACHE_CHOICES, family, speed.CacheChoice("mag", {"threshold": 0.06}, "test", one_call=True))
    fast = run(b, family, speed_mode="fast")
    assert np.array_equal(fast.images[0], quality.images[0])
    assert any("does not fit this model" in n for n in fast.notes), fast.notes
    # First-Block Cache on FLUX.2 fails inside the run (diffusers 0.42): taken off, run again without it
    family = "flux2-klein"
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    quality = run(b, family)
    monkeypatch.setitem(speed.CACHE_CHOICES, family, speed.CacheChoice("first-block", {"threshold": 0.3}, "test"))
    fast = run(b, family, speed_mode="fast")
    assert np.array_equal(fast.images[0], quality.images[0])
    assert any("failed on this model" in n and "ran without it" in n for n in fast.notes), fast.notes
    assert not runtime.CACHE.current.pipe.transformer.is_cache_enabled


@pytest.mark.parametrize("steps", [4, 8])
def test_a_lightning_lora_sets_its_steps_guidance_and_scheduler(tiny_models, tmp_path, steps):
    family = "qwen-image-edit-plus"
    plain = tp.tiny_lora(family, tiny_models.pipeline(family), tmp_path / "lora")
    lora = plain.rename(tmp_path / f"Qwen-Image-Edit-2511-Lightning-{steps}steps-V1.0-bf16.safetensors")
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    run(b, family, steps=2, loras=[(str(lora), 1.0)])
    pipe = runtime.CACHE.current.pipe
    before = dict(pipe.scheduler.config)
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda *_: seen.append((pipe.scheduler.config.time_shift_type, pipe.scheduler.config.base_shift)))
    updates = []
    try:
        req = EditRequest(photo(), "put a hat on it", seed=3, loras=[(str(lora), 1.0)], align=False)
        with tp.small_sizes(family):
            result = b.run(req, updates.append)
    finally:
        handle.remove()
    assert sum(1 for u in updates if u.phase == "denoise" and not u.phase_start) == steps
    assert len(seen) == steps  # true CFG 1.0: no negative pass (the card's 4.0 would call it twice a step)
    assert {kind for kind, _ in seen} == {"exponential"} and all(abs(b - np.log(3)) < 1e-9 for _, b in seen)
    assert dict(pipe.scheduler.config) == before  # put back after the run
    assert any(n.startswith("few-step LoRA recognised: Qwen-Image-Edit Lightning LoRA: " f"{steps} steps")
               for n in result.notes), result.notes


def test_few_step_files_are_told_by_name_or_metadata(tmp_path):
    from safetensors.torch import save_file

    def lora(name, metadata=None):
        p = tmp_path / name
        save_file({"transformer.a.lora_A.weight": torch.zeros(2, 2)}, str(p), metadata=metadata)
        return p

    d = lightning.recognise(lora("Qwen-Image-Edit-2509-Lightning-8steps-V1.0-bf16.safetensors"),
                            "qwen-image-edit-plus")
    assert d is not None and d.steps == 8 and d.guidance == 1.0 and d.scheduler["time_shift_type"] == "exponential"
    assert lightning.recognise(lora("my_style.safetensors"), "qwen-image-edit-plus") is None
    meta = lora("renamed.safetensors", {"name": "Qwen-Image-Lightning", "steps": "4 steps"})
    assert lightning.recognise(meta, "qwen-image-edit").steps == 4
    assert lightning.recognise(lora("Lightning.safetensors"), "qwen-image-edit-plus") is None  # no step count
    assert lightning.recognise(meta, "flux-kontext") is None  # another family's rule
    assert lightning.klein_distilled(lora("flux-2-klein-4b.safetensors")) is True
    assert lightning.klein_distilled(lora("flux-2-klein-base-4b.safetensors")) is False
    assert lightning.klein_distilled(lora("model.safetensors", {"is_distilled": "true"})) is True
    assert lightning.klein_distilled(lora("model2.safetensors")) is None
    p = speed.plan("draft", "qwen-image-edit-plus", 40,
                   [(str(tmp_path / "Qwen-Image-Edit-2509-Lightning-8steps-V1.0-bf16.safetensors"), 1.0)])
    assert p.steps == 8 and p.guidance == 1.0 and not p.caches
    kept = speed.plan("fast", "qwen-image-edit-plus", 12, [(str(tmp_path / "Qwen-Image-Edit-2509-Lightning-8steps-V1.0-"
                                                                "bf16.safetensors"), 1.0)], explicit_steps=True)
    assert kept.steps == 12 and "the 12 steps you set were kept (the LoRA is trained for 8)" in kept.notes


def test_cuda_extras_compile_the_repeated_blocks_and_a_quality_run_undoes_it(tiny_models):
    """The CUDA branch's bookkeeping, without a GPU: compiling is lazy (nothing runs here), FP8 is refused
    with its reason, a memory mode that moves weights gets no compile, uncompile restores the blocks."""
    from inference.diffusion import device as dev

    pipe = tp.build_pipeline("flux-kontext")
    loaded = runtime.Loaded(("t",), None, dev.Placement("cuda", "bfloat16", "gpu"), pipe)
    blocks = [b for b in pipe.transformer.modules() if type(b).__name__ in pipe.transformer._repeated_blocks]
    assert blocks and all(b._compiled_call_impl is None for b in blocks)
    notes: list[str] = []
    speed._cuda_extras(loaded, "flux-kontext", (), notes)
    assert all(b._compiled_call_impl is not None for b in blocks)
    assert notes[0].startswith("torch.compile: the repeated transformer blocks compiled")
    assert notes[1].startswith("FP8: not available")
    notes.clear()
    speed._cuda_extras(loaded, "flux-kontext", (), notes)  # compiled once per loaded model
    assert notes[0] == "torch.compile: the repeated transformer blocks (compiled)"
    with speed.applied(loaded, "flux-kontext", speed.plan("quality", "flux-kontext", 28)) as quality_notes:
        pass
    assert quality_notes == [] and all(b._compiled_call_impl is None for b in blocks)
    offload = runtime.Loaded(("t",), None, dev.Placement("cuda", "bfloat16", "model-offload"), pipe)
    notes.clear()
    speed._cuda_extras(offload, "flux-kontext", (), notes)
    assert notes == ["torch.compile and FP8: not used with model-offload (the whole model must stay on the GPU)"]
    assert all(b._compiled_call_impl is None for b in blocks)
    assert not speed.needs_reload(loaded, "quality", ())
    loaded.__dict__["fp8"] = True
    assert speed.needs_reload(loaded, "quality", ()) and speed.needs_reload(loaded, "fast", (("x", 1.0),))
    assert not speed.needs_reload(loaded, "fast", ())


def test_a_quality_run_after_fp8_weights_loads_the_model_again(tiny_models):
    family = "flux-kontext"
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    first = run(b, family, steps=2)
    runtime.CACHE.current.__dict__["fp8"] = True  # as a fast run on an FP8 GPU leaves it
    loads = runtime.CACHE.loads
    again = run(b, family, steps=2)
    assert runtime.CACHE.loads == loads + 1 and not runtime.CACHE.current.__dict__.get("fp8")
    assert any(n.startswith("the model was loaded again") for n in again.notes)
    assert np.array_equal(again.images[0], first.images[0])


def test_a_cancelled_fast_run_leaves_no_hooks_behind(tiny_models):
    from inference.errors import Cancelled
    from inference.progress import CancelToken

    family = "flux-kontext"
    b = backend_for_model(tiny_models(family), working_size=SIZE)
    quality = run(b, family)
    token = CancelToken()
    steps = []

    def cancel_at_third_step(update):
        if update.phase == "denoise" and not update.phase_start:
            steps.append(update.step)
            if len(steps) == 3:
                token.cancel()

    req = EditRequest(photo(), "put a hat on it", seed=3, steps=STEPS, speed="fast", params=PARAMS, align=False)
    with pytest.raises(Cancelled), tp.small_sizes(family):
        b.run(req, cancel_at_third_step, token)
    transformer = runtime.CACHE.current.pipe.transformer
    assert not transformer.is_cache_enabled and "forward" not in transformer.__dict__
    blocks = [*transformer.transformer_blocks, *transformer.single_transformer_blocks]
    assert all(not getattr(getattr(blk, "_diffusers_hook", None), "hooks", None) for blk in blocks)
    assert np.array_equal(run(b, family).images[0], quality.images[0])


def test_a_klein_single_file_sets_the_steps_of_what_it_is(tiny_models, tmp_path):
    """A distilled file on a base folder runs 4 steps at guidance 1.0; a base file on a distilled folder 50 at 4.0."""
    from dataclasses import replace

    from safetensors.torch import save_file

    from inference.diffusion import backend_class, models

    folder = models.check_folder(tiny_models("flux2-klein"))
    assert folder.variant is None  # the tiny folder is the distilled one (is_distilled true)
    req = EditRequest(photo(), "x")
    cls = backend_class("flux2-klein")
    for name, variant, want in (("flux-2-klein-base-4b.safetensors", None, (50, 4.0)),
                                ("flux-2-klein-4b.safetensors", "base", (4, 1.0)),
                                ("unknown.safetensors", "base", (50, 4.0))):
        f = tmp_path / name
        save_file({"x": torch.zeros(1)}, str(f))
        b = cls(replace(folder, weights=f, variant=variant))
        assert (b.steps(req), b.guidance(req)) == want, name


def test_the_cache_note_counts_only_uncompiled_blocks(tiny_models):
    """A hook inside a compiled block is traced rather than run at every call, so its count would lie: with
    compiled blocks the note says the work was not counted (compiling is lazy: nothing is compiled here)."""
    pipe = tp.build_pipeline("flux-kontext")
    for m in pipe.transformer.modules():
        if type(m).__name__ in pipe.transformer._repeated_blocks:
            m.compile()
    notes: list[str] = []
    with speed.step_cache(pipe, "flux-kontext", {}, notes):
        pass
    assert notes == [f"step caching: First-Block Cache (threshold 0.12) (not counted: the blocks are compiled) "
                     f"(chosen from {speed.CACHE_CHOICES['flux-kontext'].source})"]
