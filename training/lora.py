"""The LoRA being trained: added to the denoiser with peft, saved as diffusers saves LoRAs.

The file is the one the pipeline class's own ``save_lora_weights`` writes (keys
``transformer.…lora_A.weight`` / ``unet.…``, the peft adapter config — rank, alpha, targets — under
``lora_adapter_metadata``), so ``load_lora_weights`` reads it, and so do the tools that read
diffusers LoRAs. Akapen adds its provenance as one more metadata entry (``akapen``: base model,
family, steps, pair count, a hash of the pairs, the instruction). Writing is atomic.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from training.errors import CheckpointError, TrainingError

ADAPTER = "akapen_training"
META_KEY = "akapen"


def lora_folder() -> Path:
    """Where trained LoRAs go: ``AKAPEN_LORA_DIR``, else ``$XDG_DATA_HOME/akapen/loras``
    (``~/.local/share/akapen/loras``)."""
    env = os.environ.get("AKAPEN_LORA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "akapen" / "loras"


def target_modules(model, suffixes: tuple[str, ...]) -> list[str]:
    """Full names of the ``nn.Linear`` modules of ``model`` that end with one of ``suffixes``."""
    import torch

    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
             and any(n == s or n.endswith("." + s) for s in suffixes)]
    if not names:
        raise TrainingError(f"no layer of this {type(model).__name__} matches the LoRA targets {', '.join(suffixes)}")
    return names


def add_lora(model, suffixes: tuple[str, ...], rank: int, alpha: float, seed: int):
    """Freeze ``model`` and add a fresh LoRA on its matching layers (A random, B zero: it starts as a
    no-op); its parameters are float32 whatever the base's dtype. Returns the LoRA parameters."""
    import torch
    from peft import LoraConfig

    model.requires_grad_(False)
    config = LoraConfig(r=int(rank), lora_alpha=float(alpha), init_lora_weights=True,
                        target_modules=target_modules(model, suffixes))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same start on every process and every run with this seed
        model.add_adapter(config, adapter_name=ADAPTER)
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in params:
        p.data = p.data.float()
        p.requires_grad_(True)
    return params, config


def lora_state(model) -> dict:
    """The trained LoRA's tensors (float32, on the CPU), with peft's key names."""
    from peft.utils import get_peft_model_state_dict

    state = get_peft_model_state_dict(model, adapter_name=ADAPTER)
    return {k: v.detach().float().cpu().contiguous() for k, v in state.items()}


def set_lora_state(model, state: dict) -> None:
    from peft.utils import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state, adapter_name=ADAPTER)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise CheckpointError(f"the checkpoint holds LoRA weights this model does not have ({unexpected[0]}); "
                              "it was made for another model")


def adapter_metadata(config) -> dict:
    """The peft config as diffusers stores it next to the weights (rank, alpha, targets …)."""
    meta = config.to_dict()
    return {k: sorted(v) if isinstance(v, set) else v for k, v in meta.items()
            if isinstance(v, str | int | float | bool | list | tuple | dict | set | type(None))}


def save_lora(path: str | os.PathLike, pipeline_class, denoiser: str, state: dict, config, provenance: dict) -> Path:
    """Write ``state`` as a diffusers LoRA file at ``path`` (atomically), provenance included."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise TrainingError(f"{path}: a LoRA is saved as .safetensors")
    kw = {f"{denoiser}_lora_layers": state, f"{denoiser}_lora_adapter_metadata": adapter_metadata(config)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".akapen-lora-", dir=path.parent) as tmp:
            pipeline_class.save_lora_weights(tmp, **kw)
            written = next(Path(tmp).glob("*.safetensors"))
            with safe_open(str(written), "pt") as f:
                meta = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
            meta[META_KEY] = json.dumps(provenance, sort_keys=True, default=str)
            final = Path(tmp) / "final.safetensors"
            save_file(tensors, str(final), metadata=meta)
            with open(final, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(final, path)
    except OSError as exc:
        raise CheckpointError(f"{path}: the LoRA could not be written ({exc.strerror or exc}); "
                              "the previous file, if any, is untouched") from None
    return path


def read_metadata(path: str | os.PathLike) -> dict:
    """(rank, alpha, provenance …) of a LoRA file, from its header only."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata() or {})
    out: dict = {}
    raw = meta.get("lora_adapter_metadata")
    if raw:
        adapter = json.loads(raw)
        for key, value in adapter.items():  # keys are prefixed with the component ("transformer.r")
            out[key.split(".", 1)[-1]] = value
    if META_KEY in meta:
        out["akapen"] = json.loads(meta[META_KEY])
    return out
