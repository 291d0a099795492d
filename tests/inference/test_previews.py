"""Step previews of the diffusers families, on the tiny real pipelines (offline, CPU).

(1) Each family's preview decode is its pipeline's own decode: applied to the last step's
latents (unshrunk), it gives the pipeline's output image. (2) Through the app's path a run
sends a preview at every step but the last when time allows, and none for families that state
no decode. (3) When previews are taken: never in offload modes, never at the last step, within
the time budget; a failing decode stops previews and never fails the edit.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from desktop.headless.edit_request import build_request
from inference.backend import Backend, Capabilities
from inference.diffusion import backend_for_model, previews
from inference.progress import ProgressUpdate
from inference.request import EditRequest
from tests.inference import tiny_pipelines as tp
from tests.inference.test_diffusion_families import PROMPT, SEED, document, size_of

WITH_PREVIEWS = ["instruct-pix2pix", "flux-kontext", "flux-fill", "qwen-image-edit", "qwen-image-edit-plus",
                 "flux2", "flux2-klein"]
WITHOUT = [f for f in tp.FAMILIES if f not in WITH_PREVIEWS]


def request_for(family, folder, steps):
    b = backend_for_model(folder, working_size=size_of(family))
    doc, _image, ref = document(family)
    refs = [("hat", ref)] if b.capabilities.max_references else []
    return b, build_request(doc, PROMPT, None, b.capabilities, references=refs, seed=SEED, steps=steps)


@contextlib.contextmanager
def latent_statistics(pipe):
    """Give the shared tiny VAE non-trivial latent statistics for a while (a fresh one has mean 0,
    spread 1, which would hide a missing un-normalisation), then put its own back."""
    vae = pipe.vae
    g = torch.Generator().manual_seed(3)
    saved_cfg = {k: vae.config[k] for k in ("latents_mean", "latents_std") if vae.config.get(k) is not None}
    bn = getattr(vae, "bn", None)
    saved_bn = (bn.running_mean.clone(), bn.running_var.clone()) if bn is not None else None
    try:
        if saved_cfg:
            n = len(saved_cfg["latents_mean"])
            vae.register_to_config(latents_mean=(torch.randn(n, generator=g) * 0.5).tolist(),
                                   latents_std=(torch.rand(n, generator=g) * 2 + 0.5).tolist())
        if bn is not None:
            bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=g) * 0.5)
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=g) * 2 + 0.5)
        yield
    finally:
        if saved_cfg:
            vae.register_to_config(**saved_cfg)
        if saved_bn is not None:
            bn.running_mean.copy_(saved_bn[0])
            bn.running_var.copy_(saved_bn[1])


@pytest.mark.parametrize("family", WITH_PREVIEWS)
def test_the_preview_decode_of_the_last_latents_is_the_pipeline_output(tiny_models, monkeypatch, family):
    monkeypatch.setattr(previews, "MAX_LATENT", 10_000)  # full size: the decode itself is compared
    b, req = request_for(family, tiny_models(family), steps=2)
    pipe = tiny_models.pipeline(family)
    last = {}

    def keep(_pipe, _step, _t, cb_kwargs):
        last["latents"] = cb_kwargs["latents"].clone()
        return {}

    with tp.small_sizes(family), torch.inference_mode(), latent_statistics(pipe):
        kwargs, _ = b.call_kwargs(req, pipe)
        out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(SEED), output_type="np",
                   callback_on_step_end=keep)
        decoded = b.decode_preview(pipe, last["latents"], kwargs)
    image = previews.to_image(decoded)
    want = np.asarray(out.images[0])
    if family == "flux-fill":  # the preview shows the edited half, as the result does
        want = want[:, want.shape[1] // 2:]
    want = (np.clip(want, 0, 1) * 255).round().astype(np.uint8)
    assert image.shape[:2] == want.shape[:2]
    assert np.abs(image[..., :3].astype(int) - want.astype(int)).max() <= 1
    assert (image[..., 3] == 255).all()


def run_collecting(family, folder, steps):
    b, req = request_for(family, folder, steps)
    updates: list[ProgressUpdate] = []
    with tp.small_sizes(family):
        result = b.run(req, updates.append)
    return [u for u in updates if u.phase == "denoise" and not u.phase_start], result


@pytest.mark.parametrize("family", WITH_PREVIEWS)
def test_a_run_sends_a_preview_at_every_step_but_the_last(tiny_models, monkeypatch, family):
    monkeypatch.setattr(previews, "MIN_INTERVAL", 0.0)
    monkeypatch.setattr(previews, "BUDGET", 1e9)  # a tiny model's steps are faster than any budget
    steps, result = run_collecting(family, tiny_models(family), steps=3)
    assert len(steps) == 3 and result.images
    shown = [u.preview for u in steps]
    assert shown[-1] is None  # the result itself follows
    for p in shown[:-1]:
        assert p is not None and p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 4
        assert max(p.shape[:2]) <= 8 * previews.MAX_LATENT
    # the picture follows the request's aspect (flux-fill: the edited half, not the double canvas)
    h, w = shown[0].shape[:2]
    assert abs(w / h - result.images[0].shape[1] / result.images[0].shape[0]) < 0.2


@pytest.mark.parametrize("family", WITHOUT)
def test_families_without_a_preview_decode_send_none(tiny_models, monkeypatch, family):
    monkeypatch.setattr(previews, "MIN_INTERVAL", 0.0)
    monkeypatch.setattr(previews, "BUDGET", 1e9)
    steps, result = run_collecting(family, tiny_models(family), steps=2)
    assert steps and all(u.preview is None for u in steps) and result.images


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_previews_keep_to_the_time_budget_and_skip_the_last_step(monkeypatch):
    monkeypatch.setattr(previews, "MIN_INTERVAL", 0.5)
    monkeypatch.setattr(previews, "BUDGET", 0.25)
    clock = Clock()

    def decode(_pipe, latents):
        clock.t += 1.0  # each decode costs one second
        return torch.zeros(1, 3, 8, 8)

    p = previews.Previews(decode, total_steps=20, memory_mode="gpu", clock=clock)
    assert p(None, 0, None) is None  # no time has passed yet
    clock.t = 0.6
    img = p(None, 1, None)
    assert img is not None and img.shape == (8, 8, 4) and (img[..., :3] == 128).all()  # 0 → mid grey
    assert p.cost == pytest.approx(1.0)
    clock.t += 3.9
    assert p(None, 2, None) is None  # a 1 s decode waits 4 s: previews take at most a quarter
    clock.t += 0.2
    assert p(None, 3, None) is not None
    clock.t += 100
    assert p(None, 19, None) is None  # the last step
    assert p.count == 2


def test_offload_modes_take_no_previews_and_a_failing_decode_stops_them():
    calls = []

    def decode(_pipe, latents):
        calls.append(1)
        raise RuntimeError("no VAE here")

    clock = Clock()
    for mode in ("model-offload", "group-offload", "sequential-offload"):
        p = previews.Previews(decode, 10, mode, clock=clock)
        clock.t += 10
        assert p(None, 1, None) is None
    assert calls == []
    p = previews.Previews(decode, 10, "cpu", clock=clock)
    clock.t += 10
    assert p(None, 1, None) is None and not p.enabled  # failed once: off for the run
    clock.t += 10
    assert p(None, 2, None) is None and calls == [1]


def test_shrink_keeps_the_aspect_and_averages():
    lat = torch.arange(2 * 128 * 96, dtype=torch.float32).reshape(1, 2, 128, 96)
    small = previews.shrink(lat)
    assert small.shape == (1, 2, 64, 48)
    assert small.mean().item() == pytest.approx(lat.mean().item(), rel=1e-6)
    tiny = torch.zeros(1, 4, 32, 40)
    assert previews.shrink(tiny) is tiny


class PreviewingBackend(Backend):
    """Sends one mid-grey preview of its work image, then returns the image."""

    name = "test-previewing"
    label = "Previewing test backend"
    capabilities = Capabilities(reads_instruction=True, max_variations=1, working_size=64, size_multiple=8)

    def edit(self, request, reporter):
        reporter.advance(preview=np.full((*request.shape, 4), 128, np.uint8))
        reporter.advance()
        return [request.image.copy()], [None], []


def test_previews_say_where_they_lie_in_the_request_image():
    image = np.full((200, 300, 4), 255, np.uint8)
    sel = np.zeros((200, 300), np.uint8)
    sel[50:90, 100:160] = 255
    b = PreviewingBackend()
    for selection, region in ((None, "auto"), (sel, "selection")):
        updates = []
        b.run(EditRequest(image, "x", selection=selection, region=region), updates.append)
        shown = [u for u in updates if u.preview is not None]
        assert len(shown) == 1 and all(u.preview_rect is None for u in updates if u.preview is None)
        x, y, w, h = shown[0].preview_rect
        if selection is None:
            assert (x, y, w, h) == (0, 0, 300, 200)  # the whole image, worked on at 64 px
        else:  # the selection with some context around it, inside the image
            assert x <= 100 and y <= 50 and x + w >= 160 and y + h >= 90
            assert w < 300 and h < 200 and x >= 0 and y >= 0 and x + w <= 300 and y + h <= 200
