"""Collage pieces: added from images (pasted, dropped or placed from a file with File › Place…;
cascaded, one undo step, above the picture and its results, scaled down to fit a canvas they are
bigger than), made from the selected part of a layer (Ctrl+J), flipped and reset from the Layer
menu and the piece options, cut out of their own background (with the keep and remove pens) and
restored uncut."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QPushButton

from canvas import commands as C
from canvas.cutout import CutoutCancelled, is_scribble, piece_scribbles
from canvas.errors import CanvasError
from canvas.imageio import load_image
from canvas.layers import AnnotationLayer, PieceLayer, Transform
from desktop.jobs import Relay

CASCADE = 24  # canvas pixels between pieces dropped or pasted together
KEEP_PEN = (20, 200, 40, 255)  # canvas.cutout reads green strokes as "keep" …
REMOVE_PEN = (30, 90, 235, 255)  # … and blue ones as "remove"
CORRECT = "To correct it, draw over it with the keep (green) or remove (blue) pen and cut out again."
CUT_OUT_TIP = ("Cut the active piece's subject out of its own background (its border is the background; green "
               "strokes keep, blue strokes remove). The pixels are kept")
NO_CUT_TIP = ("Cut out subject works on a collage piece: select one in the Layers panel (a pixel layer has no "
              "background of its own to cut away; make a piece of it with New piece from selection)")


class PiecesController:
    def __init__(self, window) -> None:
        self.window = window
        self._last_cut = ""  # the piece cut out last: the keep/remove pens leave a marks layer active
        self._relay: Relay | None = None  # while a cut-out is computed on its thread
        self._cancel = threading.Event()  # set by cancel_cut: the thread stops between GrabCut's iterations
        self._cancel_button: QPushButton | None = None  # in the status bar while cutting

    def active_piece(self) -> PieceLayer | None:
        layer = self.window.bridge.active_layer()
        return layer if isinstance(layer, PieceLayer) else None

    def flip_piece(self, axis: str) -> None:
        piece = self.active_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to flip it.")
            return
        tf = piece.transform
        new = Transform(tf.cx, tf.cy, tf.sx, tf.sy, tf.rotation,
                        (not tf.flip_h) if axis == "h" else tf.flip_h, (not tf.flip_v) if axis == "v" else tf.flip_v)
        self.window.document.set_transform(piece.id, new, label="Flip")

    def reset_piece(self) -> None:
        piece = self.active_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to reset its transform.")
            return
        self.window.document.reset_transform(piece.id)

    def cut_piece(self) -> PieceLayer | None:
        """The piece Cut out subject works on: the active one; else (the keep or remove pen made a marks
        layer active) the one last cut out, or the topmost piece that has keep/remove strokes over it."""
        active = self.window.bridge.active_layer()
        if isinstance(active, PieceLayer):
            return active
        if not isinstance(active, AnnotationLayer):
            return None  # another layer was chosen on purpose
        pieces = [la for la in reversed(self.window.document.layers) if isinstance(la, PieceLayer)]
        last = next((p for p in pieces if p.id == self._last_cut), None)
        if last is not None:
            return last
        notes = [la for la in self.window.document.layers if isinstance(la, AnnotationLayer)]
        return next((p for p in pieces if not piece_scribbles(p, notes)[0].empty), None)

    def can_cut(self) -> bool:
        """Whether Cut out subject has a piece to work on (as :meth:`cut_piece` finds one, without
        reading the strokes into the piece's pixels: any keep/remove stroke over a piece's box counts)."""
        active = self.window.bridge.active_layer()
        if isinstance(active, PieceLayer):
            return True
        if not isinstance(active, AnnotationLayer):
            return False
        layers = self.window.document.layers
        pieces = [la for la in layers if isinstance(la, PieceLayer)]
        if any(p.id == self._last_cut for p in pieces):
            return True
        boxes = [p.bounds() for p in pieces]
        return any(is_scribble(m) and any(not m.bounds().intersect(b).empty for b in boxes)
                   for la in layers if isinstance(la, AnnotationLayer) and la.visible and not la.locked
                   for m in la.marks)

    def cut_out(self) -> None:
        """Layer › Cut out subject: the piece's subject as its alpha (one undo step), computed on a thread
        while the window goes on."""
        piece = self.cut_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to cut its subject out of its background.")
            return
        self.start_cuts([piece.id])

    def cut_out_pieces(self, ids: list[str]) -> None:
        """Refine collage's offer: cut out several pieces, each its own undo step; one that fails is said."""
        self.start_cuts(ids)

    @property
    def cutting(self) -> bool:
        return self._relay is not None

    def start_cuts(self, ids: list[str]) -> None:
        """Plan each cut now, compute the mattes on a thread, apply them when they are in (``_cuts_done``)."""
        if self.cutting:
            self.window.show_hint("Still cutting out the last piece; a moment.")
            return
        doc = self.window.document
        plans, failed = [], []
        for lid in ids:
            layer = next((la for la in doc.layers if la.id == lid), None)
            if not isinstance(layer, PieceLayer):
                continue
            try:
                plans.append(doc.plan_cut_out(lid))
            except CanvasError as exc:
                failed.append(f"“{layer.name}”: {exc}")
        if not plans:
            self._report([], 0, failed)
            return
        relay = self._relay = Relay()
        relay.finished.connect(self._cuts_done)
        cancel = self._cancel = threading.Event()
        names = ", ".join(f"“{p.name}”" for p in plans)
        bar = self.window.statusBar()
        bar.showMessage(f"Cutting out {names}…")
        button = self._cancel_button = QPushButton("Cancel cut-out")
        button.setToolTip("Stop cutting out; nothing changes")
        button.clicked.connect(self.cancel_cut)
        bar.addPermanentWidget(button)
        self.window.cancel_cut_action.setEnabled(True)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)

        def work() -> None:
            results = []
            for plan in plans:
                try:
                    results.append((plan, plan.compute(cancelled=cancel.is_set), None))
                except Exception as exc:  # noqa: BLE001 - said on the GUI thread
                    results.append((plan, None, exc))
            relay.finished.emit((doc, results, failed), None)

        threading.Thread(target=work, name="cut out", daemon=True).start()

    def cancel_cut(self) -> None:
        """Layer › Cancel cut-out (and the status bar's button): the running cut-out stops, nothing changes."""
        if not self.cutting:
            return
        self._cancel.set()
        self.window.statusBar().showMessage("Cancelling the cut-out…")

    def _cuts_done(self, payload, _error) -> None:
        self._relay = None
        QApplication.restoreOverrideCursor()
        doc, results, failed = payload
        try:
            current = self.window.document
        except RuntimeError:  # the window itself was closed meanwhile
            return
        if self._cancel_button is not None:
            self.window.statusBar().removeWidget(self._cancel_button)
            self._cancel_button.deleteLater()
            self._cancel_button = None
        self.window.cancel_cut_action.setEnabled(False)
        if doc is not current:
            self.window.show_hint("The document was closed while its pieces were being cut out.")
            return
        if self._cancel.is_set() or any(isinstance(exc, CutoutCancelled) for _, _, exc in results):
            self.window.show_hint("Cut-out cancelled; nothing was changed.")
            return
        done, used = [], 0
        for plan, matte, exc in results:
            try:
                if exc is not None:
                    raise exc
                used += doc.apply_cut_out(plan, matte)
                done.append(plan.name)
                self._last_cut = plan.layer_id
            except CanvasError as err:
                failed.append(f"“{plan.name}”: {err}")
            except MemoryError:
                failed.append(f"“{plan.name}”: out of memory")
            except Exception as err:  # noqa: BLE001 - a bug: said, the document untouched
                failed.append(f"“{plan.name}”: {type(err).__name__}: {err}")
        self._report(done, used, failed)

    def _report(self, done: list[str], used: int, failed: list[str]) -> None:
        if failed:
            self.window.notifier.error("Could not cut out " + "; ".join(failed))
        if len(done) == 1:
            strokes = f", following {used} stroke{'s' if used != 1 else ''}" if used else ""
            self.window.show_hint(f"“{done[0]}” cut out{strokes}. {CORRECT} Uncut brings the whole picture back.")
        elif done:
            self.window.show_hint(f"Cut out {', '.join(f'“{n}”' for n in done)}. {CORRECT}")

    def restore_uncut(self) -> None:
        piece = self.active_piece()
        if piece is None or piece.cutout is None:
            self.window.show_hint("Select a collage piece that was cut out to restore it uncut.")
            return
        self.window.document.set_cutout(piece.id, None)

    def cutout_pen(self, keep: bool) -> None:
        """The pen, in the colour the cut-out reads as keep (green) or remove (blue)."""
        self.window.options.set(mark_color=KEEP_PEN if keep else REMOVE_PEN)
        self.window.set_tool("pen")
        what = "what belongs to the subject" if keep else "what should be cut away"
        self.window.show_hint(f"Draw over {what}, then Layer › Cut out subject. "
                              "The strokes are used up by the cut.")

    def insert_index(self) -> int:
        """Where a new piece (pasted, dropped, placed) goes: just above the topmost content layer, so it
        is seen over the picture and over the results already made from it, whichever layer is
        selected; marks layers above the content stay above it. Without content: at the bottom."""
        content = [i for i, la in enumerate(self.window.document.layers) if la.role == "content"]
        return content[-1] + 1 if content else 0

    def fit_scale(self, width: int, height: int) -> float:
        """The scale that makes a ``width`` × ``height`` piece fit inside the canvas (1 when it already fits).
        The piece keeps its own pixels: only its transform is scaled."""
        doc = self.window.document
        return min(1.0, doc.width / width, doc.height / height)

    def add_pieces(self, images: list[tuple[np.ndarray, str]], centre: QPointF) -> list[PieceLayer]:
        """Add images as collage pieces centred at canvas ``centre`` (cascaded), one undo step; one
        bigger than the canvas is scaled down to fit inside it, keeping its aspect."""
        if not images:
            return []
        doc = self.window.document
        index = self.insert_index()
        pieces = []
        for i, (pixels, name) in enumerate(images):
            cx, cy = centre.x() + i * CASCADE, centre.y() + i * CASCADE
            s = self.fit_scale(pixels.shape[1], pixels.shape[0])
            pieces.append(PieceLayer(pixels, Transform(cx=cx, cy=cy, sx=s, sy=s), name))
        if len(pieces) == 1:
            doc.add_layer(pieces[0], index)
        else:
            doc.execute(C.Macro([C.AddLayer(p, index + i) for i, p in enumerate(pieces)],
                                f"Add {len(pieces)} pieces"))
            self.window.bridge.set_active(pieces[-1].id)
        return pieces

    def place_file(self, path: str | None = None) -> PieceLayer | None:
        """File › Place…: an image file as a collage piece in the middle of the canvas (scaled to fit a
        canvas it is bigger than), one undo step. A file that cannot be read is said; nothing changes."""
        from pathlib import Path

        from desktop.dialogs.new_document import IMAGE_FILTER

        window = self.window
        path = path or window.files.ask_open_path("Place image as a piece", IMAGE_FILTER)
        if not path:
            return None
        try:
            pixels = load_image(path)
        except CanvasError as exc:
            window.notifier.error(f"Could not place the image: {exc}")
            return None
        except OSError as exc:
            window.notifier.error(f"Could not place the image: {path} cannot be read ({exc.strerror or exc})")
            return None
        doc = window.document
        (piece,) = self.add_pieces([(pixels, Path(path).stem)], QPointF(doc.width / 2, doc.height / 2))
        window.settings.set_last_folder(str(Path(path).parent))
        scaled = piece.transform.sx < 1
        window.show_hint(f"Placed “{piece.name}”" + (f", scaled to {piece.transform.sx:.0%} to fit the canvas"
                                                      if scaled else "") + ": drag it to move it.")
        return piece

    def piece_from_selection(self) -> None:
        """The active layer inside the selection (all of it without one) as a new collage piece
        in the same place: the picture looks the same until the piece is moved."""
        window = self.window
        active = window.bridge.active_layer()
        if active is None:
            window.show_hint("Pick the layer to take the piece from in the Layers panel.")
            return
        pixels, rect = window.document.copy_pixels(active.id)  # CanvasError: said by the action's guard
        name = f"Piece of {active.name}"
        piece = PieceLayer(pixels, Transform(cx=rect.x + rect.w / 2, cy=rect.y + rect.h / 2), name)
        # just above the layer it was taken from: the picture looks the same until the piece is moved
        window.document.add_layer(piece, window.document.index_of(active.id) + 1)
        window.set_tool("move")
        window.show_hint(f"“{name}”: drag it to move it, its corners and edges to scale it.")
