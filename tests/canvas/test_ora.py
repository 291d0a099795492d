import io
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
from PIL import Image

from canvas.document import Document
from canvas.errors import SaveError
from canvas.layers import AnnotationLayer, PixelLayer
from canvas.marks import TextLabel
from canvas.ora import NS, load_ora, read_thumbnail, save_ora, write_ora
from tests.canvas.helpers import random_rgba, sample_document


def rich_document() -> Document:
    doc = sample_document()
    doc.set_layer_props(doc.layers[1].id, locked=True, provenance={
        "instruction": "make it glow", "backend": "classical", "seed": 7, "references": ["a"],
        "parameters": {"steps": 4, "nested": [1, 2.5, None]}})
    doc.set_layer_props(doc.layers[2].id, visible=False, opacity=0.25, blend="overlay", role="reference")
    empty = doc.add_layer(AnnotationLayer([], name="Empty marks"))
    doc.add_mark(doc.layers[4].id, TextLabel(pos=(5.0, 5.0), text="bus → here", size=20.0))
    sel = np.zeros((doc.height, doc.width), np.uint8)
    sel[10:60, 20:90] = 255
    sel[30, 30] = 128
    doc.set_selection(sel)
    doc.add_reference(random_rgba(np.random.default_rng(3), 21, 13), "style ref")
    doc.metadata.update({"title": "Test", "nested": {"a": [1, 2]}})
    assert empty.bounds().empty
    return doc


def test_round_trip_is_exact(tmp_path):
    doc = rich_document()
    path = tmp_path / "doc.ora"
    save_ora(doc, path)
    back = load_ora(path)
    assert back.content_equal(doc)
    assert np.array_equal(back.render(), doc.render())
    assert np.array_equal(back.render_annotations(), doc.render_annotations())
    assert not back.modified and back.history.index == 0
    assert [lyr.id for lyr in back.layers] == [lyr.id for lyr in doc.layers]


def test_file_follows_the_openraster_layout(tmp_path):
    doc = rich_document()
    path = tmp_path / "doc.ora"
    save_ora(doc, path)
    with zipfile.ZipFile(path) as zf:
        first = zf.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert zf.read("mimetype") == b"image/openraster"
        names = set(zf.namelist())
        assert {"stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"} <= names
        root = ET.fromstring(zf.read("stack.xml"))
        layers = root.find("stack").findall("layer")
        # topmost first, every src a PNG member, pixels other programs can show
        assert [el.get("name") for el in layers] == [lyr.name for lyr in reversed(doc.layers)]
        for el in layers:
            assert el.get("src") in names
            assert el.get("composite-op", "").startswith("svg:")
        piece_el = next(el for el in layers if el.get(f"{{{NS}}}kind") == "piece")
        piece_png = np.array(Image.open(io.BytesIO(zf.read(piece_el.get("src")))).convert("RGBA"))
        piece = next(lyr for lyr in doc.layers if lyr.id == piece_el.get(f"{{{NS}}}id"))
        assert np.array_equal(piece_png, piece.raster()[0])
        assert (int(piece_el.get("x")), int(piece_el.get("y"))) == piece.bounds().as_tuple()[:2]
        merged = np.array(Image.open(io.BytesIO(zf.read("mergedimage.png"))).convert("RGBA"))
        assert np.array_equal(merged, doc.render())
        thumb = Image.open(io.BytesIO(zf.read("Thumbnails/thumbnail.png")))
        assert max(thumb.size) <= 256
        locked = [el for el in layers if el.get("edit-locked") == "true"]
        assert len(locked) == 1
    assert read_thumbnail(path) is not None


def test_reads_a_plain_ora_written_by_another_program(tmp_path):
    rng = np.random.default_rng(2)
    bottom = random_rgba(rng, 40, 60, opaque=True)
    top = random_rgba(rng, 10, 20)

    def png(a):
        b = io.BytesIO()
        Image.fromarray(a, "RGBA").save(b, "PNG")
        return b.getvalue()

    stack = """<?xml version="1.0" encoding="UTF-8"?>
<image w="60" h="40" version="0.0.3">
  <stack>
    <stack name="Group" opacity="0.5">
      <layer name="top" src="data/top.png" x="5" y="7" composite-op="svg:multiply"/>
    </stack>
    <layer name="odd" src="data/top.png" composite-op="krita:weird" visibility="hidden"/>
    <layer name="bottom" src="data/bottom.png"/>
  </stack>
</image>"""
    path = tmp_path / "krita.ora"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "image/openraster", compress_type=zipfile.ZIP_STORED)
        zf.writestr("stack.xml", stack)
        zf.writestr("data/top.png", png(top))
        zf.writestr("data/bottom.png", png(bottom))
    warnings: list[str] = []
    doc = load_ora(path, warnings=warnings)
    assert [lyr.name for lyr in doc.layers] == ["bottom", "odd", "top"]
    assert all(lyr.kind == "pixel" and lyr.role == "content" for lyr in doc.layers)
    top_layer = doc.layers[2]
    assert top_layer.bounds().as_tuple() == (5, 7, 20, 10)
    assert top_layer.blend == "multiply" and top_layer.opacity == pytest.approx(0.5)
    assert not doc.layers[1].visible and doc.layers[1].blend == "normal"
    assert np.array_equal(doc.layers[0].pixels, bottom)
    assert np.array_equal(doc.layers[1].pixels, top)  # two layers read the same member...
    assert not np.shares_memory(doc.layers[1].pixels, doc.layers[2].pixels)  # ...into separate arrays
    assert any("flattened" in w for w in warnings) and any("krita:weird" in w for w in warnings)


def test_in_memory_round_trip_and_second_save_reuses_unchanged_layers(tmp_path):
    doc = rich_document()
    a, b = io.BytesIO(), io.BytesIO()
    write_ora(doc, a)
    write_ora(doc, b)
    a.seek(0)
    assert load_ora(a).content_equal(doc)
    assert len(a.getvalue()) == len(b.getvalue())


def test_save_keeps_the_previous_file_as_backup(tmp_path):
    path = tmp_path / "d.ora"
    doc = rich_document()
    save_ora(doc, path)
    first = path.read_bytes()
    doc.new_pixel_layer("more")
    save_ora(doc, path)
    assert (tmp_path / "d.ora~").read_bytes() == first
    assert len(load_ora(path).layers) == len(doc.layers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.ora", "d.ora~"]


def test_failed_save_leaves_old_file_intact(tmp_path):
    path = tmp_path / "d.ora"
    doc = rich_document()
    save_ora(doc, path)
    before = path.read_bytes()
    bad = rich_document()
    bad.layers[0].pixels = "not pixels"  # the writer will fail half-way
    with pytest.raises(SaveError, match="previous file is unchanged"):
        save_ora(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.ora"]


def test_save_into_read_only_folder_is_a_clear_error(tmp_path):
    import os

    if os.geteuid() == 0:
        # root ignores folder permissions; a missing folder fails the same code path
        with pytest.raises(SaveError, match="does not exist"):
            save_ora(rich_document(), tmp_path / "nope" / "d.ora")
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="permission"):
            save_ora(rich_document(), folder / "d.ora")
    finally:
        folder.chmod(0o700)


def test_empty_document_round_trips():
    doc = Document(16, 9)
    buf = io.BytesIO()
    write_ora(doc, buf)
    buf.seek(0)
    back = load_ora(buf)
    assert back.size == (16, 9) and back.layers == ()


def test_pixel_layer_offsets_survive(tmp_path):
    doc = Document(50, 50)
    px = random_rgba(np.random.default_rng(9), 7, 9)
    doc.add_layer(PixelLayer(px, -3, 45, name="off the edge"))
    save_ora(doc, tmp_path / "o.ora")
    back = load_ora(tmp_path / "o.ora")
    assert back.layers[0].bounds().as_tuple() == (-3, 45, 9, 7)
    assert back.content_equal(doc)


def test_frozen_snapshot_is_independent_and_reuses_unchanged_layers(tmp_path):
    from canvas.geometry import Rect
    from canvas.ora import freeze

    doc = rich_document()
    save_ora(doc, tmp_path / "first.ora")  # fills the encoded-PNG cache
    paint = doc.layers[1]
    doc.set_layer_props(paint.id, locked=False)
    frozen = freeze(doc)
    # unchanged layers hand over their encoded bytes; nothing large is copied for them
    kinds = {name: type(v).__name__ for name, v in frozen.jobs.items()}
    assert kinds[f"data/{doc.layers[0].id}.png"] == "bytes"
    expected = doc.copy()
    # the document goes on changing after the snapshot...
    doc.paint(paint.id, Rect(*paint.bounds().as_tuple()[:2], 5, 5), np.full((5, 5, 4), 7, np.uint8))
    doc.set_transform(doc.layers[2].id, doc.layers[2].transform.__class__(cx=10, cy=10))
    doc.metadata["title"] = "changed"
    # ...and the snapshot still writes the document as it was
    buf = io.BytesIO()
    frozen.write(buf)
    buf.seek(0)
    back = load_ora(buf)
    assert back.content_equal(expected) and not back.content_equal(doc)
    # after a change only the changed layer is handed over as pixels again
    again = freeze(doc)
    assert isinstance(again.jobs[f"data/{paint.id}.png"], np.ndarray)
    assert isinstance(again.jobs[f"data/{doc.layers[0].id}.png"], bytes)
