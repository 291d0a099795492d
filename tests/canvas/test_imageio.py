import io
import zlib

import numpy as np
import pytest
from PIL import Image

from canvas.errors import ImageImportError, ImageTooLargeError
from canvas.imageio import decode_png, encode_png, export_image, load_image


def png_bytes(img: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, "PNG", **kw)
    return b.getvalue()


def test_rgba_png_keeps_alpha_exactly(tmp_path):
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (17, 23, 4), dtype=np.uint8)
    p = tmp_path / "a.png"
    Image.fromarray(px, "RGBA").save(p)
    assert np.array_equal(load_image(p), px)


def test_grey_palette_cmyk_and_16_bit_become_rgba():
    grey = load_image(png_bytes(Image.new("L", (4, 3), 77)))
    assert grey.shape == (3, 4, 4) and (grey[0, 0] == (77, 77, 77, 255)).all()
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    pal.info["transparency"] = 0
    pal.putpixel((0, 0), 0)
    out = load_image(png_bytes(pal, transparency=0))
    assert out[0, 0, 3] == 0 and (out[1, 1] == (200, 10, 20, 255)).all()
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # pure red
    b = io.BytesIO()
    cmyk.save(b, "JPEG")
    red = load_image(b.getvalue())
    assert red[0, 0, 0] > 200 and red[0, 0, 1] < 60
    deep = Image.fromarray(np.full((2, 2), 65535, np.uint16))  # 16-bit grey
    assert load_image(png_bytes(deep))[0, 0, 0] == 255
    mid = Image.fromarray(np.full((2, 2), 32768, np.uint16))
    assert abs(int(load_image(png_bytes(mid))[0, 0, 0]) - 128) <= 1  # scaled, not clipped


def test_16_bit_colour_png_is_scaled():
    import cv2

    arr = np.zeros((2, 2, 3), np.uint16)
    arr[..., 2] = 65535  # BGR order: red
    arr[..., 1] = 32768
    ok, buf = cv2.imencode(".png", arr)
    out = load_image(buf.tobytes())
    assert tuple(out[0, 0]) == (255, 128, 0, 255)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    b = io.BytesIO()
    img.save(b, "JPEG", exif=exif, quality=95)
    out = load_image(b.getvalue())
    assert out.shape[:2] == (40, 20)  # now portrait
    assert out[2, 10, 2] > 200  # blue is on top after the rotation


def test_decompression_bomb_refused_from_header():
    # a PNG header that declares 100000×100000 pixels: refused before any decoding
    data = png_bytes(Image.new("L", (1, 1)))
    ihdr = bytearray(data)
    ihdr[16:20] = (100000).to_bytes(4, "big")
    ihdr[20:24] = (100000).to_bytes(4, "big")
    ihdr[29:33] = zlib.crc32(bytes(ihdr[12:29])).to_bytes(4, "big")  # a valid header checksum
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        load_image(bytes(ihdr), name="bomb.png")
    with pytest.raises(ImageTooLargeError):
        decode_png(bytes(ihdr), "bomb.png")


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(ImageImportError, match="no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageImportError, match="empty"):
        load_image(tmp_path / "empty.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageImportError, match="not an image"):
        load_image(tmp_path / "notes.txt")
    good = png_bytes(Image.new("RGB", (64, 64), (1, 2, 3)))
    with pytest.raises(ImageImportError, match="damaged|truncated"):
        load_image(good[: len(good) // 2], name="cut.png")
    with pytest.raises(ImageImportError, match="folder"):
        load_image(tmp_path)


def test_png_codec_round_trip_and_export(tmp_path):
    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    for sparse in (True, False):
        assert np.array_equal(decode_png(encode_png(px, 1, sparse=sparse), "x"), px)
    export_image(tmp_path / "o.png", px)
    assert np.array_equal(load_image(tmp_path / "o.png"), px)
    half = np.zeros((4, 4, 4), np.uint8)
    half[..., 3] = 0  # transparent flattens to white in JPEG
    export_image(tmp_path / "o.jpg", half)
    assert load_image(tmp_path / "o.jpg")[..., :3].min() > 245
