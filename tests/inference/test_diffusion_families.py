"""Every diffusers family through the app's path, on the tiny real pipelines (offline, CPU).

For each family: (1) the app's path — a Document → ``build_request`` → ``backend.run`` →
``apply_result`` layer — gives exactly the pixels of a direct call of the same pipeline
(loaded from the same folder) with the same inputs and seed; (2) progress reaches the last
step and cancelling mid-run gives no result; (3) a LoRA changes the output and weight 0
restores it; (4) a broken folder is a clear error naming the file.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from canvas.document import Document
from canvas.layers import PixelLayer
from desktop.headless.edit_request import apply_result, build_request
from inference.diffusion import backend_class, backend_for_model, models, runtime
from inference.diffusion.qwen_layered import is_layer_split
from inference.errors import BackendUnavailable, Cancelled, InvalidRequest
from inference.progress import CancelToken
from tests.inference import tiny_pipelines as tp

PROMPT = "put the hat on the cat"
SEED = 5
STEPS = 2
# the working size of each family in these tests (the Qwen modules' sizes lowered by tp.small_sizes)
SIZES = {"qwen-image-edit": 64, "qwen-image-edit-plus": 64, "qwen-image-layered": 64, "flux2": 64, "flux2-klein": 64}
CASES = [(f, None) for f in tp.FAMILIES] + [("qwen-image-edit-plus", "2511")]
IDS = [f if v is None else f"{f}-{v}" for f, v in CASES]
WITH_REFERENCE = {"flux-fill", "qwen-image-edit-plus", "omnigen", "flux2", "flux2-klein"}


def size_of(family: str) -> int:
    return SIZES.get(family, 32)


def photo(size: int, seed: int = 7) -> np.ndarray:
    rng = np.random.RandomState(seed)
    px = np.full((size, size, 4), 255, np.uint8)
    px[..., :3] = (rng.rand(size, size, 3) * 255).astype(np.uint8)
    return px


def direct_kwargs(family: str, image: Image.Image, ref: Image.Image) -> dict:
    """What a person calling diffusers by hand passes (model-card defaults, 2 steps, the same size)."""
    s = image.size[0]
    k: dict = {"prompt": PROMPT, "num_inference_steps": STEPS}
    if family == "instruct-pix2pix":
        return k | {"image": image, "guidance_scale": 7.5, "image_guidance_scale": 1.5}
    if family == "flux-kontext":
        return k | {"image": image, "height": s, "width": s, "max_area": s * s, "_auto_resize": False,
                    "guidance_scale": 2.5}
    if family == "flux-fill":
        canvas, mask = tp.side_by_side(ref, image, s)
        return k | {"image": canvas, "mask_image": mask, "height": s, "width": 2 * s, "guidance_scale": 30.0}
    if family == "qwen-image-edit":
        return k | {"image": image, "negative_prompt": " ", "true_cfg_scale": 4.0, "height": s, "width": s}
    if family == "qwen-image-edit-plus":
        return k | {"prompt": "put the Picture 2 on the cat", "image": [image, ref], "negative_prompt": " ",
                    "true_cfg_scale": 4.0, "height": s, "width": s}
    if family == "omnigen":
        return k | {"prompt": "<img><|image_1|></img> put the <img><|image_2|></img> on the cat",
                    "input_images": [image, ref], "height": s, "width": s, "max_input_image_size": s,
                    "guidance_scale": 2.0, "img_guidance_scale": 1.6}
    if family in ("flux2", "flux2-klein"):
        return k | {"image": [image, ref], "height": s, "width": s,
                    "guidance_scale": 4.0 if family == "flux2" else 1.0}
    if family == "chronoedit":
        return k | {"image": image, "height": s, "width": s, "num_frames": 5, "guidance_scale": 5.0}
    if family == "framepack":
        return k | {"image": image, "height": s, "width": s, "num_frames": 1, "latent_window_size": 1,
                    "guidance_scale": 10.0}
    if family == "qwen-image-layered":
        return k | {"image": image.convert("RGBA"), "negative_prompt": " ", "true_cfg_scale": 4.0, "layers": 2,
                    "resolution": 640, "cfg_normalize": True, "use_en_prompt": True}
    raise AssertionError(family)


def direct_pixels(family: str, folder, image: np.ndarray, ref: np.ndarray) -> list[np.ndarray]:
    """The edited image(s) of a direct call, RGB(A) uint8."""
    pipe = tp.pipeline_class(family).from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    kwargs = direct_kwargs(family, Image.fromarray(image[..., :3]), Image.fromarray(ref[..., :3]))
    with tp.small_sizes(family), torch.inference_mode():
        torch.manual_seed(SEED)  # OmniGen draws from the global RNG
        out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(SEED), output_type="pil")
    if family in ("chronoedit", "framepack"):
        return [np.asarray(out.frames[0][-1])]
    if family == "qwen-image-layered":
        return [np.asarray(im) for im in out.images[0]]
    im = np.asarray(out.images[0])
    if family == "flux-fill":
        im = im[:, im.shape[1] // 2:]
    return [im]


def document(family: str) -> tuple[Document, np.ndarray, np.ndarray]:
    s = size_of(family)
    image, ref = photo(s), photo(s, seed=11)
    return Document.assemble(s, s, [PixelLayer(image, name="photo")]), image, ref


def backend(family, folder, **kw):
    return backend_for_model(folder, working_size=size_of(family), **kw)


def app_run(family, folder, doc, ref, *, progress=None, cancel=None, loras=(), params=None, b=None):
    b = b or backend(family, folder)
    refs = [("hat", ref)] if family in WITH_REFERENCE else []
    params = dict(params or {})
    if family == "qwen-image-layered":
        params.setdefault("layers", 2)
    req = build_request(doc, PROMPT, None, b.capabilities, references=refs, seed=SEED, steps=STEPS,
                        loras=loras, params=params)
    with tp.small_sizes(family):
        return req, b.run(req, progress, cancel)


@pytest.mark.parametrize(("family", "variant"), CASES, ids=IDS)
def test_the_app_path_gives_exactly_the_pixels_of_a_direct_call(tiny_models, family, variant):
    folder = tiny_models(family, variant)
    doc, image, ref = document(family)
    req, result = app_run(family, folder, doc, ref)
    expected = direct_pixels(family, folder, image, ref)
    assert len(result.images) == len(expected)
    assert result.seeds == (SEED,) * len(expected)
    if family == "qwen-image-layered":
        assert is_layer_split(result)
        for got, want in zip(result.images, expected, strict=True):
            assert got.shape == want.shape and np.array_equal(got, want)
        # "split into layers": every RGBA output becomes its own pixel layer, in one undo step
        before = [lyr.id for lyr in doc.layers]
        top = apply_result(doc, req, result)
        added = [lyr for lyr in doc.layers if lyr.id not in before]
        assert len(added) == len(expected) and added[-1] is top
        assert all(lyr.kind == "pixel" and lyr.provenance["backend"] == family for lyr in added)
        doc.undo()
        assert [lyr.id for lyr in doc.layers] == before
        return
    layer = apply_result(doc, req, result)
    assert (layer.x, layer.y) == (0, 0) and layer.pixels.shape == image.shape
    assert np.array_equal(layer.pixels[..., :3], expected[0][..., :3])
    assert (layer.pixels[..., 3] == 255).all()
    assert layer.provenance["backend"] == family and layer.provenance["seed"] == SEED
    if family in ("qwen-image-edit-plus", "omnigen"):
        assert result.instruction_used == direct_kwargs(family, Image.new("RGB", (8, 8)), None)["prompt"]
    if variant == "2511":
        assert "2511" in result.model


@pytest.mark.parametrize(("family", "variant"), CASES[:-1], ids=IDS[:-1])
def test_progress_reaches_the_last_step_and_cancel_gives_no_result(tiny_models, family, variant):
    folder = tiny_models(family, variant)
    doc, image, ref = document(family)
    updates = []
    app_run(family, folder, doc, ref, progress=updates.append)
    steps = [u.step for u in updates]
    assert steps == sorted(steps) and updates[-1].step == updates[-1].total
    assert sum(1 for u in updates if u.phase == "denoise" and not u.phase_start) == STEPS
    assert updates[0].phase_start and any(u.phase == "load" and u.phase_start for u in updates)  # shown while it lasts

    token = CancelToken()
    seen = []

    def cancel_mid_run(update):
        if update.phase_start:
            return
        seen.append(update.phase)
        if update.phase == "denoise":
            token.cancel()

    layers_before = len(doc.layers)
    with pytest.raises(Cancelled):
        app_run(family, folder, doc, ref, progress=cancel_mid_run, cancel=token)
    assert seen.count("denoise") == 1  # stopped after the first of the two steps
    assert len(doc.layers) == layers_before


LORA_CASES = [c for c in CASES[:-1] if tp.has_lora_loader(c[0])]


@pytest.mark.parametrize(("family", "variant"), LORA_CASES, ids=[c[0] for c in LORA_CASES])
def test_a_lora_changes_the_output_and_weight_zero_restores_it(tiny_models, tmp_path, family, variant):
    folder = tiny_models(family, variant)
    lora = tp.tiny_lora(family, tiny_models.pipeline(family, variant), tmp_path / "lora")
    doc, image, ref = document(family)
    _, base = app_run(family, folder, doc, ref)
    _, with_lora = app_run(family, folder, doc, ref, loras=[(str(lora), 1.0)])
    loaded = runtime.CACHE.current
    _, weight0 = app_run(family, folder, doc, ref, loras=[(str(lora), 0.0)])
    assert runtime.CACHE.current is loaded  # reweighting does not reload
    _, after = app_run(family, folder, doc, ref)  # no LoRA: unloaded again
    assert not np.array_equal(base.images[0], with_lora.images[0])
    assert np.array_equal(base.images[0], weight0.images[0])
    assert np.array_equal(base.images[0], after.images[0])


def test_omnigen_refuses_a_lora_clearly(tiny_models, tmp_path):
    folder = tiny_models("omnigen")
    doc, image, ref = document("omnigen")
    fake = tmp_path / "x.safetensors"
    shutil.copy(next((tiny_models("flux-kontext") / "transformer").glob("*.safetensors")), fake)
    with pytest.raises(InvalidRequest, match="cannot load LoRAs"):
        app_run("omnigen", folder, doc, ref, loras=[(str(fake), 1.0)])


def test_a_lora_of_another_family_is_a_clear_error(tiny_models, tmp_path):
    lora = tp.tiny_lora("instruct-pix2pix", tiny_models.pipeline("instruct-pix2pix"), tmp_path / "sd")
    doc, image, ref = document("flux-kontext")
    with pytest.raises(InvalidRequest, match="does not fit"):
        app_run("flux-kontext", tiny_models("flux-kontext"), doc, ref, loras=[(str(lora), 1.0)])
    # and the model still works without it
    _, result = app_run("flux-kontext", tiny_models("flux-kontext"), doc, ref)
    assert result.images


def test_a_pickle_lora_is_refused(tiny_models, tmp_path):
    bad = tmp_path / "lora.bin"
    bad.write_bytes(b"\x80\x04.")
    doc, image, ref = document("flux-kontext")
    with pytest.raises(InvalidRequest, match="pickle"):
        app_run("flux-kontext", tiny_models("flux-kontext"), doc, ref, loras=[(str(bad), 1.0)])


@pytest.mark.parametrize(("family", "variant"), CASES[:-1], ids=IDS[:-1])
def test_a_broken_folder_is_a_clear_error_naming_the_file(tiny_models, tmp_path, family, variant):
    src = tiny_models(family, variant)
    spec = models.FAMILIES[family]
    # a damaged weight file
    damaged = tmp_path / "damaged"
    shutil.copytree(src, damaged)
    weights = sorted((damaged / spec.denoiser).glob("*.safetensors"))[0]
    weights.write_bytes(b"\x10\x00")
    with pytest.raises(models.ModelError, match=str(weights.name)):
        backend_for_model(damaged)
    b = backend_class(family)(str(damaged), working_size=size_of(family))  # chosen before it broke
    doc, image, ref = document(family)
    with pytest.raises(BackendUnavailable, match="download it again"):
        app_run(family, damaged, doc, ref, b=b)
    # a missing component
    missing = tmp_path / "missing"
    shutil.copytree(src, missing)
    shutil.rmtree(missing / "vae")
    with pytest.raises(models.ModelError, match=r"vae.*missing component"):
        backend_for_model(missing)


def test_a_selection_edit_changes_only_the_selection(tiny_models):
    from inference.region import composite_over

    s = 64
    image = photo(s)
    sel = np.zeros((s, s), np.uint8)
    sel[20:36, 24:44] = 255
    doc = Document.assemble(s, s, [PixelLayer(image, name="photo")], selection=sel)
    b = backend_for_model(tiny_models("flux-kontext"), working_size=32)
    req = build_request(doc, PROMPT, None, b.capabilities, seed=SEED, steps=STEPS)
    result = b.run(req)
    out = composite_over(req.image, result.images[0], result.rect)
    assert not np.array_equal(out[sel > 0], image[sel > 0])
    assert np.array_equal(out[sel == 0], image[sel == 0])
