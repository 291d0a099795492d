"""Random sequences of document operations with undo/redo (hypothesis state machine).

Invariants: the cached projection always equals a from-scratch composite within one level
(a layer whose opacity, mode or visibility changes is applied from cached composites below and
above it, ``canvas.focus``, whose float sums round a little differently); undoing everything
returns the first pixels exactly; redo replays to the same pixels; and a save then load through
OpenRaster gives an identical document.
"""

import io

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from canvas.blend import BLEND_MODES
from canvas.brush import Brush, dab
from canvas.composite import composite_rect
from canvas.document import Document
from canvas.geometry import Rect
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import Arrow, Ellipse, Stroke

W, H = 96, 72
coord = st.floats(min_value=-10, max_value=110, allow_nan=False)


def fresh_composite(doc: Document, roles=("content",)) -> np.ndarray:
    layers = [lyr for lyr in doc.layers if lyr.visible and lyr.role in roles]
    return composite_rect(layers, doc.rect)


def assert_within_one_level(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert diff.max(initial=0) <= 1, f"{int((diff > 1).any(-1).sum())} pixels differ by up to {diff.max()} levels"


class DocumentMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.doc = Document(W, H)
        rng = np.random.default_rng(0)
        bg = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
        bg[..., 3] = 255
        self.doc.add_layer(PixelLayer(bg, name="bg"))
        self.doc.history.clear()
        self.doc.mark_clean()
        self.first = self.doc.render(roles=("content", "annotation"))
        self.rng = rng

    def ids(self, kind=None):
        return [lyr.id for lyr in self.doc.layers if kind is None or lyr.kind == kind]

    @rule(w=st.integers(1, 40), h=st.integers(1, 40), x=st.integers(-20, 100), y=st.integers(-20, 80))
    def add_pixel(self, w, h, x, y):
        px = self.rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        self.doc.add_layer(PixelLayer(px, x, y))

    @rule(cx=coord, cy=coord, s=st.floats(0.2, 3.0), rot=st.floats(-360, 360), flip=st.booleans())
    def add_piece(self, cx, cy, s, rot, flip):
        px = self.rng.integers(0, 256, (12, 17, 4), dtype=np.uint8)
        self.doc.add_layer(PieceLayer(px, Transform(cx=cx, cy=cy, sx=s, sy=s, rotation=rot, flip_h=flip)))

    @rule(a=coord, b=coord, c=coord, d=coord, kind=st.sampled_from(["arrow", "ellipse", "stroke"]))
    def add_mark(self, a, b, c, d, kind):
        ann = self.ids("annotation")
        if not ann:
            lyr = self.doc.add_layer(AnnotationLayer([]))
            ann = [lyr.id]
        mark = {"arrow": Arrow(start=(a, b), end=(c, d)), "ellipse": Ellipse(p0=(a, b), p1=(c, d)),
                "stroke": Stroke(points_=((a, b), (c, d), (a, d)))}[kind]
        if not self.doc.layer(ann[0]).locked:
            self.doc.add_mark(ann[0], mark)

    @precondition(lambda self: self.ids("piece"))
    @rule(data=st.data(), cx=coord, cy=coord, rot=st.floats(-90, 90))
    def transform_piece(self, data, cx, cy, rot):
        lid = data.draw(st.sampled_from(self.ids("piece")))
        if not self.doc.layer(lid).locked:
            self.doc.set_transform(lid, Transform(cx=cx, cy=cy, rotation=rot))

    @precondition(lambda self: self.ids("pixel"))
    @rule(data=st.data(), x=coord, y=coord, size=st.floats(2, 30), erase=st.booleans())
    def brush(self, data, x, y, size, erase):
        lid = data.draw(st.sampled_from(self.ids("pixel")))
        if not self.doc.layer(lid).locked:
            stroke = object()
            for i in range(3):
                dab(self.doc, lid, x + 3 * i, y, Brush(size=size, erase=erase, color=(255, 0, 0)), stroke)

    @precondition(lambda self: self.ids())
    @rule(data=st.data(), opacity=st.floats(0, 1), blend=st.sampled_from(BLEND_MODES),
          visible=st.booleans(), locked=st.booleans())
    def props(self, data, opacity, blend, visible, locked):
        lid = data.draw(st.sampled_from(self.ids()))
        self.doc.set_layer_props(lid, opacity=opacity, blend=blend, visible=visible, locked=locked)

    @precondition(lambda self: len(self.doc.layers) > 1)
    @rule(data=st.data())
    def move_or_remove(self, data):
        lid = data.draw(st.sampled_from(self.ids()))
        if data.draw(st.booleans()):
            self.doc.move_layer(lid, data.draw(st.integers(0, len(self.doc.layers) - 1)))
        else:
            self.doc.remove_layer(lid)

    @rule(x=st.integers(0, W - 1), y=st.integers(0, H - 1), w=st.integers(1, W), h=st.integers(1, H))
    def select(self, x, y, w, h):
        m = np.zeros((self.doc.height, self.doc.width), np.uint8)
        r = Rect(x, y, w, h).intersect(self.doc.rect)
        m[r.slices()] = 255
        self.doc.set_selection(m)

    @rule(w=st.integers(20, 140), h=st.integers(20, 110), dx=st.integers(-30, 30), dy=st.integers(-30, 30),
          crop=st.booleans())
    def resize(self, w, h, dx, dy, crop):
        if crop and self.doc.selection is not None:
            self.doc.crop_to_selection()
        else:
            self.doc.resize_canvas(w, h, dx, dy)

    @rule(n=st.integers(1, 3))
    def undo(self, n):
        for _ in range(n):
            self.doc.undo()

    @rule(n=st.integers(1, 3))
    def redo(self, n):
        for _ in range(n):
            self.doc.redo()

    @invariant()
    def projection_matches_fresh_composite(self):
        assert_within_one_level(self.doc.render(), fresh_composite(self.doc))

    def teardown(self):
        final = self.doc.render(roles=("content", "annotation"))
        steps = self.doc.history.index
        while self.doc.undo():
            pass
        both = ("content", "annotation")
        assert np.array_equal(fresh_composite(self.doc, both), self.first)  # the content came back exactly
        assert_within_one_level(self.doc.render(roles=both), self.first)
        for _ in range(steps):
            self.doc.redo()
        assert_within_one_level(self.doc.render(roles=both), final)
        from canvas.ora import load_ora, write_ora

        buf = io.BytesIO()
        write_ora(self.doc, buf)
        buf.seek(0)
        loaded = load_ora(buf)
        assert loaded.content_equal(self.doc)
        assert np.array_equal(loaded.render(), fresh_composite(self.doc))


DocumentMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow], derandomize=True,
)
TestDocumentMachine = DocumentMachine.TestCase
