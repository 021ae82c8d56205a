"""The first-order fit of ``gfgd report ec21``: how the GF–GD distance at a fixed time scales with the
step size, with the fit's own error (docs/theory.md G1)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def first_order(etas: Sequence[float], distances: Sequence[float], gf_error: float = 0.0,
                confidence: float = 0.99) -> dict:
    """How d(η) = ‖θ_GD(t_end) − θ_GF(t_end)‖ scales with η (docs/theory.md, "ec21: the GF–GD distance").

    * ``two_point_slope``: log(d(η₀)/d(η₀/2)) / log 2 — THEORY A4's slope 1 where f is C²;
    * ``fit_slope`` s: least squares of ln d on ln η over all step sizes, with ``fit_slope_error``
      t·se + ρ, se = √(Σ res²/(m − 2) / Σ(x − x̄)²) the slope's standard error from the fit's own
      residuals, t Student's ``confidence`` quantile with m − 2 degrees of freedom, and ρ the largest
      shift of s that the ground truth's error can cause (each ln d moves by at most gf_error/d_i:
      ρ = max_i(gf_error/d_i)·Σ|x − x̄|/Σ(x − x̄)²);
    * ``constant``: d/η per step size (bounded where GD is first order).
    ``consistent_with_1``: |s − 1| ≤ the error; ``resolved``: the error < 1/2 (so slope ½ or 0 — an O(√η)
    or O(1) distance — would be told apart)."""
    from scipy import stats

    x, y = np.log(np.asarray(etas, float)), np.log(np.asarray(distances, float))
    m = len(x)
    if m < 2 or not np.all(np.isfinite(y)):
        raise ValueError(f"first_order needs >= 2 positive finite distances, got {list(distances)!r}")
    s2 = float((y[0] - y[1]) / (x[0] - x[1]))
    base = {"eta": [float(e) for e in etas], "distance": [float(d) for d in distances],
            "constant": [float(d / e) for d, e in zip(distances, etas)], "two_point_slope": s2}
    if m == 2:  # no residuals: no fit error, nothing decided
        return dict(base, fit_slope=None, fit_slope_standard_error=None, t_quantile=None, confidence=confidence,
                    gf_error_shift=None, fit_slope_error=None, consistent_with_1=None, resolved=False)
    dx = x - x.mean()
    Sxx = float(dx @ dx)
    s = float(dx @ (y - y.mean()) / Sxx)
    res = y - (y.mean() + s * dx)
    se = math.sqrt(float(res @ res) / (m - 2) / Sxx)
    tq = float(stats.t.ppf(0.5 + confidence / 2, m - 2))
    rho = float(np.max(gf_error / np.asarray(distances, float)) * np.sum(np.abs(dx)) / Sxx)
    err = tq * se + rho
    return dict(base, fit_slope=s, fit_slope_standard_error=se, t_quantile=tq, confidence=confidence,
                gf_error_shift=rho, fit_slope_error=err, consistent_with_1=bool(abs(s - 1) <= err),
                resolved=bool(err < 0.5))
