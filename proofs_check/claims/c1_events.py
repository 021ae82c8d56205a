"""C1's event times on a Taylor tier, each with the error the tier's bound allows (docs/theory.md#c1,
"Tolerance"): the loss reaching ε, ‖w‖ reaching R, ‖w_⊥‖ falling through its levels."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

import numerics
import theory
from numerics.hessian_lipschitz import hessian_norm_bound

from ..flow import step_bounds
from .flow_errors import crossing_time_error, end_to_end, end_to_end_shift, end_to_end_velocity, first_crossing

EPS = float(np.finfo(float).eps)


def taylor_event_times(obj: Any, theta0: list, events: list, kinds: list, guesses: list, horizon: float,
                       phi: np.ndarray, dps: int | None = None) -> tuple[list, list, Any]:
    """(times, errors, trajectory): each event's first crossing on a Taylor tier's flow (``dps``: None the
    float64 tier, else the arb tier at that many digits), run to just past the latest of ``guesses`` (DOP853's
    times: where to stop, not trusted), with an error derived from the tier's bound e at that time
    (docs/theory.md#c1, "Tolerance"): |Δg| ≤ e‖∇f‖ + B₂e²/2 for the loss, ≤ δ
    (:func:`~.flow_errors.end_to_end_shift`) for ‖w‖ and ‖w_⊥‖, each over |ġ| at the crossing, plus the
    float64 evaluation of g and Brent's bracket. ``kinds``: ("loss", ε) first, then ("escape", R), ("across", level)
    per event; an across event counts only where the loss is below ε by more than its own shift (so the
    max in its g is the ‖w_⊥‖ part); ``phi``: Φ as a flat row."""
    phi = np.asarray(phi, dtype=float).reshape(-1)
    phi_hat = phi / np.linalg.norm(phi)
    found = [t for t in guesses if t is not None]
    t_stop = min(horizon, 1.02 * max(found) + 1e-9)
    traj = numerics.gradient_flow(obj, theta0, t_stop if dps is None else Fraction(t_stop), dps=dps)

    def at(t):  # the state in float64 (the arb tier's read-out rounded: ½ ulp per entry, added to e below)
        return [np.asarray(theory.to_kind(W, "float"), dtype=float) for W in traj.at(t)]

    grid = [float(t) for t in traj.starts] + [float(traj.t_end)]
    grid_e = step_bounds(traj, grid)
    d0 = int(np.size(phi_hat))
    Ts, errs = [], []
    for g, (kind, level), guess in zip(events, kinds, guesses):
        t = first_crossing(at, g, grid) if guess is not None else None
        if t is None:
            Ts.append(None)
            errs.append(math.inf)
            continue
        th = at(t)
        e = step_bounds(traj, [t])[0] + (0.5 * EPS * float(np.sqrt(sum(float(np.vdot(W, W)) for W in th)))
                                         if dps is not None else 0.0)
        grads = numerics.gradient(obj, th)
        gn = float(np.sqrt(sum(float(np.vdot(x, x)) for x in grads)))
        w = end_to_end(th)
        d_round = end_to_end_shift(th, 0.0)  # the computed w's own rounding
        f_hat = float(numerics.value(obj, th))
        B2 = hessian_norm_bound(obj, [float(np.linalg.norm(W, 2)) * (1 + 4 * EPS) + e for W in th], f_hat + 1.0)
        ok = e * (gn + B2 * e) <= 0.5  # the loss stays ≤ f̂ + 1 on the segment, where B₂ holds
        r = float(np.linalg.norm(w - phi))
        loss_shift = math.inf
        if ok:  # Taylor with remainder, plus the evaluated loss's rounding through the computed w's
            loss_shift = e * gn + B2 * e * e / 2 + r * d_round + d_round ** 2 / 2 + (d0 + 4) * EPS * f_hat
        if kind == "loss":
            shift, rate = loss_shift, gn * gn
        else:
            wd = end_to_end_velocity(th, grads).reshape(-1)
            if kind == "across":
                w = w - (w @ phi_hat) * phi_hat
                wd = wd - (wd @ phi_hat) * phi_hat
            nw = float(np.linalg.norm(w))
            shift = end_to_end_shift(th, e) + (d0 + 4) * EPS * nw  # the projection is non-expansive
            rate = float(w @ wd) / nw if nw > 0 else 0.0
            if kind == "across" and not f_hat < kinds[0][1] - loss_shift:
                rate = 0.0  # the loss part of the max may be the one that crossed: no error derived (∞)
            if kind != "loss" and not _clear_before(at, g, grid, grid_e, t):
                rate = 0.0  # the true flow may have met the level earlier (no error derived: ∞)
        Ts.append(t)
        errs.append(crossing_time_error(shift, rate, t))
    return Ts, errs, traj


def _clear_before(at, g, grid: list, grid_e: list, t: float) -> bool:
    """Whether g(θ̂) stays above its error band at every step end before ``t``, so that the true flow's first
    crossing is the one near t (the loss decreases along GF; the norms of w need not be monotone). A check at
    the step ends only: between them the dense output is not sampled."""
    for s, e in zip(grid, grid_e):
        if s >= t:
            break
        th = at(s)
        if not g(th) > end_to_end_shift(th, e) * (1 + 1e-6) + 4 * EPS * float(np.linalg.norm(end_to_end(th))):
            return False
    return True
