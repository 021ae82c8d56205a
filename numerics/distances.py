"""Distances between a continuous trajectory and discrete iterates, from dense output.

‖θ(kη) − θ_k‖ (Euclidean over all parameters) for every k, reading θ(kη) off the trajectory's
dense output: one integration serves every k and every η ≤ t_end/k.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import mpmath
import numpy as np

from theory import to_kind


def _exact_time(x: Any) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp) if man else Fraction(0)
    return Fraction(x)  # floats convert exactly


def trajectory_distances(traj: Any, iterates: Sequence[Sequence[Any]], dt: Any,
                         time_map: Any = None) -> list[mpmath.mpf]:
    """[‖θ(t_k) − θ_k‖ for k = 0..K] with t_k = k·dt (or ``time_map(k)``), at the trajectory's precision.

    ``iterates`` is a list of θ_k (each a list of arrays), e.g. ``gradient_descent(...).thetas``;
    ``dt`` is η for GD (t = kη) or √η for momentum methods (t = k√η). Times are formed exactly from
    ``dt`` (a float is taken at its exact binary value), so no time-grid error enters. Iterates past
    the trajectory's end are an error.
    """
    dt_q = _exact_time(dt)
    if dt_q <= 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    out = []
    with mpmath.workdps(traj.dps):
        for k, th in enumerate(iterates):
            t = time_map(k) if time_map is not None else k * dt_q
            ref = traj.at(t)
            s = mpmath.mpf(0)
            for a, b in zip(ref, th):
                d = np.asarray(a).reshape(-1) - to_kind(np.asarray(b).reshape(-1), "mp")
                s += mpmath.fsum(x * x for x in d)
            out.append(mpmath.sqrt(s))
    return out


def gf_gd_distance(traj: Any, gd: Any) -> list[mpmath.mpf]:
    """‖θ(kη) − θ_k‖ for k = 0..K, θ from :func:`numerics.gradient_flow`, θ_k from
    :func:`numerics.gradient_descent` (its ``eta`` is read from the result)."""
    if gd.method != "gd":
        raise ValueError(f"gf_gd_distance needs gradient-descent iterates, got {gd.method!r}")
    if len(gd.thetas) != len(gd.losses):
        raise ValueError("the GD run kept only some iterates (keep='last'); rerun with keep='all'")
    return trajectory_distances(traj, gd.thetas, gd.params["eta"])
