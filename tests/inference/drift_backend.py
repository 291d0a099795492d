"""A test backend that behaves like an editing model that reads drawn marks: it makes the edit asked for
(a blue ball inside the circled area), keeps the red marks it was shown, and returns the picture a few
pixels off, slightly scaled and recoloured — the drift Backend.run must take out."""

from __future__ import annotations

import cv2
import numpy as np

from inference.backend import Backend, Capabilities
from inference.request import MarkData
from tests.inference.photos import coffee

RED = (230, 30, 30, 255)
ELLIPSE = ((230, 135), (370, 225))  # on the coffee photo's table, away from its red-brown saucer
BALL = ((300, 180), 25)
ARROW = ((470, 330), (390, 240))  # pointing at the circle from the lower right
DRIFT = np.array([[1.008, 0.0, 3.4], [0.0, 1.008, -2.1]])  # input → result


def marked_request(**kw):
    """The coffee photo with a red ellipse and an arrow drawn on it, as the canvas sends it."""
    from inference.request import EditRequest

    img = coffee()
    overlay = np.zeros_like(img)
    (x0, y0), (x1, y1) = ELLIPSE
    cv2.ellipse(overlay, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, RED, 6,
                cv2.LINE_AA)
    (ax, ay), (bx, by) = ARROW
    cv2.arrowedLine(overlay, (ax, ay), (bx, by), RED, 6, cv2.LINE_AA, tipLength=0.2)
    marks = (MarkData("ellipse", ELLIPSE, width=6, color=RED, closed=True),
             MarkData("arrow", ARROW, width=6, color=RED))
    kw.setdefault("instruction", "put a blue ball in the circle")
    return EditRequest(img, marks=marks, annotation_overlay=overlay, **kw)


def drift(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    out = cv2.warpAffine(img, DRIFT, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    rgb = out[..., :3].astype(np.float32) * np.array([1.05, 0.97, 1.02]) + np.array([4.0, -3.0, 2.0])
    out[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


class DriftBackend(Backend):
    name = "test-drift"
    label = "Drifting test model"
    capabilities = Capabilities(reads_instruction=True, marks="qwen-image-edit", aligns=True)
    seen: list = []  # the requests it was given

    def edit(self, request, reporter):
        DriftBackend.seen.append(request)
        out = request.image.copy()
        s = request.width / coffee().shape[1]  # (a crop or scale of the picture: where the ball goes)
        (cx, cy), r = BALL
        cv2.circle(out, (int(cx * s), int(cy * s)), max(2, int(r * s)), (40, 70, 230, 255), -1, cv2.LINE_AA)
        reporter.advance()
        return [drift(out)], [None], []
