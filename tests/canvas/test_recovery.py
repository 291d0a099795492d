import numpy as np
import pytest

from canvas.errors import RecoveryError
from canvas.recovery import RecoveryStore
from tests.canvas.helpers import sample_document


def test_snapshot_in_background_then_list_restore_discard(tmp_path):
    store = RecoveryStore(tmp_path / "rec")
    doc = sample_document()
    doc.new_pixel_layer("unsaved work")
    fut = store.snapshot(doc, source_path="/home/u/collage.ora")
    doc.new_pixel_layer("painting goes on")  # the snapshot took a copy first
    entry = fut.result(timeout=30)
    assert entry.title == "collage.ora" and entry.source_path == "/home/u/collage.ora"
    listed = store.list()
    assert [e.path for e in listed] == [entry.path]
    back = store.restore(entry)
    assert len(back.layers) == len(doc.layers) - 1
    assert back.layers[-1].name == "unsaved work"
    assert np.array_equal(back.render(), sample_document().render())
    store.discard()
    assert store.list() == []
    store.close()


def test_new_snapshot_of_a_document_replaces_the_previous(tmp_path):
    store = RecoveryStore(tmp_path)
    doc = sample_document()
    a = store.snapshot(doc).result()
    doc.new_pixel_layer()
    b = store.snapshot(doc).result()
    assert [e.path for e in store.list()] == [b.path]
    assert not a.path.exists()
    other = sample_document()
    store.snapshot(other).result()
    assert len(store.list()) == 2
    store.discard_document(str(id(doc)))
    assert len(store.list()) == 1
    store.close()


def test_a_later_session_sees_snapshots_of_a_crashed_one(tmp_path):
    crashed = RecoveryStore(tmp_path, session="old")
    crashed.snapshot(sample_document(), title="Untitled 1").result()
    # the app died here: no discard
    fresh = RecoveryStore(tmp_path, session="new")
    found = fresh.list(other_sessions_only=True)
    assert len(found) == 1 and found[0].title == "Untitled 1" and found[0].session == "old"
    assert np.array_equal(fresh.restore(found[0]).render(), sample_document().render())
    fresh.discard(found[0])
    assert fresh.list() == []


def test_half_written_snapshots_are_never_listed(tmp_path):
    store = RecoveryStore(tmp_path)
    (tmp_path / ".x.ora.123.tmp").write_bytes(b"partial")
    (tmp_path / "s-k-1.json").write_text('{"ora": "s-k-1.ora", "time": 1}')  # the .ora is missing
    (tmp_path / "junk.json").write_text("not json")
    assert store.list() == []


def test_results_are_saved_before_they_are_shown(tmp_path):
    store = RecoveryStore(tmp_path)
    img = np.zeros((5, 6, 4), np.uint8)
    img[..., 3] = 255
    path = store.save_result(img, (10, 20), {"instruction": "x", "backend": "classical"})
    assert path.exists() and path.with_suffix(".json").exists()
    assert store.results() == [path]


def test_unwritable_folder_is_a_recovery_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    store = RecoveryStore(blocker / "rec")
    with pytest.raises(RecoveryError, match="cannot be created"):
        store.snapshot(sample_document())
