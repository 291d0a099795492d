"""Model discovery and loading, the pipeline cache, output checks, the registry and the CLI
for the diffusers families (tiny real pipelines saved by the session fixture; offline, CPU)."""

from __future__ import annotations

import gc
import json
import shutil
import weakref

import numpy as np
import pytest

from inference import registry
from inference.diffusion import BACKENDS, backend_for_model, device, models, runtime
from inference.diffusion.kontext import KontextBackend
from inference.errors import BackendFailed
from inference.request import EditRequest
from tests.inference import tiny_pipelines as tp


@pytest.fixture(autouse=True)
def fresh_registry():
    """Tests here point the registry's diffusers backends at temporary models: forget them after."""
    yield
    for name, factory in BACKENDS.items():
        registry.register(name, factory, replace=True)


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """An empty Hugging Face cache and no model folders."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("AKAPEN_MODEL_PATH", raising=False)
    models.set_model_folders([])
    yield tmp_path
    models.set_model_folders([])


def hf_cache_layout(hub, repo: str, folder) -> None:
    """``folder`` placed as huggingface_hub stores it: blobs, a snapshot of symlinks, refs/main."""
    root = hub / ("models--" + repo.replace("/", "--"))
    rev = "0123456789abcdef0123456789abcdef01234567"
    snap = root / "snapshots" / rev
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = f.relative_to(folder)
        blob = root / "blobs" / f"{abs(hash(str(rel))):x}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, blob)
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        (snap / rel).symlink_to(blob)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(rev)


def photo(size: int = 32) -> np.ndarray:
    px = np.full((size, size, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(3).rand(size, size, 3) * 255).astype(np.uint8)
    return px


def test_the_family_is_read_from_the_files_for_every_family(tiny_models):
    for family in tp.FAMILIES:
        info = models.check_folder(tiny_models(family))
        assert info.family == family and info.size_bytes > 0
    assert models.check_folder(tiny_models("qwen-image-edit-plus", "2511")).variant == "2511"
    assert models.check_folder(tiny_models("qwen-image-edit-plus")).variant == "2509"


def test_models_in_the_hf_cache_are_found_by_repo_id(tiny_models, no_models, monkeypatch):
    hub = no_models / "hub"
    hf_cache_layout(hub, "someone/my-kontext", tiny_models("flux-kontext"))
    hf_cache_layout(hub, "someone/edit-2511", tiny_models("qwen-image-edit-plus", "2511"))
    (hub / "models--someone--not-a-pipeline" / "snapshots" / "x").mkdir(parents=True)  # a text model: skipped
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    found = {m.repo_id: m for m in models.find_models()}
    assert set(found) == {"someone/my-kontext", "someone/edit-2511"}
    assert found["someone/my-kontext"].family == "flux-kontext" and found["someone/my-kontext"].source == "hf-cache"
    assert found["someone/edit-2511"].variant == "2511"
    b = backend_for_model("someone/my-kontext", working_size=32)
    assert isinstance(b, KontextBackend) and b.availability().ok
    result = b.run(EditRequest(image=photo(), instruction="red", seed=1, steps=1))
    assert result.images[0].shape == (32, 32, 4)
    # the registry's flux-kontext backend finds it too, with the CPU warning (not a block)
    registry.register("flux-kontext", "inference.diffusion.kontext:KontextBackend", replace=True)
    row = registry.info("flux-kontext")
    assert row.available and "CUDA" in row.reason and "my-kontext" in row.model


def test_models_in_user_folders_are_found(tiny_models, no_models):
    user = no_models / "my-models"
    shutil.copytree(tiny_models("instruct-pix2pix"), user / "pix2pix")
    shutil.copytree(tiny_models("flux2-klein"), user / "klein")
    (user / "notes").mkdir()
    models.set_model_folders([user])
    found = {m.path.name: m.family for m in models.find_models()}
    assert found == {"pix2pix": "instruct-pix2pix", "klein": "flux2-klein"}
    assert models.find_models([user / "klein"])[0].family == "flux2-klein"  # a model folder itself


def test_no_model_makes_each_family_unavailable_with_what_to_do(no_models):
    for name in models.FAMILIES:
        registry.register(name, BACKENDS[name], replace=True)  # a fresh instance: nothing remembered
        row = registry.info(name)
        assert not row.available and "no model found for this family" in row.reason
        assert "Get model…" in row.reason and "download" in row.reason and "folder" in row.reason
    assert registry.default_backend().name == "classical"


def test_pickle_only_weights_are_refused(tiny_models, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_models("flux-kontext"), folder)
    for f in (folder / "transformer").glob("*.safetensors"):
        f.rename(f.with_suffix(".bin"))
    with pytest.raises(models.ModelError, match=r"diffusion_pytorch_model\.bin: pickle weights"):
        models.check_folder(folder)
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"x")
    with pytest.raises(models.ModelError, match="pickle"):
        models.resolve(ckpt)


def test_a_family_mismatch_is_named(tiny_models, tmp_path):
    # model_index.json says Kontext, the transformer is Qwen-Image's
    folder = tmp_path / "mixed"
    shutil.copytree(tiny_models("flux-kontext"), folder)
    shutil.rmtree(folder / "transformer")
    shutil.copytree(tiny_models("qwen-image-edit") / "transformer", folder / "transformer")
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer"] = ["diffusers", "QwenImageTransformer2DModel"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(models.ModelError, match=r"transformer/config\.json.*family mismatch"):
        models.check_folder(folder)
    # a Fill transformer under a Kontext model_index
    fill = tmp_path / "fill-as-kontext"
    shutil.copytree(tiny_models("flux-kontext"), fill)
    shutil.rmtree(fill / "transformer")
    shutil.copytree(tiny_models("flux-fill") / "transformer", fill / "transformer")
    with pytest.raises(models.ModelError, match="Fill.*family mismatch"):
        models.check_folder(fill)
    # the user names a backend of another family
    with pytest.raises(models.ModelError, match="family mismatch.*--backend flux-kontext"):
        backend_for_model(tiny_models("flux-kontext"), "qwen-image-edit")


def test_remote_code_components_are_refused(tiny_models, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(tiny_models("flux-kontext"), folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer"] = ["my_module", "MyTransformer"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(models.ModelError, match="no remote or custom code"):
        models.check_folder(folder)


def test_an_unreadable_config_names_the_file(tiny_models, tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(tiny_models("flux2-klein"), folder)
    (folder / "vae" / "config.json").write_text("{ cut off")
    with pytest.raises(models.ModelError, match=r"vae/config\.json: unreadable"):
        models.check_folder(folder)


def test_repeated_edits_do_not_reload_and_switching_frees_the_previous_model(tiny_models):
    cache = runtime.PipelineCache()
    a = backend_for_model(tiny_models("flux-kontext"), working_size=32, cache=cache)
    req = EditRequest(image=photo(), instruction="red", seed=1, steps=1)
    first = a.run(req)
    for _ in range(3):
        again = a.run(req)
    assert cache.loads == 1 and np.array_equal(first.images[0], again.images[0])
    old = weakref.ref(cache.current.pipe)
    b = backend_for_model(tiny_models("flux2-klein"), working_size=64, cache=cache)
    b.run(EditRequest(image=photo(64), instruction="red", seed=1, steps=1))
    gc.collect()
    assert cache.loads == 2 and old() is None
    cache.clear()
    assert cache.current is None


def test_a_nan_output_is_reported_not_returned(tiny_models):
    import torch

    cache = runtime.PipelineCache()
    b = backend_for_model(tiny_models("flux-kontext"), working_size=32, cache=cache)
    loaded = b.pipeline()
    with torch.no_grad():
        loaded.pipe.transformer.proj_out.weight.fill_(float("nan"))
    with pytest.raises(BackendFailed, match="NaN"):
        b.run(EditRequest(image=photo(), instruction="red", seed=1, steps=1))


def test_black_and_nan_checks():
    runtime.check_output(np.full((4, 4, 3), 0.5, np.float32), "x")
    with pytest.raises(BackendFailed, match="all-black"):
        runtime.check_output(np.zeros((4, 4, 3), np.float32), "x")
    runtime.check_output(np.zeros((4, 4, 4), np.float32), "x")  # an empty RGBA layer is fine
    rgba = runtime.to_rgba(np.full((2, 2, 3), 0.5, np.float32))
    assert rgba.dtype == np.uint8 and rgba.shape == (2, 2, 4) and (rgba[..., 3] == 255).all() and rgba[0, 0, 0] == 128


def test_memory_mode_choice():
    gib = device.GIB
    assert device.auto_memory_mode(20 * gib, 12 * gib, 80 * gib) == "gpu"
    assert device.auto_memory_mode(40 * gib, 24 * gib, 30 * gib) == "model-offload"
    assert device.auto_memory_mode(60 * gib, 40 * gib, 16 * gib) == "group-offload"
    assert device.choose("cpu").memory_mode == "cpu"
    with pytest.raises(ValueError, match="unknown memory mode"):
        device.choose("turbo")


def test_cli_models_and_edit_with_a_model(tiny_models, no_models, capsys):
    from desktop.headless.cli import main
    from desktop.headless.edit_command import write_image

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext")
    assert main(["models", "--folder", str(user)]) == 0
    out = capsys.readouterr().out
    assert "kontext" in out and "FLUX.1 Kontext" in out and "KB" in out
    lora = tp.tiny_lora("flux-kontext", tiny_models.pipeline("flux-kontext"), user / "loras")
    assert main(["models", "--folder", str(user)]) == 0
    out = capsys.readouterr().out
    assert "pytorch_lora_weights.safetensors" in out and "LoRA (diffusers/peft)" in out and "unusable" not in out
    src = no_models / "in.png"
    write_image(src, photo())
    dst = no_models / "out.png"
    assert main(["edit", str(src), "make it red", "--model", str(user / "kontext"), "--steps", "1", "--seed", "2",
                 "-o", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "flux-kontext" in out and dst.exists()
    assert main(["edit", str(src), "make it red", "--model", str(user / "kontext"), "--steps", "1", "--seed", "2",
                 "--lora", f"{lora}:0.5", "-o", str(dst)]) == 0
    assert main(["edit", str(src), "x", "--model", str(user / "kontext"), "--backend", "omnigen", "-o", str(dst)]) == 1
    assert "family mismatch" in capsys.readouterr().err


def test_out_of_memory_is_typed_with_what_to_try_and_the_model_survives(tiny_models):
    import torch

    from inference.errors import OutOfMemory

    cache = runtime.PipelineCache()
    b = backend_for_model(tiny_models("flux-kontext"), working_size=32, cache=cache)
    loaded = b.pipeline()
    real = loaded.pipe

    class Exhausted:
        def __getattr__(self, name):
            return getattr(real, name)

        def __call__(self, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    loaded.pipe = Exhausted()
    req = EditRequest(image=photo(), instruction="red", seed=1, steps=1)
    with pytest.raises(OutOfMemory, match="lower-memory mode.*smaller selection"):
        b.run(req)
    loaded.pipe = real
    assert b.run(req).images and cache.loads == 1


def test_a_single_file_checkpoint_loads_on_its_base_folder(tiny_models, no_models):
    import torch
    from safetensors.torch import save_file

    user = no_models / "models"
    shutil.copytree(tiny_models("flux-kontext"), user / "kontext-base")
    other = tp.build_pipeline("flux-kontext", seed=3).transformer  # other weights, same architecture
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, user / "my-finetune.safetensors")
    save_file({"x": torch.zeros(2)}, user / "stray.safetensors")
    models.set_model_folders([user])
    found, problems = models.scan()
    single = [m for m in found if m.weights is not None]
    assert len(single) == 1 and single[0].family == "flux-kontext" and single[0].source == "file"
    assert any("stray.safetensors" in p.reason and "fits none" in p.reason for p in problems)
    req = EditRequest(image=photo(), instruction="red", seed=1, steps=1)
    cache = runtime.PipelineCache()
    finetuned = backend_for_model(user / "my-finetune.safetensors", working_size=32, cache=cache).run(req)
    base = backend_for_model(user / "kontext-base", working_size=32, cache=cache).run(req)
    assert cache.loads == 2 and not np.array_equal(finetuned.images[0], base.images[0])
    # the same as the base pipeline with that transformer put in by hand
    pipe = tp.pipeline_class("flux-kontext").from_pretrained(user / "kontext-base")
    pipe.transformer.load_state_dict(other.state_dict())
    pipe.set_progress_bar_config(disable=True)
    from PIL import Image

    out = pipe(prompt="red", image=Image.fromarray(photo()[..., :3]), height=32, width=32, max_area=1024,
               _auto_resize=False, num_inference_steps=1, guidance_scale=2.5,
               generator=torch.Generator("cpu").manual_seed(1), output_type="np").images[0]
    assert np.abs(out * 255 - finetuned.images[0][..., :3]).max() <= 1.0
    with pytest.raises(models.ModelError, match="stray.safetensors.*fits none"):
        backend_for_model(user / "stray.safetensors")


def test_how_families_arrange_their_inputs():
    from PIL import Image

    from inference.diffusion.base import name_references
    from inference.diffusion.flux2 import at_least
    from inference.diffusion.omnigen import placeholder
    from inference.diffusion.side_by_side import side_by_side_canvas

    text, changed = name_references("put @hat on the cat, colours from [Palette]; hats are nice", ["hat", "palette"],
                                    lambda n: f"Picture {n}")
    assert changed and text == "put Picture 2 on the cat, colours from Picture 3; hats are nice"
    assert name_references("no refs", ["x"], placeholder) == ("no refs", False)
    small, grown = at_least(Image.new("RGB", (40, 20)))
    assert grown and small.size == (128, 64)
    assert at_least(Image.new("RGB", (64, 80)))[1] is False
    sel = np.zeros((16, 16), np.uint8)
    sel[4:8, 4:8] = 255
    canvas, mask = side_by_side_canvas(Image.new("RGB", (32, 32), "red"), Image.new("RGB", (16, 16), "blue"), sel)
    assert canvas.size == (32, 16) and canvas.getpixel((0, 0)) == (255, 0, 0) and canvas.getpixel((20, 0)) == (0, 0, 255)
    m = np.asarray(mask)
    assert not m[:, :16].any() and np.array_equal(m[:, 16:], sel)


def test_side_by_side_always_fills_empty_canvas_besides_the_selection():
    from inference.diffusion.side_by_side import SideBySideBackend
    from inference.request import EditRequest

    img = np.full((32, 32, 4), 200, np.uint8)
    img[:, 24:, 3] = 0  # the canvas was grown on the right: empty
    sel = np.zeros((32, 32), np.uint8)
    sel[4:10, 4:10] = 255
    b = SideBySideBackend(working_size=32)
    kw, _ = b.call_kwargs(EditRequest(img, "extend it", selection=sel), None)
    m = np.asarray(kw["mask_image"])[:, 32:]
    assert np.array_equal(m[4:10, 4:10], sel[4:10, 4:10]) and (m[:, 24:] == 255).all()
    assert m[20, 12] == 0  # the rest of the picture stays
    kw, _ = b.call_kwargs(EditRequest(np.full((32, 32, 4), 200, np.uint8), "x", selection=sel), None)
    assert np.array_equal(np.asarray(kw["mask_image"])[:, 32:], sel)  # no empty canvas: the selection only
