"""The one safe path for every way an image enters the document (open, drop, paste,
reference), and image export.

Only an allow-list of formats is decoded; the declared size is checked against a pixel cap
before any pixel is decoded (no decompression bombs); EXIF orientation is applied; grey,
palette, CMYK, 16-bit and float images become 8-bit straight RGBA.
"""

from __future__ import annotations

import io
import os
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from canvas.errors import ImageImportError, ImageTooLargeError, SaveError

MAX_PIXELS = 150_000_000  # ~12k × 12k
MAX_FILE_BYTES = 2 << 30
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def _describe(source, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, str | os.PathLike):
        return str(source)
    return "the pasted image"


def check_size(w: int, h: int, what: str, max_pixels: int = MAX_PIXELS) -> None:
    if w <= 0 or h <= 0:
        raise ImageImportError(f"{what}: the image has no pixels ({w}×{h})")
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"{what}: {w}×{h} is {w * h / 1e6:.0f} megapixels, more than Akapen opens "
            f"({max_pixels / 1e6:.0f} MP); scale it down first"
        )


def _to_rgba(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.dstack([grey, grey, grey, np.full(grey.shape, 255, np.uint8)])
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.dstack([grey, grey, grey, np.full(grey.shape, 255, np.uint8)])
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode == "CMYK":
        img = img.convert("RGB")
    if img.mode != "RGBA":
        img = img.convert("RGBA")
    return np.array(img, dtype=np.uint8)


def _decode_16bit_png(data: bytes) -> np.ndarray | None:
    """16-bit colour PNGs: Pillow has no 16-bit RGB(A) mode, OpenCV reads them exactly."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        return None
    arr = (arr.astype(np.uint32) * 255 + 32767) // 65535
    arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        return np.dstack([arr, arr, arr, np.full(arr.shape, 255, np.uint8)])
    if arr.shape[2] == 3:
        return np.dstack([arr[..., ::-1], np.full(arr.shape[:2], 255, np.uint8)])
    return np.ascontiguousarray(arr[..., [2, 1, 0, 3]])


def load_image(source, *, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode ``source`` (a path or bytes) into straight uint8 RGBA (h, w, 4)."""
    what = _describe(source, name)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ImageTooLargeError(f"{what}: the file is {size / 1e9:.1f} GB, too large to open")
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageImportError(f"{what}: no such file") from None
        except IsADirectoryError:
            raise ImageImportError(f"{what}: is a folder, not an image") from None
        except OSError as exc:
            raise ImageImportError(f"{what}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise ImageImportError(f"{what}: the file is empty")
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # check a PNG's size before anything else …
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if len(data) < 33 or data[12:16] != b"IHDR" or zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], "big") \
                or w >= 1 << 31 or h >= 1 << 31:  # … but a size read from a damaged header is no size at all
            raise ImageImportError(f"{what}: the file is damaged (a PNG signature, then no valid image header); "
                                   "it may be cut short or not a PNG at all")
        check_size(w, h, what, max_pixels)
    try:
        with warnings.catch_warnings():
            # our cap (checked below and on the PNG header above) decides, not Pillow's
            # 89-megapixel warning; Pillow still refuses more than 2× its limit outright. Its
            # other warnings are about damaged metadata (TIFF tags, EXIF), which it skips.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            check_size(img.width, img.height, what, max_pixels)
            if img.format == "PNG" and _png_bit_depth(data) == 16:
                arr = _decode_16bit_png(data)
                if arr is not None:
                    return arr
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgba(img)
    except (ImageImportError, ImageTooLargeError):
        raise
    except UnidentifiedImageError:
        raise ImageImportError(
            f"{what}: not an image Akapen can open (it opens {', '.join(ALLOWED_FORMATS)})"
        ) from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{what}: the image declares more pixels than Akapen opens ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageImportError(f"{what}: the image is damaged or truncated ({exc}); "
                              "try saving it again from the program that made it") from None


def _png_bit_depth(data: bytes) -> int:
    # IHDR: 8-byte signature, 4 length, 4 type, 4 width, 4 height, 1 bit depth
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else 8


def image_size(path) -> tuple[int, int]:
    """(width, height) from the header only."""
    try:
        with Image.open(path, formats=list(ALLOWED_FORMATS)) as img:
            return img.width, img.height
    except FileNotFoundError:
        raise ImageImportError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageImportError(f"{path}: not an image Akapen can open ({exc})") from None


def encode_png(rgba: np.ndarray, compress_level: int = 1) -> bytes:
    """Straight RGBA -> PNG bytes with OpenCV's encoder (it releases the GIL, so layers can be
    encoded in parallel threads).

    At fast levels (<= 3) every row uses the Up filter with run-length deflate: measured on
    4096² layers this is 3× faster than libpng's adaptive filters, about as small on photos
    and far smaller on mostly transparent paint layers. Higher levels keep adaptive filters.
    """
    rgba = np.ascontiguousarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGBA (h, w, 4), got {rgba.dtype} {rgba.shape}")
    bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    level = int(min(9, max(0, compress_level)))
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    if level <= 3:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
                   cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", bgra, params)
    if not ok:  # pragma: no cover - OpenCV's PNG encoder does not fail on valid arrays
        raise SaveError("the PNG encoder failed")
    return buf.tobytes()


def png_damage(data: bytes) -> str | None:
    """What is wrong with a PNG's chunk structure (lengths, checksums, the end chunk), or None.

    Checked before OpenCV decodes: its libpng would print its own complaint on stderr, and a
    damaged file is then one clear error instead (CRC-32 runs at gigabytes per second).
    """
    import zlib

    i, n = 8, len(data)
    while i + 12 <= n:
        length = int.from_bytes(data[i:i + 4], "big")
        end = i + 12 + length
        if length > 0x7FFFFFFF or end > n:
            return "it is truncated"
        kind = data[i + 4:i + 8]
        if zlib.crc32(memoryview(data)[i + 4:i + 8 + length]) != int.from_bytes(data[end - 4:end], "big"):
            return f"the checksum of its {kind.decode('latin-1')!r} chunk is wrong"
        if kind == b"IEND":
            return None
        i = end
    return "it is truncated"


def decode_png(data: bytes, what: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """PNG bytes -> straight RGBA, with the pixel cap checked on the header first."""
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ImageImportError(f"{what}: not a PNG image")
    w = int.from_bytes(data[16:20], "big")
    h = int.from_bytes(data[20:24], "big")
    check_size(w, h, what, max_pixels)
    damage = png_damage(data)
    if damage is not None:
        raise ImageImportError(f"{what}: the PNG is damaged ({damage}); "
                               "try saving it again from the program that made it")
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageImportError(f"{what}: the PNG is damaged or truncated; "
                              "try saving it again from the program that made it")
    if arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if arr.ndim == 2:
        return np.dstack([arr, arr, arr, np.full(arr.shape, 255, np.uint8)])
    if arr.shape[2] == 3:
        return np.dstack([cv2.cvtColor(arr, cv2.COLOR_BGR2RGB), np.full(arr.shape[:2], 255, np.uint8)])
    return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)


def export_image(path, rgba: np.ndarray, format: str | None = None, quality: int = 95) -> None:
    """Write a PNG or JPEG (flattened over white) atomically; the old file stays on failure."""
    from canvas.atomic import atomic_write

    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt in ("jpg", "jpeg"):
        a = rgba[..., 3:4].astype(np.float32) / 255.0
        rgb = rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a)
        bgr = cv2.cvtColor((rgb + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:  # pragma: no cover
            raise SaveError(f"{path}: the JPEG encoder failed")
        data = buf.tobytes()
    elif fmt == "png":
        data = encode_png(rgba, 6)
    else:
        raise SaveError(f"{path}: Akapen exports PNG or JPEG, not {fmt or 'a file without extension'}")
    atomic_write(path, lambda f: f.write(data), backup=False)
