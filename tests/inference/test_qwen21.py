"""Qwen-Image-2.1 through the app's own path, on its tiny real pipeline (``tiny_new_families``; offline, CPU).

Built once for the module, saved to a folder and loaded back by Akapen's loader: found by family, the app path
gives the pixels of a direct call, the same seed the same pixels, RGBA in and RGBA out (the result's own alpha,
kept through alignment), references reach the pipeline in the panel's order and named as the model reads them,
more than nine are refused or trimmed, the pen's marks are drawn into the picture it receives, a mask is refused
with its reason, step previews and the fast mode's step cache work, and the command line lists and runs it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from canvas.document import Document
from canvas.layers import PixelLayer
from desktop.headless.edit_request import build_request
from inference.diffusion import backend_for_model, models, previews, runtime, speed
from inference.diffusion.qwen21 import QwenImage21Backend, picture
from inference.errors import InvalidRequest
from inference.pen import alignment, annotations
from inference.pen import strategies as MS
from inference.request import EditRequest, MarkData, Reference
from tests.inference import tiny_new_families as tn
from tests.inference.drift_backend import drift
from tests.inference.photos import astronaut
from tests.inference.test_speed_modes import TOLERANCE, Counter

FAMILY = "qwen-image-2.1"
SIZE = tn.SIZE  # 64 px: the smallest the pipeline takes (multiples of 32, a 2×2 grid of merged vision tokens)
SEED = 4
PROMPT = "make the hat red"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tn.save_new(FAMILY, tmp_path_factory.mktemp("tiny") / "tiny-model", seed=0)  # a name that says nothing


@pytest.fixture
def backend(folder):
    return backend_for_model(folder, working_size=SIZE)


def photo(seed: int = 7, size: int = SIZE, transparent: bool = False) -> np.ndarray:
    px = np.full((size, size, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(seed).rand(size, size, 3) * 255).astype(np.uint8)
    if transparent:  # a cut-out piece: its right half transparent, a soft edge between
        px[..., 3] = np.clip((size * 0.6 - np.arange(size)) * 32, 0, 255).astype(np.uint8)[None, :]
    return px


def solid(rgb, size: int = SIZE) -> np.ndarray:
    px = np.full((size, size, 4), 255, np.uint8)
    px[..., :3] = rgb
    return px


def spy(backend, monkeypatch) -> list[dict]:
    """What the loaded pipeline hands its text encoder: the prompt and the condition images (after its resize)."""
    pipe = backend.pipeline().pipe
    inner = pipe._get_qwen_prompt_embeds
    seen: list[dict] = []

    def encode(prompt, image, device):
        seen.append({"prompt": prompt, "images": [im.copy() for im in image or []]})
        return inner(prompt, image, device)

    monkeypatch.setattr(pipe, "_get_qwen_prompt_embeds", encode)
    return seen


def direct(folder, image: Image.Image, steps: int = 2) -> np.ndarray:
    """A direct call of the same folder with the same inputs and seed, as a person would make it (RGBA uint8)."""
    pipe = tn.new_pipeline_class(FAMILY).from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        out = pipe(prompt=PROMPT, image=[image], height=SIZE, width=SIZE, output_resolution=SIZE,
                   num_inference_steps=steps, generator=torch.Generator("cpu").manual_seed(SEED), output_type="np")
    return runtime.to_rgba(np.asarray(out.images[0]))


# --- found and described ------------------------------------------------------------------------------------------
def test_the_family_is_read_from_the_files_and_its_backend_says_what_it_takes(folder, backend):
    info = models.check_folder(folder)
    assert (info.family, info.pipeline, info.variant) == (FAMILY, "QwenImage21Pipeline", None)
    assert isinstance(backend, QwenImage21Backend) and backend.availability().ok
    caps = backend.capabilities
    assert caps.max_references == 9 and not caps.takes_mask and caps.alpha and caps.aligns
    assert caps.size_multiple == 32 and caps.marks == FAMILY
    assert QwenImage21Backend(folder).capabilities.working_size == 2048  # its native 2K
    assert isinstance(speed.CACHE_CHOICES[FAMILY], speed.CacheChoice)


def test_a_turbo_checkpoint_is_told_apart_and_runs_its_own_steps(tmp_path):
    turbo = tn.save_new(FAMILY, tmp_path / "turbo", seed=0, variant="turbo")
    info = models.check_folder(turbo)
    assert info.variant == "turbo" and info.label == "Qwen-Image-2.1 turbo"
    b = backend_for_model(turbo, working_size=SIZE)
    req = EditRequest(photo(), PROMPT, seed=SEED, steps=7, align=False)
    updates = []
    result = b.run(req, updates.append)
    steps = [u for u in updates if u.phase == "denoise" and not u.phase_start]
    assert len(steps) == len(tn.TURBO_SIGMAS) and updates[-1].step == updates[-1].total
    assert any(f"its own {len(tn.TURBO_SIGMAS)} steps, not the 7" in w for w in result.warnings)


# --- the app's path ------------------------------------------------------------------------------------------------
def test_the_app_path_gives_the_pixels_of_a_direct_call_and_the_same_seed_the_same_pixels(folder, backend):
    px = photo()
    req = EditRequest(px, PROMPT, seed=SEED, steps=2, align=False)
    first, again = backend.run(req), backend.run(req)
    assert first.seeds == (SEED,) and first.images[0].shape == (SIZE, SIZE, 4)
    assert np.array_equal(first.images[0], again.images[0])
    assert np.array_equal(first.images[0], direct(folder, Image.fromarray(px[..., :3], "RGB")))
    other = backend.run(req.replace(seed=SEED + 1))
    assert not np.array_equal(other.images[0], first.images[0])


def test_call_arguments_follow_the_working_size_and_use_no_negative_prompt_without_guidance(backend):
    wide = EditRequest(np.full((64, 128, 4), 255, np.uint8), PROMPT, steps=3)
    kw, warnings = backend.call_kwargs(wide, None)
    assert (kw["height"], kw["width"], kw["num_inference_steps"]) == (64, 128, 3) and not warnings
    assert kw["output_resolution"] == round(math.sqrt(64 * 128)) and kw["true_cfg_scale"] == 1.0
    assert "negative_prompt" not in kw  # the pipeline reads one only with guidance above 1
    kw, _ = backend.call_kwargs(wide.replace(guidance=3.0), None)
    assert kw["true_cfg_scale"] == 3.0 and kw["negative_prompt"] == " "
    assert QwenImage21Backend(None).steps(EditRequest(photo(), PROMPT)) == 40
    assert picture(photo()).mode == "RGB" and picture(photo(transparent=True)).mode == "RGBA"


def test_a_transparent_piece_goes_in_as_rgba_and_comes_back_with_its_own_alpha(folder, backend, monkeypatch):
    px = photo(transparent=True)
    seen = spy(backend, monkeypatch)
    result = backend.run(EditRequest(px, PROMPT, seed=SEED, steps=2, align=False))
    given = seen[0]["images"][0]
    assert given.mode == "RGBA" and np.array_equal(np.asarray(given)[..., 3], px[..., 3])  # not flattened
    want = direct(folder, Image.fromarray(px, "RGBA"))
    got = result.images[0]
    assert result.rect == (0, 0, SIZE, SIZE) and got.shape == (SIZE, SIZE, 4)
    assert np.array_equal(got, want)  # every channel, alpha included, as the model made it
    assert got[..., 3].min() < 200  # (the tiny model's alpha is far from opaque somewhere)


def test_alignment_keeps_the_alpha_a_model_changed_and_the_inputs_pixels_elsewhere():
    before = astronaut()
    after = drift(before)
    yy, xx = np.mgrid[:512, :512]
    cut = (xx - 380) ** 2 + (yy - 140) ** 2 < 45 ** 2  # the model made this disc transparent
    after[cut, 3] = 0
    out, al = alignment.align(before, after, alpha=True)
    assert al.ok, al.reason
    core = (xx - 380) ** 2 + (yy - 140) ** 2 < 30 ** 2
    far = (xx - 380) ** 2 + (yy - 140) ** 2 > 90 ** 2
    assert out[core, 3].max() < 40 and (out[far, 3] == 255).mean() > 0.99
    # where nothing changed the input's own pixels come back; without alpha=True the input's alpha wins everywhere
    assert (np.abs(out[far, :3].astype(int) - before[far, :3].astype(int)).max(axis=1) <= 1).mean() > 0.9
    flat, _ = alignment.align(before, after)
    assert (flat[..., 3] == 255).all()


def test_a_region_edit_pastes_back_an_rgba_result_through_the_selection(backend):
    big = photo(size=128)
    sel = np.zeros((128, 128), np.uint8)
    sel[40:88, 40:88] = 255
    result = backend.run(EditRequest(big, PROMPT, seed=SEED, steps=2, selection=sel, align=False))
    layer, (x, y, w, h) = result.images[0], result.rect
    assert x >= 30 and y >= 30 and x + w <= 98 and y + h <= 98  # the selection and its feather
    inner = layer[60 - y:68 - y, 60 - x:68 - x, 3]
    assert inner.min() < 255 and inner.max() > 0  # the model's alpha, not flattened to opaque


# --- references ----------------------------------------------------------------------------------------------------
def test_references_reach_the_pipeline_in_order_named_as_the_model_reads_them(backend, monkeypatch):
    seen = spy(backend, monkeypatch)
    refs = (Reference("hat", solid((250, 0, 0))), Reference("scarf", solid((0, 250, 0))),
            Reference("shoes", solid((0, 0, 250))))
    result = backend.run(EditRequest(photo(), "put the @hat and the [scarf] on the cat, keep the shoes away",
                                     references=refs, seed=SEED, steps=2, align=False))
    prompt = seen[0]["prompt"]
    prompt = prompt[0] if isinstance(prompt, list) else prompt
    assert prompt == "put the <image2> and the <image3> on the cat, keep the <image4> away"
    assert result.instruction_used == prompt
    images = seen[0]["images"]
    assert len(images) == 4
    means = [np.asarray(im.convert("RGB"), np.float32).reshape(-1, 3).mean(axis=0) for im in images[1:]]
    assert [int(np.argmax(m)) for m in means] == [0, 1, 2]  # red, green, blue: the panel's order


def test_more_than_nine_references_are_refused_or_trimmed_with_a_note(backend):
    refs = tuple(Reference(f"r{i}", solid((i * 20, 0, 0))) for i in range(10))
    with pytest.raises(InvalidRequest, match="at most 9 reference image"):
        backend.run(EditRequest(photo(), PROMPT, references=refs, steps=2))
    doc = Document.assemble(SIZE, SIZE, [PixelLayer(photo(), name="photo")])
    req = build_request(doc, PROMPT, None, backend.capabilities, references=[(r.label, r.image) for r in refs])
    assert [r.label for r in req.references] == [f"r{i}" for i in range(9)]  # the first nine, in order


# --- the pen ---------------------------------------------------------------------------------------------------------
RED = (230, 30, 30, 255)


def circled_request(**kw) -> EditRequest:
    """A freehand red loop around the picture's centre, as the canvas sends it."""
    pts = tuple((32 + 18 * math.cos(t), 32 + 18 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 24))
    overlay = np.zeros((SIZE, SIZE, 4), np.uint8)
    cv2.polylines(overlay, [np.round(np.array(pts)).astype(np.int32)], True, RED, 3)
    return EditRequest(photo(), "remove this", marks=(MarkData("stroke", pts, width=3, color=RED),),
                       annotation_overlay=overlay, seed=SEED, steps=2, **kw)


def test_marks_are_drawn_into_the_picture_the_pipeline_receives(backend, monkeypatch):
    assert MS.default(FAMILY) == "draw" and MS.offered(FAMILY, backend.capabilities) == ("draw", "extra_image",
                                                                                         "region")
    seen = spy(backend, monkeypatch)
    result = backend.run(circled_request())
    given = np.asarray(seen[0]["images"][0].convert("RGBA"))
    on_loop = given[32, 50]  # (x 50, y 32): on the circle's right edge
    assert on_loop[0] > 180 and on_loop[1] < 90 and on_loop[2] < 90
    said = seen[0]["prompt"][0] if isinstance(seen[0]["prompt"], list) else seen[0]["prompt"]
    assert said.startswith("remove this. The red circles and strokes drawn on <image1>")
    assert "circled in red" in said and "must not appear in the result" in said
    assert result.images


def test_the_marked_copy_as_another_image_is_named_by_its_number_not_by_its_label(backend, monkeypatch):
    seen = spy(backend, monkeypatch)
    backend.run(circled_request(mark_strategy="extra_image"))
    said = seen[0]["prompt"][0] if isinstance(seen[0]["prompt"], list) else seen[0]["prompt"]
    assert "<image2> is <image1> with red marks" in said  # the word "marks" left alone
    assert len(seen[0]["images"]) == 2
    # the panel says it in words; the model's token is for the instruction only
    assert MS.label("extra_image", FAMILY) == "Drawn into picture 2"
    assert "<image" not in MS.describe("extra_image", FAMILY)


def test_a_mask_from_the_marks_is_refused_with_the_reason(backend):
    caps = backend.capabilities
    assert "mask" not in MS.offered(FAMILY, caps) and "no mask input" in MS.unavailable(FAMILY)["mask"]
    with pytest.raises(InvalidRequest, match="“A mask from the marks” is not available for qwen-image-2.1: "
                                             "diffusers' QwenImage21Pipeline has no mask input"):
        annotations.prepare(circled_request(mark_strategy="mask"), caps)
    with pytest.raises(InvalidRequest, match="no mask input"):
        backend.run(circled_request(mark_strategy="mask"))


# --- previews and speed --------------------------------------------------------------------------------------------
def test_the_preview_decode_of_the_last_latents_is_the_pipeline_output_with_its_alpha(backend, monkeypatch):
    monkeypatch.setattr(previews, "MAX_LATENT", 10_000)  # full size: the decode itself is compared
    pipe = backend.pipeline().pipe
    last = {}

    def keep(_pipe, _step, _t, cb_kwargs):
        last["latents"] = cb_kwargs["latents"].clone()
        return {}

    kwargs, _ = backend.call_kwargs(EditRequest(photo(transparent=True), PROMPT, steps=2), pipe)
    with torch.inference_mode():
        out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(SEED), output_type="np",
                   callback_on_step_end=keep)
        image = previews.to_image(backend.decode_preview(pipe, last["latents"], kwargs))
    want = runtime.to_rgba(np.asarray(out.images[0]))
    assert image.shape == want.shape == (SIZE, SIZE, 4)
    assert np.abs(image.astype(int) - want.astype(int)).max() <= 1


def test_a_run_sends_rgba_previews(backend, monkeypatch):
    monkeypatch.setattr(previews, "MIN_INTERVAL", 0.0)
    monkeypatch.setattr(previews, "BUDGET", 1e9)
    updates = []
    backend.run(EditRequest(photo(), PROMPT, seed=SEED, steps=3, align=False), updates.append)
    shown = [u.preview for u in updates if u.phase == "denoise" and not u.phase_start]
    assert len(shown) == 3 and shown[-1] is None
    assert all(p is not None and p.shape == (SIZE, SIZE, 4) for p in shown[:-1])


def test_fast_mode_reuses_blocks_with_taylorseer_and_quality_is_left_as_it_was(backend):
    def counted(mode):
        counter = Counter(backend.pipeline().pipe.transformer)
        try:
            return backend.run(EditRequest(photo(), PROMPT, seed=SEED, steps=12, speed=mode, align=False)), counter
        finally:
            counter.close()

    quality, qc = counted("quality")
    fast, fc = counted("fast")
    again, ac = counted("quality")
    assert fc.transformer_calls == qc.transformer_calls and fc.block_linears < 0.8 * qc.block_linears
    diff = float(np.abs(fast.images[0][..., :3].astype(float) - quality.images[0][..., :3]).mean())
    assert 0 < diff <= TOLERANCE
    assert any(n.startswith("step caching: TaylorSeer cache") and "ran in" in n for n in fast.notes), fast.notes
    assert (ac.transformer_calls, ac.block_linears) == (qc.transformer_calls, qc.block_linears)
    assert np.array_equal(again.images[0], quality.images[0])


# --- the command line ------------------------------------------------------------------------------------------------
def akapen(folder, tmp_path, *args):
    env = dict(os.environ, AKAPEN_MODEL_PATH=str(folder), HF_HUB_CACHE=str(tmp_path / "empty-hub"),
               AKAPEN_CONFIG_DIR=str(tmp_path / "config"), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_akapen_models_and_backends_list_it(folder, tmp_path):
    r = akapen(folder, tmp_path, "models")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if folder.name in ln)
    assert "Qwen-Image-2.1" in line and "folder" in line  # the family, read from the files
    r = akapen(folder, tmp_path, "backends")
    assert r.returncode == 0, r.stderr
    assert f"{FAMILY}" in r.stdout and "pen marks (--marks): draw, extra_image, region" in r.stdout
    assert "pen marks: mask is not available (diffusers' QwenImage21Pipeline has no mask input" in r.stdout


def test_akapen_edit_runs_it_and_a_transparent_input_gives_a_transparent_result(folder, tmp_path):
    src, out = tmp_path / "piece.png", tmp_path / "out.png"
    px = photo(transparent=True)
    Image.fromarray(px, "RGBA").save(src)
    r = akapen(folder, tmp_path, "edit", src, PROMPT, "-o", out, "--model", folder, "--steps", "2", "--seed",
               str(SEED), "--memory-mode", "cpu")
    assert r.returncode == 0, r.stderr
    assert "qwen-image-2.1" in r.stdout and f"wrote {out}" in r.stdout
    got = Image.open(out)
    assert got.mode == "RGBA" and got.size == (SIZE, SIZE)
    alpha = np.asarray(got)[..., 3]
    assert alpha[:, -8:].max() < 255 and alpha[:, :8].min() > 0  # not flattened: the transparent side stays so
