"""The classical backend: OpenCV operations, no GPU, no weights — the embedded default.

It does not read free text. Each operation is reached by choosing a task:

- ``refine-collage``: blend every collage piece into what surrounds it (:mod:`inference.collage.refine`):
  its white balance, exposure and contrast moved toward the scene's, the colour step at its edge taken
  away by Poisson cloning faded in from the edge, a soft contact shadow; each piece's ``identity`` says
  how much of its interior may change (its chroma and texture are kept).
- ``extend``: fill the empty (transparent) canvas around the picture by inpainting outward
  (an outpaint after Image › Canvas size…); the result covers only the empty area
- ``remove``: fill what the pen marked (or the selection) by inpainting (Telea or Navier-Stokes)
  at a sensible working resolution around the mark; nothing outside the grown mark changes.
- ``stylise``: painterly, pencil, cartoon or detail presets (``params["style"]``).
- ``replace-background``: GrabCut seeded from the selection or the marks separates the
  subject; the first reference image goes behind it with a soft edge.

Every task reports progress per phase and checks the cancel token at least once per step.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inference.backend import Backend, Capabilities
from inference.errors import InvalidRequest
from inference.presets import CLASSICAL_TASKS
from inference.progress import Reporter
from inference.region import disk, expand_rect, feather, grow, mask_bbox
from inference.request import DEFAULT_IDENTITY, EditRequest

TASKS = CLASSICAL_TASKS
STYLES = ("painterly", "pencil", "cartoon", "detail")
TILE = 1024
TILE_OVERLAP = 96


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    if t >= 1.0:
        return b
    if t <= 0.0:
        return a
    return np.clip(a.astype(np.float32) + t * (b.astype(np.float32) - a.astype(np.float32)) + 0.5, 0, 255).astype(np.uint8)


def _with_alpha(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.dstack([rgb, alpha]).astype(np.uint8)


# --- colour transfer ---------------------------------------------------------------------------
def lab_stats(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each Lab channel over ``mask`` (float Lab, L in 0..100)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    px = lab[mask > 0]
    return px.mean(axis=0), px.std(axis=0) + 1e-3


def transfer_colour(rgb: np.ndarray, mask: np.ndarray, target_mean, target_std, amount: float) -> np.ndarray:
    """Reinhard colour transfer of the ``mask`` pixels, ``amount`` of the way to the target stats."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    px = lab[mask > 0]
    mu, sd = px.mean(axis=0), px.std(axis=0) + 1e-3
    ratio = np.clip(np.asarray(target_std) / sd, 0.5, 2.0)
    new_mu = mu + amount * (np.asarray(target_mean) - mu)
    new_sd = sd * ratio ** amount
    lab2 = (lab - mu) / sd * new_sd + new_mu
    out = cv2.cvtColor(lab2.astype(np.float32), cv2.COLOR_LAB2RGB)
    out = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.where(mask[..., None] > 0, out, rgb)


# --- tiling (so long filters report progress and can be cancelled) --------------------------------
def _tiles(h: int, w: int, size: int = TILE) -> list[tuple[int, int, int, int]]:
    if max(h, w) <= size * 1.5:
        return [(0, 0, w, h)]
    out = []
    for y in range(0, h, size):
        for x in range(0, w, size):
            out.append((x, y, min(size, w - x), min(size, h - y)))
    return out


def tiled(rgb: np.ndarray, fn, rep: Reporter, overlap: int = TILE_OVERLAP) -> np.ndarray:
    """Apply ``fn`` (RGB uint8 → RGB uint8) tile by tile with overlapping, blended borders.

    One progress step per tile, each a cancellation point.
    """
    h, w = rgb.shape[:2]
    tiles = _tiles(h, w)
    if len(tiles) == 1:
        out = fn(rgb)
        rep.advance()
        return out
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w, 1), np.float32)

    margin = overlap // 2  # a tile's own border (where a filter sees past the tile's edge) is not used at all

    def ramp(n: int, open_start: bool, open_end: bool) -> np.ndarray:
        i = np.arange(n, dtype=np.float32)
        wgt = np.ones(n, np.float32)
        if open_start:  # a neighbour overlaps here: fade in across the shared band
            wgt = np.minimum(wgt, (i + 0.5 - margin) / (2 * (overlap - margin)))
        if open_end:
            wgt = np.minimum(wgt, (n - i - 0.5 - margin) / (2 * (overlap - margin)))
        return np.maximum(wgt, 1e-6)

    for x, y, tw, th in tiles:
        x0, y0 = max(0, x - overlap), max(0, y - overlap)
        x1, y1 = min(w, x + tw + overlap), min(h, y + th + overlap)
        res = fn(np.ascontiguousarray(rgb[y0:y1, x0:x1])).astype(np.float32)
        wgt = (ramp(y1 - y0, y0 > 0, y1 < h)[:, None] * ramp(x1 - x0, x0 > 0, x1 < w)[None, :])[..., None]
        acc[y0:y1, x0:x1] += res * wgt
        wsum[y0:y1, x0:x1] += wgt
        rep.advance()
    return np.clip(acc / np.maximum(wsum, 1e-6) + 0.5, 0, 255).astype(np.uint8)


# --- stylisation presets ------------------------------------------------------------------------
def _sigma_s(long_side: int, base: float) -> float:
    return float(min(200.0, base * max(1.0, long_side / 1024)))


def _kuwahara(im: np.ndarray, r: int) -> np.ndarray:
    """Each pixel becomes the mean colour of the least varied of the four (r+1)² squares that have it at a
    corner: flat patches with sharp borders between them, like brush strokes."""
    f = im.astype(np.float32)
    h, w = im.shape[:2]
    mean = cv2.boxFilter(f, -1, (r + 1, r + 1), anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
    var = (cv2.boxFilter(f * f, -1, (r + 1, r + 1), anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
           - mean * mean).sum(axis=2)
    pm = cv2.copyMakeBorder(mean, r, 0, r, 0, cv2.BORDER_REFLECT)
    pv = cv2.copyMakeBorder(var, r, 0, r, 0, cv2.BORDER_REFLECT)
    best, best_var = mean, var
    for dy, dx in ((0, r), (r, 0), (0, 0)):  # above right, below left, above left (below right is ``mean``)
        m, v = pm[dy:dy + h, dx:dx + w], pv[dy:dy + h, dx:dx + w]
        sel = v < best_var
        best = np.where(sel[..., None], m, best)
        best_var = np.where(sel, v, best_var)
    return np.clip(best + 0.5, 0, 255).astype(np.uint8)


def pencil_sketch(im: np.ndarray, long_side: int) -> np.ndarray:
    """Graphite on white paper: the grey divided by its blur (a colour dodge of the inverted, blurred grey),
    so flat areas are paper white and every edge leaves a line on its darker side, darkened by a power, and
    a light shading from the local tone. The blur is at most a quarter of the tile overlap, so tiles join
    without a seam."""
    sigma = min(TILE_OVERLAP / 4, max(2.0, long_side / 160))
    grey = cv2.GaussianBlur(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 0.6)
    local = cv2.GaussianBlur(grey, (0, 0), sigma)
    lines = np.minimum(1.0, (grey + 10.0) / (local + 10.0)) ** 2.6  # +10: noise in the shadows is no line
    shade = 1.0 - 0.3 * (1.0 - local / 255.0) ** 1.5
    out = np.clip(255.0 * lines * shade + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)


def style_fn(style: str, long_side: int):
    """The per-tile RGB→RGB function for a style preset (OpenCV wants BGR; the filters here
    are symmetric in the channels, so RGB passes through unchanged)."""
    s = _sigma_s(long_side, 60.0)
    r = max(1, round(long_side / 512))  # the picture's own scale
    if style == "painterly":
        def painterly(im):
            smooth = cv2.edgePreservingFilter(im, flags=cv2.RECURS_FILTER, sigma_s=s / 2, sigma_r=0.25)
            hsv = cv2.cvtColor(_kuwahara(smooth, 4 * r), cv2.COLOR_RGB2HSV)
            hsv[..., 1] = np.clip(hsv[..., 1].astype(np.float32) * 1.15 + 0.5, 0, 255).astype(np.uint8)
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        return painterly
    if style == "pencil":
        return lambda im: pencil_sketch(im, long_side)
    if style == "cartoon":
        def cartoon(im):
            smooth = cv2.edgePreservingFilter(im, flags=cv2.RECURS_FILTER, sigma_s=s, sigma_r=0.4)
            flat = (smooth // 24) * 24 + 12
            # outlines from the smoothed picture, without the specks texture leaves
            grey = cv2.medianBlur(cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY), 5)
            ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 8 * r + 1, 6)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
            keep = np.zeros(n, bool)
            keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 30 * r * r
            return np.where(keep[labels][..., None], np.uint8(20), flat).astype(np.uint8)
        return cartoon
    if style == "detail":
        return lambda im: cv2.detailEnhance(im, sigma_s=min(200.0, 10.0 * max(1.0, long_side / 1024)), sigma_r=0.15)
    raise InvalidRequest(f"unknown style {style!r}; one of {', '.join(STYLES)}")


class ClassicalBackend(Backend):
    name = "classical"
    label = "Classical (OpenCV)"
    capabilities = Capabilities(
        tasks=TASKS, reads_instruction=False, max_references=1, takes_mask=True,
        native_annotations=False, needs_gpu=False, working_size=None, max_variations=1, seeded=False,
    )

    @property
    def model(self) -> str:
        return f"OpenCV {cv2.__version__}"

    # --- contract ---------------------------------------------------------------------------------
    def validate(self, request: EditRequest) -> None:
        if request.task is None:
            raise InvalidRequest("the classical backend does not read instructions; choose a task: "
                                 + ", ".join(TASKS))
        super().validate(request)
        p = request.params
        if request.task == "stylise" and p.get("style", "painterly") not in STYLES:
            raise InvalidRequest(f"unknown style {p.get('style')!r}; one of {', '.join(STYLES)}")
        if request.task == "remove" and p.get("method", "telea") not in ("telea", "ns"):
            raise InvalidRequest(f"unknown inpainting method {p.get('method')!r}; telea or ns")
        if request.task == "refine-collage" and p.get("mode", "normal") not in ("normal", "mixed"):
            raise InvalidRequest(f"unknown cloning mode {p.get('mode')!r}; normal or mixed")
        if request.task == "extend" and not (request.image[..., 3] < 128).any():
            raise InvalidRequest("nothing to extend: the picture has no empty (transparent) area; make the "
                                 "canvas bigger first (Image › Canvas size…)")
        if request.task == "replace-background" and not request.references:
            raise InvalidRequest("replacing the background needs a reference image to put behind the subject; "
                                 "add one (a reference layer, or --ref FILE)")

    def wants_region(self, request: EditRequest) -> bool:
        # remove and refine work locally already; the background lies outside the selection
        return request.task == "stylise"

    def plan_steps(self, request: EditRequest) -> int:
        if request.task == "refine-collage":
            return 2 * max(1, len(request.pieces)) + 1
        if request.task in ("remove", "extend"):
            return 3
        if request.task == "stylise":
            return len(_tiles(*request.shape)) + 1
        if request.task == "replace-background":
            return int(request.steps or 5) + 3
        return 1

    def edit(self, request: EditRequest, reporter: Reporter):
        task = request.task
        if task == "refine-collage":
            img, warnings = self._refine(request, reporter)
        elif task == "remove":
            img, warnings = self._remove(request, reporter)
        elif task == "stylise":
            img, warnings = self._stylise(request, reporter)
        elif task == "replace-background":
            img, warnings = self._background(request, reporter)
        elif task == "extend":
            img, warnings = self._extend(request, reporter)
        else:  # validate() prevents this
            raise InvalidRequest(f"unknown task {task!r}")
        return [img], [None], warnings

    # --- refine collage ------------------------------------------------------------------------
    def _refine(self, req: EditRequest, rep: Reporter):
        from inference.collage.refine import DEFAULT_SHADOW, refine_piece

        img = req.image
        h, w = req.shape
        pieces = [(p.name, p.full_mask(req.shape), p.identity, p.outline) for p in req.pieces]
        if not pieces:
            fallback = req.selection if req.selection is not None else req.annotation_mask
            if fallback is None:
                raise InvalidRequest("refining a collage needs collage pieces (paste an image as a piece) "
                                     "or a selection around the pasted part")
            pieces = [("selection", fallback, float(req.params.get("identity", DEFAULT_IDENTITY)), False)]
        rgb = img[..., :3].copy()
        changed = np.zeros((h, w), np.uint8)
        flag = cv2.MIXED_CLONE if req.params.get("mode", "normal") == "mixed" else cv2.NORMAL_CLONE
        shadow = float(req.params.get("shadow", DEFAULT_SHADOW))
        warnings = []
        for name, full, identity, outline in pieces:
            rep.phase("harmonise")
            rep.advance()
            done = refine_piece(rgb, img[..., 3], full, identity, float(req.strength), shadow, flag, outline)
            if isinstance(done, str):
                warnings.append(f"piece {name!r}: {done}; it was left as it is")
                rep.advance()
                continue
            (cx, cy, cw, ch), new, mask = done
            sel = mask > 0
            rgb[cy:cy + ch, cx:cx + cw][sel] = new[sel]
            changed[cy:cy + ch, cx:cx + cw] |= mask
            rep.advance()
        rep.phase("finish")
        alpha = np.minimum(img[..., 3], changed)
        rep.advance()
        return _with_alpha(np.where(alpha[..., None] > 0, rgb, img[..., :3]), alpha), warnings

    # --- remove ----------------------------------------------------------------------------------
    def _remove(self, req: EditRequest, rep: Reporter):
        rep.phase("mask")
        mask = req.annotation_mask if req.annotation_mask is not None else req.selection
        if mask is None or not mask.any():
            raise InvalidRequest("removal needs to know what to remove: circle it or scribble over it with the "
                                 "pen, or select it")
        h, w = req.shape
        diag = math.hypot(h, w)
        grow_r = float(req.params.get("grow", max(3.0, 0.004 * diag)))
        core = np.where(mask >= 128, 255, 0).astype(np.uint8)
        grown = grow(core, grow_r)
        box = mask_bbox(grown)
        assert box is not None
        ctx = max(32, int(0.5 * max(box[2], box[3])))
        cx, cy, cw, ch = expand_rect(box, ctx, req.shape)
        work_side = int(req.params.get("working_size", 1024))
        s = min(1.0, work_side / max(cw, ch))
        rgb = np.ascontiguousarray(req.image[cy:cy + ch, cx:cx + cw, :3])
        m = grown[cy:cy + ch, cx:cx + cw]
        if s < 1.0:
            size = (max(1, round(cw * s)), max(1, round(ch * s)))
            rgb_w = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            m_w = np.where(cv2.resize(m, size, interpolation=cv2.INTER_AREA) > 0, 255, 0).astype(np.uint8)
        else:
            rgb_w, m_w = rgb, m
        rep.advance()
        rep.phase("inpainting")
        method = cv2.INPAINT_NS if req.params.get("method", "telea") == "ns" else cv2.INPAINT_TELEA
        radius = float(req.params.get("radius", max(3.0, 0.005 * max(rgb_w.shape[:2]))))
        fill = cv2.inpaint(rgb_w, m_w, radius, method)
        if s < 1.0:
            fill = cv2.resize(fill, (cw, ch), interpolation=cv2.INTER_CUBIC)
        rep.advance()
        rep.phase("blend")
        out = np.zeros((h, w, 4), np.uint8)
        out[..., :3] = req.image[..., :3]
        # fully replaced inside the mark; the grown border fades into the untouched picture
        # (the crop holds the whole grown mark with context around it)
        soft = np.maximum(feather(m, grow_r), core[cy:cy + ch, cx:cx + cw])
        out[cy:cy + ch, cx:cx + cw, :3] = _mix(rgb, fill, req.strength)
        out[cy:cy + ch, cx:cx + cw, 3] = np.minimum(soft, req.image[cy:cy + ch, cx:cx + cw, 3])
        rep.advance()
        return out, []

    # --- extend (outpaint) ------------------------------------------------------------------------
    def _extend(self, req: EditRequest, rep: Reporter):
        """Fill the picture's empty (transparent) area by inpainting outward from its edges; the
        result covers only that area, with the picture's own pixels kept on top of the fill."""
        rep.phase("mask")
        h, w = req.shape
        alpha = req.image[..., 3]
        work_side = int(req.params.get("working_size", 512))
        s = min(1.0, work_side / max(h, w))
        size = (max(1, round(w * s)), max(1, round(h * s)))
        # premultiplied before shrinking, so the empty area's (undefined) colour does not bleed in
        a = alpha.astype(np.float32)[..., None] / 255.0
        prem = req.image[..., :3].astype(np.float32) * a
        if s < 1.0:
            prem = cv2.resize(prem, size, interpolation=cv2.INTER_AREA)
            a_w = cv2.resize(a[..., 0], size, interpolation=cv2.INTER_AREA)[..., None]
        else:
            a_w = a
        rgb_w = np.clip(prem / np.maximum(a_w, 1e-3) + 0.5, 0, 255).astype(np.uint8)
        unknown = np.where(a_w[..., 0] < 0.98, 255, 0).astype(np.uint8)
        rep.advance()
        rep.phase("inpainting")
        radius = float(req.params.get("radius", max(3.0, 0.01 * max(size))))
        fill = cv2.inpaint(rgb_w, unknown, radius, cv2.INPAINT_TELEA)
        # inpainting streaks outward; a blur that grows with the distance from the picture softens them
        far = cv2.distanceTransform(unknown, cv2.DIST_L2, 3)
        blurred = cv2.GaussianBlur(fill, (0, 0), max(1.0, 0.02 * max(size)))
        t = np.clip(far / max(1.0, 0.1 * max(size)), 0, 1)[..., None]
        fill = (fill * (1 - t) + blurred * t + 0.5).astype(np.uint8)
        if s < 1.0:
            fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_CUBIC)
        rep.advance()
        rep.phase("blend")
        out = np.zeros((h, w, 4), np.uint8)
        empty = alpha < 255
        # where the picture is partly there, it stays on top of the fill: an opaque union
        mixed = req.image[..., :3].astype(np.float32) * a + fill.astype(np.float32) * (1 - a)
        out[..., :3] = np.where(empty[..., None], (mixed + 0.5).astype(np.uint8), 0)
        out[..., 3] = np.where(empty, 255, 0)
        rep.advance()
        return out, []

    # --- stylise ---------------------------------------------------------------------------------
    def _stylise(self, req: EditRequest, rep: Reporter):
        style = req.params.get("style", "painterly")
        rep.phase(f"stylise ({style})")
        rgb = np.ascontiguousarray(req.image[..., :3])
        fn = style_fn(style, max(req.shape))
        res = tiled(rgb, fn, rep)
        rep.phase("finish")
        res = _mix(rgb, res, req.strength)
        rep.advance()
        return _with_alpha(res, req.image[..., 3]), []

    # --- replace background -------------------------------------------------------------------------
    def _background(self, req: EditRequest, rep: Reporter):
        rep.phase("seed")
        h, w = req.shape
        warnings = []
        seed = req.selection if req.selection is not None else req.annotation_mask
        work_side = int(req.params.get("working_size", 640))
        s = min(1.0, work_side / max(h, w))
        size = (max(8, round(w * s)), max(8, round(h * s)))
        small = cv2.resize(np.ascontiguousarray(req.image[..., :3]), size, interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
        if seed is not None:
            sm = np.where(cv2.resize(seed, size, interpolation=cv2.INTER_AREA) >= 128, 255, 0).astype(np.uint8)
            if not sm.any():
                raise InvalidRequest("the selection or marks are too small to find a subject in")
            box = mask_bbox(sm)
            band = max(3, int(0.08 * max(box[2], box[3])))
            gc[cv2.dilate(sm, disk(band)) > 0] = cv2.GC_PR_BGD
            gc[sm > 0] = cv2.GC_PR_FGD
        else:
            mx, my = max(2, sw // 12), max(2, sh // 12)
            gc[my:sh - my, mx:sw - mx] = cv2.GC_PR_FGD
            warnings.append("no selection or marks: assumed the subject is in the middle of the image")
        if not (gc == cv2.GC_BGD).any() and not (gc == cv2.GC_PR_BGD).any():
            raise InvalidRequest("the selection covers the whole image; select just the subject")
        rep.advance()
        rep.phase("segmentation")
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        iters = int(req.steps or 5)
        for i in range(iters):
            mode = cv2.GC_INIT_WITH_MASK if i == 0 else cv2.GC_EVAL
            cv2.grabCut(small, gc, None, bgd, fgd, 1, mode)
            fg_preview = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))
            rep.advance(preview=_with_alpha(small, np.where(fg_preview, 255, 64).astype(np.uint8)))
        rep.phase("composite")
        fg = np.where(np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)), 255, 0).astype(np.uint8)
        k = disk(max(1, min(sw, sh) // 200))
        fg = cv2.morphologyEx(cv2.morphologyEx(fg, cv2.MORPH_OPEN, k), cv2.MORPH_CLOSE, k)
        if not fg.any():
            raise InvalidRequest("no subject was found; select or circle the subject more closely")
        # fill holes: everything not reachable from the border as background is subject
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(fg, contours, -1, 255, -1)
        # the soft edge is made at the segmentation's resolution (its edge is no finer than
        # that) and scaled up; exact 0 and 255 away from the edge keep both images bit for bit
        soft_r = float(req.params.get("edge", max(1.5, 0.002 * math.hypot(h, w))))
        soft = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), max(0.7, soft_r * s))
        alpha_f = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(alpha_f + 0.5, 0, 255).astype(np.uint8)
        alpha[alpha >= 252] = 255
        alpha[alpha <= 3] = 0
        ref = req.references[0].image
        rh, rw = ref.shape[:2]
        sc = max(w / rw, h / rh)
        nw, nh = max(w, math.ceil(rw * sc)), max(h, math.ceil(rh * sc))
        big = cv2.resize(ref, (nw, nh), interpolation=cv2.INTER_AREA if sc < 1 else cv2.INTER_CUBIC)
        ox, oy = (nw - w) // 2, (nh - h) // 2
        back = big[oy:oy + h, ox:ox + w]
        fg_px = alpha == 255
        out = np.where(fg_px[..., None], req.image, back)
        edge = (alpha > 0) & ~fg_px  # only the soft edge needs blending
        a = alpha[edge][:, None].astype(np.float32) / 255.0
        mixed = req.image[edge].astype(np.float32) * a + back[edge].astype(np.float32) * (1 - a)
        out[edge] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        rgb, out_alpha = out[..., :3], out[..., 3]
        rep.advance()
        return _with_alpha(_mix(req.image[..., :3], rgb, req.strength), out_alpha), warnings
