"""docs/theory.md B6b (the growth law of I₋): the error model against the exact N = 2 solution, the
aligned-init exponent (a = 1 for every N), and a wrong rate caught."""

import math

from proofs_check.claims.curvature import B6b, b6b_measure


def test_n2_error_model_covers_the_exact_increment_and_is_tight():
    """N = 2, aligned, ‖Φ‖ = 1: I₋ = ½ln(1/s) − ½ln(27/4) − ln(1 − s) exactly (docs/theory.md#b6b),
    so Δ₂ − ½ln 10 = ln(1 − s/10) − ln(1 − s/100). The model error covers it within a factor 3, and the
    numerical error covers the difference between the measured and the exact Δ₂."""
    s = 0.1
    m = b6b_measure(((1, 1, 1), s, 0))
    d = m.details
    assert d["aligned"] and d["q"] == 0.1
    exact_d2 = 0.5 * math.log(10) + math.log(1 - s / 10) - math.log(1 - s / 100)
    assert abs(d["increments"][1] - exact_d2) <= d["numerical_err"]
    dev = abs(exact_d2 - 0.5 * math.log(10))
    assert dev <= d["model_err"] <= 3 * dev
    assert m.status(B6b.resolution) == "holds within error"
    assert b6b_measure(((1, 1, 1), s, 0), rate=0.55).status(B6b.resolution) == "violated"


def test_aligned_n4_instance_is_decided():
    """Dev seed 0's inconclusive instance: N = 4, widths 1, s = 0.1. Aligned, so the O(1) term varies
    like s (q = 0.1), not s^{1/2}: its error is now resolved (< 5%) and covers the deviation."""
    m = b6b_measure(((1, 1, 1, 1, 1), 0.1, 0))
    assert m.details["aligned"] and m.details["q"] == 0.1
    assert m.status(B6b.resolution) == "holds within error"
    assert m.err <= B6b.resolution
