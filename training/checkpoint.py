"""Checkpoints: everything a stopped training needs to go on exactly where it stopped.

A checkpoint is a folder beside the LoRA (``my-style.safetensors`` → ``my-style.checkpoint/``):
``lora.safetensors`` (the LoRA's tensors), ``optimizer.safetensors`` (the optimizer's moment
tensors and the generators' states), ``state.json`` (step, losses, settings, the pairs' hash, the
base model, the optimizer's plain values). Only safetensors and JSON: nothing is unpickled.

Writing is atomic for the folder as a whole: the new checkpoint is written beside it, synced,
and swapped in with renames; a crash or a full disk at any point leaves the previous checkpoint
(or the new one) complete, never a mixture.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import CheckpointError

VERSION = 1


@dataclass
class Saved:
    step: int
    lora: dict
    optimizer: dict  # torch's optimizer.state_dict() layout
    generators: dict  # name -> ByteTensor state
    meta: dict  # settings, losses, fingerprint, model …


def folder_for(lora_path: str | os.PathLike) -> Path:
    p = Path(lora_path)
    return p.with_name(p.stem + ".checkpoint")


def _flatten_optimizer(state: dict) -> tuple[dict, dict]:
    import torch

    tensors, plain = {}, {"param_groups": state.get("param_groups", []), "state": {}}
    for idx, entry in state.get("state", {}).items():
        plain["state"][str(idx)] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(idx)][key] = value
    return tensors, plain


def _unflatten_optimizer(tensors: dict, plain: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in plain.get("state", {}).items()}
    for name, value in tensors.items():
        if name.startswith("state."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": plain.get("param_groups", [])}


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def save(folder: str | os.PathLike, saved: Saved) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    new = folder.with_name(folder.name + ".new")
    old = folder.with_name(folder.name + ".old")
    try:
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        save_file(saved.lora, str(new / "lora.safetensors"))
        tensors, plain = _flatten_optimizer(saved.optimizer)
        tensors.update({f"generator.{k}": v for k, v in saved.generators.items()})
        save_file(tensors, str(new / "optimizer.safetensors"))
        state = {"version": VERSION, "step": saved.step, "optimizer": plain, **saved.meta}
        (new / "state.json").write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
        for f in new.iterdir():
            _fsync(f)
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        new.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(new, ignore_errors=True)
        if not folder.exists() and old.exists():
            old.rename(folder)  # the previous checkpoint comes back
        raise CheckpointError(f"{folder}: the checkpoint could not be written ({exc.strerror or exc}); the previous "
                              "checkpoint is untouched — free some disk space and resume") from None
    return folder


def saved_step(folder: str | os.PathLike) -> int | None:
    """The step a checkpoint is at (from its state.json only), or None when there is none."""
    try:
        step = json.loads((Path(folder) / "state.json").read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return step if isinstance(step, int) else None


def load(folder: str | os.PathLike) -> Saved:
    from safetensors.torch import load_file

    folder = Path(folder)
    if not folder.is_dir() and folder.with_name(folder.name + ".old").is_dir():
        folder = folder.with_name(folder.name + ".old")  # a crash between the two renames
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        lora = load_file(str(folder / "lora.safetensors"))
        tensors = load_file(str(folder / "optimizer.safetensors"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no checkpoint to resume from") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{folder}: the checkpoint is damaged ({' '.join(str(exc).split())[:200]}); "
                              "start again without --resume") from None
    if not isinstance(state, dict) or state.get("version") != VERSION or not isinstance(state.get("step"), int):
        raise CheckpointError(f"{folder}: not a checkpoint this Akapen writes")
    gens = {k.removeprefix("generator."): v for k, v in tensors.items() if k.startswith("generator.")}
    optimizer = _unflatten_optimizer({k: v for k, v in tensors.items() if not k.startswith("generator.")},
                                     state.pop("optimizer", {}))
    step = state.pop("step")
    state.pop("version", None)
    return Saved(step, lora, optimizer, gens, state)
