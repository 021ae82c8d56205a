"""Distances between a continuous trajectory and discrete iterates, from dense output.

‖θ(kη) − θ_k‖ (Euclidean over all parameters) for every k, reading θ(kη) off the trajectory's
dense output: one integration serves every k and every η ≤ t_end/k.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from theory import to_kind
from theory.lazy import lazy_module

mpmath = lazy_module("mpmath")


def _exact_time(x: Any) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp) if man else Fraction(0)
    return Fraction(x)  # floats convert exactly


def trajectory_distances(traj: Any, iterates: Sequence[Sequence[Any]], dt: Any,
                         time_map: Any = None) -> list[Any]:
    """[‖θ(t_k) − θ_k‖ for k = 0..K] with t_k = k·dt (or ``time_map(k)``), at the trajectory's precision.

    ``iterates`` is a list of θ_k (each a list of arrays), e.g. ``gradient_descent(...).thetas``;
    ``dt`` is η for GD (t = kη) or √η for momentum methods (t = k√η). Times are formed exactly from
    ``dt`` (a float is taken at its exact binary value), so no time-grid error enters. Iterates past
    the trajectory's end are an error. A trajectory with a ``dps`` (the mp and mpmath flows) gives
    mpf distances at that precision; one without (``gradient_flow_float``) float64 distances, the
    time rounded to float64 when it is read.
    """
    dt_q = _exact_time(dt)
    if dt_q <= 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    dps = getattr(traj, "dps", None)
    times = [time_map(k) if time_map is not None else k * dt_q for k in range(len(iterates))]
    if dps is None:
        out_f = []
        for t, th in zip(times, iterates):
            ref = traj.at(float(t))
            s = 0.0
            for a, b in zip(ref, th):
                d = np.asarray(a, dtype=np.float64).reshape(-1) - to_kind(np.asarray(b).reshape(-1), "float")
                s += float(d @ d)
            out_f.append(float(np.sqrt(s)))
        return out_f
    out = []
    with mpmath.workdps(dps):
        for t, th in zip(times, iterates):
            ref = traj.at(t)
            s = mpmath.mpf(0)
            for a, b in zip(ref, th):
                d = np.asarray(a).reshape(-1) - to_kind(np.asarray(b).reshape(-1), "mp")
                s += mpmath.fsum(x * x for x in d)
            out.append(mpmath.sqrt(s))
    return out


def gf_gd_distance(traj: Any, gd: Any) -> list[Any]:
    """‖θ(kη) − θ_k‖ for every kept step k (``gd.kept``; all k = 0..K by default), θ from any GF
    trajectory (:func:`numerics.gradient_flow`, ``gradient_flow_float``, ``gradient_flow_generic``),
    θ_k from :func:`numerics.gradient_descent` (its ``eta`` is read from the result). mpf distances
    for mp trajectories, floats for the float64 one (:func:`trajectory_distances`)."""
    if gd.method != "gd":
        raise ValueError(f"gf_gd_distance needs gradient-descent iterates, got {gd.method!r}")
    kept = list(getattr(gd, "kept", None) or range(len(gd.thetas)))
    eta_q = _exact_time(gd.params["eta"])
    return trajectory_distances(traj, gd.thetas, gd.params["eta"], time_map=lambda i: kept[i] * eta_q)
