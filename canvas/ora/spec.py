"""What Akapen's OpenRaster writer and reader agree on: the mimetype and the ``akapen``
XML namespace of its own attributes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

NS = "https://akapen.app/ns/ora/1"
ET.register_namespace("akapen", NS)
MIMETYPE = b"image/openraster"


def qname(name: str) -> str:
    """The qualified name of Akapen's own attribute ``name`` (``{NS}name``)."""
    return f"{{{NS}}}{name}"
