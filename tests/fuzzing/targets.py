"""Every loader of a file Akapen reads, as a fuzz target: its seed files, its mutations, how it is run
and which errors are the clean, user-facing ones.

A target's ``run(path)`` does what the app does with such a file (an .ora is loaded, rendered, its
layers listed and saved again, as `akapen info` / `flatten` and the window's autosave would), and
returns a problem string for the loaders that never raise (server list, settings) or None.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzzing import corpus
from tests.fuzzing import mutate as M


@dataclass
class Target:
    name: str
    files: Callable[[Path], dict[str, bytes]]  # the seed files (relative path -> bytes) of one case folder
    mutators: tuple[tuple[float, M.Mutator], ...]
    run: Callable[[Path], str | None]  # the loader, given the case folder
    clean: tuple[type[BaseException], ...]  # the typed, user-facing errors
    pick: Callable[[random.Random, list[str]], str] = field(default=lambda rng, names: rng.choice(names))
    single: bool = True  # a case folder holds the one mutated file; else every seed file, one of them mutated

    def mutator(self, rng: random.Random) -> M.Mutator:
        total = sum(w for w, _ in self.mutators)
        x = rng.random() * total
        for w, m in self.mutators:
            x -= w
            if x <= 0:
                return m
        return self.mutators[-1][1]


def _file(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.is_file())


# --- documents and images -----------------------------------------------------------------------------------
def _run_ora(folder: Path) -> None:
    from canvas.ora import load_ora, read_thumbnail, write_ora

    path = _file(folder)
    warnings: list[str] = []
    doc = load_ora(path, warnings=warnings)
    for layer in doc.layers:  # what `akapen info` prints
        layer.bounds()
    doc.render()  # `akapen flatten`, the window's first paint
    doc.render_annotations(doc.rect)
    write_ora(doc, io.BytesIO())  # the autosave that follows
    read_thumbnail(path)


def _run_image(folder: Path) -> None:
    from canvas.imageio import load_image

    arr = load_image(_file(folder))
    assert arr.ndim == 3 and arr.shape[2] == 4 and arr.dtype.name == "uint8", arr.shape


ORA_MUTATORS = ((3, M.byte_level), (2, M.zip_field), (1, M.zip64_fields), (1.5, M.zip_members),
                (2, M.member_bytes), (3, M.ora_stack), (2, M.ora_json))
IMAGE_MUTATORS = ((4, M.byte_level), (2, M.png_chunk), (2, M.image_header))


# --- recovery ---------------------------------------------------------------------------------------------------
def _recovery_files(work: Path) -> dict[str, bytes]:
    folder = corpus.recovery_folder(work / "recovery-seed")
    # the ORA of a real snapshot is what a crash leaves; its JSON says where and when
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _run_recovery(folder: Path) -> str | None:
    from canvas.recovery import RecoveryStore

    store = RecoveryStore(folder, session="fuzz-reader")
    try:
        for entry in store.list(other_sessions_only=True):
            entry.when, entry.title  # noqa: B018 - what the recovery dialog shows
            doc = store.restore(entry)
            doc.render()
    finally:
        store.close()
    return "; ".join(store.problems) or None


def _recovery_mutator(rng: random.Random, data: bytes) -> bytes:
    if data[:2] == b"PK":
        return rng.choice((M.byte_level, M.ora_stack, M.zip_field, M.member_bytes))(rng, data)
    return M.json_tamper(rng, data)


# --- workflows, servers, settings --------------------------------------------------------------------------------
def _run_workflow(folder: Path) -> None:
    from inference.comfyui import workflow as W
    from inference.comfyui.backend import load_workflow

    prompt, info = load_workflow(_file(folder), corpus.OBJECT_INFO)  # what the panel and the CLI read
    W.missing_node_types(prompt, corpus.OBJECT_INFO)
    W.missing_models(prompt, corpus.OBJECT_INFO)
    # as the workflow backend sets up a job: only the inputs the workflow has
    W.apply(prompt, info, images={s.node_id: "canvas.png" for s in info.image_inputs[:1]},
            instruction="x" if info.prompt_inputs else None, seed=1 if info.seed_inputs else None,
            steps=4 if info.steps_inputs else None, guidance=2.0 if info.guidance_inputs else None)


def _run_servers(folder: Path) -> str | None:
    from inference.comfyui.servers import ServerStore

    store = ServerStore(folder / "servers.json")
    for s in store.load():
        assert s.url.startswith(("http://", "https://")), s.url
        s.label  # noqa: B018 - what the list shows
    return store.problem or None


def _run_settings(folder: Path) -> str | None:
    from desktop.settings import MEMORY_MODES, Settings  # noqa: F401 - MEMORY_MODES is re-exported there
    from desktop.tools.options import ToolOptions

    s = Settings.at(folder / "settings.ini")
    s.window_geometry(), s.window_state()
    options = ToolOptions()
    options.load(s.tool_options())
    for k in options.FIELDS:
        v = getattr(options, k)
        for x in v if isinstance(v, tuple) else (v,):
            assert isinstance(x, int | float) and math.isfinite(x), (k, v)
    assert isinstance(s.current_tool(), str)
    assert all(isinstance(p, str) for p in s.recent_files() + s.model_folders())
    assert isinstance(s.last_folder(), str)
    assert s.memory_mode() in MEMORY_MODES, s.memory_mode()
    return s.problem or None


def _settings_files(work: Path) -> dict[str, bytes]:
    return {"settings.ini": corpus.settings_file(work / "seed-settings.ini")}


def _ini_mutator(rng: random.Random, data: bytes) -> bytes:
    """Damage the INI text, or one value (a JSON value tampered, a Qt @Variant/@ByteArray blob, junk)."""
    lines = data.split(b"\n")
    values = [i for i, line in enumerate(lines) if b"=" in line]
    if not values or rng.random() < 0.3:
        return M.byte_level(rng, data)
    i = rng.choice(values)
    key, _, value = lines[i].partition(b"=")
    import json

    try:
        text = json.loads(value.decode("utf-8").replace('\\"', '"').strip('"'))
        new = json.dumps(text)  # the value as QSettings stored it, then tampered
        new = M.json_tamper(rng, new.encode())
        new = b'"' + new.replace(b'"', b'\\"') + b'"'
    except (ValueError, UnicodeDecodeError, RecursionError):
        new = rng.choice((b"@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x5QRect)", b"@ByteArray(\\xff\\xfe)",
                          b"@Variant(\\0\\0\\0\\n\\xff\\xff\\xff\\xff)", b"@Point(1 2)", b"@Size(-1 -1)",
                          b"nan", b"inf", b"", value * 1000, b"@Invalid()", b"\\x00\\x01"))
    lines[i] = key + b"=" + new
    return b"\n".join(lines)


# --- model folders ------------------------------------------------------------------------------------------------
def _model_files(work: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for kind in ("kontext", "qwen-plus"):
        folder = corpus.model_folder(work / f"model-seed-{kind}", kind)
        out.update({f"models/{kind}/{p.relative_to(folder)}": p.read_bytes() for p in folder.rglob("*")
                    if p.is_file()})
    out["models/edit-style.safetensors"] = corpus.lora_file(work / "lora-seed.safetensors").read_bytes()
    return out


def _safetensors_mutator(rng: random.Random, data: bytes) -> bytes:
    import json
    import struct

    if rng.random() < 0.4 or len(data) < 8:
        return M.byte_level(rng, data)
    (n,) = struct.unpack("<Q", data[:8])
    head, rest = data[8 : 8 + n], data[8 + n :]
    if rng.random() < 0.3:
        return struct.pack("<Q", rng.choice((0, 1, n + 1, 2**63, 2**64 - 1, 100_000_001))) + data[8:]
    new = M.json_tamper(rng, head)
    if rng.random() < 0.5:  # a tensor whose shape or offsets lie
        try:
            obj = json.loads(head)
            key = rng.choice([k for k in obj if k != "__metadata__"])
            obj[key][rng.choice(("shape", "data_offsets", "dtype"))] = rng.choice(M.JSON_VALUES)
            new = json.dumps(obj).encode()
        except (ValueError, IndexError, TypeError, KeyError):
            pass
    return struct.pack("<Q", len(new)) + new + rest


def _model_mutator(rng: random.Random, data: bytes) -> bytes:
    if data[8:9] == b"{" or data[8:10] == b'{"':
        return _safetensors_mutator(rng, data)
    return M.json_tamper(rng, data)


def _scan_as_akapen_models(base: Path) -> None:
    """What `akapen models` does with a damaged folder: every problem names it in one line."""
    from inference.diffusion import models

    found, problems = models.scan([base], hf_cache=False)
    for p in problems:
        assert str(base) in p.reason and "\n" not in p.reason, p.reason
    for m in found:
        m.label, m.describe()  # noqa: B018 - what `akapen models` prints


def _run_models(folder: Path) -> None:
    from inference.diffusion import checkpoints, models

    base = folder / "models"
    _scan_as_akapen_models(base)
    checkpoints.find_loras([base], hf_cache=False)
    models.check_folder(base / "kontext")


GGUF_SEED = "models/kontext-Q8_0.gguf"


def _gguf_files(work: Path) -> dict[str, bytes]:
    folder = corpus.model_folder(work / "gguf-seed-kontext", "kontext")
    out = {f"models/kontext/{p.relative_to(folder)}": p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    out[GGUF_SEED] = corpus.gguf_transformer(work / "gguf-seed.gguf").read_bytes()
    return out


def _gguf_mutator(rng: random.Random, data: bytes) -> bytes:
    """Byte damage, or a count, length, dimension, type or offset of the header set to a value that lies."""
    import struct

    if rng.random() < 0.3 or len(data) < 64:
        return M.byte_level(rng, data)
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2))):
        fmt = rng.choice(("<Q", "<Q", "<I", "<B"))
        at = rng.randrange(4, min(len(b), 420) - struct.calcsize(fmt))
        value = rng.choice((0, 1, 2, 3, 4, 8, 9, 12, 30, 31, 32, 33, 64, 255, 2**31, 2**32 - 1, 2**40, 2**62,
                            2**64 - 1))
        struct.pack_into(fmt, b, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if rng.random() < 0.2:
        del b[rng.randrange(8, len(b)):]
    return bytes(b)


def _run_gguf(folder: Path) -> None:
    from inference.diffusion import checkpoints, models

    base = folder / "models"
    _scan_as_akapen_models(base)
    # what `akapen edit --model file.gguf` reads before anything is loaded
    info = checkpoints.single_file(folder / GGUF_SEED, base=models.check_folder(base / "kontext"))
    assert info.precision and info.precision.startswith("GGUF"), info.precision


def _pick_model_file(rng: random.Random, names: list[str]) -> str:
    weighted = [n for n in names if n.endswith(("model_index.json", "config.json"))] * 3 + names
    return rng.choice(weighted)


def targets() -> dict[str, Target]:
    from canvas.errors import ImageImportError, OraError, RecoveryError
    from inference.comfyui.workflow import WorkflowError
    from inference.diffusion.models import ModelError
    from inference.errors import InvalidRequest

    return {t.name: t for t in (
        Target("ora", lambda work: dict(corpus.documents()), ORA_MUTATORS, _run_ora, (OraError,)),
        Target("image", lambda work: dict(corpus.images()), IMAGE_MUTATORS, _run_image, (ImageImportError,)),
        Target("recovery", _recovery_files, ((1, _recovery_mutator),), _run_recovery, (RecoveryError,), single=False),
        Target("workflow", lambda work: dict(corpus.workflows()), ((3, M.json_tamper), (1, M.byte_level)),
               _run_workflow, (WorkflowError, InvalidRequest)),
        Target("servers", lambda work: {"servers.json": corpus.servers_file()},
               ((3, M.json_tamper), (1, M.byte_level)), _run_servers, (), single=False),
        Target("settings", _settings_files, ((1, _ini_mutator),), _run_settings, (), single=False),
        Target("models", _model_files, ((1, _model_mutator),), _run_models, (ModelError,), pick=_pick_model_file,
               single=False),
        Target("gguf", _gguf_files, ((1, _gguf_mutator),), _run_gguf, (ModelError,), pick=lambda rng, names: GGUF_SEED,
               single=False),
    )}
