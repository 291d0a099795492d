"""Drift and colour correction on real photographs with synthetic drift (tests/inference/drift_cases.py):
the issue's goals as thresholds, and the cases where it must leave the result as it came."""

from __future__ import annotations

import numpy as np
import pytest

from inference.pen import alignment as A
from tests.inference import drift_cases as D

# photographs of every kind: portrait, food, animal, a sky with a rocket, grey, micrograph, coins, textures
CASES = [("astronaut", 1), ("coffee", 1), ("chelsea", 2), ("rocket", 1), ("camera", 2), ("immunohistochemistry", 0),
         ("coins", 2), ("moon", 1), ("brick", 2), ("grass", 0), ("gravel", 1)]


@pytest.mark.parametrize(("name", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_a_drifted_recoloured_result_is_aligned_and_keeps_its_change(name, seed):
    c = D.make(name, seed)
    out, al = A.align(c.before, c.result)
    assert al.ok, al.reason
    m = D.measure(c, out, al)
    assert m["corner"] <= 0.25, m  # sub-pixel registration
    assert m["unchanged"] >= 0.99, m  # the unchanged area is the input's (within 2 levels on 99 %)
    assert m["kept"] >= 0.98, m  # the local change is kept whole
    assert "aligned:" in al.describe() and "px" in al.describe()


def test_unchanged_pixels_are_the_inputs_own_and_changes_only_is_transparent_there():
    c = D.make("coffee", 1)
    out, al = A.align(c.before, c.result)
    changed = A.change_mask(c.before, out[..., :3]) > 0
    far = ~np.asarray(__import__("cv2").dilate(changed.astype(np.uint8), np.ones((9, 9), np.uint8)), bool)
    assert np.array_equal(out[far][:, :3], c.before[far])  # not resampled: bit for bit
    only, _ = A.align(c.before, c.result, changes_only=True)
    assert (only[far][:, 3] == 0).all() and (only[c.changed][:, 3] > 200).mean() > 0.98


@pytest.mark.parametrize("kind", ["most changed", "restyled", "flat"])
def test_what_cannot_be_aligned_safely_comes_back_as_it_came(kind):
    import cv2

    if kind == "most changed":
        c = D.make("astronaut", 0, change=(0.7, 0.8))
    elif kind == "restyled":
        c = D.make("coffee", 0, change=(0, 0))
        c.result = np.ascontiguousarray(cv2.stylization(c.result[..., ::-1].copy(), sigma_s=60,
                                                        sigma_r=0.45)[..., ::-1])
    else:
        y, x = np.mgrid[0:256, 0:384]
        sky = np.dstack([100 + 0.2 * y, 150 + 0.1 * y, 230 - 0.05 * x]).astype(np.uint8)
        c = D.Case("flat", sky, np.roll(sky, 3, axis=1), np.eye(2, 3), np.zeros((256, 384), bool))
    out, al = A.align(c.before, c.result)
    assert not al.ok and al.reason
    assert np.array_equal(out[..., :3], c.result[..., :3])  # never made worse: left as the model made it
    assert al.describe().startswith("not aligned:")


def test_no_drift_no_change_is_left_alone():
    c = D.make("chelsea", 3, change=(0, 0), drift=False, colour=0.0, jpeg=None)
    out, al = A.align(c.before, c.result)
    assert al.shift < 0.1 and abs(al.scale - 1) < 1e-3
    assert np.abs(out[..., :3].astype(int) - c.before.astype(int)).max() <= 2


def test_a_large_colour_correction_says_the_edit_may_have_meant_it():
    from inference.pen.alignment import Alignment

    small = Alignment(True, gain=np.array([1.03, 0.98, 1.0]), offset=np.array([2.0, 0, 0]))
    assert "Align off" not in small.describe() and "colour 2 %" in small.describe()
    warm = Alignment(True, gain=np.array([1.2, 1.0, 0.85]), offset=np.zeros(3))
    assert "colour 12 %" in warm.describe() and "run it again with Align off" in warm.describe()


# --- issue 22: the change mask follows the noise measured after registration ------------------------------------
@pytest.mark.parametrize(("name", "seed", "step"), [("astronaut", 0, 8), ("coffee", 1, 6), ("astronaut", 2, 10)])
def test_a_low_contrast_change_is_kept_and_the_rest_is_the_inputs(name, seed, step):
    c = D.low_contrast(name, seed, step=step)  # a dark object on a dark area, `step` levels apart, drifted
    out, al = A.align(c.before, c.result)
    assert al.ok, al.reason
    assert D.restored(c, out) <= 0.05  # ≥ 95 % of the patch keeps the edit, none of it is put back blotchily
    m = D.measure(c, out, al)
    assert m["unchanged"] >= 0.99, m  # the untouched area is the input's own
    assert al.noise is not None and al.noise < 2 and al.threshold < step  # what decided it, measured
    assert f"a change counts from {al.threshold:.1f} levels, the noise being {al.noise:.1f}" in al.describe()


def _grainy(c: D.Case, sigma: float, grain: float, seed: int) -> D.Case:
    """The result re-synthesised: white noise σ ``sigma`` and a finer-than-detail grain σ ``grain`` (correlated
    over a couple of pixels, which blurring does not take away)."""
    import cv2

    rng = np.random.default_rng(seed)
    g = cv2.GaussianBlur(rng.normal(0, 1, c.result.shape).astype(np.float32), (0, 0), 1.5)
    noisy = c.result + rng.normal(0, sigma, c.result.shape) + g * (grain / g.std())
    c.result = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    return c


@pytest.mark.parametrize(("name", "seed", "sigma", "grain"), [("astronaut", 0, 6, 6), ("chelsea", 2, 5, 3)])
def test_a_noisy_result_is_not_all_change(name, seed, sigma, grain):
    c = _grainy(D.make(name, seed, jpeg=None), sigma, grain, seed)
    out, al = A.align(c.before, c.result)
    assert al.ok, al.reason
    assert al.changed < c.changed.mean() + 0.05  # the pasted patch, not the noise
    m = D.measure(c, out, al)
    assert m["unchanged"] >= 0.98 and m["kept"] >= 0.98, m
    assert al.noise > 2 and al.threshold > A.CHANGE_FLOOR  # the threshold rose with the noise


def test_the_measured_threshold_rises_with_the_noise_and_has_a_floor():
    rng = np.random.default_rng(0)
    before = D.photo("coffee")
    clean, _ = A.change_threshold(before, before)
    assert clean == A.CHANGE_FLOOR  # a clean result does not count every level as a change
    noisy = np.clip(before + rng.normal(0, 16, before.shape), 0, 255).astype(np.uint8)
    thr, sigma = A.change_threshold(before, noisy)
    assert thr > 2 * A.CHANGE_FLOOR and thr >= A.NOISE_MULTIPLE * sigma and sigma > 1
    assert (A.change_mask(before, noisy, None) > 0).mean() < 0.01  # noise is no change
    assert (A.change_mask(before, noisy, threshold=A.CHANGE_FLOOR) > 0).mean() > 0.1  # a fixed low one is fooled
