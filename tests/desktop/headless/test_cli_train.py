"""``akapen train`` for real: a dataset folder or a job folder in, a LoRA out; a terminal bar, Ctrl+C and
resume; bad input as one line; two processes under accelerate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.desktop.headless.test_cli import ROOT, akapen
from tests.desktop.headless.test_cli_terminal import _env
from tests.inference.conftest import TinyModels
from tests.training.conftest import inverted, small

FAST = ["--steps", "6", "--rank", "4", "--resolution", "64", "--sample-every", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


@pytest.fixture
def dataset(tmp_path):
    from canvas.imageio import export_image
    from tests.inference.photos import astronaut, cat, coffee
    from training.dataset import from_arrays, write_folder

    ds = from_arrays([(small(p), inverted(small(p))) for p in (astronaut(), coffee(), cat())],
                     instruction="invert the colours")
    return write_folder(ds, tmp_path / "pairs", export_image)


def test_train_a_dataset_folder_into_a_lora(kontext, dataset, tmp_path):
    from training.lora import read_metadata

    out = tmp_path / "invert.safetensors"
    r = akapen("train", dataset, "--model", kontext, "-o", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out} (flux-kontext, rank 4, 6 steps on 3 pairs" in r.stdout
    assert "\r" not in r.stderr  # piped: no bar
    meta = read_metadata(out)
    assert meta["r"] == 4 and meta["akapen"]["instruction"] == "invert the colours"


def test_train_an_exported_job_folder(kontext, dataset, tmp_path):
    from canvas.imageio import export_image, load_image
    from training.dataset import read_folder
    from training.job import export_job
    from training.trainer import Settings

    job = export_job(read_folder(dataset, load_image), Settings(steps=5, rank=2, resolution=64, sample_every=0),
                     str(kontext), "flux-kontext", tmp_path / "job", export_image, "from-job.safetensors")
    r = akapen("train", job, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "rank 2, 5 steps on 3 pairs" in r.stdout and (job / "from-job.safetensors").exists()


def test_bad_input_is_one_line(kontext, dataset, tmp_path):
    import shutil

    one = tmp_path / "one"
    shutil.copytree(dataset, one)
    for sub in ("before", "after"):
        for p in sorted((one / sub).glob("*.png"))[1:]:
            p.unlink()
    r = akapen("train", one, "--model", kontext, "-o", tmp_path / "x.safetensors", *FAST)
    assert r.returncode == 1 and "at least 2 pairs" in r.stderr and r.stderr.count("\n") == 1
    (dataset / "after" / "pair-002.png").write_bytes(b"not a png")
    r = akapen("train", dataset, "--model", kontext, "-o", tmp_path / "x.safetensors", *FAST)
    assert r.returncode == 1 and "pair-002.png" in r.stderr and r.stderr.count("\n") == 1
    r = akapen("train", dataset, "-o", tmp_path / "x.safetensors")
    assert r.returncode == 1 and "--model" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_train_the_pairs_a_document_keeps(kontext, dataset, tmp_path):
    """The pairs collected in the Train panel and saved in the .ora train as they are, with the document's
    shared instruction; a document without pairs says so in one line."""
    from canvas.imageio import load_image
    from canvas.ora import save_ora
    from desktop.controllers.files import default_document
    from desktop.headless.training_pairs import to_document
    from training.dataset import read_folder
    from training.lora import read_metadata

    doc = default_document(64, 48)
    doc.set_training_pairs(to_document(read_folder(dataset, load_image)), "Add training pairs")
    ora = tmp_path / "collected.ora"
    save_ora(doc, ora)
    out = tmp_path / "from-ora.safetensors"
    r = akapen("train", ora, "--model", kontext, "-o", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out} (flux-kontext, rank 4, 6 steps on 3 pairs" in r.stdout
    assert read_metadata(out)["akapen"]["instruction"] == "invert the colours"
    empty = tmp_path / "empty.ora"
    save_ora(default_document(64, 48), empty)
    r = akapen("train", empty, "--model", kontext, "-o", tmp_path / "x.safetensors", *FAST)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "empty.ora: this document keeps no training pairs (add them in the Train panel, then save)" in r.stderr


def test_a_family_that_cannot_train_says_why(tmp_path_factory, dataset, tmp_path):
    fill = TinyModels(tmp_path_factory)("flux-fill")
    r = akapen("train", dataset, "--model", fill, "-o", tmp_path / "x.safetensors", *FAST)
    assert r.returncode == 1 and "cannot be trained in Akapen" in r.stderr and "Kontext" in r.stderr


def test_on_a_terminal_ctrl_c_keeps_a_checkpoint_and_resume_finishes(kontext, dataset, tmp_path):
    from tests.desktop.headless.test_cli_terminal import _run_in_pty

    out = tmp_path / "stopped.safetensors"
    args = ["train", dataset, "--model", kontext, "-o", out, "--steps", "120", "--rank", "4", "--resolution", "64",
            "--sample-every", "0", "--device", "cpu"]
    # stopped once training steps show (on a busy machine the load and cache phases redraw their bars many times)
    rc, shown, after = _run_in_pty(args, stop_when=lambda s: s.count(b"loss ") > 3, then_signal=signal.SIGINT,
                                   driver="desktop.headless.cli")
    assert rc == 130, shown
    assert "/120 [" in shown and "loss " in shown and ("step/s" in shown or "s/step" in shown)
    assert "training cancelled after step" in shown and "resume goes on from there" in shown
    assert after is not None and after < 20 and not out.exists()
    r = akapen("train", dataset, "--model", kontext, "-o", out, "--steps", "120", "--rank", "4", "--resolution", "64",
               "--sample-every", "0", "--device", "cpu", "--resume")
    assert r.returncode == 0, r.stderr
    assert out.exists()


def test_data_parallel_with_two_processes_under_accelerate(kontext, dataset, tmp_path):
    """accelerate launches two processes (gloo on the CPU); each trains on its own pairs, gradients averaged;
    only the first writes the LoRA."""
    out = tmp_path / "ddp.safetensors"
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
           "no", "--dynamo_backend", "no", "-m", "desktop.headless.cli", "train", str(dataset), "--model", str(kontext),
           "-o", str(out), *FAST]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(QT_QPA_PLATFORM="offscreen"),
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("wrote ") == 2 and out.exists()  # both finish; one file
