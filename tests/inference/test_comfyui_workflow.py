"""ComfyUI workflow JSON and the family graphs, against a real ComfyUI 0.3.75 (tests/comfyui_server.py).

The official templates (``comfyui_workflow_templates_json``) are converted with the server's own
``/object_info`` and submitted to it; the family graphs are submitted too. The server has no
model files (and cannot run models), so a correct graph is refused for its model files and
nothing else — and once empty files with those names exist, it is accepted and fails only
when a loader reads one.
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import comfyui_workflow_templates_json
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inference.comfyui import families
from inference.comfyui import workflow as W
from inference.comfyui.workflow import WorkflowError

TEMPLATES = Path(comfyui_workflow_templates_json.__file__).parent / "templates"
CANVAS = "akapen-workflow-test.png"
KONTEXT, KLEIN = "flux_kontext_dev_basic.json", "image_flux2_klein_image_edit_4b_distilled.json"


def template(name: str) -> dict:
    return W.parse_workflow((TEMPLATES / name).read_bytes())


# --- talking to the real server (plain urllib: this module tests data, not the client) ------------------
def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def post_prompt(url: str, graph: dict) -> tuple[int, dict]:
    body = json.dumps({"prompt": graph, "client_id": "akapen-tests", "prompt_id": str(uuid.uuid4())}).encode()
    req = urllib.request.Request(url + "/prompt", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def upload(url: str, name: str = CANVAS) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + buf.getvalue() + \
        f'\r\n--{b}\r\nContent-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n--{b}--\r\n'.encode()
    req = urllib.request.Request(url + "/upload/image", body, {"Content-Type": f"multipart/form-data; boundary={b}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["name"]


def finished(url: str, prompt_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = get_json(f"{url}/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            return entry
        time.sleep(0.1)
    raise AssertionError(f"job {prompt_id} did not finish")


def errors_of(body: dict) -> list[tuple[str, str, str, object]]:
    """(node id, error type, input name, value) of every node error in a refused /prompt."""
    return [(nid, e["type"], e.get("extra_info", {}).get("input_name"), e.get("extra_info", {}).get("received_value"))
            for nid, ne in body.get("node_errors", {}).items() for e in ne["errors"]]


def assert_refused_only_for(body: dict, missing: list[W.MissingModel]) -> None:
    """The server refused the graph for exactly these model files, and for nothing else."""
    errs = errors_of(body)
    assert errs, body
    assert {e[1] for e in errs} == {"value_not_in_list"}, errs
    assert sorted((e[0], e[2], e[3]) for e in errs) == sorted((m.node_id, m.input_name, m.filename) for m in missing)


@pytest.fixture(scope="module")
def server(comfy_server):
    upload(comfy_server.url)
    return comfy_server


@pytest.fixture(scope="module")
def object_info(server) -> dict:
    return get_json(server.url + "/object_info")


def strip(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def used(prompt: dict) -> dict:
    """The part of a prompt its output nodes depend on (what the server would run)."""
    outs = [k for k, v in prompt.items() if v["class_type"] in ("SaveImage", "PreviewImage")]
    seen, todo = set(outs), list(outs)
    while todo:
        for v in prompt[todo.pop()]["inputs"].values():
            if isinstance(v, list) and len(v) == 2 and v[0] in prompt and v[0] not in seen:
                seen.add(v[0])
                todo.append(v[0])
    return {k: v for k, v in prompt.items() if k in seen}


def of_type(prompt: dict, class_type: str) -> dict:
    (node,) = [v for v in prompt.values() if v["class_type"] == class_type]
    return node["inputs"]


# --- reading ------------------------------------------------------------------------------------------------
def test_parse_reads_bytes_text_and_dicts():
    raw = (TEMPLATES / KONTEXT).read_bytes()
    assert W.parse_workflow(raw) == W.parse_workflow(raw.decode()) == W.parse_workflow(json.loads(raw))
    api = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}
    assert W.parse_workflow(json.dumps(api)) == api and W.is_api_format(api)
    assert not W.is_api_format(json.loads(raw)) and not W.is_api_format({}) and not W.is_api_format([api])


@pytest.mark.parametrize("data, message", [
    (b'{"nodes": [', "not valid JSON (line 1, column 12"),
    (b'{"a": "\xff"}', "not text"),
    (b"[1, 2]", "must be a JSON object"),
    (b"42", "must be a JSON object"),
    (b'{"hello": "world"}', "not a ComfyUI workflow"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (json.dumps({"nodes": [{"id": i, "type": "ImageInvert"} for i in range(10_001)], "links": []}), "10001 nodes"),
    (json.dumps({str(i): {"class_type": "ImageInvert", "inputs": {}} for i in range(10_001)}), "10001 nodes"),
])
def test_parse_refuses_what_is_not_a_workflow(data, message):
    with pytest.raises(WorkflowError, match=re.escape(message)):
        W.parse_workflow(data)


def test_parse_refuses_more_than_32_megabytes():
    with pytest.raises(WorkflowError, match="larger than 32 MB"):
        W.parse_workflow(b" " * (32 * 1024 * 1024 + 1))


# --- UI → API: a hand-written, model-free workflow ---------------------------------------------------------------
def node(nid, kind, inputs=(), outputs=(), widgets=None, mode=0, title=None):
    n = {"id": nid, "type": kind, "mode": mode, "inputs": [dict(i) for i in inputs],
         "outputs": [dict(o) for o in outputs], "widgets_values": widgets}
    if title:
        n["title"] = title
    return n


def link(lid, origin, oslot, target, tslot, kind="IMAGE"):
    return [lid, origin, oslot, target, tslot, kind]


def invert_workflow(image: str) -> dict:
    """LoadImage → Reroute → (bypassed) ImageInvert → ImageInvert → ImageBlur → SaveImage, with a muted
    PreviewImage, a note, and a PrimitiveNode feeding SaveImage's file prefix."""
    img = {"name": "image", "type": "IMAGE"}
    out = {"name": "IMAGE", "type": "IMAGE"}
    return {"nodes": [
        node(1, "LoadImage", outputs=[{**out, "links": [1]}, {"name": "MASK", "type": "MASK", "links": None}],
             widgets=[image, "image"]),
        node(2, "Reroute", inputs=[{"name": "", "type": "*", "link": 1}], outputs=[{"type": "IMAGE", "links": [2]}]),
        node(3, "ImageInvert", inputs=[{**img, "link": 2}], outputs=[{**out, "links": [3]}], mode=4),
        node(4, "ImageInvert", inputs=[{**img, "link": 3}], outputs=[{**out, "links": [4, 5]}]),
        node(9, "ImageBlur", inputs=[{**img, "link": 4}], outputs=[{**out, "links": [7]}], widgets=[5, 2.0]),
        node(5, "SaveImage", inputs=[{"name": "images", "type": "IMAGE", "link": 7},
                                     {"name": "filename_prefix", "type": "STRING",
                                      "widget": {"name": "filename_prefix"}, "link": 6}], widgets=["overridden"]),
        node(6, "PrimitiveNode", outputs=[{"name": "STRING", "type": "STRING", "links": [6],
                                           "widget": {"name": "filename_prefix"}}], widgets=["from-primitive"]),
        node(7, "PreviewImage", inputs=[{"name": "images", "type": "IMAGE", "link": 5}], mode=2),
        node(8, "Note", widgets=["a note for people"]),
    ], "links": [link(1, 1, 0, 2, 0), link(2, 2, 0, 3, 0), link(3, 3, 0, 4, 0), link(4, 4, 0, 9, 0),
                 link(5, 4, 0, 7, 0), link(6, 6, 0, 5, 1, "STRING"), link(7, 9, 0, 5, 0)], "version": 0.4}


def test_hand_written_workflow_converts_and_runs(server, object_info):
    prompt = W.ui_to_api(invert_workflow(CANVAS), object_info)
    assert strip(prompt) == {
        "1": {"class_type": "LoadImage", "inputs": {"image": CANVAS}},  # the upload button's "image" is skipped
        "4": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},  # through the reroute and the bypass
        "9": {"class_type": "ImageBlur", "inputs": {"image": ["4", 0], "blur_radius": 5, "sigma": 2.0}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "from-primitive"}},
    }  # the muted preview, the note, the reroute and the primitive are gone
    status, body = post_prompt(server.url, prompt)
    assert status == 200, body
    entry = finished(server.url, body["prompt_id"])
    assert entry["status"]["status_str"] == "success"
    assert entry["outputs"]["5"]["images"][0]["filename"].startswith("from-primitive")


def test_unknown_node_type_is_kept_for_the_missing_check(server, object_info):
    wf = invert_workflow(CANVAS)
    wf["nodes"][4]["type"] = "FancyBlur"  # ImageBlur → a custom node the server lacks
    prompt = W.ui_to_api(wf, object_info)
    assert strip(prompt)["9"] == {"class_type": "FancyBlur", "inputs": {"image": ["4", 0]}}  # links only
    assert W.missing_node_types(prompt, object_info) == ["FancyBlur"]
    status, body = post_prompt(server.url, prompt)
    assert status == 400 and "FancyBlur" in body["error"]["message"]


def test_api_format_passes_through_as_a_copy(object_info):
    api = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
           "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    out = W.ui_to_api(api, object_info)
    assert out == api and out is not api and out["2"]["inputs"] is not api["2"]["inputs"]


# --- UI → API: the official templates ---------------------------------------------------------------------------
def test_kontext_template_converts_like_the_front_end(object_info):
    prompt = W.ui_to_api(template(KONTEXT), object_info)
    assert Counter(n["class_type"] for n in prompt.values()) == Counter({
        "SaveImage": 1, "LoadImage": 1, "VAELoader": 1, "DualCLIPLoader": 1, "ConditioningZeroOut": 1, "VAEDecode": 1,
        "VAEEncode": 1, "FluxGuidance": 1, "UNETLoader": 1, "ReferenceLatent": 1, "ImageStitch": 1,
        "FluxKontextImageScale": 1, "KSampler": 1, "CLIPTextEncode": 1})  # notes dropped; LoadImage 191 is bypassed
    assert "191" not in prompt and all(k.startswith("192:") for k in prompt if k not in ("136", "190"))
    assert prompt["192:31"]["inputs"] == {  # "randomize" after the seed is the UI's control value, not an input
        "seed": 169405236028824, "steps": 20, "cfg": 1, "sampler_name": "euler", "scheduler": "simple", "denoise": 1,
        "model": ["192:37", 0], "positive": ["192:35", 0], "negative": ["192:135", 0], "latent_image": ["192:124", 0]}
    assert prompt["192:38"]["inputs"] == {"clip_name1": "clip_l.safetensors",
                                          "clip_name2": "t5xxl_fp8_e4m3fn_scaled.safetensors",
                                          "type": "flux", "device": "default"}
    assert prompt["192:146"]["inputs"] == {"direction": "right", "match_image_size": True, "spacing_width": 0,
                                           "spacing_color": "white", "image1": ["190", 0]}  # image2 was bypassed
    assert prompt["192:35"]["inputs"] == {"guidance": 2.5, "conditioning": ["192:177", 0]}
    assert prompt["192:6"]["inputs"]["text"].startswith("Using this elegant style")
    assert prompt["136"]["inputs"] == {"filename_prefix": "flux.1_kontext_dev", "images": ["192:8", 0]}
    assert prompt["190"]["inputs"] == {"image": "flux_kontext_dev_basic_input_image.jpg"}


def test_values_saved_on_a_subgraph_node_win(object_info):
    wf = template(KLEIN)  # older front end: the subgraph node holds one value per promoted widget
    outer = next(n for n in wf["nodes"] if n["id"] == 75)
    outer["widgets_values"] = ["my-klein.safetensors", "qwen_3_4b.safetensors", "flux2-vae.safetensors", "Make it red.",
                               7]
    prompt = W.ui_to_api(wf, object_info)
    assert prompt["75:73"]["inputs"] == {"noise_seed": 7}
    assert prompt["75:74"]["inputs"]["text"] == "Make it red."
    assert prompt["75:70"]["inputs"]["unet_name"] == "my-klein.safetensors"
    assert not any(k.startswith(("92:", "94")) for k in prompt)  # the bypassed subgraph and its SaveImage
    assert prompt["75:62"]["inputs"] == {"steps": 4, "width": ["75:99", 0], "height": ["75:99", 1]}
    assert prompt["75:80"]["inputs"] == {"upscale_method": "nearest-exact", "megapixels": 1, "image": ["76", 0]}

    wf = template(KONTEXT)  # newer front end: proxyWidgets name the inner widgets the node's values belong to
    outer = next(n for n in wf["nodes"] if n["id"] == 192)
    outer["widgets_values"] = ["Make it blue.", "k.safetensors", "a.safetensors", "b.safetensors", "v.safetensors", 123,
                               "fixed"]
    prompt = W.ui_to_api(wf, object_info)
    assert prompt["192:6"]["inputs"]["text"] == "Make it blue."
    assert prompt["192:31"]["inputs"]["seed"] == 123 and prompt["192:31"]["inputs"]["steps"] == 20
    assert prompt["192:37"]["inputs"]["unet_name"] == "k.safetensors"


def test_nested_subgraphs_expand_with_their_wiring(object_info):
    wf = template(KLEIN)
    for n in wf["nodes"]:
        if n["id"] in (92, 94):
            n["mode"] = 0  # turn on the two-image branch: a subgraph holding two "Reference Conditioning" subgraphs
    prompt = W.ui_to_api(wf, object_info)
    assert prompt["92:112:117"]["class_type"] == "ReferenceLatent"
    assert prompt["92:112:117"]["inputs"] == {"conditioning": ["92:109", 0], "latent": ["92:112:116", 0]}
    assert prompt["92:112:116"]["inputs"] == {"pixels": ["92:111", 0], "vae": ["92:110", 0]}
    assert prompt["92:84:119"]["inputs"] == {"pixels": ["92:85", 0], "vae": ["92:110", 0]}
    assert prompt["92:103"]["inputs"]["positive"] == ["92:84:120", 0]
    assert prompt["92:103"]["inputs"]["negative"] == ["92:84:118", 0]
    assert prompt["92:85"]["inputs"]["image"] == ["81", 0] and prompt["92:111"]["inputs"]["image"] == ["76", 0]
    assert prompt["94"]["inputs"]["images"] == ["92:105", 0]
    assert prompt["92:106"]["inputs"] == {"noise_seed": 786795143695419}


@pytest.mark.parametrize("name", [KONTEXT, KLEIN, "image-qwen_image_edit_2511_lora_inflation.json"])
def test_converted_template_is_refused_only_for_its_model_files(server, object_info, name):
    prompt = W.ui_to_api(template(name), object_info)
    info = W.analyse(prompt, object_info)
    prompt = W.apply(prompt, info, images={s.node_id: CANVAS for s in info.image_inputs})
    missing = W.missing_models(prompt, object_info)
    assert W.missing_node_types(prompt, object_info) == []
    assert {m.class_type for m in missing} >= {"UNETLoader", "VAELoader"}
    status, body = post_prompt(server.url, prompt)
    assert status == 400
    assert_refused_only_for(body, missing)


def test_templates_needing_a_newer_comfyui_say_what_it_lacks(object_info):
    prompt = W.ui_to_api(template("image_qwen_image_edit_2511.json"), object_info)
    assert W.missing_node_types(prompt, object_info) == ["ComfySwitchNode"]
    lacks = W.unknown_choices(prompt, object_info)
    assert len(lacks) == 2 and all("reference_latents_method 'index_timestep_zero'" in s for s in lacks)
    assert "offset, index, uxo/uno" in lacks[0]
    missing = {str(m) for m in W.missing_models(prompt, object_info)}
    assert missing == {"diffusion_models/qwen_image_edit_2511_fp8mixed.safetensors (UNETLoader)",
                       "text_encoders/qwen_2.5_vl_7b_fp8_scaled.safetensors (CLIPLoader)",
                       "vae/qwen_image_vae.safetensors (VAELoader)",
                       "loras/Qwen-Image-Edit-2511-Lightning-4steps-V1.0-bf16.safetensors (LoraLoaderModelOnly)"}
    assert not any("LoadImage" in s for s in [*lacks, *missing])  # its file is an image to upload


def test_every_official_ui_template_converts(object_info):
    converted = 0
    for path in sorted(TEMPLATES.glob("*.json")):
        try:
            wf = W.parse_workflow(path.read_bytes())
        except WorkflowError:
            continue  # the package's index files and API-node catalogues
        prompt = W.ui_to_api(wf, object_info)
        W.check_acyclic(prompt)
        for nid, n in prompt.items():
            assert n["class_type"] not in W.UI_ONLY, (path.name, nid)
            assert not re.fullmatch(r"[0-9a-f-]{36}", n["class_type"]), (path.name, nid)  # subgraphs all expanded
            for v in n["inputs"].values():
                assert not (isinstance(v, list) and v and v[0] not in prompt), (path.name, nid, v)  # no dangling link
        W.analyse(prompt, object_info).describe()
        converted += 1
    assert converted > 600


# --- analyse / apply --------------------------------------------------------------------------------------------
def slots(group) -> list[tuple[str, str]]:
    return [(s.node_id, s.input_name) for s in group]


def test_analyse_finds_the_inputs_of_converted_templates(object_info):
    info = W.analyse(W.ui_to_api(template(KONTEXT), object_info), object_info)
    assert slots(info.image_inputs) == [("190", "image")]
    assert slots(info.prompt_inputs) == [("192:6", "text")] and info.negative_inputs == ()
    assert slots(info.seed_inputs) == [("192:31", "seed")] and info.seed_inputs[0].value == 169405236028824
    assert slots(info.steps_inputs) == [("192:31", "steps")]
    assert slots(info.guidance_inputs) == [("192:35", "guidance")]  # FLUX guidance, not the sampler's cfg of 1
    assert slots(info.outputs) == [("136", "images")]
    assert info.describe() == "1 image input, prompt, seed, 20 steps, guidance 2.5, 1 output"

    info = W.analyse(W.ui_to_api(template(KLEIN), object_info), object_info)
    assert slots(info.image_inputs) == [("76", "image")]  # LoadImage 81 only fed the bypassed branch
    assert slots(info.seed_inputs) == [("75:73", "noise_seed")] and slots(info.steps_inputs) == [("75:62", "steps")]
    assert slots(info.guidance_inputs) == [("75:63", "cfg")] and slots(info.prompt_inputs) == [("75:74", "text")]

    info = W.analyse(W.ui_to_api(template("image_chrono_edit_14B.json"), object_info), object_info)
    assert slots(info.prompt_inputs) == [("97:105", "text")] and slots(info.negative_inputs) == [("97:106", "text")]
    assert info.negative_inputs[0].value.startswith("色调艳丽")

    info = W.analyse(W.ui_to_api(template("image_qwen_image_edit_2511.json"), object_info), object_info)
    assert slots(info.image_inputs) == [("41", "image"), ("83", "image")]
    assert slots(info.prompt_inputs) == [("170:151", "prompt")]
    assert slots(info.negative_inputs) == [("170:149", "prompt")]
    assert info.steps_inputs == () and info.guidance_inputs == ()  # both come through a switch: not plain values


def test_image_inputs_are_ordered_by_the_numbers_in_their_titles():
    prompt = {}
    for nid, title in [("3", "Load Image"), ("10", "Reference 2"), ("7", "Image 1"), ("12", "LoadImage"),
                       ("5", "picture 3")]:
        prompt[nid] = {"class_type": "LoadImage", "inputs": {"image": f"{nid}.png"}, "_meta": {"title": title}}
        prompt["p" + nid] = {"class_type": "PreviewImage", "inputs": {"images": [nid, 0]}}
    prompt["20"] = {"class_type": "LoadImage", "inputs": {"image": "unused.png"}}  # feeds no output
    info = W.analyse(prompt)
    assert [s.node_id for s in info.image_inputs] == ["7", "10", "5", "3", "12"]
    assert len(info.outputs) == 5 and info.describe().startswith("5 image inputs, no prompt input")


def test_apply_sets_images_text_seed_steps_guidance_and_prefix(object_info):
    prompt = W.ui_to_api(template(KONTEXT), object_info)
    before = copy.deepcopy(prompt)
    info = W.analyse(prompt, object_info)
    out = W.apply(prompt, info, images={"190": "up.png"}, instruction="make it night", seed=2**64 - 1, steps=8,
                  guidance=3.5, output_prefix="akapen-x")
    assert prompt == before  # a copy was changed
    assert out["190"]["inputs"]["image"] == "up.png" and out["192:6"]["inputs"]["text"] == "make it night"
    assert out["192:31"]["inputs"]["seed"] == 2**64 - 1 and out["192:31"]["inputs"]["steps"] == 8
    assert out["192:35"]["inputs"]["guidance"] == 3.5 and out["192:31"]["inputs"]["cfg"] == 1
    assert out["136"]["inputs"]["filename_prefix"] == "akapen-x"
    assert W.apply(prompt, info) == {**before, "136": {**before["136"], "inputs": {**before["136"]["inputs"],
                                                                                   "filename_prefix": "akapen"}}}
    with pytest.raises(WorkflowError, match="192:31 is not an image input"):
        W.apply(prompt, info, images={"192:31": "up.png"})
    for bad in (-1, 2**64, 1.5, True):
        with pytest.raises(WorkflowError, match="outside ComfyUI's range"):
            W.apply(prompt, info, seed=bad)
    with pytest.raises(WorkflowError, match="no prompt input"):
        W.apply({"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}, W.WorkflowInfo(), instruction="hi")
    with pytest.raises(WorkflowError, match="analyse the prompt"):
        W.apply({}, info, seed=1)


# --- hostile input ------------------------------------------------------------------------------------------------
def subgraph(sid: str, nodes: list, links=(), inputs=(), outputs=()) -> dict:
    return {"id": sid, "name": sid, "nodes": nodes, "links": list(links), "inputs": list(inputs),
            "outputs": list(outputs)}


def hostile_cases() -> dict[str, tuple[dict, str]]:
    out_ = [{"name": "IMAGE", "type": "IMAGE", "links": [1]}]
    save = node(9, "SaveImage", inputs=[{"name": "images", "type": "IMAGE", "link": 9}], widgets=["x"])
    reroutes = {"nodes": [node(1, "Reroute", inputs=[{"name": "", "type": "*", "link": 2}], outputs=out_),
                          node(2, "Reroute", inputs=[{"name": "", "type": "*", "link": 1}], outputs=out_), save],
                "links": [link(1, 1, 0, 2, 0), link(2, 2, 0, 1, 0), link(9, 1, 0, 9, 0)]}
    bypassed = copy.deepcopy(reroutes)
    for n in bypassed["nodes"][:2]:
        n.update(type="ImageInvert", mode=4)
        n["inputs"][0].update(name="image", type="IMAGE")
    real = copy.deepcopy(bypassed)
    for n in real["nodes"][:2]:
        n["mode"] = 0
    itself = {"nodes": [node(1, "sg-a")], "links": [],
              "definitions": {"subgraphs": [subgraph("sg-a", [node(1, "sg-a")])]}}
    chain = [subgraph(f"sg-{i}", [node(1, f"sg-{i + 1}")]) for i in range(12)]
    chain.append(subgraph("sg-12", [node(1, "ImageInvert")]))
    deep = {"nodes": [node(1, "sg-0")], "links": [], "definitions": {"subgraphs": chain}}
    wide = {"nodes": [node(1, "outer")], "links": [], "definitions": {"subgraphs": [
        subgraph("outer", [node(i, "inner") for i in range(100)]),
        subgraph("inner", [node(i, "ImageInvert") for i in range(101)])]}}
    api_loop = {"1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}}
    return {
        "nodes not a list": ({"nodes": {"1": {}}, "links": []}, "no \"nodes\" list"),
        "node without a type": ({"nodes": [{"id": 1}], "links": []}, "node #1 is not a node"),
        "node not an object": ({"nodes": ["LoadImage"], "links": []}, "node #1 is not a node"),
        "subgraph without id": ({"nodes": [], "definitions": {"subgraphs": [{"nodes": []}]}}, "has no id"),
        "reroute loop": (reroutes, "links form a loop"),
        "bypass loop": (bypassed, "links form a loop"),
        "node loop": (real, "links form a loop through nodes 1, 2"),
        "api loop": (api_loop, "links form a loop"),
        "subgraph inside itself": (itself, "nested more than 8 deep"),
        "subgraphs 13 deep": (deep, "nested more than 8 deep"),
        "10 100 nodes once expanded": (wide, "more than 10000 nodes"),
    }


@pytest.mark.parametrize("case", list(hostile_cases()))
def test_hostile_workflows_are_refused_with_a_reason(object_info, case):
    wf, message = hostile_cases()[case]
    with pytest.raises(WorkflowError, match=re.escape(message)):
        W.ui_to_api(wf, object_info)


def test_wrong_types_inside_nodes_do_not_crash(object_info):
    wf = invert_workflow(CANVAS)
    wf["nodes"][0]["widgets_values"] = "not a list"
    wf["nodes"][4]["widgets_values"] = [{"a": 1}, [1, 2], None]  # odd widget values travel as values, never links
    wf["nodes"][3]["inputs"] = "garbage"
    wf["nodes"][5]["properties"] = ["x"]
    wf["links"] += [[99, "x"], "zzz", {"id": 5}, None]
    prompt = W.ui_to_api(wf, object_info)
    assert prompt["1"]["inputs"]["image"] in object_info["LoadImage"]["input"]["required"]["image"][0]  # a default
    assert prompt["4"]["inputs"] == {}
    assert prompt["9"]["inputs"]["blur_radius"] == {"a": 1} and prompt["9"]["inputs"]["sigma"] == {"__value__": [1, 2]}
    W.analyse(prompt, object_info)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                    max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mangled_templates_convert_or_raise_workflow_error(object_info, data):
    wf = template(data.draw(st.sampled_from([KONTEXT, KLEIN, "image_chrono_edit_14B.json"])))
    places = [wf] + wf["nodes"] + wf["definitions"]["subgraphs"] + \
        [n for s in wf["definitions"]["subgraphs"] for n in s["nodes"]]
    for _ in range(data.draw(st.integers(1, 6))):
        target = data.draw(st.sampled_from(places))
        key = data.draw(st.sampled_from(sorted(target) + ["inputs", "mode", "type", "links", "widgets_values"]))
        target[key] = data.draw(JSON)
    try:
        prompt = W.ui_to_api(wf, object_info)
    except WorkflowError:
        return
    W.missing_models(prompt, object_info)
    W.unknown_choices(prompt, object_info)
    W.analyse(prompt, object_info).describe()


# --- the family graphs ------------------------------------------------------------------------------------------------
def family_graph(name: str, refs: int | None = None, **kw) -> dict:
    fam = families.FAMILIES[name]
    refs = fam.max_references if refs is None else refs
    args = dict(images=[CANVAS] * (1 + refs), instruction="make it night", seed=3, steps=None, guidance=None,
                width=1000, height=760)
    return families.build(name, **{**args, **kw})


@pytest.mark.parametrize("name", list(families.FAMILIES))
def test_family_graph_is_refused_only_for_its_model_files(server, object_info, name):
    fam = families.FAMILIES[name]
    graph = family_graph(name)
    assert families.node_types(name) == {n["class_type"] for n in graph.values()}
    assert W.missing_node_types(graph, object_info) == []
    missing = W.missing_models(graph, object_info)
    assert sorted(m.filename for m in missing) == sorted(s.default for s in fam.models)
    assert {(m.class_type, m.folder, m.filename) for m in missing} == \
        {(s.node_type, s.folder, s.default) for s in fam.models}
    status, body = post_prompt(server.url, graph)
    assert status == 400
    assert_refused_only_for(body, missing)
    lacks = W.unknown_choices(graph, object_info)
    if name == "qwen-edit-2511":  # 0.3.75 predates 2511: it would run with the wrong reference method
        assert len(lacks) == 2 and all("index_timestep_zero" in s for s in lacks)
    else:
        assert lacks == []


def test_family_graphs_pass_once_the_model_files_exist(comfy_factory):
    srv = comfy_factory()
    upload(srv.url)
    srv.add_model("diffusion_models", "flux1-kontext-dev.safetensors")  # fits the slot, not the default name
    srv.add_model("diffusion_models", "flux1-dev.safetensors")  # not a Kontext model
    srv.add_model("vae", "flux/ae.safetensors")
    srv.add_model("diffusion_models", "flux-2-klein-base-4b-fp8.safetensors")  # the undistilled klein
    info = get_json(srv.url + "/object_info")
    assert families.pick_models("kontext", info) == {
        "unet": "flux1-kontext-dev.safetensors", "clip_l": "clip_l.safetensors",
        "t5": "t5xxl_fp8_e4m3fn_scaled.safetensors", "vae": "flux/ae.safetensors"}
    # the undistilled file does not fit the 4-step graph: the default is named (and reported missing)
    assert families.pick_models("flux2-klein", info)["unet"] == "flux-2-klein-4b-fp8.safetensors"
    assert families.pick_models("kontext", None) == {s.key: s.default for s in families.FAMILIES["kontext"].models}

    for fam in families.FAMILIES.values():
        for s in fam.models:
            srv.add_model(s.folder, s.default)
    info = get_json(srv.url + "/object_info")
    for name, fam in families.FAMILIES.items():
        models = families.pick_models(name, info)
        assert models == {s.key: s.default for s in fam.models}  # the template's own file beats a look-alike
        graph = family_graph(name, models=models)
        assert W.missing_models(graph, info) == []
        status, body = post_prompt(srv.url, graph)
        assert status == 200 and body["node_errors"] == {}, body
        entry = finished(srv.url, body["prompt_id"])
        assert entry["status"]["status_str"] == "error"
        (err,) = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
        assert err["node_type"] in {s.node_type for s in fam.models}  # a loader read an empty file
        assert "header" in err["exception_message"]


def resolved(prompt: dict, value):
    """A value as the template sets it: through ComfySwitchNode and primitive nodes."""
    while isinstance(value, list) and len(value) == 2 and value[0] in prompt:
        n = prompt[value[0]]
        if n["class_type"] == "ComfySwitchNode":
            value = n["inputs"]["on_true" if resolved(prompt, n["inputs"]["switch"]) else "on_false"]
        elif n["class_type"].startswith("Primitive"):
            value = n["inputs"]["value"]
        else:
            return value
    return value


def live(prompt: dict) -> dict:
    """The nodes the output depends on, switches resolved: what the template really runs."""
    outs = [k for k, v in prompt.items() if v["class_type"].startswith("SaveImage")]
    seen, todo = set(outs), list(outs)
    while todo:
        n = prompt[todo.pop()]
        for v in n["inputs"].values():
            v = resolved(prompt, v) if n["class_type"] != "ComfySwitchNode" else v
            if isinstance(v, list) and len(v) == 2 and v[0] in prompt and v[0] not in seen:
                seen.add(v[0])
                todo.append(v[0])
    keep = {k for k in seen if not prompt[k]["class_type"].startswith(("ComfySwitchNode", "Primitive"))}
    return {k: prompt[k] for k in keep}


IMPORTANT = {"KSampler": ("steps", "cfg", "sampler_name", "scheduler", "denoise"), "FluxGuidance": ("guidance",),
             "ModelSamplingAuraFlow": ("shift",), "ModelSamplingSD3": ("shift",), "CFGNorm": ("strength",),
             "CFGGuider": ("cfg",), "KSamplerSelect": ("sampler_name",), "Flux2Scheduler": ("steps",),
             "ScaleROPE": ("scale_x", "shift_x", "scale_y", "shift_y", "scale_t", "shift_t"),
             "WanImageToVideo": ("length", "batch_size"), "ImageFromBatch": ("batch_index", "length"),
             "CLIPVisionEncode": ("crop",), "FluxKontextMultiReferenceLatentMethod": ("reference_latents_method",),
             "UNETLoader": ("unet_name", "weight_dtype"), "VAELoader": ("vae_name",),
             "CLIPLoader": ("clip_name", "type"),
             "DualCLIPLoader": ("clip_name1", "clip_name2", "type"), "CLIPVisionLoader": ("clip_name",),
             "LoraLoaderModelOnly": ("lora_name", "strength_model"), "ImageScaleToTotalPixels": ("megapixels",),
             "TextEncodeQwenImageEditPlus": ("prompt",), "CLIPTextEncode": ("text",)}  # the texts: positive, negative
# what the family graph leaves out of the template, and adds (see the families module's docstring)
DIFFERENCES = {"kontext": ({"ImageStitch": 1}, {}),
               "qwen-edit-2509": ({"SaveImageAdvanced": 1}, {"SaveImage": 1}),  # not in ComfyUI 0.3.75
               "qwen-edit-2511": ({}, {}),
               "flux2-klein": ({"ImageScaleToTotalPixels": 1, "GetImageSize": 1}, {"ImageScale": 1}),
               "chronoedit": ({}, {})}


@pytest.mark.parametrize("name", list(families.FAMILIES))
def test_family_graph_follows_its_official_template(object_info, name):
    fam = families.FAMILIES[name]
    full = W.ui_to_api(template(fam.template), object_info)
    info = W.analyse(full, object_info)
    theirs = live(full)
    ours = family_graph(name, refs=len(info.image_inputs) - 1, instruction=info.prompt_inputs[0].value)
    kinds = Counter(n["class_type"] for n in theirs.values())
    mine = Counter(n["class_type"] for n in ours.values())
    left_out, added = DIFFERENCES[name]
    assert (kinds - mine, mine - kinds) == (Counter(left_out), Counter(added))
    for kind, names in IMPORTANT.items():
        if kind not in mine:
            continue  # left out: checked above
        want = sorted(tuple(resolved(full, n["inputs"].get(k)) for k in names) for n in theirs.values()
                      if n["class_type"] == kind)
        got = sorted(tuple(n["inputs"].get(k) for k in names) for n in ours.values() if n["class_type"] == kind)
        assert got == want, kind
    sampler = next(n["inputs"] for n in theirs.values() if n["class_type"] in ("KSampler", "Flux2Scheduler"))
    assert fam.default_steps == resolved(full, sampler["steps"])
    guide = [n["inputs"]["guidance"] for n in theirs.values() if n["class_type"] == "FluxGuidance"] or \
        [resolved(full, n["inputs"]["cfg"]) for n in theirs.values() if n["class_type"] in ("KSampler", "CFGGuider")]
    assert fam.default_guidance == guide[0]
    wf = template(fam.template)
    urls = {m["name"]: m["url"] for n in wf["nodes"] + [n for sg in wf["definitions"]["subgraphs"] for n in sg["nodes"]]
            for m in (n.get("properties") or {}).get("models", ())}
    for slot in fam.models:  # the download the template names (2511 names a second copy of the Qwen text encoder)
        assert slot.url == urls[slot.default] or slot.url.rsplit("/", 1)[1] == urls[slot.default].rsplit("/", 1)[1]


def test_analyse_and_apply_on_family_graphs(object_info):
    graph = family_graph("flux2-klein")
    info = W.analyse(graph, object_info)
    assert [s.value for s in info.image_inputs] == [CANVAS] * 4 and info.image_inputs[0].title == "Image 1 (canvas)"
    assert [(s.class_type, s.value) for s in info.prompt_inputs] == [("CLIPTextEncode", "make it night")]
    assert [(s.class_type, s.input_name, s.value) for s in info.seed_inputs] == [("RandomNoise", "noise_seed", 3)]
    assert [(s.class_type, s.value) for s in info.steps_inputs] == [("Flux2Scheduler", 4)]
    assert [(s.class_type, s.value) for s in info.guidance_inputs] == [("CFGGuider", 1.0)]
    assert [s.class_type for s in info.outputs] == ["SaveImage"]
    out = W.apply(graph, info, seed=11, steps=6, instruction="make it day",
                  images={info.image_inputs[1].node_id: "r.png"})
    assert out[info.image_inputs[1].node_id]["inputs"]["image"] == "r.png"
    assert of_type(out, "RandomNoise")["noise_seed"] == 11 and of_type(out, "Flux2Scheduler")["steps"] == 6
    assert of_type(out, "CLIPTextEncode")["text"] == "make it day"
    assert of_type(out, "EmptyFlux2LatentImage") == {"width": 992, "height": 752, "batch_size": 1}  # floored to 16

    info = W.analyse(family_graph("kontext"), object_info)
    assert [(s.class_type, s.value) for s in info.guidance_inputs] == [("FluxGuidance", 2.5)]
    info = W.analyse(family_graph("qwen-edit-2509"), object_info)
    assert [s.value for s in info.negative_inputs] == [""] and len(info.prompt_inputs) == 1


def test_build_refuses_what_a_family_cannot_take():
    with pytest.raises(WorkflowError, match="at most 0 reference"):
        family_graph("chronoedit", refs=1)
    with pytest.raises(WorkflowError, match="at most 2 reference"):
        family_graph("qwen-edit-2511", refs=3)
    with pytest.raises(WorkflowError, match="outside ComfyUI's range"):
        family_graph("kontext", seed=-1)
    with pytest.raises(WorkflowError, match="no ComfyUI graph for 'sdxl'"):
        families.build("sdxl", images=[CANVAS], instruction="", seed=0, steps=None, guidance=None, width=64, height=64)
    with pytest.raises(WorkflowError, match="no model slot nope"):
        family_graph("kontext", models={"nope": "x.safetensors"})
    with pytest.raises(WorkflowError, match="needs the image"):
        family_graph("kontext", images=[])
    with pytest.raises(WorkflowError, match="at least 16×16"):
        family_graph("flux2-klein", width=8)
    graph = family_graph("chronoedit", steps=7, guidance=5.5, seed=2**64 - 1, output_prefix="p")
    assert of_type(graph, "KSampler")["steps"] == 7 and of_type(graph, "KSampler")["cfg"] == 5.5
    assert of_type(graph, "KSampler")["seed"] == 2**64 - 1 and of_type(graph, "SaveImage")["filename_prefix"] == "p"
    assert of_type(graph, "WanImageToVideo")["width"] == 992 and of_type(graph, "WanImageToVideo")["height"] == 752


def test_an_input_titled_as_a_reference_comes_after_the_main_image():
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}, "_meta": {"title": "Photo"}},
              "4": {"class_type": "LoadImage", "inputs": {"image": "b.png"}, "_meta": {"title": "Reference image 2"}},
              "5": {"class_type": "ImageBlend", "inputs": {"image1": ["4", 0], "image2": ["1", 0],
                                                           "blend_factor": 0.5, "blend_mode": "normal"}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}}}
    assert [s.node_id for s in W.analyse(prompt).image_inputs] == ["1", "4"]
