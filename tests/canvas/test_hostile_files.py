"""A corpus of hostile .ora files, made here: each must fail with a clear OraError, quickly,
and without extracting or decoding anything it should not."""

import io
import time
import zipfile
import zlib

import pytest
from PIL import Image

from canvas.errors import OraError
from canvas.ora import load_ora


def png(w=4, h=4) -> bytes:
    b = io.BytesIO()
    Image.new("RGBA", (w, h), (1, 2, 3, 255)).save(b, "PNG")
    return b.getvalue()


def bomb_png(w=100_000, h=100_000) -> bytes:
    data = bytearray(png(1, 1))
    data[16:20] = w.to_bytes(4, "big")
    data[20:24] = h.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def stack(layers: str, w=8, h=8) -> str:
    return f'<?xml version="1.0"?><image w="{w}" h="{h}"><stack>{layers}</stack></image>'


def ora(members: dict[str, bytes | str], mimetype: bytes | None = b"image/openraster") -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as zf:
        if mimetype is not None:
            zf.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            zf.writestr(name, data)
    return b.getvalue()


GOOD_LAYER = '<layer name="a" src="data/a.png"/>'

CASES = {
    "not a zip": (b"this is not an archive at all", "not a valid zip"),
    "missing mimetype": (ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": png()}, mimetype=None), "mimetype"),
    "wrong mimetype": (ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": png()}, mimetype=b"image/png"),
                       "wrong mimetype"),
    "missing stack.xml": (ora({"data/a.png": png()}), "stack.xml is missing"),
    "bad xml": (ora({"stack.xml": "<image w='8' h='8'><stack><layer", "data/a.png": png()}), "not valid XML"),
    "entity bomb": (ora({"stack.xml": '<?xml version="1.0"?><!DOCTYPE image [<!ENTITY a "aaaaaaaaaa">'
                                      '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                                      '<image w="8" h="8"><stack><layer name="&b;" src="data/a.png"/></stack></image>',
                         "data/a.png": png()}), "DTD or entities"),
    "external entity": (ora({"stack.xml": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                          '<image w="8" h="8"><stack/></image>'}), "DTD or entities"),
    "traversal src": (ora({"stack.xml": stack('<layer name="a" src="../../etc/passwd"/>'), "data/a.png": png()}),
                      "not a plain member name"),
    "absolute src": (ora({"stack.xml": stack('<layer name="a" src="/etc/passwd"/>')}), "not a plain member name"),
    "backslash src": (ora({"stack.xml": stack('<layer name="a" src="data\\a.png"/>'), "data\\a.png": png()}),
                      "not a plain member name"),
    "src names nothing": (ora({"stack.xml": stack('<layer name="a" src="data/missing.png"/>')}), "names no member"),
    "huge canvas": (ora({"stack.xml": stack(GOOD_LAYER, w=10**6, h=10**6), "data/a.png": png()}), "out of range"),
    "huge canvas in range": (ora({"stack.xml": stack(GOOD_LAYER, w=32000, h=32000), "data/a.png": png()}),
                             "more pixels"),
    "png declares huge size": (ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": bomb_png()}), "megapixels"),
    "truncated png": (ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": png(64, 64)[:60]}), "damaged|truncated"),
    "not a png": (ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": b"GIF89a........"}), "not a PNG"),
    "bad numbers": (ora({"stack.xml": stack('<layer name="a" src="data/a.png" x="left" />'), "data/a.png": png()}),
                    "not a number"),
    "bad opacity": (ora({"stack.xml": stack('<layer name="a" src="data/a.png" opacity="nan" />'),
                         "data/a.png": png()}), "finite"),
    "bad role": (ora({"stack.xml": stack('<layer xmlns:k="https://akapen.app/ns/ora/1" k:role="boss" '
                                         'name="a" src="data/a.png"/>'), "data/a.png": png()}), "unknown role"),
    "bad marks json": (ora({"stack.xml": stack('<layer xmlns:k="https://akapen.app/ns/ora/1" k:kind="annotation" '
                                               'k:marks="akapen/m.json" name="a" src="data/a.png"/>'),
                            "data/a.png": png(), "akapen/m.json": "[{\"kind\": \"blob\"}]"}), "unreadable mark"),
    "deep groups": (ora({"stack.xml": '<image w="8" h="8">' + "<stack>" * 40 + "</stack>" * 40 + "</image>"}),
                    "too deeply"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_fails_clearly(tmp_path, name):
    data, message = CASES[name]
    path = tmp_path / f"{name.replace(' ', '_')}.ora"
    path.write_bytes(data)
    t0 = time.perf_counter()
    with pytest.raises(OraError, match=message) as info:
        load_ora(path)
    assert str(path) in str(info.value)  # the message names the file
    assert "\n" not in str(info.value)
    assert time.perf_counter() - t0 < 30  # a generous bound: nothing hangs


def test_hundred_thousand_members_refused(tmp_path):
    path = tmp_path / "many.ora"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("mimetype", "image/openraster")
        for i in range(100_000):
            zf.writestr(f"d/{i}", b"")
    with pytest.raises(OraError, match="members"):
        load_ora(path)


def test_member_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    import canvas.ora.reader as ora_mod

    monkeypatch.setattr(ora_mod, "MAX_XML_BYTES", 1000)
    big = stack(GOOD_LAYER + "<!-- " + "x" * 5000 + " -->")
    path = tmp_path / "big.ora"
    path.write_bytes(ora({"stack.xml": big, "data/a.png": png()}))
    with pytest.raises(OraError, match="limit"):
        load_ora(path)


def test_directory_and_missing_path(tmp_path):
    with pytest.raises(OraError, match="folder"):
        load_ora(tmp_path)
    with pytest.raises(OraError, match="no such file"):
        load_ora(tmp_path / "nothing.ora")


def test_total_decoded_pixels_are_capped_before_decoding(tmp_path):
    """Many layers, each declaring a big (but individually allowed) image: refused from the
    headers, before a single pixel is decoded."""
    layers = "".join(f'<layer name="l{i}" src="data/{i}.png"/>' for i in range(200))
    members = {"stack.xml": stack(layers)}
    members.update({f"data/{i}.png": bomb_png(10_000, 10_000) for i in range(200)})  # 100 MP each
    path = tmp_path / "many_big.ora"
    path.write_bytes(ora(members))
    t0 = time.perf_counter()
    with pytest.raises(OraError, match="in total"):
        load_ora(path)
    assert time.perf_counter() - t0 < 10


def test_one_member_shared_by_many_layers_is_capped(tmp_path, monkeypatch):
    import canvas.ora.reader as ora_mod

    monkeypatch.setattr(ora_mod, "MAX_TOTAL_PIXELS", 64 * 64 * 10)
    layers = "".join(f'<layer name="l{i}" src="data/a.png"/>' for i in range(50))
    path = tmp_path / "shared.ora"
    path.write_bytes(ora({"stack.xml": stack(layers), "data/a.png": png(64, 64)}))
    with pytest.raises(OraError, match="in total"):
        load_ora(path)
    monkeypatch.setattr(ora_mod, "MAX_TOTAL_PIXELS", 64 * 64 * 50)
    assert len(load_ora(path).layers) == 50  # exactly at the cap is fine


def test_member_whose_header_lies_about_its_size(tmp_path):
    """A deflated member that declares 100 bytes but inflates to megabytes: the read stops at
    the declared size and the file is reported damaged (nothing is inflated past it)."""
    big = stack(GOOD_LAYER + "<!--" + "x" * 5_000_000 + "-->")
    data = bytearray(ora({"stack.xml": big, "data/a.png": png()}))
    real = len(big.encode()).to_bytes(4, "little")
    lie = (100).to_bytes(4, "little")
    n = 0
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central headers
        i = data.find(sig)
        while i != -1:
            if data[i + off : i + off + 4] == real:
                data[i + off : i + off + 4] = lie
                n += 1
            i = data.find(sig, i + 4)
    assert n == 2
    path = tmp_path / "liar.ora"
    path.write_bytes(bytes(data))
    t0 = time.perf_counter()
    with pytest.raises(OraError, match="damaged|not valid XML"):
        load_ora(path)
    assert time.perf_counter() - t0 < 5


# --- archive-level damage and hostile stack.xml values, one case each (the fuzz harness runs thousands) ---
def _patch(data: bytes, sig: bytes, offset: int, fmt: str, value: int, which: int = 0) -> bytes:
    """Set one field of the ``which``-th record with signature ``sig`` (a local header, a central entry)."""
    import struct

    b = bytearray(data)
    at = -1
    for _ in range(which + 1):
        at = b.find(sig, at + 1)
    struct.pack_into("<" + fmt, b, at + offset, value)
    return bytes(b)


def _good() -> bytes:
    return ora({"stack.xml": stack(GOOD_LAYER), "data/a.png": png()})


ARCHIVE_CASES = {
    # central directory entry of stack.xml (the 2nd entry): method, sizes, offset, flags
    "unsupported compression method": (_patch(_good(), b"PK\x01\x02", 10, "H", 99, 1), "damaged|compression|method"),
    "encrypted member": (_patch(_good(), b"PK\x01\x02", 8, "H", 1, 1), "damaged|encrypt"),
    "zip version from the future": (_patch(_good(), b"PK\x01\x02", 6, "H", 0x00FF, 1), "damaged|version|not a valid"),
    "member offset past the end": (_patch(_good(), b"PK\x01\x02", 42, "I", 0x7FFFFFF0, 1), "damaged|not a valid"),
    "declared size of 4 GB": (_patch(_good(), b"PK\x01\x02", 24, "I", 0xFFFFFFFF, 1), "limit|damaged|not a valid"),
    "local header name length lies": (_patch(_good(), b"PK\x03\x04", 26, "H", 0xFFFF, 1), "damaged|not a valid"),
    "central directory size lies": (_patch(_good(), b"PK\x05\x06", 12, "I", 5, 0), "not a valid|damaged"),
    # the directory is read by its size; a wrong entry count alone leaves the file readable
    "entry count lies": (_patch(_good(), b"PK\x05\x06", 10, "H", 0xFFFF, 0), None),
}


def _zip64_lie() -> bytes:
    """stack.xml's central entry says its sizes are in a zip64 extra field that holds garbage."""
    import struct

    data = bytearray(_good())
    at = -1
    for _ in range(2):
        at = data.find(b"PK\x01\x02", at + 1)
    name_len, extra_len = struct.unpack_from("<HH", data, at + 28)
    struct.pack_into("<II", data, at + 20, 0xFFFFFFFF, 0xFFFFFFFF)
    extra = struct.pack("<HHQQ", 1, 16, 2**63, 2**64 - 1)
    struct.pack_into("<H", data, at + 30, extra_len + len(extra))
    end = at + 46 + name_len + extra_len
    out = bytearray(bytes(data[:end]) + extra + bytes(data[end:]))
    eocd = out.rfind(b"PK\x05\x06")
    (cd_size,) = struct.unpack_from("<I", out, eocd + 12)
    struct.pack_into("<I", out, eocd + 12, cd_size + len(extra))
    return bytes(out)


def _duplicate_stack() -> bytes:
    import warnings

    b = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(b, "w") as zf:
        warnings.simplefilter("ignore")
        zf.writestr("mimetype", "image/openraster")
        zf.writestr("stack.xml", stack(GOOD_LAYER))
        zf.writestr("stack.xml", stack('<layer name="b" src="data/a.png" opacity="0.1"/>'))
        zf.writestr("data/a.png", png())
    return b.getvalue()


ARCHIVE_CASES["zip64 extra field that lies"] = (_zip64_lie(), "declares more data than Akapen accepts")
ARCHIVE_CASES["two members with one name"] = (_duplicate_stack(), "two members named 'stack.xml'")


def _value(attrs: str, w=8, h=8) -> bytes:
    return ora({"stack.xml": stack(f'<layer name="a" src="data/a.png" {attrs}/>', w, h), "data/a.png": png()})


STACK_CASES = {
    "opacity inf": (_value('opacity="inf"'), "finite"),
    "opacity 1e308 is clamped": None,
    "x nan": (_value('x="nan"'), "out of range"),
    "x 1e308": (_value('x="1e308"'), "out of range"),
    "y -1e308": (_value('y="-1e308"'), "out of range"),
    "width inf": (_value("", w="inf"), "out of range"),
    "negative height": (_value("", h=-8), "out of range"),
    "zero width": (_value("", w=0), "out of range"),
    "huge offsets": (_value('x="99999999999" y="-99999999999"'), "out of range"),
    "deep nesting": (ora({"stack.xml": '<image w="8" h="8">' + "<stack>" * 50_000 + "</stack>" * 50_000 + "</image>"}),
                     "too deeply"),
    "UTF-16 declared and used": (ora({"stack.xml": stack(GOOD_LAYER).replace('version="1.0"', 'version="1.0" '
                                                                              'encoding="UTF-16"').encode("utf-16"),
                                      "data/a.png": png()}), None),
    "unknown encoding": (ora({"stack.xml": stack(GOOD_LAYER).replace('version="1.0"', 'version="1.0" '
                                                                       'encoding="ebcdic-x"'), "data/a.png": png()}),
                         "encoding"),
    "invalid UTF-8 in a name": (ora({"stack.xml": stack(GOOD_LAYER).encode().replace(b'name="a"', b'name="\xc3\x28"'),
                                     "data/a.png": png()}), "not valid XML"),
}
STACK_CASES["opacity 1e308 is clamped"] = (_value('opacity="1e308"'), None)


@pytest.mark.parametrize("name", sorted(ARCHIVE_CASES) + sorted(STACK_CASES))
def test_archive_damage_and_hostile_values(tmp_path, name):
    data, message = {**ARCHIVE_CASES, **STACK_CASES}[name]
    path = tmp_path / "case.ora"
    path.write_bytes(data)
    if message is None:  # readable: the values are taken within their ranges
        doc = load_ora(path)
        assert doc.render().shape == (doc.height, doc.width, 4)
        assert all(0.0 <= lyr.opacity <= 1.0 for lyr in doc.layers)
        return
    with pytest.raises(OraError, match=message) as info:
        load_ora(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def _doc_with(tmp_path, change) -> "object":
    import numpy as np

    from canvas.document import Document
    from canvas.layers import AnnotationLayer, PieceLayer
    from canvas.marks import Stroke
    from canvas.ora import save_ora

    doc = Document(64, 48)
    doc.add_layer(PieceLayer.at(np.full((10, 10, 4), 200, np.uint8), 5, 5, name="P"))
    doc.add_layer(AnnotationLayer([Stroke(points_=((1, 1), (20, 20)))], name="M"))
    path = tmp_path / "doc.ora"
    save_ora(doc, path)
    members = {}
    with zipfile.ZipFile(path) as zf:
        for i in zf.infolist():
            members[i.filename] = zf.read(i)
    change(members)
    path.write_bytes(ora({k: v for k, v in members.items() if k != "mimetype"}))
    return path


def test_a_piece_scaled_past_what_can_be_drawn_is_refused(tmp_path):
    import re

    def scale(m):
        m["stack.xml"] = re.sub(rb"&quot;sx&quot;: [0-9.e+-]+", b"&quot;sx&quot;: 1000000.0", m["stack.xml"])

    path = _doc_with(tmp_path, scale)
    with pytest.raises(OraError, match="larger than"):
        load_ora(path)


def test_marks_far_outside_the_canvas_load_and_render_only_the_canvas(tmp_path):
    import json

    def far(m):
        name = next(k for k in m if k.startswith("akapen/marks/"))
        marks = json.loads(m[name])
        marks[0]["points_"] = [[-900000, -900000], [900000, 900000]]
        m[name] = json.dumps(marks).encode()

    doc = load_ora(_doc_with(tmp_path, far))
    marks_layer = doc.layers[-1]
    assert marks_layer.bounds() == doc.rect  # drawn only where it can be seen: 64×48, not 1.8 million a side
    assert doc.render_annotations(doc.rect)[..., 3].any()


@pytest.mark.parametrize("bad", [[1e300, 5], ["nan", 1], [float("inf"), 0], [1, 2, 3], "xy"])
def test_a_mark_with_coordinates_out_of_range_is_refused(tmp_path, bad):
    import json

    def put(m):
        name = next(k for k in m if k.startswith("akapen/marks/"))
        marks = json.loads(m[name])
        marks[0]["points_"] = [[0, 0], bad]
        m[name] = json.dumps(marks).encode()

    with pytest.raises(OraError, match="unreadable mark"):
        load_ora(_doc_with(tmp_path, put))


def test_what_marks_and_pieces_render_to_counts_against_the_pixel_budget(tmp_path, monkeypatch):
    """Two thousand copies of one full-canvas marks layer (tiny in the file, gigabytes once drawn) are
    refused before anything is drawn, as decoded pixels are."""
    import json

    import canvas.ora.reader as ora_mod

    marks = json.dumps([{"kind": "rectangle", "p0": [0, 0], "p1": [63, 47], "width": 2}])
    layer = ('<layer xmlns:k="https://akapen.app/ns/ora/1" k:kind="annotation" k:role="annotation" '
             'k:marks="akapen/m.json" name="m" src="data/a.png"/>')
    path = tmp_path / "marks_bomb.ora"
    path.write_bytes(ora({"stack.xml": stack(layer * 1900, 64, 48), "data/a.png": png(), "akapen/m.json": marks}))
    monkeypatch.setattr(ora_mod, "MAX_TOTAL_PIXELS", 64 * 48 * 100)
    with pytest.raises(OraError, match="in total"):
        load_ora(path)
