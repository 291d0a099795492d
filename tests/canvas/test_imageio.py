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
    sparse = np.zeros((64, 50, 4), np.uint8)
    sparse[5:9, 10:40] = (255, 0, 0, 128)
    for img in (px, sparse):
        for level in (0, 1, 6, 9):  # fast (Up filter + RLE) and adaptive-filter levels
            assert np.array_equal(decode_png(encode_png(img, level), "x"), img)
    with pytest.raises(ValueError):
        encode_png(px[..., :3], 1)
    export_image(tmp_path / "o.png", px)
    assert np.array_equal(load_image(tmp_path / "o.png"), px)
    half = np.zeros((4, 4, 4), np.uint8)
    half[..., 3] = 0  # transparent flattens to white in JPEG
    export_image(tmp_path / "o.jpg", half)
    assert load_image(tmp_path / "o.jpg")[..., :3].min() > 245


def header_png(w: int, h: int) -> bytes:
    """A valid PNG signature and IHDR declaring w×h, with no pixel data."""
    ihdr = bytearray(png_bytes(Image.new("RGBA", (1, 1))))
    ihdr[16:20] = w.to_bytes(4, "big")
    ihdr[20:24] = h.to_bytes(4, "big")
    ihdr[29:33] = zlib.crc32(bytes(ihdr[12:29])).to_bytes(4, "big")
    return bytes(ihdr[:33]) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_pixel_cap_is_ours_not_pillows():
    # 100 MP is over Pillow's default 89 MP warning but under Akapen's cap: the file is judged
    # on its content (here: no pixel data, so damaged), not refused as too large
    data = header_png(10_000, 10_000)
    with pytest.raises(ImageImportError) as info:
        load_image(data, name="big.png")
    assert not isinstance(info.value, ImageTooLargeError)
    assert "big.png" in str(info.value)
    # a lower cap refuses it, naming the file and its size
    with pytest.raises(ImageTooLargeError, match=r"big\.png: 10000×10000 is 100 megapixels"):
        load_image(data, name="big.png", max_pixels=50_000_000)


def test_gif_and_bmp_bombs_refused_from_their_headers():
    gif = bytearray(b"GIF89a" + (65535).to_bytes(2, "little") * 2 + b"\x00\x00\x00")
    gif += b"\x2c" + b"\x00" * 4 + (65535).to_bytes(2, "little") * 2 + b"\x00\x02\x02\x44\x01\x00\x3b"
    with pytest.raises(ImageTooLargeError, match="bomb.gif"):
        load_image(bytes(gif), name="bomb.gif")
    bmp = io.BytesIO()
    Image.new("RGB", (2, 2)).save(bmp, "BMP")
    raw = bytearray(bmp.getvalue())
    raw[18:22] = (30_000).to_bytes(4, "little")
    raw[22:26] = (30_000).to_bytes(4, "little")
    with pytest.raises(ImageTooLargeError, match="bomb.bmp"):
        load_image(bytes(raw), name="bomb.bmp")


def test_gif_first_frame_and_grey_alpha():
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = load_image(b.getvalue())
    assert out.shape == (4, 6, 4) and tuple(out[0, 0]) == (255, 0, 0, 255)
    la = Image.merge("LA", (Image.new("L", (3, 2), 90), Image.new("L", (3, 2), 40)))
    assert tuple(load_image(png_bytes(la))[1, 2]) == (90, 90, 90, 40)


@pytest.mark.parametrize("fmt, kw", [("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {})])
def test_other_allowed_formats_are_exact(fmt, kw):
    rng = np.random.default_rng(4)
    px = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    if fmt == "BMP":
        px[..., 3] = 255
    b = io.BytesIO()
    Image.fromarray(px, "RGBA").save(b, fmt, **kw)
    assert np.array_equal(load_image(b.getvalue()), px)


def test_16_bit_and_float_tiff_are_scaled():
    b = io.BytesIO()
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(b, "TIFF")
    assert list(load_image(b.getvalue())[0, :, 0]) == [0, 128, 255]
    b = io.BytesIO()
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F").save(b, "TIFF")
    assert list(load_image(b.getvalue())[0, :, 0]) == [0, 128, 255]


def test_formats_outside_the_allow_list_are_refused(tmp_path):
    for fmt, suffix in (("TGA", "tga"), ("PCX", "pcx"), ("ICO", "ico")):
        p = tmp_path / f"x.{suffix}"
        Image.new("RGB", (8, 8), (1, 2, 3)).save(p, fmt)
        with pytest.raises(ImageImportError, match="not an image Akapen can open"):
            load_image(p)


def test_export_refuses_unknown_formats(tmp_path):
    from canvas.errors import SaveError

    with pytest.raises(SaveError, match="PNG or JPEG"):
        export_image(tmp_path / "x.gif", np.zeros((2, 2, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_a_png_signature_followed_by_random_bytes_is_called_damaged_not_huge():
    rng = np.random.RandomState(7)
    for _ in range(20):
        data = b"\x89PNG\r\n\x1a\n" + rng.bytes(200)
        with pytest.raises(ImageImportError) as info:
            load_image(data, name="noise.png")
        assert not isinstance(info.value, ImageTooLargeError)
        assert "noise.png: the file is damaged" in str(info.value) and "megapixels" not in str(info.value)
