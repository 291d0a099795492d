"""Files: open, save, export, recent files, the unsaved mark."""

from __future__ import annotations

import numpy as np
from PIL import Image

from canvas.layers import PieceLayer
from tests.desktop.conftest import photo
from tests.desktop.controllers.test_clipboard import write_png


def test_save_reopen_and_compare(make_window, tmp_path, monkeypatch):
    w = make_window()
    doc = w.document
    from canvas.marks import Arrow

    doc.add_layer(PieceLayer.at(photo(), 30, 40, "Piece"))
    doc.add_mark(next(lyr for lyr in doc.layers if lyr.kind == "annotation").id, Arrow(start=(1, 2), end=(50, 60)))
    assert w.isWindowModified() and w.windowTitle().startswith("Untitled")
    path = tmp_path / "work.ora"
    monkeypatch.setattr(w.files, "ask_save_path", lambda *a: str(path))
    assert w.files.save()
    assert not w.isWindowModified() and w.windowTitle().startswith("work.ora")
    assert w.settings.recent_files()[0] == str(path)
    w2 = make_window()
    assert w2.files.open_path(str(path))
    assert w2.document.content_equal(doc)
    assert not w2.is_modified()


def test_open_an_image_makes_a_document_around_it(window, tmp_path):
    img = photo(120, 80)
    p = write_png(tmp_path / "holiday.png", img)
    assert window.files.open_path(str(p))
    doc = window.document
    assert doc.size == (120, 80)
    assert np.array_equal(doc.render(), img)
    assert "holiday" in window.windowTitle() and window.files.path is None


def test_open_a_bad_file_keeps_the_document(window, tmp_path):
    bad = tmp_path / "bad.ora"
    bad.write_bytes(b"PK nonsense")
    doc = window.document
    assert not window.files.open_path(str(bad))
    assert window.document is doc
    assert window.notifier.history[-1][0] == "error"


def test_export_png_and_jpeg(window, tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    monkeypatch.setattr(window.files, "ask_save_path", lambda *a: str(out))
    assert window.files.export()
    with Image.open(out) as im:
        assert im.size == window.document.size
    out2 = tmp_path / "out.jpg"
    monkeypatch.setattr(window.files, "ask_save_path", lambda *a: str(out2))
    assert window.files.export() and out2.stat().st_size > 0


def test_closing_with_unsaved_changes_asks(window, monkeypatch):
    window.select_all_action.trigger()
    assert window.is_modified()
    monkeypatch.setattr(window.files, "ask_unsaved", lambda: "cancel")
    assert not window.close()
    assert window.isVisible()
    monkeypatch.setattr(window.files, "ask_unsaved", lambda: "discard")
    assert window.close()


def test_recent_files_menu(window, tmp_path):
    from canvas.ora import save_ora
    from desktop.controllers.files import default_document

    paths = []
    for i in range(2):
        p = tmp_path / f"d{i}.ora"
        save_ora(default_document(50 + i, 50), p)
        paths.append(p)
        window.files.open_path(str(p))
    texts = [a.text() for a in window.recent_menu.actions()]
    assert texts[0].endswith("d1.ora") and texts[1].endswith("d0.ora")
    window.recent_menu.actions()[1].trigger()
    assert window.document.size == (50, 50)
