"""The Gemini image models Akapen offers, and what each takes (from Google's image-generation docs).

Both take the same ten aspect ratios. Gemini 2.5 Flash Image answers at about one megapixel and
works best with up to three input images; Gemini 3 Pro Image takes up to fourteen and answers at
1K, 2K or 4K (``image_size``; the upper-case K is part of the value).
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.errors import InvalidRequest

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
SIZE_PIXELS = {"1K": 1024, "2K": 2048, "4K": 4096}


@dataclass(frozen=True)
class GeminiModel:
    id: str
    label: str
    max_images: int  # input images in one request: the picture and its references
    sizes: tuple[str, ...] = ()  # image_size values it takes (none: it has no size option)
    default_size: str = "1K"

    @property
    def max_references(self) -> int:
        return self.max_images - 1

    def working_size(self, image_size: str | None) -> int:
        """The long side, in pixels, that it answers at (the picture is sent at about that size)."""
        return SIZE_PIXELS[image_size if image_size in self.sizes else self.default_size]


MODELS: dict[str, GeminiModel] = {
    "gemini-2.5-flash-image": GeminiModel("gemini-2.5-flash-image", "nano banana (Gemini 2.5 Flash Image)", 3),
    "gemini-3-pro-image-preview": GeminiModel("gemini-3-pro-image-preview", "nano banana pro (Gemini 3 Pro Image)",
                                              14, ("1K", "2K", "4K")),
}
DEFAULT_MODEL = "gemini-2.5-flash-image"


def get(model_id: str | None) -> GeminiModel:
    """The model called ``model_id`` (None: the default); InvalidRequest lists the ones there are."""
    mid = str(model_id or DEFAULT_MODEL).strip()
    if mid not in MODELS:
        raise InvalidRequest(f"no Gemini image model {mid!r}; choose one of {', '.join(MODELS)}")
    return MODELS[mid]


def check_aspect(value: str | None) -> str | None:
    if value in (None, "", "auto"):
        return None
    v = str(value).strip()
    if v not in ASPECT_RATIOS:
        raise InvalidRequest(f"the aspect ratio {v!r} is not one Gemini takes; one of {', '.join(ASPECT_RATIOS)}")
    return v


def check_size(model: GeminiModel, value: str | None) -> tuple[str | None, str]:
    """(the image_size to send or None, a warning when it was asked for and cannot be sent)."""
    if value in (None, "", "auto"):
        return None, ""
    v = str(value).strip().upper()
    if v not in SIZE_PIXELS:
        raise InvalidRequest(f"the image size {value!r} is not one Gemini takes; one of {', '.join(SIZE_PIXELS)}")
    if v not in model.sizes:
        return None, f"{model.id} has no image size option, so {v} was not sent (it answers at about 1K)"
    return v, ""
