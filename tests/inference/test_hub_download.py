"""Downloads against a local stand-in of the Hub (tests/hub_server.py): the happy path into the Hugging Face
cache, every refusal the Hub gives (gated, bad token, no access, not found), faults on the wire (500s, a
connection cut mid-file, a stall), a process killed mid-file and started again, a full disk, cancel and pause,
checksums, verify and repair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from inference.hub import api, auth, cache, download, errors, manage, plan, state, transfer
from tests.hub_server import GOOD_TOKEN, NO_ACCESS_TOKEN

ROOT = Path(__file__).resolve().parents[2]
FAST = api.RetryPolicy(tries=4, first=0.05, longest=0.2, stall=2.0)


def _index(cls="FluxKontextPipeline") -> bytes:
    return json.dumps({"_class_name": cls, "transformer": ["diffusers", "FluxTransformer2DModel"],
                       "vae": ["diffusers", "AutoencoderKL"],
                       "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}).encode()


def _repo_files(weight_bytes: int = 3_000_000) -> dict[str, bytes]:
    return {"model_index.json": _index(),
            "transformer/config.json": b'{"_class_name": "FluxTransformer2DModel"}',
            "transformer/diffusion_pytorch_model.safetensors": os.urandom(weight_bytes),
            "transformer/diffusion_pytorch_model.fp16.safetensors": os.urandom(1000),
            "transformer/diffusion_pytorch_model.bin": os.urandom(2000),
            "vae/config.json": b'{"_class_name": "AutoencoderKL"}',
            "vae/diffusion_pytorch_model.safetensors": os.urandom(200_000),
            "scheduler/scheduler_config.json": b"{}",
            "flux1-root-copy.safetensors": os.urandom(5000),
            "README.md": b"# a model"}


def _get(repo: str, **kw) -> download.Installed:
    hub = api.Hub(token=kw.pop("token", None))
    p = manage.make_plan(manage.Request(repo, files=tuple(kw.pop("files", ()))), hub)
    return download.run(hub, p, policy=kw.pop("policy", FAST), **kw)


def test_a_diffusers_repo_lands_in_the_hf_cache_with_only_what_the_pipeline_needs(hub):
    files = _repo_files()
    r = hub.add("org/model", files)
    hub.page_size = 3  # the file list comes in pages (Link: rel="next")
    got = _get("org/model")
    snap = Path(os.environ["HF_HOME"]) / "hub" / "models--org--model" / "snapshots" / r.commit
    assert got.path == snap
    on_disk = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file())
    assert on_disk == ["model_index.json", "scheduler/scheduler_config.json", "transformer/config.json",
                       "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
                       "vae/diffusion_pytorch_model.safetensors"]
    for rel in on_disk:  # symlinks into blobs/ named by checksum, the bytes the Hub has
        assert (snap / rel).is_symlink() and (snap / rel).read_bytes() == files[rel]
    assert (snap.parent.parent / "refs" / "main").read_text() == r.commit
    assert hub.bytes_sent("flux1-root-copy.safetensors") == 0 and hub.bytes_sent(".bin") == 0
    cdn = [s for s in hub.requests if s.path.startswith("/cdn/")]
    assert cdn and all("Authorization" not in s.headers for s in cdn)  # no token for another host
    assert not state.unfinished()
    # a second download fetches nothing
    hub.reset()
    again = _get("org/model")
    assert again.fetched_bytes == 0 and hub.bytes_sent() == 0


def test_the_size_is_known_before_anything_is_fetched(hub):
    files = _repo_files()
    hub.add("org/model", files)
    p = manage.make_plan(manage.Request("org/model"), api.Hub())
    expected = sum(len(files[k]) for k in ("model_index.json", "scheduler/scheduler_config.json",
                                           "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
                                           "vae/config.json", "vae/diffusion_pytorch_model.safetensors"))
    assert p.total_bytes == expected and p.missing_bytes == expected
    assert hub.bytes_sent("safetensors") == 0
    assert not (Path(os.environ["HF_HOME"]) / "hub").exists()  # nothing written


def test_a_gated_repo_without_a_token_says_where_to_accept_the_licence(hub):
    hub.add("org/gated", _repo_files(), gated=True)
    with pytest.raises(errors.GatedRepo) as err:
        _get("org/gated")
    text = str(err.value)
    assert f"{hub.url}/org/gated" in text and "accept" in text and "token" in text
    assert "not found" not in text.lower()


def test_a_token_without_access_and_a_refused_token_are_told_apart(hub):
    hub.add("org/gated", _repo_files(), gated=True)
    with pytest.raises(errors.NoAccess, match=r"not been granted access.*org/gated.*accept the licence"):
        _get("org/gated", token=NO_ACCESS_TOKEN)
    with pytest.raises(errors.TokenRefused) as err:
        _get("org/gated", token="hf_wrong_token_123456")
    assert "refused your Hugging Face token" in str(err.value) and "not found" not in str(err.value).lower()
    assert "hf_wrong_token" not in str(err.value)  # the token itself is never echoed
    got = _get("org/gated", token=GOOD_TOKEN)
    assert (got.path / "model_index.json").exists()


def test_repo_file_and_revision_not_found(hub):
    hub.add("org/model", _repo_files())
    with pytest.raises(errors.RepoNotFound, match="no model 'org/nothing'"):
        _get("org/nothing")
    with pytest.raises(errors.FileNotOnHub, match="no file 'vae/nope.safetensors'"):
        _get("org/model", files=["vae/nope.safetensors"])
    with pytest.raises(errors.RevisionNotFound):
        plan.make(api.Hub(), "org/model", "v9")
    with pytest.raises(errors.RepoNotFound, match="not a Hugging Face repository id"):
        manage.request_for("../../etc/passwd")


def test_500s_are_retried_and_a_server_that_keeps_failing_fails_clearly(hub):
    hub.add("org/model", _repo_files())
    hub.fail("transformer/diffusion_pytorch_model.safetensors", 500, times=2)
    got = _get("org/model")
    assert (got.path / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    hub.reset()
    hub.add("org/other", _repo_files())
    hub.fail("vae/diffusion_pytorch_model.safetensors", 503, times=50)
    with pytest.raises(errors.ServerError, match="503"):
        _get("org/other")
    rec = state.unfinished()
    assert len(rec) == 1 and rec[0].state == "failed" and "503" in rec[0].error
    hub.reset()
    _get("org/other")  # later, the same request finishes and the record is gone
    assert not state.unfinished()


def test_a_connection_cut_mid_file_resumes_from_the_bytes_kept(hub):
    files = _repo_files(4_000_000)
    hub.add("org/model", files)
    hub.cut("transformer/diffusion_pytorch_model.safetensors", after=1_500_000)
    got = _get("org/model")
    body = got.path / "transformer" / "diffusion_pytorch_model.safetensors"
    assert body.read_bytes() == files["transformer/diffusion_pytorch_model.safetensors"]
    ranges = [s.headers.get("Range") for s in hub.requests if s.path.startswith("/cdn/org/model/transformer")]
    assert ranges == [None, "bytes=1500000-"]
    assert hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors") == 4_000_000  # nothing twice


def test_a_stalled_connection_is_dropped_and_continued(hub):
    files = _repo_files(2_000_000)
    hub.add("org/model", files)
    hub.stall("transformer/diffusion_pytorch_model.safetensors", after=700_000, seconds=5.0)
    t0 = time.monotonic()
    got = _get("org/model", policy=api.RetryPolicy(tries=4, first=0.05, stall=0.6))
    assert time.monotonic() - t0 < 4.5  # it did not wait for the stalled connection to close
    body = got.path / "transformer" / "diffusion_pytorch_model.safetensors"
    assert body.read_bytes() == files["transformer/diffusion_pytorch_model.safetensors"]


def test_bytes_that_do_not_match_the_checksum_never_enter_the_cache(hub):
    files = _repo_files()
    hub.add("org/model", files)
    hub.change("org/model", "vae/diffusion_pytorch_model.safetensors", os.urandom(200_000))
    with pytest.raises(errors.ChecksumMismatch, match="do not match the Hub's checksum"):
        _get("org/model")
    folder = cache.repo_folder("org/model")
    assert not list(folder.rglob("vae/diffusion_pytorch_model.safetensors"))
    assert not [p for p in (folder / "blobs").iterdir() if p.name.endswith(".incomplete")]


def _child(script: str, **env) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=full, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


CHILD = """
    import sys
    from inference.hub import api, download, manage
    hub = api.Hub()
    p = manage.make_plan(manage.Request("org/model"), hub)
    try:
        download.run(hub, p, policy=api.RetryPolicy(tries=2, first=0.05))
    except Exception as exc:
        print(type(exc).__name__ + ": " + str(exc), file=sys.stderr)
        sys.exit(1)
"""


def _settled(hub, suffix: str) -> int:
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 0.3:
        now = hub.bytes_sent(suffix)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.02)
    return last


def test_a_download_killed_mid_file_continues_where_it_stopped(hub):
    size = 8_000_000
    files = _repo_files(size)
    hub.add("org/model", files)
    hub.throttle(4_000_000)  # 2 s for the big file: time to kill it half-way
    blob = files["transformer/diffusion_pytorch_model.safetensors"]
    import hashlib

    part = cache.part_path("org/model", hashlib.sha256(blob).hexdigest())
    proc = _child(CHILD)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < size // 3):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    kept = part.stat().st_size
    assert 0 < kept < size
    assert state.unfinished() and state.unfinished()[0].state == "running"  # the next start offers to continue
    sent_before = _settled(hub, "transformer/diffusion_pytorch_model.safetensors")  # the dead connection's last block
    hub.throttle(None)
    got = _get("org/model")
    sent_after = hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors") - sent_before
    assert sent_after == size - kept  # only the missing bytes
    assert sent_before - kept <= transfer.CHUNK  # what was in flight when it died: at most one chunk
    assert (got.path / "transformer" / "diffusion_pytorch_model.safetensors").read_bytes() == blob
    assert not state.unfinished()


def test_a_full_disk_mid_file_leaves_nothing_corrupt_and_continues_later(hub):
    size = 3_000_000
    files = _repo_files(size)
    hub.add("org/model", files)
    limited = textwrap.dedent("""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
    """) + textwrap.dedent(CHILD)
    proc = _child(limited)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "DiskFull" in err and "disk is full" in err, err
    folder = cache.repo_folder("org/model")
    assert not list(folder.rglob("transformer/diffusion_pytorch_model.safetensors"))  # nothing half-written linked
    assert not [p for p in (folder / "blobs").iterdir()
                if not p.name.endswith(".incomplete") and p.stat().st_size == 1_000_000]
    assert state.unfinished()[0].state == "failed" and "disk is full" in state.unfinished()[0].error
    got = _get("org/model")
    assert (got.path / "transformer" / "diffusion_pytorch_model.safetensors").read_bytes() == \
        files["transformer/diffusion_pytorch_model.safetensors"]
    assert manage.verify(manage.Request("org/model"))[0].bad == []


def test_not_enough_free_disk_is_said_before_anything_is_fetched(hub, monkeypatch):
    hub.add("org/model", _repo_files())
    monkeypatch.setattr(cache, "free_bytes", lambda path: 1000)
    with pytest.raises(errors.DiskFull, match="needs 3.1 MB more"):
        _get("org/model")
    assert hub.bytes_sent() == len(_index())  # model_index.json, read by the plan; no file was written
    assert not cache.repo_folder("org/model").exists()


def _start_throttled(hub, control: download.Control, size: int = 6_000_000):
    hub.add("org/model", _repo_files(size))
    hub.throttle(3_000_000)
    outcome: dict = {}

    def go():
        try:
            outcome["result"] = _get("org/model", control=control)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            outcome["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors") < 1_000_000:
        time.sleep(0.02)
    return t, outcome


def test_cancel_stops_quickly_and_leaves_no_partial_file(hub):
    control = download.Control()
    t, outcome = _start_throttled(hub, control)
    t0 = time.monotonic()
    control.cancel()
    t.join(10)
    assert time.monotonic() - t0 < 2.0
    from inference.errors import Cancelled

    assert isinstance(outcome.get("error"), Cancelled) and not isinstance(outcome["error"], errors.Paused)
    blobs = cache.repo_folder("org/model") / "blobs"
    assert not [p for p in blobs.iterdir() if p.name.endswith(".incomplete")]
    assert not state.unfinished()


def test_pause_keeps_the_bytes_and_continue_fetches_only_the_rest(hub):
    control = download.Control()
    t, outcome = _start_throttled(hub, control)
    control.pause()
    t.join(10)
    assert isinstance(outcome.get("error"), errors.Paused)
    rec = state.unfinished()
    assert len(rec) == 1 and rec[0].state == "paused" and 0 < rec[0].done_bytes < rec[0].total_bytes
    sent = hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors")
    hub.throttle(None)
    p = manage.make_plan(manage.Request("org/model"), api.Hub())
    assert p.have_bytes >= sent - transfer.CHUNK
    download.run(api.Hub(), p, policy=FAST)
    assert hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors") - sent <= 6_000_000 - (sent - transfer.CHUNK)
    assert not state.unfinished()


def test_verify_finds_a_changed_byte_and_repair_fetches_only_that_file(hub):
    files = _repo_files()
    hub.add("org/model", files)
    got = _get("org/model")
    req = manage.Request("org/model")
    report, _ = manage.verify(req)
    assert report.online and not report.bad and len(report.checks) == 6
    target = (got.path / "vae" / "diffusion_pytorch_model.safetensors").resolve()
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    report, _ = manage.verify(req)
    assert [(c.path, c.state) for c in report.bad] == [("vae/diffusion_pytorch_model.safetensors", "corrupt")]
    offline = manage.verify_local("org/model")  # the same without the Hub (blob names are checksums)
    # (these weights are random bytes, so the offline check also calls the folder unusable as a model)
    assert [(c.path, c.state) for c in offline.bad] == [("vae/diffusion_pytorch_model.safetensors", "corrupt"),
                                                        ("model_index.json", "incomplete")]
    hub.reset()
    report, installed = manage.repair(req)
    assert installed is not None and hub.bytes_sent() == 200_000  # that file and nothing else
    assert manage.verify(req)[0].bad == []
    # a file deleted from the cache is found missing (only with the Hub's list) and repaired
    (got.path / "scheduler" / "scheduler_config.json").unlink()
    assert [(c.path, c.state) for c in manage.verify(req)[0].bad] == [("scheduler/scheduler_config.json", "missing")]
    manage.repair(req)
    assert (got.path / "scheduler" / "scheduler_config.json").read_bytes() == b"{}"


def test_remove_frees_the_disk_and_says_how_much(hub):
    hub.add("org/model", _repo_files())
    _get("org/model")
    folder = cache.repo_folder("org/model")
    assert folder.is_dir()
    removed = manage.remove(manage.Request("org/model"))
    assert not folder.exists() and removed.freed >= 3_200_000 and "freed" in removed.text


def test_the_token_is_checked_saved_owner_only_and_never_shown(hub):
    with pytest.raises(errors.TokenRefused):
        manage.login("hf_bad_token_0000000")
    assert auth.get_token() is None  # a refused token is not saved
    assert manage.login(GOOD_TOKEN) == "akapen-tester"
    path = auth.token_path()
    assert path == Path(os.environ["HF_HOME"]) / "token"  # where huggingface_hub reads it
    assert path.read_text() == GOOD_TOKEN and (path.stat().st_mode & 0o777) == 0o600
    tok = auth.get_token()
    assert GOOD_TOKEN not in repr(tok) and GOOD_TOKEN not in str(tok) and tok.reveal() == GOOD_TOKEN
    hub.add("org/gated", _repo_files(), gated=True)
    assert (_get("org/gated", token=auth.get_token()).path / "model_index.json").exists()
    assert auth.delete_token() and auth.get_token() is None
    with pytest.raises(ValueError, match="not a Hugging Face token"):
        auth.check_token_text("two words")


def test_hf_hub_offline_switches_downloads_off(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(errors.Offline, match="HF_HUB_OFFLINE"):
        api.Hub()


def test_an_unreachable_hub_is_a_network_error(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(errors.NetworkError, match="could not reach 127.0.0.1:9"):
        api.Hub(timeout=2).repo_info("org/model")


def test_hostile_file_lists_are_refused(hub):
    for bad in ("../escape.json", "/abs.json", "a//b", "C:/x", "a\\b"):
        with pytest.raises(errors.BadAnswer):
            api.safe_path(bad)
    with pytest.raises(errors.BadAnswer, match="size"):
        api._remote_file({"type": "file", "path": "a.json", "size": -1, "oid": "0" * 40}, "org/x")
    with pytest.raises(errors.BadAnswer, match="sha256"):
        api._remote_file({"type": "file", "path": "a.safetensors", "size": 5, "oid": "0" * 40,
                          "lfs": {"oid": "not-hex", "size": 5}}, "org/x")


def test_a_slow_link_with_pauses_keeps_its_one_connection(hub):
    """A server that sends 64 KB and then nothing for ~0.6 s (longer than the cancel poll) is slow, not broken:
    one connection per file, no retries (a short socket timeout used to end each connection at the first pause)."""
    files = _repo_files(300_000)
    hub.add("org/model", files)
    hub.throttle(100_000)
    got = _get("org/model")
    assert (got.path / "transformer" / "diffusion_pytorch_model.safetensors").read_bytes() == \
        files["transformer/diffusion_pytorch_model.safetensors"]
    cdn = [s for s in hub.requests if s.path.startswith("/cdn/org/model/transformer/diffusion_pytorch_model")]
    assert len(cdn) == 1, [s.headers.get("Range") for s in cdn]


def test_a_5xx_on_the_file_list_is_tried_again(hub):
    hub.add("org/model", _repo_files())
    hub.fail("/api/models/org/model/revision/", 503, times=1)
    hub.fail("/api/models/org/model/tree/", 500, times=1)
    got = _get("org/model")
    assert (got.path / "model_index.json").exists()
    assert [s.status for s in hub.requests if s.path.startswith("/api/")][:4] == [503, 200, 500, 200]
