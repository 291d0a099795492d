"""A training run as a user lives it: cancel, resume, a full disk, pairs that stay together."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from tests.training.conftest import model_info
from training import checkpoint
from training.dataset import from_arrays
from training.errors import Cancelled, CheckpointError, OutOfMemory
from training.trainer import Settings, train

FAMILY = "flux-kontext"


def settings(**kw) -> Settings:
    base = dict(steps=20, rank=4, learning_rate=1e-2, resolution=64, sample_every=0, checkpoint_every=4, seed=11)
    return Settings(**{**base, **kw})


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".new", ".old")) or p.name.startswith(".akapen"))


def test_cancel_keeps_a_valid_checkpoint_and_resume_reproduces_the_run(tiny_models, pairs, tmp_path):
    from inference.progress import CancelToken

    info = model_info(tiny_models, FAMILY)
    ds = from_arrays(pairs, instruction="invert the colours")
    straight = train(ds, info, tmp_path / "straight.safetensors", settings(), device="cpu")

    out = tmp_path / "stopped.safetensors"
    token = CancelToken()

    def stop_at_ten(update):
        if update.phase == "train" and update.step == 10:
            token.cancel()  # from the GUI thread in the app; here between two steps

    with pytest.raises(Cancelled, match="after step 10"):
        train(ds, info, out, settings(), device="cpu", progress=stop_at_ten, cancel=token)
    assert not out.exists() and leftovers(tmp_path) == []  # no LoRA, nothing half-written
    saved = checkpoint.load(checkpoint.folder_for(out))
    assert saved.step == 10 and len(saved.meta["losses"]) == 10
    assert saved.meta["losses"] == pytest.approx(straight.losses[:10], rel=0, abs=1e-6)

    resumed = train(ds, info, out, settings(), device="cpu", resume=True)
    assert resumed.losses[:10] == saved.meta["losses"]
    # the next steps are the ones the uninterrupted run took: same pairs, noise, timesteps, optimizer state
    np.testing.assert_allclose(resumed.losses[10:], straight.losses[10:], rtol=0, atol=1e-5)
    assert out.exists()


def test_resume_refuses_a_checkpoint_of_other_pairs_or_settings(tiny_models, pairs, tmp_path):
    info = model_info(tiny_models, FAMILY)
    ds = from_arrays(pairs, instruction="invert the colours")
    out = tmp_path / "a.safetensors"
    train(ds, info, out, settings(steps=4), device="cpu")
    with pytest.raises(CheckpointError, match="other pairs"):
        train(from_arrays(pairs[:2], instruction="invert the colours"), info, out, settings(steps=8), device="cpu",
              resume=True)
    with pytest.raises(CheckpointError, match="other settings"):
        train(ds, info, out, settings(steps=8, rank=8), device="cpu", resume=True)
    with pytest.raises(CheckpointError, match="more steps"):
        train(ds, info, out, settings(steps=4), device="cpu", resume=True)
    assert len(train(ds, info, out, settings(steps=8), device="cpu", resume=True).losses) == 8  # more steps: goes on


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tiny_models, pairs, tmp_path, monkeypatch):
    import safetensors.torch

    info = model_info(tiny_models, FAMILY)
    ds = from_arrays(pairs, instruction="invert the colours")
    out = tmp_path / "full.safetensors"
    real = safetensors.torch.save_file
    calls = {"n": 0}

    def fill_up(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 3:  # the second checkpoint (each writes two files), half-way through
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", fill_up)
    with pytest.raises(CheckpointError, match="No space left.*previous checkpoint is untouched"):
        train(ds, info, out, settings(steps=12), device="cpu")
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    assert checkpoint.load(checkpoint.folder_for(out)).step == 4  # the last good one, whole
    assert not out.exists() and leftovers(tmp_path) == []


def test_pairs_keep_their_own_instruction_and_images_through_the_shuffle(tiny_models, pairs, tmp_path, monkeypatch):
    from training import session as S
    from training.recipes import recipe_for

    info = model_info(tiny_models, FAMILY)
    ds = from_arrays([(b, a, f"instruction {i}") for i, (b, a) in enumerate(pairs)])
    sess = S.load(info, recipe_for(FAMILY), "auto", "cpu")
    encoded, seen = {}, []
    real_text, real_loss = sess.recipe.encode_text, sess.recipe.loss

    def encode_text(pipe, instruction, befores, device, dtype):
        out = real_text(pipe, instruction, befores, device, dtype)
        encoded[id(out)] = (instruction, befores[0].copy())
        return out

    def loss(pipe, model, images, text, noise, u):
        seen.append((images, text))
        return real_loss(pipe, model, images, text, noise, u)

    monkeypatch.setattr(sess.recipe, "encode_text", encode_text)
    monkeypatch.setattr(sess.recipe, "loss", loss)
    train(ds, info, tmp_path / "x.safetensors", settings(steps=12, caption_dropout=0.3), device="cpu", session=sess)
    assert len(seen) == 12
    order = []
    for images, text in seen:
        entry = next(e for e in sess.entries.values() if e.images is images)
        instruction, before = encoded[id(text)]
        assert instruction in (ds.instruction_of(entry.pair), "")  # its own, or the dropped caption
        assert np.array_equal(before, entry.transform.apply(entry.pair.before[0]))  # encoded from its own picture
        order.append(entry.pair.name)
    assert sorted(set(order)) == sorted(p.name for p in ds.pairs)
    epochs = [order[i:i + 3] for i in range(0, 12, 3)]
    assert all(sorted(e) == sorted(p.name for p in ds.pairs) for e in epochs)  # each pair once an epoch …
    assert len({tuple(e) for e in epochs}) > 1  # … in a new order each time
    dropped = sum(1 for images, text in seen if encoded[id(text)][0] == "")
    assert 0 < dropped < 12


def test_out_of_memory_says_what_to_change(tiny_models, pairs, tmp_path, monkeypatch):
    import torch

    from training.recipes.kontext import KontextRecipe

    def oom(self, *a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(KontextRecipe, "loss", oom)
    info = model_info(tiny_models, FAMILY)
    with pytest.raises(OutOfMemory, match="lower the resolution.*8bit or fp8"):
        train(from_arrays(pairs, instruction="x"), info, tmp_path / "o.safetensors", settings(), device="cpu")
    assert not (tmp_path / "o.safetensors").exists()


def test_training_and_an_in_process_edit_never_run_at_once(tiny_models, pairs, tmp_path):
    """While a LoRA trains, an edit with an in-process model is refused with the reason (not queued for hours);
    the classical backend still edits."""
    import threading

    from inference.backend import Backend  # noqa: F401 - the registry's base
    from inference.diffusion import backend_class
    from inference.errors import BackendUnavailable
    from inference.progress import CancelToken
    from inference.request import EditRequest
    from tests.training.conftest import small

    info = model_info(tiny_models, FAMILY)
    token, started, outcome = CancelToken(), threading.Event(), {}

    def at_step(update):
        if update.phase == "train" and update.step == 2:
            started.set()
            token.wait(30)  # hold the training here while the edit is tried

    def run():
        try:
            train(from_arrays(pairs, instruction="x"), info, tmp_path / "t.safetensors", settings(), device="cpu",
                  progress=at_step, cancel=token)
        except Cancelled:
            outcome["cancelled"] = True

    t = threading.Thread(target=run)
    t.start()
    try:
        assert started.wait(120)
        image = small(pairs[0][0], (64, 64))
        with pytest.raises(BackendUnavailable, match="busy training t.safetensors.*classical backend"):
            backend_class(FAMILY)(info, device="cpu").run(EditRequest(image, "make it night", steps=2))
        from inference.classical import ClassicalBackend

        assert ClassicalBackend().run(EditRequest(image, task="stylise")).images
    finally:
        token.cancel()
        t.join(120)
    assert outcome.get("cancelled")
    # once it stopped, the model work is free again
    assert backend_class(FAMILY)(info, device="cpu").run(EditRequest(small(pairs[0][0], (64, 64)), "x",
                                                                      steps=2)).images
