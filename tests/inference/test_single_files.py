"""Single-file transformers through the app's loader: GGUF (written here with the ``gguf`` package from a
tiny real FLUX.1 Kontext transformer) and FP8 safetensors, found in model folders and in a Hugging Face
cache layout, put on their base (by tensors, or by the base hint when the base has no transformer weights),
listed by ``akapen models``, run, and refused with the reason where diffusers cannot read them.
Offline, CPU; the tiny pipelines come from the session fixture."""

from __future__ import annotations

import hashlib
import shutil
import struct
import tracemalloc

import numpy as np
import pytest

from inference.diffusion import backend_for_model, checkpoints, gguf_file, models, runtime
from inference.request import EditRequest
from tests.inference import tiny_pipelines as tp

REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """An empty Hugging Face cache (``tmp_path / "hub"``), no model folders and no base hint."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("AKAPEN_MODEL_PATH", raising=False)
    models.set_model_folders([])
    models.set_base_hint(None)
    yield tmp_path
    models.set_model_folders([])
    models.set_base_hint(models.catalogue_hint)  # the default again


def put_in_cache(hub, repo: str, files: dict) -> object:
    """Files (path in the repo -> source file) placed as huggingface_hub stores them: blobs, a snapshot
    of symlinks, refs/main. Returns the snapshot folder."""
    root = hub / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / REV
    for rel, src in sorted(files.items()):
        data = src.read_bytes()
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (snap / rel).exists():
            (snap / rel).symlink_to(blob)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(REV)
    return snap


def folder_files(folder, drop_denoiser: bool = False) -> dict:
    """A diffusers folder's files by relative path; without the transformer's weights when asked."""
    return {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()
            and not (drop_denoiser and p.parent.name == "transformer" and p.suffix == ".safetensors")}


def photo(size: int = 32) -> np.ndarray:
    px = np.full((size, size, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(3).rand(size, size, 3) * 255).astype(np.uint8)
    return px


REQUEST = EditRequest(image=photo(), instruction="red", seed=1, steps=1)


@pytest.fixture(scope="module")
def ggufs(tiny_models, tmp_path_factory):
    """The tiny Kontext transformer (the base's own weights) as GGUF Q8_0 and Q4_0 files."""
    folder = tmp_path_factory.mktemp("ggufs")
    state = tiny_models.pipeline("flux-kontext").transformer.state_dict()
    types = tp.write_gguf(state, folder / "kontext-Q8_0.gguf", "Q8_0")
    tp.write_gguf(state, folder / "kontext-Q4_0.gguf", "Q4_0", file_type=False)
    tp.write_gguf(state, folder / "prefixed-Q8_0.gguf", "Q8_0", prefix="model.diffusion_model.")
    assert list(types.values()).count("Q8_0") >= 20  # most of its matrices are quantized
    return folder


def run_gguf_types(loaded) -> set[str]:
    return {type(m).__name__ for m in loaded.pipe.transformer.modules() if "Linear" in type(m).__name__}


# --- the header reader ---------------------------------------------------------------------------------------
def test_the_header_reader_agrees_with_the_gguf_package(ggufs):
    import gguf

    for name in ("kontext-Q8_0.gguf", "kontext-Q4_0.gguf"):
        mine = gguf_file.read_header(ggufs / name)
        theirs = gguf.GGUFReader(str(ggufs / name))
        assert len(mine.tensors) == len(theirs.tensors)
        for t in theirs.tensors:
            m = mine.tensors[t.name]
            assert m.shape == tuple(int(d) for d in reversed(t.shape))  # GGUF stores the innermost first
            assert (m.type, m.offset, m.nbytes) == (t.tensor_type.name, t.data_offset, t.n_bytes)
        assert mine.architecture == "flux"
    assert gguf_file.read_header(ggufs / "kontext-Q8_0.gguf").file_type == "Q8_0"
    assert gguf_file.read_header(ggufs / "kontext-Q4_0.gguf").file_type is None
    # the tables are the gguf package's
    assert {int(k): (k.name, *v) for k, v in gguf.GGML_QUANT_SIZES.items()} == gguf_file.GGML_TYPES
    assert {int(k): k.name.removeprefix("MOSTLY_").removeprefix("ALL_") for k in gguf.LlamaFileType
            if k.name != "GUESSED"} == gguf_file.FILE_TYPES
    from diffusers.quantizers.gguf.utils import SUPPORTED_GGUF_QUANT_TYPES

    assert {t.name for t in SUPPORTED_GGUF_QUANT_TYPES} | {"F32", "F16"} == models.DIFFUSERS_GGUF_TYPES


def _header(n_tensors=1, n_keys=0, version=3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_keys)


def _string(text: bytes, length: int | None = None) -> bytes:
    return struct.pack("<Q", len(text) if length is None else length) + text


def test_hostile_gguf_files_are_model_errors_naming_the_file(ggufs, tmp_path):
    good = (ggufs / "kontext-Q8_0.gguf").read_bytes()
    tensor = _string(b"w") + struct.pack("<I", 2) + struct.pack("<QQ", 32, 4) + struct.pack("<IQ", 8, 0)
    cases = {
        "empty": b"",
        "magic": b"GGML" + good[4:],
        "version 1": _header(version=1) + tensor,
        "big-endian": b"GGUF" + struct.pack(">IQQ", 3, 1, 0) + tensor,
        "cut in the header": good[:40],
        "cut in the data": good[: len(good) // 2],
        "huge tensor count": _header(n_tensors=2**62),
        "huge key count": _header(n_keys=2**40),
        "huge key": _header(0, 1) + _string(b"k", 2**40),
        "huge value": _header(0, 1) + _string(b"k") + struct.pack("<I", 8) + _string(b"v", 2**40),
        "value past the end": _header(0, 1) + _string(b"k") + struct.pack("<I", 8) + _string(b"v", 10_000_000),
        "huge array": _header(0, 1) + _string(b"general.x") + struct.pack("<IIQ", 9, 4, 2**60),
        "nested arrays": _header(0, 1) + _string(b"k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 8,
        "unknown value type": _header(0, 1) + _string(b"k") + struct.pack("<I", 99),
        "many dimensions": _header() + _string(b"w") + struct.pack("<I", 2**31),
        "huge dimensions": _header() + _string(b"w") + struct.pack("<I", 4) + struct.pack("<4Q", *[2**40] * 4)
        + struct.pack("<IQ", 0, 0),
        "offset past the end": _header() + _string(b"w") + struct.pack("<I", 1) + struct.pack("<Q", 32)
        + struct.pack("<IQ", 0, 2**50),
        "rows not in blocks": _header() + _string(b"w") + struct.pack("<I", 1) + struct.pack("<Q", 33)
        + struct.pack("<IQ", 8, 0),
        "bad alignment": _header(0, 1) + _string(b"general.alignment") + struct.pack("<II", 4, 3),
        "not utf-8": _header() + _string(b"\xff\xfe") + struct.pack("<I", 1),
        "a name twice": _header(2) + tensor + tensor,
    }
    tracemalloc.start()
    try:
        for what, data in cases.items():
            path = tmp_path / f"{what.replace(' ', '-')}.gguf"
            path.write_bytes(data)
            with pytest.raises(models.ModelError) as err:
                models.gguf_header(path)
            text = str(err.value)
            assert str(path) in text and "\n" not in text, (what, text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # the huge lengths were refused before anything was allocated
    # as `akapen models` shows it: unusable, with the reason
    user = tmp_path / "user"
    user.mkdir()
    shutil.copy(tmp_path / "cut-in-the-data.gguf", user / "broken.gguf")
    _, problems = models.scan([user], hf_cache=False)
    assert len(problems) == 1 and "broken.gguf: not a readable GGUF file (truncated" in problems[0].reason


# --- discovery --------------------------------------------------------------------------------------------------
def test_a_gguf_in_a_model_folder_is_found_on_its_base_and_listed(tiny_models, ggufs, no_models, capsys):
    from desktop.headless.cli import main

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    shutil.copy(ggufs / "kontext-Q8_0.gguf", user)
    shutil.copy(ggufs / "prefixed-Q8_0.gguf", user)
    models.set_model_folders([user])
    found, problems = models.scan()
    assert not problems
    single = {m.weights.name: m for m in found if m.weights is not None}
    assert set(single) == {"kontext-Q8_0.gguf", "prefixed-Q8_0.gguf"}
    q8 = single["kontext-Q8_0.gguf"]
    assert q8.family == "flux-kontext" and q8.source == "file" and q8.precision == "GGUF Q8_0"
    assert "GGUF Q8_0" in q8.describe() and "GGUF Q8_0" in q8.label and q8.path == user / "kontext-base"
    assert single["prefixed-Q8_0.gguf"].prefix == "model.diffusion_model."
    base = next(m for m in found if m.weights is None)
    assert base.precision == "fp32" and "fp32" in base.describe()
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "kontext-Q8_0.gguf (GGUF Q8_0 on kontext-base)" in out and "FLUX.1 Kontext (GGUF Q8_0)" in out
    assert "unusable" not in out


def test_a_gguf_runs_quantized_and_close_to_its_base(tiny_models, ggufs, no_models):
    from diffusers.quantizers.gguf.utils import GGUFLinear

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    for name in ("kontext-Q8_0.gguf", "prefixed-Q8_0.gguf", "kontext-Q4_0.gguf"):
        shutil.copy(ggufs / name, user)
    models.set_model_folders([user])
    cache = runtime.PipelineCache()
    base = backend_for_model(user / "kontext-base", working_size=32, cache=cache).run(REQUEST)
    b = backend_for_model(user / "kontext-Q8_0.gguf", working_size=32, cache=cache)
    q8 = b.run(REQUEST)
    loaded = b.pipeline()
    assert isinstance(loaded.pipe.transformer.transformer_blocks[0].attn.to_q, GGUFLinear)
    assert loaded.pipe.transformer.transformer_blocks[0].attn.to_q.weight.quant_type.name == "Q8_0"
    assert np.array_equal(b.run(REQUEST).images[0], q8.images[0])  # same seed, same pixels
    diff = np.abs(q8.images[0].astype(int) - base.images[0].astype(int))
    # measured: max 1, mean 0.07 (of 255) — Q8_0 is close to the float32 weights, but not equal
    assert 0 < diff.max() <= 4 and diff.mean() < 0.5, (diff.max(), diff.mean())
    assert "GGUF Q8_0" in q8.model and "kontext-Q8_0.gguf" in q8.model
    assert "transformer: kontext-Q8_0.gguf, GGUF Q8_0 (on kontext-base)" in q8.notes
    assert any("dequantized on the fly" in n for n in q8.notes)
    assert not any("GGUF" in n for n in base.notes)
    # diffusers names under ComfyUI's wrapper prefix: stripped before diffusers sees them
    prefixed = backend_for_model(user / "prefixed-Q8_0.gguf", working_size=32, cache=cache).run(REQUEST)
    assert np.array_equal(prefixed.images[0], q8.images[0])
    # a LoRA goes onto the quantized layers (peft wraps diffusers' GGUFLinear)
    lora = tp.tiny_lora("flux-kontext", tiny_models.pipeline("flux-kontext"), no_models / "lora")
    with_lora = b.run(REQUEST.replace(loras=((str(lora), 1.0),)))
    assert not np.array_equal(with_lora.images[0], q8.images[0]) and cache.loads == 4  # base, q8, prefixed, q8
    q4 = backend_for_model(user / "kontext-Q4_0.gguf", working_size=32, cache=cache).run(REQUEST)
    d4 = np.abs(q4.images[0].astype(int) - base.images[0].astype(int))
    # measured: max 7, mean 1.15 — coarser than Q8_0
    assert d4.mean() > diff.mean() and "GGUF Q4_0" in q4.model


def test_a_gguf_in_the_hf_cache_runs_on_a_base_without_transformer_weights(tiny_models, ggufs, no_models, capsys):
    from desktop.headless.cli import main

    hub = no_models / "hub"
    put_in_cache(hub, "someone/kontext-base", folder_files(tiny_models("flux-kontext"), drop_denoiser=True))
    vae = next((tiny_models("flux-kontext") / "vae").glob("*.safetensors"))
    put_in_cache(hub, "someone/kontext-gguf", {"split_files/diffusion_models/kontext-Q8_0.gguf":
                                               ggufs / "kontext-Q8_0.gguf",
                                               "split_files/vae/ae.safetensors": vae,  # another component: skipped
                                               "README.md": vae.parent / "config.json"})
    asked = []

    def hint(repo, path):
        asked.append((repo, path.name))
        return "someone/kontext-base" if repo == "someone/kontext-gguf" else None

    models.set_base_hint(hint)
    base = models.check_folder(hub / "models--someone--kontext-base" / "snapshots" / REV)
    assert base.base_only and base.family == "flux-kontext"  # not broken: a base for single files
    found, problems = models.scan()
    assert not problems and asked == [("someone/kontext-gguf", "kontext-Q8_0.gguf")]
    assert len(found) == 1  # the base is no model by itself
    m = found[0]
    assert m.repo_id == "someone/kontext-base" and m.source == "hf-cache" and m.precision == "GGUF Q8_0"
    assert m.weights_id == "someone/kontext-gguf:split_files/diffusion_models/kontext-Q8_0.gguf"
    assert main(["models"]) == 0
    assert "kontext-Q8_0.gguf (GGUF Q8_0 on someone/kontext-base)" in capsys.readouterr().out
    cache = runtime.PipelineCache()
    b = backend_for_model("someone/kontext-gguf", working_size=32, cache=cache)
    first = b.run(REQUEST)
    assert run_gguf_types(b.pipeline()) >= {"GGUFLinear"} and "GGUF Q8_0" in first.model
    # the same pixels as the same file in a model folder on the full base
    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-full")
    shutil.copy(ggufs / "kontext-Q8_0.gguf", user)
    again = backend_for_model(user / "kontext-Q8_0.gguf", working_size=32, cache=cache).run(REQUEST)
    assert np.array_equal(first.images[0], again.images[0])
    # without the hint the file is still put on the base, by its structure against the base's configuration
    models.set_base_hint(None)
    found, problems = models.scan(hf_cache=True, folders=[])
    assert [m.weights_id for m in found] == [m.weights_id] and not problems


def test_a_base_alone_is_a_problem_and_not_a_model(tiny_models, no_models):
    hub = no_models / "hub"
    put_in_cache(hub, "someone/kontext-base", folder_files(tiny_models("flux-kontext"), drop_denoiser=True))
    found, problems = models.scan()
    assert not found and len(problems) == 1
    assert ("the transformer's weights are missing: a base for single-file transformers, download a transformer "
            "file for it (akapen models download …) or the full model") in problems[0].reason
    with pytest.raises(models.ModelError, match="weights are missing: a base for single-file transformers"):
        models.resolve("someone/kontext-base")


def test_a_hint_naming_a_base_not_there_or_not_fitting(tiny_models, ggufs, no_models):
    hub = no_models / "hub"
    put_in_cache(hub, "someone/kontext-gguf", {"kontext-Q8_0.gguf": ggufs / "kontext-Q8_0.gguf"})
    models.set_base_hint(lambda repo, path: "someone/absent-base")
    _, problems = models.scan()
    assert len(problems) == 1 and "its base model someone/absent-base is not in the Hugging Face cache" in \
        problems[0].reason and problems[0].repo_id == "someone/kontext-gguf"
    put_in_cache(hub, "someone/fill", folder_files(tiny_models("flux-fill")))
    models.set_base_hint(lambda repo, path: "someone/fill")
    _, problems = models.scan()
    assert "does not fit its base model someone/fill" in problems[0].reason
    with pytest.raises(models.ModelError, match="does not fit its base model someone/fill"):
        models.resolve("someone/kontext-gguf")


def test_a_repo_of_several_files_is_resolved_by_its_path(tiny_models, ggufs, no_models):
    hub = no_models / "hub"
    put_in_cache(hub, "someone/kontext-base", folder_files(tiny_models("flux-kontext"), drop_denoiser=True))
    put_in_cache(hub, "someone/kontext-gguf", {"kontext-Q8_0.gguf": ggufs / "kontext-Q8_0.gguf",
                                               "q4/kontext-Q4_0.gguf": ggufs / "kontext-Q4_0.gguf"})
    models.set_base_hint(lambda repo, path: "someone/kontext-base" if repo else None)
    with pytest.raises(models.ModelError) as err:
        models.resolve("someone/kontext-gguf")
    text = str(err.value)
    assert "several transformer files" in text and "someone/kontext-gguf:q4/kontext-Q4_0.gguf" in text
    assert "someone/kontext-gguf:kontext-Q8_0.gguf" in text and "someone/kontext-gguf:<path in the repo>" in text
    q4 = models.resolve("someone/kontext-gguf:q4/kontext-Q4_0.gguf")
    assert q4.weights.name == "kontext-Q4_0.gguf" and q4.precision == "GGUF Q4_0"
    with pytest.raises(models.ModelError, match="no such file of someone/kontext-gguf"):
        models.resolve("someone/kontext-gguf:kontext-Q2_K.gguf")
    # the file's own path in the cache resolves too, with the hint of its repo
    path = hub / "models--someone--kontext-gguf" / "snapshots" / REV / "kontext-Q8_0.gguf"
    info = models.resolve(path)
    assert info.weights_id == "someone/kontext-gguf:kontext-Q8_0.gguf" and info.repo_id == "someone/kontext-base"


def test_loras_in_hf_cache_repos_of_single_files_are_found(tiny_models, no_models):
    lora = tp.tiny_lora("flux-kontext", tiny_models.pipeline("flux-kontext"), no_models / "lora")
    hub = no_models / "hub"
    snap = put_in_cache(hub, "lightx2v/Kontext-Lightning", {"Kontext-Lightning-4steps-V1.0.safetensors": lora,
                                                            "loras/other/extra.safetensors": lora})
    found = checkpoints.find_loras([])
    assert {str(lr.path.relative_to(snap)) for lr in found} == {"Kontext-Lightning-4steps-V1.0.safetensors",
                                                                "loras/other/extra.safetensors"}
    assert all(lr.repo_id == "lightx2v/Kontext-Lightning" and lr.size_bytes == lora.stat().st_size for lr in found)
    assert models.scan([]) == ([], [])  # LoRAs are no models and no problems
    assert checkpoints.find_loras([], hf_cache=False) == []


# --- refusals ---------------------------------------------------------------------------------------------------
def test_a_gguf_diffusers_cannot_read_is_refused_with_the_reason(tiny_models, no_models):
    import gguf

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    state = tiny_models.pipeline("flux-kontext").transformer.state_dict()
    w = gguf.GGUFWriter(str(user / "iq2.gguf"), arch="flux")
    for name, t in state.items():
        arr = t.float().numpy()
        if arr.ndim == 2 and arr.shape[1] % 256 == 0:  # IQ2_XXS: Python cannot make one; its bytes will do
            raw = np.zeros((arr.shape[0], arr.shape[1] // 256 * 66), np.uint8)
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=gguf.GGMLQuantizationType.IQ2_XXS)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    models.set_model_folders([user])
    _, problems = models.scan()
    assert len(problems) == 1 and "iq2.gguf: its tensors use IQ2_XXS" in problems[0].reason
    assert "which diffusers cannot read" in problems[0].reason


def _bfl_flux(width: int, in_channels: int, joint: int) -> dict:
    """The shapes of a FLUX.1 transformer in the original (BFL) layout, one double and one single block."""
    import torch

    z = lambda *s: torch.zeros(*s)  # noqa: E731
    return {"img_in.weight": z(width, in_channels), "img_in.bias": z(width), "txt_in.weight": z(width, joint),
            "time_in.in_layer.weight": z(width, 256), "vector_in.in_layer.weight": z(width, 32),
            "double_blocks.0.img_attn.qkv.weight": z(3 * width, width),
            "double_blocks.0.img_mod.lin.weight": z(6 * width, width),
            "single_blocks.0.linear1.weight": z(7 * width, width), "final_layer.linear.weight": z(in_channels, width)}


def test_layouts_diffusers_does_not_convert_are_refused_by_name(tiny_models, no_models):
    cfg = tiny_models.pipeline("flux-kontext").transformer.config
    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    # the original FLUX.1 layout: diffusers converts it only at the full model's 3072 width
    tp.write_gguf(_bfl_flux(cfg.num_attention_heads * cfg.attention_head_dim, cfg.in_channels,
                            cfg.joint_attention_dim), user / "kontext-bfl.gguf", "Q8_0")
    # Qwen-Image with names that are not diffusers' (diffusers maps Qwen-Image files one to one)
    qwen = tiny_models.pipeline("qwen-image-edit").transformer.state_dict()
    hub = no_models / "hub"
    put_in_cache(hub, "someone/qwen-base", folder_files(tiny_models("qwen-image-edit"), drop_denoiser=True))
    renamed = {k.replace("transformer_blocks.", "blocks.").replace("img_in", "x_embedder"): v for k, v in qwen.items()}
    tp.write_gguf(renamed, no_models / "qwen-comfy.gguf", "Q8_0", arch="qwen_image")
    put_in_cache(hub, "someone/qwen-gguf", {"qwen-comfy-Q8_0.gguf": no_models / "qwen-comfy.gguf"})
    models.set_model_folders([user])
    _, problems = models.scan()
    reasons = {p.path.name: p.reason for p in problems}
    assert "diffusers converts the original FLUX.1 (BFL) layout only at the full model's width of 3072" in \
        reasons["kontext-bfl.gguf"]
    assert ("its tensor names are not diffusers' QwenImageTransformer2DModel names" in reasons["qwen-comfy-Q8_0.gguf"]
            and "diffusers converts no other layout of it" in reasons["qwen-comfy-Q8_0.gguf"])
    # with its base named, the same refusal says which base
    models.set_base_hint(lambda repo, path: "someone/qwen-base" if repo else None)
    _, problems = models.scan()
    reason = next(p.reason for p in problems if p.path.name == "qwen-comfy-Q8_0.gguf")
    assert "does not fit its base model someone/qwen-base: its tensor names are not diffusers'" in reason
    # the Qwen file in diffusers names fits that base (checked against its configuration)
    tp.write_gguf(qwen, no_models / "qwen-Q8_0.gguf", "Q8_0", arch="qwen_image")
    put_in_cache(hub, "someone/qwen-gguf-2", {"qwen-Q8_0.gguf": no_models / "qwen-Q8_0.gguf"})
    found, _ = models.scan()
    assert [m.family for m in found if m.weights is not None and m.weights.name == "qwen-Q8_0.gguf"] == \
        ["qwen-image-edit"]


def _fp8_state(state: dict, scaled: bool) -> dict:
    import torch

    out = {}
    for k, v in state.items():
        if v.ndim == 2:
            out[k] = v.to(torch.float8_e4m3fn)
            if scaled:
                out[k.removesuffix(".weight") + ".scale_weight"] = torch.ones(())
        else:
            out[k] = v.to(torch.bfloat16)
    if scaled:
        out["scaled_fp8"] = torch.zeros(0, dtype=torch.float8_e4m3fn)
    return out


def test_fp8_files_load_upcast_and_scaled_ones_are_refused(tiny_models, no_models):
    from safetensors.torch import save_file

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    state = tiny_models.pipeline("flux-kontext").transformer.state_dict()
    save_file({"model.diffusion_model." + k: v.contiguous() for k, v in _fp8_state(state, False).items()},
              user / "kontext_fp8_e4m3fn.safetensors")
    save_file({k: v.contiguous() for k, v in _fp8_state(state, True).items()}, user / "kontext_fp8_scaled.safetensors")
    models.set_model_folders([user])
    found, problems = models.scan()
    assert len(problems) == 1 and problems[0].path.name == "kontext_fp8_scaled.safetensors"
    assert models.SCALED_FP8 in problems[0].reason
    with pytest.raises(models.ModelError, match="scaled FP8 .per-tensor scales. is not readable by diffusers"):
        backend_for_model(user / "kontext_fp8_scaled.safetensors")
    fp8 = next(m for m in found if m.weights is not None)
    assert fp8.precision == "FP8 (e4m3fn)" and "FP8 (e4m3fn)" in fp8.describe()
    cache = runtime.PipelineCache()
    base = backend_for_model(user / "kontext-base", working_size=32, cache=cache).run(REQUEST)
    result = backend_for_model(fp8, working_size=32, cache=cache).run(REQUEST)
    # diffusers upcasts the float8 weights to the placement's dtype on the CPU (no FP8 compute there)
    assert {p.dtype for p in cache.current.pipe.transformer.parameters()} == {cache.current.placement.dtype}
    dtype = str(cache.current.placement.dtype).removeprefix("torch.")
    assert any(f"FP8 weights upcast to {dtype} when loaded" in n for n in result.notes)
    diff = np.abs(result.images[0].astype(int) - base.images[0].astype(int))
    # measured: max 5, mean 0.55 (of 255) — e4m3 keeps 3 mantissa bits, coarser than Q8_0's 8-bit blocks
    assert 0 < diff.max() <= 16 and diff.mean() < 2, (diff.max(), diff.mean())


# --- an original layout diffusers converts ------------------------------------------------------------------------
FLUX2_NAMES = {"x_embedder": "img_in", "context_embedder": "txt_in", "proj_out": "final_layer.linear",
               "time_guidance_embed.timestep_embedder.linear_1": "time_in.in_layer",
               "time_guidance_embed.timestep_embedder.linear_2": "time_in.out_layer",
               "time_guidance_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
               "time_guidance_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
               "double_stream_modulation_img.linear": "double_stream_modulation_img.lin",
               "double_stream_modulation_txt.linear": "double_stream_modulation_txt.lin",
               "single_stream_modulation.linear": "single_stream_modulation.lin"}
FLUX2_DOUBLE = {"attn.norm_q.weight": "img_attn.norm.query_norm.scale", "attn.norm_k.weight":
                "img_attn.norm.key_norm.scale", "attn.norm_added_q.weight": "txt_attn.norm.query_norm.scale",
                "attn.norm_added_k.weight": "txt_attn.norm.key_norm.scale", "attn.to_out.0": "img_attn.proj",
                "attn.to_add_out": "txt_attn.proj", "ff.linear_in": "img_mlp.0", "ff.linear_out": "img_mlp.2",
                "ff_context.linear_in": "txt_mlp.0", "ff_context.linear_out": "txt_mlp.2"}
FLUX2_SINGLE = {"attn.to_qkv_mlp_proj": "linear1", "attn.to_out": "linear2", "attn.norm_q.weight":
                "norm.query_norm.scale", "attn.norm_k.weight": "norm.key_norm.scale"}


def to_bfl_flux2(state: dict) -> dict:
    """A diffusers FLUX.2 transformer's tensors under the original (BFL) names: fused qkv, (shift, scale)
    final modulation — the inverse of what diffusers' converter does."""
    import torch

    out, qkv = {}, {}
    for k, v in state.items():
        if k.startswith("norm_out.linear."):
            scale, shift = v.chunk(2, dim=0)
            out[k.replace("norm_out.linear", "final_layer.adaLN_modulation.1")] = torch.cat([shift, scale])
            continue
        if k.startswith("transformer_blocks."):
            _, n, rest = k.split(".", 2)
            for part, fused in (("to_q", "img"), ("to_k", "img"), ("to_v", "img"), ("add_q_proj", "txt"),
                                ("add_k_proj", "txt"), ("add_v_proj", "txt")):
                if rest.startswith(f"attn.{part}."):
                    qkv.setdefault((n, fused, rest.rsplit(".", 1)[1]), {})[part] = v
                    break
            else:
                old = next(o for o in FLUX2_DOUBLE if rest.startswith(o))
                out[f"double_blocks.{n}.{FLUX2_DOUBLE[old]}{rest[len(old):]}"] = v
            continue
        if k.startswith("single_transformer_blocks."):
            _, n, rest = k.split(".", 2)
            old = next(o for o in FLUX2_SINGLE if rest.startswith(o))
            out[f"single_blocks.{n}.{FLUX2_SINGLE[old]}{rest[len(old):]}"] = v
            continue
        old = next(o for o in FLUX2_NAMES if k.startswith(o + "."))
        out[FLUX2_NAMES[old] + k[len(old):]] = v
    for (n, fused, param), parts in qkv.items():
        order = ("to_q", "to_k", "to_v") if fused == "img" else ("add_q_proj", "add_k_proj", "add_v_proj")
        out[f"double_blocks.{n}.{fused}_attn.qkv.{param}"] = torch.cat([parts[p] for p in order])
    return out


def test_a_flux2_gguf_in_the_original_layout_is_converted_by_diffusers(tiny_models, no_models):
    user = no_models / "models"
    shutil.copytree(tiny_models("flux2-klein"), user / "klein-base")
    state = tiny_models.pipeline("flux2-klein").transformer.state_dict()
    tp.write_gguf(state, user / "klein-diffusers-Q8_0.gguf", "Q8_0", arch="flux2")
    tp.write_gguf(to_bfl_flux2(state), user / "klein-bfl-Q8_0.gguf", "Q8_0", arch="flux2",
                  prefix="model.diffusion_model.")
    models.set_model_folders([user])
    found, problems = models.scan()
    assert not problems
    bfl = next(m for m in found if m.weights is not None and m.weights.name == "klein-bfl-Q8_0.gguf")
    assert bfl.family == "flux2-klein" and any("original FLUX.2 (BFL) layout, converted by diffusers" in n
                                               for n in bfl.notes)
    cache = runtime.PipelineCache()
    request = EditRequest(image=photo(64), instruction="red", seed=1, steps=1)
    converted = backend_for_model(bfl, working_size=64, cache=cache).run(request)
    assert run_gguf_types(cache.current) >= {"GGUFLinear"}
    named = backend_for_model(user / "klein-diffusers-Q8_0.gguf", working_size=64, cache=cache).run(request)
    # fused rows are the same rows, quantized block by block: the conversion loses nothing
    assert np.array_equal(converted.images[0], named.images[0])
