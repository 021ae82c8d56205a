"""Kink events of the ReLU integrator (numerics.kink_flows): the event record, the errors for kinks
that have no (unique or handled) continuation, and the event locator — the first root of a watched
Taylor polynomial on a step, located to the working precision.

Kept apart from the integrator loop so that a float64 tier (issue 11) can reuse the same logic: the
coefficients come in as arb balls here; only their midpoints are used (as floats for the screen and
the root finder's sample points, exactly as mpf for the sign decisions and the refinement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import flint
import mpmath
import numpy as np

__all__ = ["KinkEvent", "NonUniqueFlowError", "UnsupportedKinkError", "coincident_samples", "first_root"]


class NonUniqueFlowError(RuntimeError):
    """The flow reached a repelling kink (both adjacent fields point away): θ' ∈ −∂f(θ) has more
    than one solution from there (docs/theory.md E1), so there is no ground truth to return."""


class UnsupportedKinkError(RuntimeError):
    """A kink configuration this integrator does not handle exactly (it says which) — never a guess."""


@dataclass
class KinkEvent:
    """One switch of the activation pattern: at time ``t`` (exact binary fraction, located to the
    working precision), ``kind`` "cross", "enter sliding" or "leave sliding", of hidden unit
    ``unit`` (0-based) of hidden layer ``layer`` (1-based) on sample ``sample`` (0-based).
    ``t_uncertainty``: |t − t of the dps + 10 rerun| (nan until the estimator has run)."""

    t: Fraction
    kind: str
    layer: int
    sample: int
    unit: int
    t_uncertainty: float = math.nan

    def key(self) -> tuple:
        return (self.kind, self.layer, self.sample, self.unit)


# two entries of one unit whose inputs to the layer are parallel to within this angle (|cos| ≥ 1 − PARALLEL_TOL,
# ~4.5e-5 rad) are taken to share one kink surface (coincident_samples)
PARALLEL_TOL = 1e-9


def coincident_samples(inputs: np.ndarray, weights: list, biases: list | None, masks: list, layer: int,
                       sample: int) -> list[int]:
    """The samples i′ ≠ i whose entry of any unit of hidden layer ``layer`` (1-based) shares its kink
    surface with sample i's (docs/theory.md E1, "Entries that share one kink surface"): z_{u,i} = W[u]·ã_i
    (+ b[u]), so with ã_i = c·ã_{i′} (ã the layer's input, with a 1 appended when the net has biases) the
    two entries vanish together and lie on one surface {W[u]·ã_i = 0}. Parallel inputs: collinear data
    without biases, identical samples, or a lower layer with one active unit on both samples (ReLU).
    Tested on the float64 values of the state (``weights``, ``biases`` per layer, ``masks[l]`` the mask
    values of hidden layer l + 1, units × samples; ``inputs`` the data, d_0 × n) to |cos| ≥ 1 − PARALLEL_TOL;
    an input that is 0 (every unit below dead on the sample) is no partner (its entries are identically 0)."""
    a = np.asarray(inputs, dtype=float)
    for l in range(layer - 1):
        z = np.asarray(weights[l], dtype=float) @ a
        if biases is not None:
            z = z + np.asarray(biases[l], dtype=float).reshape(-1, 1)
        a = np.asarray(masks[l], dtype=float) * z
    if biases is not None:
        a = np.vstack([a, np.ones((1, a.shape[1]))])
    norms = np.sqrt(np.sum(a * a, axis=0))
    if norms[sample] == 0:
        return []
    cos = (a[:, sample] @ a) / (norms[sample] * np.where(norms > 0, norms, np.inf))
    hits = np.flatnonzero(np.abs(cos) >= 1 - PARALLEL_TOL)
    return [int(k) for k in hits if k != sample]


def shared_surface_error(t: float, layer: int, unit: int, sample: int, others: list[int]) -> "UnsupportedKinkError":
    """The refusal of a kink whose surface other entries of its unit share (:func:`coincident_samples`)."""
    return UnsupportedKinkError(
        f"t = {t:.17g}: unit {unit} of layer {layer} on sample {sample} shares its kink surface with the same unit "
        f"on sample(s) {others[:8]}{' ...' if len(others) > 8 else ''} (their inputs to the layer are parallel: "
        "collinear data without biases, identical samples, or one active unit below). There the flow "
        "θ' ∈ −∂f(θ) sees two regions, not one per entry, and the per-entry Filippov rule both tiers use "
        "can pick a field outside the Clarke set (docs/theory.md E1, \"Entries that share one kink "
        "surface\"); not supported. What to do: drop repeated samples; for collinear data add biases (then only identical samples share a surface); integrate to a horizon before t")


def _mpf(x: flint.arb) -> mpmath.mpf:
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


def first_root(coefs: list[flint.arb], sigma: int, h: Fraction, skip: int, bits: int) -> Fraction | None:
    """First s ∈ (0, h] with σ·q(s) ≤ 0, q(s) = Σ_{k≥skip} c_k s^{k−skip} (the watched series with
    its first ``skip`` coefficients known to vanish at the step start), or None.

    Screen: σq(0) > Σ_{k≥1}|q_k|h^k means no root. Otherwise the real parts of the float roots of the
    scaled polynomial in u = s/h (well conditioned on [0, 1]: h is e^{−2} of the coefficient-decay
    radius), each ± 1e-9, and u = 1 are sample points; their signs are evaluated in mp (never in
    float, whose noise near a root could fake a sign change); the first point where σq ≤ 0 is
    bracketed with the point before it and the bracket is refined in mp to the working precision
    (Illinois steps with a bisection every third step). Limitation: two roots closer than the float
    root finder separates (a near-tangential graze inside one step) can be missed.
    """
    hf = float(h)
    c = [float(x.mid()) for x in coefs[skip:]]
    b = [ck * hf**k for k, ck in enumerate(c)]
    if sigma * b[0] > sum(abs(x) for x in b[1:]) * (1 + 1e-9):
        return None
    nz = [k for k, x in enumerate(b) if x != 0]
    if not nz:
        return None
    top = nz[-1]
    pts = [1.0]
    if top >= 1:
        for r in np.roots(b[: top + 1][::-1]):
            if -1e-6 < r.real < 1 and abs(r.imag) <= 0.25:
                # both sides of a float root: the sign is then decided in mp, away from float noise
                pts += [x for x in (r.real - 1e-9, r.real + 1e-9) if 0 < x < 1]
    pts = sorted(set(pts))
    with mpmath.workprec(bits + 20):
        cm = [_mpf(x) * sigma for x in coefs[skip:]]
        hm = mpmath.mpf(h.numerator) / h.denominator

        def q(s):
            return mpmath.polyval(cm[::-1], s)

        lo, flo = mpmath.mpf(0), q(mpmath.mpf(0))
        if flo <= 0:  # σq(0) ≤ 0: a root at the step start
            return Fraction(0)
        hi = None
        for u in pts:
            s_u = hm * u
            f_u = q(s_u)
            if f_u <= 0:
                hi, fhi = s_u, f_u
                break
            lo, flo = s_u, f_u
        if hi is None:
            return None
        tol = hm * mpmath.ldexp(1, -(bits + 4))
        side = 0
        for it in range(4 * bits):
            if hi - lo <= tol:
                break
            if it % 3 == 2:
                m = (lo + hi) / 2
            else:
                m = (lo * fhi - hi * flo) / (fhi - flo)
                if not lo < m < hi:
                    m = (lo + hi) / 2
            fm = q(m)
            if fm > 0:
                lo, flo = m, fm
                if side == 1:
                    fhi /= 2
                side = 1
            else:
                hi, fhi = m, fm
                if side == -1:
                    flo /= 2
                side = -1
        if hi - lo > tol * 1024:
            raise UnsupportedKinkError(f"the event time did not converge (bracket width {float(hi - lo):.3g})")
        s = hi  # σq(hi) ≤ 0: the step ends on (or just past) the kink, never before it
        man, exp = s.man_exp
        return Fraction(int(man)) * (Fraction(2) ** int(exp)) if man else Fraction(0)
