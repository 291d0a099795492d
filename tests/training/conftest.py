"""Fixtures of the training tests: tiny real pipelines saved once, and small real pairs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.inference.conftest import TinyModels
from tests.inference.photos import astronaut, cat, coffee

# (family, variant) of every family that trains, as tiny_pipelines builds them
TRAINABLE = [("flux-kontext", None), ("flux2-klein", None), ("flux2", None), ("qwen-image-edit", None),
             ("qwen-image-edit-plus", "2511"), ("instruct-pix2pix", None)]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    return TinyModels(tmp_path_factory)


def small(rgba: np.ndarray, size=(96, 64)) -> np.ndarray:
    return np.asarray(Image.fromarray(rgba).resize(size, Image.Resampling.LANCZOS))


def inverted(rgba: np.ndarray) -> np.ndarray:
    out = 255 - rgba
    out[..., 3] = 255
    return out


@pytest.fixture
def pairs():
    """Three real photographs and their inverted versions: an edit a LoRA can learn."""
    return [(small(p), inverted(small(p))) for p in (astronaut(), coffee(), cat())]


def model_info(tiny_models, family, variant=None):
    from inference.diffusion import models

    return models.check_folder(tiny_models(family, variant))
