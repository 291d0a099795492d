"""Every family that trains, on a tiny real pipeline loaded through the app's own loader: the loss
falls, only the LoRA changes, and the LoRA file works where the app uses LoRAs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.inference import tiny_pipelines as tp
from tests.training.conftest import TRAINABLE, model_info
from training import session as S
from training.dataset import from_arrays
from training.lora import ADAPTER, read_metadata
from training.recipes import can_train, recipe_for
from training.trainer import Settings, fixed_loss, train

IDS = [f if v is None else f"{f}-{v}" for f, v in TRAINABLE]
# a learning rate at which 30 steps of a tiny random model move measurably (the published 1e-4 is for real ones)
LR = {"instruct-pix2pix": 5e-2}


def _session(tiny_models, family, variant):
    info = model_info(tiny_models, family, variant)
    return info, S.load(info, recipe_for(info.family), "auto", "cpu")


def _base_weights(model) -> dict[str, torch.Tensor]:
    """The base's tensors by their own names (peft moves a wrapped layer's to ``….base_layer.…``)."""
    return {k.replace(".base_layer", ""): v.detach().clone() for k, v in model.state_dict().items() if "lora_" not in k}


@pytest.mark.parametrize(("family", "variant"), TRAINABLE, ids=IDS)
def test_the_loss_falls_and_only_the_lora_changes(tiny_models, pairs, tmp_path, family, variant):
    ds = from_arrays(pairs[:2], instruction="invert the colours")
    with tp.small_sizes(family):
        info, sess = _session(tiny_models, family, variant)
        base = _base_weights(sess.model)
        S.cache_pairs(sess, ds, 64, False)
        before = fixed_loss(sess, ds)
        result = train(ds, info, tmp_path / "lora.safetensors", Settings(
            steps=30, rank=4, learning_rate=LR.get(family, 1e-2), resolution=64, sample_every=0, checkpoint_every=0,
            seed=3), device="cpu", session=sess)
        after = fixed_loss(sess, ds)
    assert len(result.losses) == 30 and all(np.isfinite(result.losses))
    assert after < 0.95 * before, (before, after)  # over fixed draws, comparable between the two moments
    now = _base_weights(sess.model)
    assert now.keys() == base.keys()
    assert all(torch.equal(now[k], base[k]) for k in base)  # the base is bit-identical
    lora = [p for n, p in sess.model.named_parameters() if "lora_B" in n]
    assert lora and any(p.abs().max() > 0 for p in lora)  # B starts at zero: only training moved it
    assert all(p.dtype == torch.float32 for n, p in sess.model.named_parameters() if "lora_" in n)


def _output(pipe, info, seed=5):
    """The app's own call of the family's pipeline on a small picture (the backend's kwargs)."""
    from inference.diffusion import backend_class
    from inference.request import EditRequest
    from tests.inference.photos import astronaut
    from tests.training.conftest import small

    backend = backend_class(info.family)(info)
    request = EditRequest(small(astronaut(), (64, 64)), "invert the colours", steps=3, seed=seed)
    kwargs, _ = backend.call_kwargs(request, pipe)
    with torch.no_grad():
        out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
    return np.asarray(backend.images_from(out)[0], dtype=np.float64)


@pytest.mark.parametrize(("family", "variant"), TRAINABLE, ids=IDS)
def test_the_lora_file_loads_where_the_app_loads_loras(tiny_models, pairs, tmp_path, family, variant):
    from inference.diffusion import device as dev
    from inference.diffusion import runtime

    ds = from_arrays(pairs[:2], instruction="invert the colours")
    out = tmp_path / "style.safetensors"
    with tp.small_sizes(family):
        info, sess = _session(tiny_models, family, variant)
        train(ds, info, out, Settings(steps=6, rank=4, alpha=8, learning_rate=0.2, resolution=64, sample_every=0,
                                      checkpoint_every=0), device="cpu", session=sess)
        trained = _output(sess.pipe, info)
        getattr(sess.pipe, recipe_for(family).denoiser).disable_adapters()
        untrained = _output(sess.pipe, info)
        # a fresh pipeline through the app's loader and its LoRA path
        loaded = runtime.Loaded(("test",), info, dev.Placement("cpu", "float32", "cpu"),
                                runtime.load_pipeline(info, dev.Placement("cpu", "float32", "cpu")))
        base = _output(loaded.pipe, info)
        runtime.apply_loras(loaded, ((str(out), 1.0),), True, info.label)
        with_lora = _output(loaded.pipe, info)
        runtime.apply_loras(loaded, ((str(out), 0.0),), True, info.label)
        weight_zero = _output(loaded.pipe, info)
    assert np.abs(base - untrained).max() < 1e-5  # the same model and call
    assert np.abs(with_lora - base).max() > 1e-3  # the LoRA changes the output …
    assert np.abs(with_lora - trained).max() < 2e-3  # … as the trained model in memory did
    assert np.abs(weight_zero - base).max() < 1e-5  # weight 0 is the base model
    meta = read_metadata(out)
    assert meta["r"] == 4 and meta["lora_alpha"] == 8  # rank and alpha survive
    prov = meta["akapen"]
    assert prov["family"] == family and prov["pairs"] == 2 and prov["steps"] == 6
    assert prov["pairs_hash"] == ds.fingerprint() and prov["instruction"] == "invert the colours"
    assert ADAPTER not in str(meta)  # the file carries no trace of the in-memory adapter's name


@pytest.mark.parametrize("family", ["flux-fill", "omnigen", "chronoedit", "framepack", "qwen-image-layered"])
def test_families_that_cannot_train_say_why(family):
    from training.errors import CannotTrain

    ok, why = can_train(family)
    assert not ok and len(why) > 30
    with pytest.raises(CannotTrain, match="cannot be trained"):
        recipe_for(family)
