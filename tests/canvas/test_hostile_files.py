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
    import canvas.ora as ora_mod

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
    import canvas.ora as ora_mod

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
