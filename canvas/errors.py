"""Expected failures of the document, with text written for the person using Akapen."""

from __future__ import annotations


class CanvasError(Exception):
    """Base of every expected document error. ``str(err)`` is shown to the user as is."""


class ImageImportError(CanvasError):
    """An image file or buffer could not be brought into the document."""


class ImageTooLargeError(ImageImportError):
    """The image declares more pixels than Akapen accepts (protects against decompression bombs)."""


class OraError(CanvasError):
    """An OpenRaster file could not be read."""


class SaveError(CanvasError):
    """The document could not be written; the previous file on disk is untouched."""


class LayerLockedError(CanvasError):
    """An operation tried to change a locked layer."""


class RecoveryError(CanvasError):
    """A recovery snapshot could not be written or restored."""
