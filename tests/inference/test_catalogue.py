"""The model catalogue (resources/catalogue.json), fit/recommend, and the machine probe (inference.hub)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from inference.diffusion.models import FAMILIES
from inference.errors import InferenceError
from inference.hub import catalogue as cat
from inference.hub import machine as mach
from inference.hub.catalogue import Catalogue, CatalogueError, fit, recommend
from inference.hub.machine import GIB, Machine

ROOT = Path(__file__).resolve().parents[2]
GB = 1_000_000_000


@pytest.fixture(scope="module")
def packaged() -> Catalogue:
    return cat.load()


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(cat.CATALOGUE_FILE.read_text(encoding="utf-8"))


def cuda(gib: float, disk_gb: float | None = 1000) -> Machine:
    return Machine("Test GPU", int(gib * GIB), False, 64 * GIB, None if disk_gb is None else int(disk_gb * GB),
                   "linux-x86_64")


def apple(gib: float) -> Machine:
    return Machine("Apple M2", int(gib * GIB), True, int(gib * GIB), 1000 * GB, "darwin-arm64")


NO_GPU = Machine(None, None, False, 32 * GIB, 1000 * GB, "linux-x86_64")


# --- the packaged catalogue --------------------------------------------------------------------------
def test_packaged_catalogue_loads_and_is_cached(packaged):
    assert packaged.variants and packaged.updated
    assert cat.load() is packaged  # same file, unchanged: not read again
    assert packaged.get("flux-kontext-dev").repo == "black-forest-labs/FLUX.1-Kontext-dev"
    assert all(v.download_bytes == round(v.download_gb * GB) for v in packaged.variants)


def _one(packaged, **want):
    hits = [v for v in packaged.variants if all(
        (want[k](getattr(v, k)) if callable(want[k]) else getattr(v, k) == want[k]) for k in want)]
    assert hits, f"no catalogue entry with {want}"
    return hits


def _quant(q):
    return lambda variant: variant.startswith("GGUF " + q)


@pytest.mark.parametrize("repo", ["black-forest-labs/FLUX.1-Kontext-dev", "Qwen/Qwen-Image-Edit-2509",
                                  "Qwen/Qwen-Image-Edit-2511"])
def test_main_models_have_full_fp8_and_three_gguf_variants(packaged, repo):
    full = _one(packaged, repo=repo, kind="diffusers")[0]
    assert full.variant == "bf16" and full.files == () and full.base is None
    fp8 = _one(packaged, base=repo, kind="single-file", variant=lambda s: s.startswith("fp8"))[0]
    assert fp8.files[0].endswith(".safetensors") and fp8.download_gb < full.download_gb
    previous = full
    for q in ("Q8_0", "Q5_K", "Q4_K"):
        g = _one(packaged, base=repo, kind="gguf", variant=_quant(q))[0]
        assert g.files[0].endswith(".gguf") and q.split("_")[0] in g.files[0]
        assert g.base_gb > 0 and g.download_gb < previous.download_gb and g.vram_gb <= previous.vram_gb
        previous = g


def test_lightning_and_klein_distilled_and_ace_plus(packaged):
    for repo in ("Qwen/Qwen-Image-Edit-2509", "Qwen/Qwen-Image-Edit-2511", "Qwen/Qwen-Image-Edit"):
        loras = _one(packaged, base=repo, kind="lora")
        assert {v.steps for v in loras} >= {4, 8} and all(v.guidance == 1.0 for v in loras)
        assert all("Lightning" in v.files[0] and v.requires for v in loras)
    for size in ("4B", "9B"):
        klein = _one(packaged, repo=f"black-forest-labs/FLUX.2-klein-{size}", kind="diffusers")[0]
        assert klein.family == "flux2-klein" and klein.steps == 4 and "distilled" in klein.notes.lower()
        _one(packaged, base=klein.repo, kind="gguf", variant=_quant("Q4_K"))
    base4 = _one(packaged, repo="black-forest-labs/FLUX.2-klein-base-4B")[0]
    assert base4.steps == 50
    assert _one(packaged, repo="black-forest-labs/FLUX.2-klein-9B")[0].gated
    fill = _one(packaged, repo="black-forest-labs/FLUX.1-Fill-dev", kind="diffusers", family="flux-fill")[0]
    ace = _one(packaged, repo="ali-vilab/ACE_Plus", kind="lora")
    assert len(ace) == 3 and all(fill.id in v.requires and v.family == "flux-fill" for v in ace)
    assert _one(packaged, repo="black-forest-labs/FLUX.2-dev", kind="diffusers")[0].family == "flux2"
    assert _one(packaged, repo="timbrooks/instruct-pix2pix")[0].cpu


def test_every_family_is_an_akapen_family_and_each_is_covered(packaged):
    assert {v.family for v in packaged.variants} <= set(FAMILIES)
    left_out = {f for f, _ in packaged.not_in_catalogue}
    assert left_out == {"framepack"} and all(why for _, why in packaged.not_in_catalogue)
    assert {v.family for v in packaged.variants} | left_out == set(FAMILIES)


def test_references_resolve_and_gated_entries_have_a_page(packaged):
    ids = [v.id for v in packaged.variants]
    assert len(ids) == len(set(ids))
    diffusers = {v.repo: v for v in packaged.variants if v.kind == "diffusers"}
    for v in packaged.variants:
        for r in v.requires:
            assert packaged.get(r).kind != "lora", v.id
        if v.kind == "diffusers":
            assert v.base is None and v.base_gb == 0
        else:
            assert v.base in diffusers and v.files, v.id
            assert packaged.base_for(v.repo, v.files[0]) == v.base
            if v.kind != "lora":  # the base's other components: less than the whole base
                assert 0 < v.base_gb < diffusers[v.base].download_gb, v.id
        if v.gated:
            assert v.page.startswith("https://huggingface.co/") and v.licence_url.startswith("https://"), v.id
        assert v.offload_gb is None or v.offload_gb <= v.vram_gb
        assert v.source and v.licence


def test_lookups(packaged):
    with pytest.raises(CatalogueError, match="flux-kontext-dev"):
        packaged.get("flux-kontex-dev")
    assert isinstance(CatalogueError("x"), InferenceError)
    assert {v.family for v in packaged.by_repo("qwen/qwen-image-edit-2511")} == {"qwen-image-edit-plus"}
    assert packaged.base_for("QuantStack/FLUX.1-Kontext-dev-GGUF", "flux1-kontext-dev-Q4_K_M.gguf") == \
        "black-forest-labs/FLUX.1-Kontext-dev"
    assert packaged.base_for("QuantStack/FLUX.1-Kontext-dev-GGUF", "nope.gguf") is None
    assert all(v.family == "chronoedit" for v in packaged.for_family("chronoedit"))


def test_quality_order():
    order = ["bf16", "fp16", "fp8 (scaled)", "GGUF Q8_0", "GGUF Q6_K", "GGUF Q5_K_M", "GGUF Q4_K_S", "GGUF Q3_K_M",
             "bnb 4-bit (NF4)"]
    ranks = [cat.quality_rank(v) for v in order]
    assert ranks == sorted(ranks) and ranks[0] == ranks[1] == 0 and ranks[-1] > ranks[-3]


# --- damaged files -------------------------------------------------------------------------------------
def _write(tmp_path, data) -> Path:
    p = tmp_path / "catalogue.json"
    p.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return p


def _damage(raw, index, change):
    data = copy.deepcopy(raw)
    change(data["variants"][index], data)
    return data


CASES = {
    "missing field": (lambda e, d: e.pop("vram_gb"), r"'vram_gb' is missing"),
    "wrong type": (lambda e, d: e.update(download_gb="34 GB"), r"'download_gb' must be a number"),
    "bool for a number": (lambda e, d: e.update(ram_gb=True), r"'ram_gb' must be a number"),
    "unknown family": (lambda e, d: e.update(family="flux-kontex"), r"'family' names no Akapen family.*flux-kontext"),
    "unknown kind": (lambda e, d: e.update(kind="ckpt"), r"'kind' must be one of"),
    "unknown field": (lambda e, d: e.update(vram_gbb=3), r"'vram_gbb' is not a catalogue field"),
    "gguf without base": (lambda e, d: e.update(base=None), r"'base' must name the diffusers repo"),
    "dangling requires": (lambda e, d: e.update(requires=["no-such-model"]), r"'requires' names 'no-such-model'"),
    "bad id": (lambda e, d: e.update(id="Flux Kontext"), r"'id' must be lowercase"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_entries_name_the_entry_and_field(tmp_path, raw, case):
    change, message = CASES[case]
    index = next(i for i, v in enumerate(raw["variants"]) if v["kind"] == "gguf")
    name = raw["variants"][index]["id"]
    path = _write(tmp_path, _damage(raw, index, change))
    with pytest.raises(CatalogueError, match=message) as err:
        cat.load(path)
    text = str(err.value)
    assert str(path) in text and f"variant {index + 1}" in text
    if case != "bad id":
        assert repr(name) in text


def test_duplicate_id_and_broken_json(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["variants"].append(copy.deepcopy(data["variants"][0]))
    with pytest.raises(CatalogueError, match=rf"duplicate id '{data['variants'][0]['id']}' \(also variant 1\)"):
        cat.load(_write(tmp_path, data))
    with pytest.raises(CatalogueError, match="not valid JSON"):
        cat.load(_write(tmp_path, '{"schema": 1, "variants": [}'))
    with pytest.raises(CatalogueError, match="schema 2"):
        cat.load(_write(tmp_path, dict(raw, schema=2)))
    with pytest.raises(CatalogueError, match="cannot be read"):
        cat.load(tmp_path / "missing.json")


def test_edited_file_is_read_again(tmp_path, raw):
    p = _write(tmp_path, raw)
    first = cat.load(p)
    data = copy.deepcopy(raw)
    data["variants"][0]["notes"] = "edited by hand, a little longer"
    p.write_text(json.dumps(data), encoding="utf-8")
    assert cat.load(p).variants[0].notes == "edited by hand, a little longer" != first.variants[0].notes


# --- fit -----------------------------------------------------------------------------------------------
@pytest.fixture
def sample(packaged):
    """A 12 / 6 GB variant (full / offload) whose download and base need 30 GB."""
    return replace(packaged.get("flux-kontext-dev-gguf-q4-k-m"), vram_gb=12, offload_gb=6, download_gb=20,
                   base_gb=10, cpu=False)


def test_fit_on_cuda(sample):
    assert fit(sample, cuda(24)) == cat.Fit("fits", "fits this GPU (24 GB)", True)
    f = fit(sample, cuda(8))
    assert (f.kind, f.text) == ("offload", "needs offload (12 GB in full, 8 GB here)") and f.runs
    assert (fit(sample, cuda(4)).kind, fit(sample, cuda(4)).text) == ("too-big", "too big for this GPU (4 GB)")
    assert fit(replace(sample, offload_gb=None), cuda(8)).kind == "too-big"


def test_fit_on_apple_silicon(sample, packaged):
    # 16 GB unified: about 11.2 GB for models; offloading frees nothing there
    assert fit(replace(sample, vram_gb=10), apple(16)).kind == "fits"
    f = fit(sample, apple(16))
    assert f.kind == "too-big" and "16 GB unified memory" in f.text
    assert fit(sample, apple(32)).kind == "fits"
    fp8 = packaged.get("flux-kontext-dev-fp8")
    assert fit(fp8, apple(128)).kind == "no-gpu" and "NVIDIA" in fit(fp8, apple(128)).text
    assert fit(fp8, cuda(48)).kind == "no-loader"  # (Comfy-Org's file is scaled FP8: it would fit, but is refused)


def test_fit_without_gpu_and_without_disk(sample):
    assert fit(sample, NO_GPU).kind == "no-gpu"
    cpu_ok = replace(sample, cpu=True)
    assert fit(cpu_ok, NO_GPU) == cat.Fit("cpu", "no GPU: runs on the CPU, slowly", True)
    tiny = cuda(24, disk_gb=20.1)
    f = fit(replace(sample, download_gb=24.5, base_gb=10), tiny)
    assert (f.kind, f.text, f.disk_ok) == ("no-disk", "not enough disk: needs 34.5 GB, 20.1 GB free", False)
    assert fit(replace(sample, download_gb=10, base_gb=10), tiny).kind == "fits"
    assert fit(sample, cuda(24, disk_gb=None)).kind == "fits"  # free disk unknown: not held against it
    assert fit(replace(sample, vram_gb=80, offload_gb=70), tiny).kind == "too-big"  # the GPU is the first reason


# --- recommend -----------------------------------------------------------------------------------------
def _entry(raw, **change) -> dict:
    base = copy.deepcopy(next(v for v in raw["variants"] if v["id"] == "flux-kontext-dev"))
    base.update(change)
    return base


@pytest.fixture
def small_catalogue(raw) -> Catalogue:
    kon, gg = "black-forest-labs/FLUX.1-Kontext-dev", dict(kind="gguf", repo="a/gguf", base="black-forest-labs/FLUX.1-Kontext-dev")
    entries = [
        _entry(raw, id="k-bf16", vram_gb=40, offload_gb=30),
        _entry(raw, id="k-fp8-scaled", variant="fp8 (scaled)", kind="single-file", repo="a/fp8", base=kon,
               files=["k.safetensors"], base_gb=10, vram_gb=20, offload_gb=12),
        _entry(raw, id="k-fp8", variant="fp8", kind="single-file", repo="a/fp8", base=kon, files=["k2.safetensors"],
               base_gb=10, vram_gb=28, offload_gb=18),
        _entry(raw, id="k-q8", variant="GGUF Q8_0", files=["k-Q8_0.gguf"], base_gb=10, vram_gb=27, offload_gb=17, **gg),
        _entry(raw, id="k-q4", variant="GGUF Q4_K_M", files=["k-Q4_K_M.gguf"], base_gb=10, vram_gb=22, offload_gb=14,
               download_gb=7, **gg),
        _entry(raw, id="k-lora", variant="LoRA", kind="lora", repo="a/lora", base=kon, files=["l.safetensors"],
               download_gb=0.1, vram_gb=0.2, offload_gb=0.2, requires=["k-bf16"]),
        _entry(raw, id="p2p", family="instruct-pix2pix", model="InstructPix2Pix", repo="t/p2p", vram_gb=5,
               offload_gb=4, cpu=True, download_gb=5.5),
    ]
    return cat.parse({"schema": 1, "updated": "test", "variants": entries}, "test catalogue")


@pytest.mark.parametrize("machine, expected, words", [
    (cuda(80), "k-bf16", "fits this GPU (80 GB)"),
    (cuda(32), "k-fp8", "fits this GPU (32 GB)"),  # the scaled FP8 (20 GB) is passed over
    (cuda(24), "k-q4", "fits this GPU (24 GB)"),  # Q4 fits fully: better than Q8 with offload
    (cuda(20), "k-fp8", "runs with offload"),  # nothing fits fully: the best that fits with offload
    (cuda(16), "k-q4", "runs with offload"),
    (apple(48), "k-q8", "fits this Mac"),  # FP8 needs CUDA; 33.6 GB for models
    (cuda(24, disk_gb=12), None, "not enough disk: needs 17 GB, 12 GB free"),
])
def test_recommend_picks_the_best_that_fits(small_catalogue, machine, expected, words):
    r = recommend(small_catalogue, "flux-kontext", machine)
    assert (r.variant.id if r.variant else None) == expected
    assert words in r.why


def test_recommend_when_nothing_fits_or_no_gpu(small_catalogue):
    r = recommend(small_catalogue, "flux-kontext", cuda(8))
    assert r.variant is None and "k-q4" not in r.why and "needs 14 GB with offload" in r.why
    r = recommend(small_catalogue, "flux-kontext", NO_GPU)
    assert r.variant is None and r.why.startswith("No GPU found") and "InstructPix2Pix" in r.why
    r = recommend(small_catalogue, "instruct-pix2pix", NO_GPU)
    assert r.variant.id == "p2p" and "CPU" in r.why
    r = recommend(small_catalogue, "omnigen", cuda(24))
    assert r.variant is None and "no OmniGen model" in r.why


def test_recommend_on_the_packaged_catalogue(packaged):
    r = recommend(packaged, "flux2-klein", cuda(24))
    assert r.variant.id == "flux2-klein-4b" and fit(r.variant, cuda(24)).kind == "fits"
    r = recommend(packaged, "flux2", cuda(24))
    assert r.variant is not None and fit(r.variant, cuda(24)).kind == "offload"
    assert recommend(packaged, "flux-kontext", cuda(8)).variant is None
    r = recommend(packaged, "flux-kontext", NO_GPU)
    assert r.variant is None and "InstructPix2Pix" in r.why
    assert recommend(packaged, "instruct-pix2pix", NO_GPU).variant.id == "instruct-pix2pix"
    assert "FramePack" in recommend(packaged, "framepack", cuda(24)).why
    for family in {v.family for v in packaged.variants}:
        r = recommend(packaged, family, cuda(141))
        assert r.variant is not None and fit(r.variant, cuda(141)).kind == "fits", family


# --- the machine ---------------------------------------------------------------------------------------
@pytest.fixture
def clean_probe(monkeypatch):
    monkeypatch.delenv(mach.ENV, raising=False)
    monkeypatch.setattr(mach, "_torch_gpu", lambda: None)  # the test process may have torch loaded
    monkeypatch.setattr(mach, "_apple_silicon", lambda: False)
    mach.clear_cache()
    yield
    mach.clear_cache()


def _script(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    p.chmod(0o755)


needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="fake tools are shell scripts")


def test_detect_with_the_environment_override(clean_probe, monkeypatch, tmp_path):
    monkeypatch.setenv(mach.ENV, "24")
    m = mach.detect(tmp_path / "not" / "there" / "yet")
    assert m.gpu_bytes == 24 * GIB == m.usable_gpu_bytes and not m.unified and m.ram_bytes > 0
    assert m.free_disk_bytes and m.free_disk_bytes > 0  # from the nearest existing parent
    assert "24 GB" in m.describe()
    monkeypatch.setenv(mach.ENV, "0")
    assert mach.detect(tmp_path).gpu_bytes is None and mach.detect(tmp_path).describe().startswith("no GPU")
    monkeypatch.setenv(mach.ENV, "lots")
    with pytest.raises(mach.MachineError, match=mach.ENV):
        mach.detect(tmp_path)


@needs_posix
def test_detect_with_a_fake_nvidia_smi(clean_probe, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    _script(bin_dir, "nvidia-smi", 'echo "NVIDIA GeForce RTX 3060, 12288"\necho "NVIDIA GeForce RTX 4090, 24564"\n'
                                   'echo "Broken GPU, [N/A]"')
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    m = mach.detect(tmp_path)
    assert m.gpu_name == "NVIDIA GeForce RTX 4090" and m.gpu_bytes == 24564 * (1 << 20) and not m.unified
    assert fit(replace(cat.load().get("flux2-klein-4b"), vram_gb=20), m).text == "fits this GPU (24 GB)"
    _script(bin_dir, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2\nexit 9")
    assert mach.detect(tmp_path).gpu_bytes == 24564 * (1 << 20)  # cached for the process
    mach.clear_cache()
    assert mach.detect(tmp_path).gpu_bytes is None  # a failing nvidia-smi: no GPU


@needs_posix
def test_detect_without_nvidia_smi(clean_probe, monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    m = mach.detect(tmp_path)
    assert m.gpu_name is None and m.gpu_bytes is None and m.usable_gpu_bytes is None


@needs_posix
def test_detect_on_apple_silicon(clean_probe, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    _script(bin_dir, "sysctl", 'case "$2" in hw.memsize) echo 17179869184 ;; machdep.cpu.brand_string) '
                               'echo "Apple M2" ;; *) exit 1 ;; esac')
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(mach, "_apple_silicon", lambda: True)
    m = mach.detect(tmp_path)
    assert (m.gpu_name, m.gpu_bytes, m.unified) == ("Apple M2", 16 * GIB, True)
    assert m.usable_gpu_bytes == int(16 * GIB * 0.7)
    assert "unified memory" in m.describe()


def test_detect_does_not_import_torch():
    env = {k: v for k, v in os.environ.items() if k != mach.ENV}
    out = subprocess.run([sys.executable, "-c", "import inference.hub.machine as m, inference.hub.catalogue; "
                          "m.detect('.'); import sys; print('torch' in sys.modules)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_a_scaled_fp8_file_is_marked_for_comfyui_only(small_catalogue):
    f = fit(small_catalogue.get("k-fp8-scaled"), cuda(80))
    assert f.kind == "no-loader" and not f.runs and "scaled FP8" in f.text
    assert fit(small_catalogue.get("k-fp8"), cuda(80)).kind == "fits"
