"""A training job in one folder, to run on a bigger machine: the pairs, the settings, the base model.

    JOB/dataset/…        the pairs in the shared before/ + after/ layout
    JOB/job.json         settings, the base model (its repo id or folder name) and its family
    JOB/README.txt       the command to run there, on one GPU or several (accelerate)

``akapen train JOB`` runs it as it is (the model is looked up by name on that machine); the LoRA
it writes is brought back with "Add LoRA…" (it carries its provenance).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from training.dataset import Dataset, Loader, Saver, read_folder, write_folder
from training.errors import DatasetError
from training.trainer import Settings

JOB_FILE = "job.json"


def export_job(dataset: Dataset, settings: Settings, model: str, family: str, folder: str | os.PathLike,
               save: Saver, output_name: str = "lora.safetensors") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_folder(dataset, folder / "dataset", save)
    job = {"model": model, "family": family, "settings": settings.to_dict(), "output": output_name,
           "pairs_hash": dataset.fingerprint(), "written_by": "akapen"}
    (folder / JOB_FILE).write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    flags = (f"--steps {settings.steps} --rank {settings.rank} --lr {settings.learning_rate:g} "
             f"--resolution {settings.resolution}")
    (folder / "README.txt").write_text(
        f"An Akapen training job: {len(dataset.pairs)} pairs, base model {model} ({family}).\n\n"
        f"On one GPU:\n    akapen train {folder.name} -o {output_name}\n\n"
        f"On several (data parallel, every GPU of this machine):\n"
        f"    accelerate launch --multi_gpu --num_processes N -m desktop.headless.cli train {folder.name} "
        f"-o {output_name}\n\n"
        f"The settings are in {JOB_FILE} ({flags}); flags given on the command line replace them.\n"
        f"The model is found by its name ({model}) in the Hugging Face cache or the model folders there"
        + (f"; if it is not on that machine yet, fetch it first:\n    akapen models download {model}\n"
           if "/" in model and not os.path.isabs(model) else ".\n"),
        encoding="utf-8")
    return folder


def is_job(folder: str | os.PathLike) -> bool:
    return (Path(folder) / JOB_FILE).is_file()


def read_job(folder: str | os.PathLike, load: Loader) -> tuple[Dataset, Settings, str, str]:
    """(dataset, settings, model, output name) of a job folder."""
    folder = Path(folder)
    try:
        job = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise DatasetError(f"{folder / JOB_FILE}: unreadable ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(job, dict) or not isinstance(job.get("model"), str) or not isinstance(job.get("settings"), dict):
        raise DatasetError(f"{folder / JOB_FILE}: not an Akapen training job")
    try:
        settings = Settings.from_dict(job["settings"])
    except TypeError as exc:
        raise DatasetError(f"{folder / JOB_FILE}: unreadable settings ({exc})") from None
    return read_folder(folder / "dataset", load), settings, job["model"], str(job.get("output") or "lora.safetensors")
