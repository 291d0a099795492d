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


def test_snapshot_is_taken_on_the_calling_thread_even_if_painting_goes_on(tmp_path):
    """The background writer is held back until after the document changed in place: the
    snapshot still holds the document as it was when snapshot() returned."""
    import threading

    from canvas.geometry import Rect

    store = RecoveryStore(tmp_path)
    gate = threading.Event()
    store._pool.submit(gate.wait)  # the writer thread is busy until the gate opens
    doc = sample_document()
    before = doc.copy()
    paint = doc.layers[1]
    fut = store.snapshot(doc, title="busy")
    x, y = paint.bounds().as_tuple()[:2]
    doc.paint(paint.id, Rect(x, y, 8, 8), np.full((8, 8, 4), 9, np.uint8))  # in place
    doc.set_transform(doc.layers[2].id, doc.layers[2].transform.__class__(cx=1, cy=1))
    doc.metadata["late"] = True
    gate.set()
    entry = fut.result(timeout=30)
    back = store.restore(entry)
    assert back.content_equal(before) and not back.content_equal(doc)
    store.close()


def test_restore_of_a_damaged_snapshot_is_a_recovery_error(tmp_path):
    store = RecoveryStore(tmp_path)
    entry = store.snapshot(sample_document()).result()
    entry.path.write_bytes(entry.path.read_bytes()[:100])  # e.g. the disk was damaged later
    with pytest.raises(RecoveryError, match="cannot be read"):
        store.restore(entry)
    store.close()
