"""The seed corpus: real files of every kind a loader reads, made here with the app's own writers.

Images are scikit-image's photographs in every format Akapen opens (and their variants: grey,
palette, 16-bit, transparency, EXIF orientation, progressive JPEG, lossless WebP, compressed
TIFF); documents are real ``.ora`` files written by ``canvas.ora`` (pixel layers, rotated and
scaled pieces, every kind of mark, a reference, a selection, provenance) and one shaped like
another program's (nested groups); the rest are a recovery snapshot, ComfyUI workflows (the
official templates and hand-made ones), a server list, a settings file, diffusers model folders and
a GGUF transformer written with the ``gguf`` package.
"""

from __future__ import annotations

import io
import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    out = {}
    for name in ("astronaut", "coffee", "chelsea"):
        rgb = getattr(data, name)()
        out[name] = np.asarray(Image.fromarray(rgb).resize((96, 72)))
    out["camera"] = np.asarray(Image.fromarray(data.camera()).resize((64, 64)))
    return out


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


@cache
def images() -> dict[str, bytes]:
    p = _photos()
    rgb = Image.fromarray(p["astronaut"])
    cat = Image.fromarray(p["chelsea"])
    grey = Image.fromarray(p["camera"])
    rgba = Image.fromarray(np.dstack([p["coffee"], np.linspace(0, 255, 96 * 72).reshape(72, 96).astype(np.uint8)]))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the loader must apply the orientation
    out = {
        "rgb.png": _save(rgb, "PNG"), "rgba.png": _save(rgba, "PNG"), "grey.png": _save(grey, "PNG"),
        "palette.png": _save(cat.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "palette-transparent.png": _save(cat.convert("P"), "PNG", transparency=0),
        "level9.png": _save(rgb, "PNG", compress_level=9),
        "photo.jpg": _save(rgb, "JPEG", quality=90), "progressive.jpg": _save(cat, "JPEG", progressive=True),
        "exif.jpg": _save(cat, "JPEG", exif=exif), "grey.jpg": _save(grey, "JPEG"),
        "lossy.webp": _save(rgb, "WEBP", quality=80), "lossless.webp": _save(rgba, "WEBP", lossless=True),
        "plain.tif": _save(cat, "TIFF"), "lzw.tif": _save(rgba, "TIFF", compression="tiff_lzw"),
        "deflate.tif": _save(grey, "TIFF", compression="tiff_adobe_deflate"),
        "still.gif": _save(cat.convert("P"), "GIF"),
        "rgb.bmp": _save(rgb, "BMP"), "rgba.bmp": _save(rgba, "BMP"),
    }
    frames = [cat.convert("P"), rgb.convert("P")]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = b.getvalue()
    import cv2

    ok, buf = cv2.imencode(".png", (np.asarray(rgb)[..., ::-1].astype(np.uint16) * 257))
    assert ok
    out["16bit.png"] = buf.tobytes()
    return out


def _document(kind: str):
    from canvas.document import Document
    from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Reference, Transform
    from canvas.marks import Arrow, Ellipse, Rectangle, Stroke, TextLabel

    p = _photos()
    rgba = lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]).astype(np.uint8)  # noqa: E731
    doc = Document(96, 72)
    doc.add_layer(PixelLayer(rgba(p["coffee"]), name="Photo"))
    if kind == "plain":
        return doc
    cut = rgba(p["chelsea"])[10:50, 20:70].copy()
    cut[:5, :5, 3] = 0
    doc.add_layer(PieceLayer(cut, Transform(cx=40, cy=30, sx=0.8, sy=1.2, rotation=17, flip_h=True), name="Cat"))
    matte = np.zeros((20, 20), np.uint8)  # a cut-out piece: its matte is a member of its own
    matte[3:17, 4:16] = 255
    doc.add_layer(PieceLayer.at(rgba(p["astronaut"])[:20, :20].copy(), 60, 40, name="Patch", cutout=matte))
    paint = np.zeros((30, 40, 4), np.uint8)
    paint[5:25, 5:35] = (200, 30, 30, 128)
    doc.add_layer(PixelLayer(paint, 30, 20, name="Paint", opacity=0.7))
    doc.set_layer_props(doc.layers[-1].id, blend="multiply")
    marks = [Stroke(color=(230, 20, 20, 255), width=3, points_=((5, 5), (20, 15), (40, 12))),
             Arrow(color=(230, 20, 20, 255), width=2, start=(10, 60), end=(50, 40)),
             Ellipse(color=(230, 20, 20, 255), width=2, p0=(60, 10), p1=(90, 35)),
             Rectangle(color=(20, 20, 230, 200), width=1.5, p0=(2, 40), p1=(30, 70)),
             TextLabel(color=(230, 20, 20, 255), width=1, pos=(50, 55), text="a bus\nhere", size=12)]
    doc.add_layer(AnnotationLayer(marks, name="Marks"))
    if kind == "full":
        result = PixelLayer(rgba(p["astronaut"])[:30, :30].copy(), 10, 10, name="Result",
                            provenance={"instruction": "make it night", "backend": "classical", "seed": 7,
                                        "references": ["Texture"], "timings": {"run": 1.5}})
        doc.add_layer(result, 1)
        doc.set_layer_props(result.id, blend="add", opacity=0.8)
        doc.add_layer(AnnotationLayer([], name="Empty marks"))
        doc.set_layer_props(doc.layers[-1].id, visible=False, locked=True)
        doc.references.append(Reference(rgba(p["camera"][..., None].repeat(3, axis=2)), "Texture"))
        sel = np.zeros((72, 96), np.uint8)
        sel[10:40, 20:80] = 255
        doc.selection = sel
        doc.metadata["title"] = "fuzz seed"
    return doc


def _grouped_ora() -> bytes:
    """A file shaped like another program's: nested groups with opacity, hidden layers, an unknown blend mode."""
    import zipfile

    p = _photos()

    def png(a):
        return _save(Image.fromarray(a), "PNG")

    xml = ('<?xml version="1.0" encoding="UTF-8"?><image version="0.0.5" w="96" h="72" xres="300" yres="300">'
           '<stack><layer name="top" src="data/top.png" x="5" y="7" opacity="0.5" composite-op="svg:screen"/>'
           '<stack name="group" opacity="0.75" visibility="visible" isolation="isolate">'
           '<layer name="inner" src="data/inner.png" composite-op="svg:color-burn"/>'
           '<stack name="deeper" visibility="hidden"><layer name="hidden" src="data/inner.png"/></stack></stack>'
           '<layer name="bottom" src="data/bottom.png" composite-op="svg:src-over" selected="true"/></stack></image>')
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as zf:
        zf.writestr("mimetype", "image/openraster", compress_type=zipfile.ZIP_STORED)
        zf.writestr("stack.xml", xml, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("data/top.png", png(p["astronaut"][:30, :40]))
        zf.writestr("data/inner.png", png(p["chelsea"]))
        zf.writestr("data/bottom.png", png(p["coffee"]))
        zf.writestr("mergedimage.png", png(p["coffee"]))
        zf.writestr("Thumbnails/thumbnail.png", png(p["coffee"][:32, :32]))
    return b.getvalue()


@cache
def documents() -> dict[str, bytes]:
    from canvas.ora import write_ora

    out = {}
    for kind in ("plain", "pieces", "full"):
        b = io.BytesIO()
        write_ora(_document(kind), b)
        out[f"{kind}.ora"] = b.getvalue()
    out["grouped.ora"] = _grouped_ora()
    return out


def recovery_folder(dest: Path) -> Path:
    """A real recovery store folder with one snapshot (.ora + .json) in it."""
    from canvas.recovery import RecoveryStore

    store = RecoveryStore(dest, session="fuzzseed")
    try:
        entry = store.snapshot(_document("full"), source_path="/home/someone/drawing.ora", key="doc").result()
    finally:
        store.close()
    # fixed names and time, so that a case replays byte for byte in another run
    meta = json.loads(entry.info_path.read_text())
    meta.update(time=1_790_000_000.0, ora="fuzzseed-doc-1.ora")
    entry.path.rename(dest / "fuzzseed-doc-1.ora")
    entry.info_path.unlink()
    (dest / "fuzzseed-doc-1.json").write_text(json.dumps(meta))
    return dest


# --- ComfyUI workflows ------------------------------------------------------------------------------------------
def _spec(*widgets):
    return {"input": {"required": dict(widgets)}, "output": ["IMAGE"], "output_node": False}


# The node types the hand-made seed workflows use, as a server's /object_info lists them.
OBJECT_INFO = {
    "LoadImage": {"input": {"required": {"image": [["a.png", "b.png"], {"image_upload": True}]}},
                  "output": ["IMAGE", "MASK"], "output_node": False},
    "ImageInvert": _spec(("image", ["IMAGE"])),
    "ImageBlur": _spec(("image", ["IMAGE"]), ("blur_radius", ["INT", {"default": 1, "min": 1, "max": 31}]),
                       ("sigma", ["FLOAT", {"default": 1.0}])),
    "SaveImage": {"input": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]}},
                  "output": [], "output_node": True},
    "CLIPTextEncode": {"input": {"required": {"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}},
                       "output": ["CONDITIONING"], "output_node": False},
    "KSampler": {"input": {"required": {
        "model": ["MODEL"], "seed": ["INT", {"default": 0, "min": 0, "max": 2**64 - 1, "control_after_generate": True}],
        "steps": ["INT", {"default": 20}], "cfg": ["FLOAT", {"default": 8.0}],
        "sampler_name": [["euler", "dpmpp_2m"]], "scheduler": [["normal", "karras"]],
        "positive": ["CONDITIONING"], "negative": ["CONDITIONING"], "latent_image": ["LATENT"],
        "denoise": ["FLOAT", {"default": 1.0}]}}, "output": ["LATENT"], "output_node": False},
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["model.safetensors"]]}},
                               "output": ["MODEL", "CLIP", "VAE"], "output_node": False},
    "VAEEncode": _spec(("pixels", ["IMAGE"]), ("vae", ["VAE"])),
    "VAEDecode": _spec(("samples", ["LATENT"]), ("vae", ["VAE"])),
}


def _node(i, kind, inputs=(), outputs=(), widgets=(), mode=0, title=None):
    n = {"id": i, "type": kind, "pos": [0, 0], "size": [100, 50], "flags": {}, "order": i, "mode": mode,
         "inputs": list(inputs), "outputs": list(outputs), "properties": {}, "widgets_values": list(widgets)}
    if title:
        n["title"] = title
    return n


def _ui_workflow() -> dict:
    img, out = {"name": "image", "type": "IMAGE"}, {"name": "IMAGE", "type": "IMAGE"}
    nodes = [
        _node(1, "CheckpointLoaderSimple", outputs=[{"name": "MODEL", "type": "MODEL", "links": [1]},
                                                    {"name": "CLIP", "type": "CLIP", "links": [2, 3]},
                                                    {"name": "VAE", "type": "VAE", "links": [4, 5]}],
              widgets=["model.safetensors"]),
        _node(2, "LoadImage", outputs=[{**out, "links": [6]}, {"name": "MASK", "type": "MASK", "links": None}],
              widgets=["a.png", "image"], title="Photo"),
        _node(3, "CLIPTextEncode", inputs=[{"name": "clip", "type": "CLIP", "link": 2}],
              outputs=[{"name": "CONDITIONING", "type": "CONDITIONING", "links": [7]}], widgets=["make it night"]),
        _node(4, "CLIPTextEncode", inputs=[{"name": "clip", "type": "CLIP", "link": 3}],
              outputs=[{"name": "CONDITIONING", "type": "CONDITIONING", "links": [8]}], widgets=["blurry"]),
        _node(5, "VAEEncode", inputs=[{"name": "pixels", "type": "IMAGE", "link": 6},
                                      {"name": "vae", "type": "VAE", "link": 4}],
              outputs=[{"name": "LATENT", "type": "LATENT", "links": [9]}]),
        _node(6, "KSampler", inputs=[{"name": "model", "type": "MODEL", "link": 1},
                                     {"name": "positive", "type": "CONDITIONING", "link": 7},
                                     {"name": "negative", "type": "CONDITIONING", "link": 8},
                                     {"name": "latent_image", "type": "LATENT", "link": 9}],
              outputs=[{"name": "LATENT", "type": "LATENT", "links": [10]}],
              widgets=[42, "randomize", 20, 7.5, "euler", "normal", 0.8]),
        _node(7, "VAEDecode", inputs=[{"name": "samples", "type": "LATENT", "link": 10},
                                      {"name": "vae", "type": "VAE", "link": 5}],
              outputs=[{**out, "links": [11]}]),
        _node(8, "ImageInvert", inputs=[{**img, "link": 11}], outputs=[{**out, "links": [12]}], mode=4),
        _node(9, "SaveImage", inputs=[{"name": "images", "type": "IMAGE", "link": 12}], widgets=["akapen"]),
        _node(10, "Note", widgets=["a note"]),
    ]
    links = [[1, 1, 0, 6, 0, "MODEL"], [2, 1, 1, 3, 0, "CLIP"], [3, 1, 1, 4, 0, "CLIP"], [4, 1, 2, 5, 1, "VAE"],
             [5, 1, 2, 7, 1, "VAE"], [6, 2, 0, 5, 0, "IMAGE"], [7, 3, 0, 6, 1, "CONDITIONING"],
             [8, 4, 0, 6, 2, "CONDITIONING"], [9, 5, 0, 6, 3, "LATENT"], [10, 6, 0, 7, 0, "LATENT"],
             [11, 7, 0, 8, 0, "IMAGE"], [12, 8, 0, 9, 0, "IMAGE"]]
    return {"last_node_id": 10, "last_link_id": 12, "nodes": nodes, "links": links, "groups": [], "version": 0.4}


def _api_workflow() -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}, "_meta": {"title": "Photo"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "b.png"}, "_meta": {"title": "Reference 2"}},
        "3": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "4": {"class_type": "ImageBlur", "inputs": {"image": ["3", 0], "blur_radius": 3, "sigma": 1.5}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "akapen"}},
        "6": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 1.0, "model": ["7", 0],
                                                   "positive": ["8", 0], "negative": ["8", 0],
                                                   "latent_image": ["2", 0], "sampler_name": "euler",
                                                   "scheduler": "normal", "denoise": 1.0}},
        "7": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": "make it night", "clip": ["7", 1]}},
    }


@cache
def workflows() -> dict[str, bytes]:
    out = {"ui.json": json.dumps(_ui_workflow()).encode(), "api.json": json.dumps(_api_workflow()).encode()}
    try:
        import comfyui_workflow_templates_json as templates
    except ImportError:  # the test extra has it; a bare install fuzzes the hand-made ones only
        return out
    folder = Path(templates.__file__).parent / "templates"
    for name in ("flux_kontext_dev_basic.json", "image_flux2_klein_image_edit_4b_distilled.json"):
        if (folder / name).is_file():
            out[name] = (folder / name).read_bytes()
    return out


def servers_file() -> bytes:
    from inference.comfyui.servers import ServerConfig

    servers = [ServerConfig("http://127.0.0.1:8188", "", "local"),
               ServerConfig("https://gpu.example.org", "secret-token", "farm", False)]
    return json.dumps({"servers": [s.to_dict() for s in servers]}, indent=2).encode()


def settings_file(dest: Path) -> bytes:
    """A settings INI written by Akapen's own Settings (QSettings)."""
    from PySide6.QtCore import QByteArray

    from desktop.settings import Settings

    s = Settings.at(dest)
    s.save_window(QByteArray(b"\x01\xd9\xd0\xcb\x00\x03\x00\x00geometry"), QByteArray(b"\x00\x00\x00\xffstate"))
    s.set_tool_options({"brush_size": 24.0, "brush_color": [10, 20, 30, 255], "mark_color": [230, 20, 20, 255],
                        "mark_width": 4.0, "text_size": 18.0})
    s.set_current_tool("pen")
    for f in ("/tmp/a.ora", "/tmp/b.png"):
        s.add_recent_file(f)
    s.set_last_folder("/tmp")
    s.set_model_folders(["/models", "/more/models"])
    s.set_memory_mode("model-offload")
    s.sync()
    data = dest.read_bytes()
    dest.unlink()
    return data


# --- diffusers model folders -----------------------------------------------------------------------------------
def _weights(path: Path, names: dict[str, tuple[int, ...]]) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.zeros(v, np.float16) for k, v in names.items()}, str(path), metadata={"format": "pt"})


def model_folder(dest: Path, kind: str = "kontext") -> Path:
    """A diffusers folder laid out as a real download (configs, tokenizer files, safetensors weights)."""
    if dest.exists():
        shutil.rmtree(dest)
    if kind == "kontext":
        index = {"_class_name": "FluxKontextPipeline", "_diffusers_version": "0.35.0",
                 "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"],
                 "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
                 "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5TokenizerFast"],
                 "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"], "image_encoder": [None, None]}
        den = {"_class_name": "FluxTransformer2DModel", "in_channels": 64, "num_layers": 1, "patch_size": 1,
               "guidance_embeds": True}
    else:
        index = {"_class_name": "QwenImageEditPlusPipeline", "transformer": ["diffusers", "QwenImageTransformer2DModel"],
                 "vae": ["diffusers", "AutoencoderKLQwenImage"],
                 "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
                 "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}
        den = {"_class_name": "QwenImageTransformer2DModel", "in_channels": 64, "zero_cond_t": True}
    (dest / "transformer").mkdir(parents=True)
    (dest / "model_index.json").write_text(json.dumps(index, indent=2))
    (dest / "transformer" / "config.json").write_text(json.dumps(den))
    _weights(dest / "transformer" / "diffusion_pytorch_model.safetensors",
             {"x_embedder.weight": (4, 64), "proj_out.weight": (64, 4)})
    vae = {"_class_name": index["vae"][1], "latent_channels": 16, "block_out_channels": [8, 8, 8, 8]}
    (dest / "vae").mkdir()
    (dest / "vae" / "config.json").write_text(json.dumps(vae))
    _weights(dest / "vae" / "diffusion_pytorch_model.safetensors", {"encoder.conv_in.weight": (8, 3, 3, 3)})
    (dest / "text_encoder").mkdir()
    (dest / "text_encoder" / "config.json").write_text(json.dumps({"architectures": [index["text_encoder"][1]],
                                                                   "hidden_size": 32}))
    _weights(dest / "text_encoder" / "model.safetensors", {"embeddings.weight": (16, 32)})
    (dest / "scheduler").mkdir()
    (dest / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": index["scheduler"][1],
                                                                          "shift": 3.0}))
    for comp in ("text_encoder_2", "tokenizer", "tokenizer_2"):
        if comp in index:
            (dest / comp).mkdir()
            if comp.startswith("tokenizer"):
                (dest / comp / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
            else:
                (dest / comp / "config.json").write_text(json.dumps({"architectures": ["T5EncoderModel"]}))
                _weights(dest / comp / "model.safetensors", {"shared.weight": (16, 8)})
    return dest


def lora_file(dest: Path) -> Path:
    _weights(dest, {"transformer.blocks.0.attn.to_q.lora_A.weight": (4, 64),
                    "transformer.blocks.0.attn.to_q.lora_B.weight": (64, 4)})
    return dest


def gguf_transformer(dest: Path) -> Path:
    """A GGUF file of the seed Kontext folder's transformer (its two tensors: one Q8_0, one F16) with the
    metadata real files carry (architecture, file type, a string, an array), written with the gguf package."""
    import gguf

    w = gguf.GGUFWriter(str(dest), arch="flux")
    rng = np.random.RandomState(0)
    q = gguf.quants.quantize(rng.randn(4, 64).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("x_embedder.weight", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("proj_out.weight", rng.randn(64, 4).astype(np.float16))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_string("general.name", "kontext seed")
    w.add_array("comfy.gguf.orig_shape.x", [4, 64])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dest
