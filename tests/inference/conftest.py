"""Fixtures shared by the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest


class TinyModels:
    """Tiny real diffusers pipelines, each built and saved at most once per test session.

    ``tiny_models(family)`` (or ``tiny_models(family, variant="2511")``) is the folder the
    pipeline was ``save_pretrained`` into; ``tiny_models.pipeline(family)`` is the very
    in-memory pipeline that was saved there (shared: do not load LoRAs into it or change it).
    """

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._folders: dict[tuple[str, str | None], Path] = {}
        self._pipelines: dict[tuple[str, str | None], object] = {}

    def _ensure(self, family: str, variant: str | None) -> tuple[str, str | None]:
        from tests.inference import tiny_pipelines

        key = (family, variant)
        if key not in self._folders:
            pipe = tiny_pipelines.build_pipeline(family, seed=0, variant=variant)
            name = family if variant is None else f"{family}-{variant}"
            folder = self._factory.mktemp(f"tiny-{name}", numbered=True)
            pipe.save_pretrained(folder, safe_serialization=True)
            self._pipelines[key] = pipe
            self._folders[key] = folder
        return key

    def __call__(self, family: str, variant: str | None = None) -> Path:
        return self._folders[self._ensure(family, variant)]

    def pipeline(self, family: str, variant: str | None = None):
        return self._pipelines[self._ensure(family, variant)]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Function ``family -> folder`` of a saved tiny pipeline (see ``tests/inference/tiny_pipelines.py``)."""
    return TinyModels(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models: TinyModels) -> TinyModels:
    """Alias of ``tiny_models``: ``tiny_model_dir(family)`` is the saved folder."""
    return tiny_models
