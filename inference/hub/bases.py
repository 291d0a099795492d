"""Which diffusers model a single-file transformer in the cache runs on: the base recorded when it was
downloaded with one (``--base``, or a catalogue entry), else the catalogue's. Model discovery asks this
(:func:`inference.diffusion.models.set_base_hint`) before matching a file to a base by its tensors."""

from __future__ import annotations

from pathlib import Path


def hint(repo_id: str | None, path: Path) -> str | None:
    if repo_id is None:
        return None
    from inference.hub import cache, catalogue, state

    where = cache.locate(path)
    rel = where[2] if where is not None and where[0] == repo_id else Path(path).name
    found = state.recorded_base(repo_id, rel)
    if found:
        return found
    try:
        return catalogue.load().base_for(repo_id, rel)
    except catalogue.CatalogueError:
        return None
