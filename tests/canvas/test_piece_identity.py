"""A collage piece's identity strength: a validated, undoable property saved in the .ora."""

import io
import zipfile

import numpy as np
import pytest

from canvas.document import Document
from canvas.errors import CanvasError, OraError
from canvas.layers import DEFAULT_IDENTITY, PieceLayer, PixelLayer
from canvas.ora import load_ora, save_ora


def _doc() -> Document:
    doc = Document(64, 48)
    doc.add_layer(PixelLayer(np.full((48, 64, 4), 200, np.uint8), name="bg"))
    piece = np.zeros((20, 24, 4), np.uint8)
    piece[...] = (200, 30, 40, 255)
    doc.add_layer(PieceLayer.at(piece, 10, 8, name="flower"))
    return doc


def test_identity_is_a_piece_property_with_undo():
    doc = _doc()
    bg, piece = doc.layers
    assert piece.identity == DEFAULT_IDENTITY == 0.85
    doc.set_layer_props(piece.id, identity=0.4)
    doc.set_layer_props(piece.id, identity=0.3)  # a slider's drag: one step
    assert piece.identity == 0.3 and doc.history.undo_label == "Identity flower"
    doc.undo()
    assert piece.identity == 0.85
    with pytest.raises(ValueError, match="between 0 and 1"):
        doc.set_layer_props(piece.id, identity=1.5)
    with pytest.raises(CanvasError, match="only collage pieces"):
        doc.set_layer_props(bg.id, identity=0.5)
    assert piece.copy().identity == 0.85


def test_identity_round_trips_through_ora_and_a_bad_value_is_a_clear_error(tmp_path):
    doc = _doc()
    piece = doc.layers[1]
    doc.set_layer_props(piece.id, identity=0.35)
    path = tmp_path / "c.ora"
    save_ora(doc, path)
    back = load_ora(path)
    assert back.layers[1].identity == pytest.approx(0.35)
    raw = zipfile.ZipFile(path).read("stack.xml").decode()
    assert 'akapen:identity="0.35"' in raw

    def with_stack(text: str):
        buf = io.BytesIO()
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, text.encode() if info.filename == "stack.xml" else src.read(info.filename))
        other = tmp_path / "other.ora"
        other.write_bytes(buf.getvalue())
        return other

    # a file from before identity existed: the default
    assert load_ora(with_stack(raw.replace('akapen:identity="0.35"', ""))).layers[1].identity == DEFAULT_IDENTITY
    with pytest.raises(OraError, match="between 0 and 1"):
        load_ora(with_stack(raw.replace('identity="0.35"', 'identity="7"')))
    with pytest.raises(OraError, match="identity"):
        load_ora(with_stack(raw.replace('identity="0.35"', 'identity="many"')))
