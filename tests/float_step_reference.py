"""A 30-digit reference for ONE step of the float Taylor tier (numerics.float_taylor), for checking its
per-step local error bound ``local_errors[n]`` at sizes where the arb integrator is far too slow.

The reference integrates the same ODE θ' = −∇f(θ) on the step's fixed activation pattern from the
step's exact start state, in arb (python-flint, ``dps`` digits plus guard bits), and measures
‖y_ref(h_n) − y_{n+1}‖₂ against the tier's stored end state. docs/theory.md F, "Per-step reference at
research scale", states what this verifies and what it does not (it does not verify the event locator
nor the propagation of errors through kinks).

Independence: the pattern is read off the signs of a float forward pass at the step's midpoint (the
tier's dense output, not its internal masks), the series are the arb tier's tape
(numerics.kink_tape._relu_tape) evaluated by numerics.series, and the order, sub-steps and truncation
of the reference are derived here from its own arb coefficients.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import numpy as np

from numerics.kink_tape import LayerMask, _relu_tape
from numerics.series import arb_precision, series_coefficients, to_arb, to_arb_mat

EPS = float(np.finfo(float).eps)
# the reference's own error (arb radii + estimated truncation) must stay this far below the bound it
# checks, so that "true error" means the float step's error and not the reference's
REF_SHARE = 1e-6
# relative truncation asked of each reference sub-step: 2^{-110} ≈ 8e-34 of the state's size
TRUNC_REL = 2.0 ** -110
MAX_ORDER = 30


class StepSkipped(Exception):
    """The step is outside what this reference models (sliding, a sign it cannot certify, the last step)."""


class ReferenceUnresolved(Exception):
    """The reference's own error is not small enough to judge the bound (the reason is the message)."""


@dataclass
class StepCheck:
    n: int
    h: float
    order: int  # order of the reference series
    substeps: int  # reference sub-steps (a power of two) over the step
    estimate: float  # local_errors[n], the tier's bound under test
    true_upper: float  # upper end of ‖y_ref(h) − y_{n+1}‖₂, the reference's own error included
    true_lower: float
    ref_error: float  # arb radius of the distance + the truncation tails of the reference
    seconds: float
    ambiguous_zero: int = 0  # entries identically 0 on the step (mask immaterial; see _pattern)
    y_ref: list = field(default_factory=list, repr=False)  # y_ref(h), arb matrices per block
    y_half: list = field(default_factory=list, repr=False)  # y_ref(h/2)

    @property
    def ratio(self) -> float:
        """Tightness: estimate / true error (∞ when the true error is not resolved above 0)."""
        return self.estimate / self.true_lower if self.true_lower > 0 else math.inf


def _horner(C: np.ndarray, s: float) -> np.ndarray:
    acc = C[-1].copy()
    for c in C[-2::-1]:
        acc = acc * s + c
    return acc


def _gamma(n: int) -> float:
    """Higham's γ_n = nε/(1 − nε): relative error bound of an n-term float dot product or Horner."""
    return n * EPS / (1 - n * EPS)


def sliding_spans(events, end) -> list[tuple[Fraction, Fraction]]:
    """The sliding stretches [enter, leave] of a run's entries, as exact times; an entry still sliding
    at the run's end gives [enter, ``end``]."""
    open_: dict = {}
    spans = []
    for e in events:
        key = (e.layer, e.sample, e.unit)
        if e.kind == "enter sliding":
            open_[key] = Fraction(e.t)
        elif e.kind == "leave sliding" and key in open_:
            spans.append((open_.pop(key), Fraction(e.t)))
    return spans + [(t, Fraction(end)) for t in open_.values()]


def sliding_overlaps(traj, n: int) -> bool:
    """Whether step n's interval meets a sliding stretch [enter, leave] of some entry (the reference
    integrates fixed masks only; a sliding entry's Filippov weight μ(t) is not reproduced here)."""
    a = Fraction(traj.starts[n])
    b = a + Fraction(traj.steps[n])
    return any(lo <= b and hi >= a for lo, hi in sliding_spans(traj.events, b))


def _pattern(traj, n: int, margin_factor: float = 64.0) -> tuple[list[np.ndarray], int]:
    """Signs (+1/−1) of every hidden pre-activation at the midpoint of step n, from a float forward pass
    of the step polynomial at h/2, each certified far from 0.

    Rounding bound of z̃_j = fl(W̃_j ã_{j−1} + b̃_j), entrywise (Higham 3.5, any summation order):
    γ_{d+1}(|W̃||ã| + |b̃|) + |W̃|e_{j−1} + δ_W|ã| + δ_b, with e_{j−1} = max(1, |α|)·(bound of z_{j−1}) (the
    activation is 1-Lipschitz up to α) and δ the Horner rounding of the midpoint state,
    γ_{2(p+1)}Σ_k|c_k|(h/2)^k. A sign is accepted when |z̃| > margin_factor × bound; else StepSkipped.
    Exception: bias-free with α = 0, a sample whose layer-(j−1) entries are all certified ≤ 0 has
    ã_{j−1}[:, i] = 0 exactly, so z_j[:, i] ≡ 0 on the whole step (in float and in the exact flow);
    its mask is immaterial (forward m·0 = 0; backward its δ_j feeds ∇W_j through a_{j−1}[:, i] = 0 and
    δ_{j−1} through m_{j−1}[:, i] = 0), and it is given mask α as the arb tier does.
    """
    obj = traj.obj
    h = float(traj.steps[n])
    C = traj.coeffs[n]
    s = h / 2
    mid = [_horner(c, s) for c in C]
    p = C[0].shape[0] - 1
    powers = s ** np.arange(p + 1)
    delta = [_gamma(2 * (p + 1)) * np.tensordot(powers, np.abs(c), axes=1) for c in C]
    bias, alpha = obj.model.bias, float(obj.model.alpha)
    Ws, Bs = (mid[0::2], mid[1::2]) if bias else (mid, None)
    dW, dB = (delta[0::2], delta[1::2]) if bias else (delta, None)
    a = np.asarray(obj.loss.inputs, dtype=float)
    e = np.zeros_like(a)
    sides, zeros = [], 0
    for j in range(obj.depth - 1):
        W = Ws[j]
        z = W @ a
        bound = _gamma(W.shape[1] + 1) * (np.abs(W) @ np.abs(a)) + np.abs(W) @ e + dW[j] @ np.abs(a)
        if bias:
            z = z + Bs[j]
            bound = bound + _gamma(W.shape[1] + 1) * np.abs(Bs[j]) + dB[j]
        ok = np.abs(z) > margin_factor * bound
        side = np.where(z > 0, 1, -1).astype(np.int8)
        if not bias and alpha == 0.0 and j > 0:
            dead = ~np.any(a != 0, axis=0)  # ã_{j−1}[:, i] = 0 exactly (its entries certified ≤ 0)
            ident = np.zeros_like(ok)
            ident[:, dead] = True
            zeros += int(ident.sum())
            side[ident] = -1
            ok |= ident
        if not ok.all():
            u, i = map(int, np.argwhere(~ok)[0])
            raise StepSkipped(f"step {n}: the sign of z_{j + 1}[{u}, {i}] = {z[u, i]:.3g} at the midpoint is "
                              f"within {margin_factor:g}× its rounding bound {bound[u, i]:.3g}")
        sides.append(side)
        a = np.where(z > 0, z, alpha * z)
        e = max(1.0, abs(alpha)) * bound
    return sides, zeros


class StepReference:
    """The arb tape of the (leaky) ReLU field of ``traj.obj``, built once; :meth:`check` runs one step."""

    def __init__(self, traj, dps: int = 30) -> None:
        self.traj, self.obj, self.dps = traj, traj.obj, dps
        obj = self.obj
        if obj.model.is_linear:
            raise ValueError("the step reference is for ReLU nets (fixed activation pattern per step)")
        with arb_precision(dps):
            n = obj.loss.num_samples
            alpha = to_arb(obj.model.alpha)
            self.masks = [LayerMask(j + 1, obj.widths[j + 1], n, alpha) for j in range(obj.depth - 1)]
            self.tape, self.outs, _, _ = _relu_tape(obj, self.masks)

    def _plan(self, n: int) -> tuple[int, int]:
        """(order p, sub-steps m) of the reference for step n: the ratio r = h/ρ, ρ the decay radius of
        the tier's own coefficients (only a guess here: the reference verifies its truncation from its own
        coefficients afterwards), sub-steps m = 2^q and order p minimising the cost m·p² (a pass costs
        ~p² products) subject to (r/m)^{p+1} ≤ 2^{−110}."""
        C = self.traj.coeffs[n]
        p_f = C[0].shape[0] - 1
        h = float(self.traj.steps[n])
        scale = max(1.0, max(float(np.abs(c[0]).max()) for c in C))
        rho = math.inf
        for j in range(max(1, p_f - 1), p_f + 1):
            nj = max(float(np.abs(c[j]).max()) for c in C)
            if nj > 0:
                rho = min(rho, (scale / nj) ** (1.0 / j))
        r = min(h / rho, 1.0) if math.isfinite(rho) else 1e-3
        r = max(r, 1e-12)
        best = None
        for q in range(0, 11):
            m = 2 ** q
            x = r / m
            p = max(4, math.ceil(math.log(TRUNC_REL) / math.log(x)) - 1) if x < 1 else MAX_ORDER + 1
            p += 1  # the decay guess above reads only two coefficients
            if p <= MAX_ORDER and (best is None or m * p * p < best[1] * best[0] ** 2):
                best = (p, m)
        if best is None:
            raise StepSkipped(f"step {n}: h/ρ = {r:.3g} needs more than 1024 sub-steps")
        return best

    def reference_end(self, n: int, start: list | None = None) -> tuple[list, list, float, int, int, int]:
        """y_ref(h_n): the solution from step n's exact start hi + lo (or from ``start``, float blocks
        taken exactly, e.g. θ0 for a global check) on its midpoint pattern, at ``dps`` digits, as arb
        matrices per block; with y_ref(h_n/2), the sum of the reference's truncation tails (which also
        covers y_ref(h_n/2): a partial sum of them), its order, sub-steps, and the count of
        identically-zero entries (see :func:`_pattern`)."""
        traj = self.traj
        if n + 1 >= len(traj.steps):
            raise StepSkipped(f"step {n}: the last step's end state is not stored")
        if sliding_overlaps(traj, n):
            raise StepSkipped(f"step {n}: overlaps a sliding stretch")
        sides, zeros = _pattern(traj, n)
        p, m = self._plan(n)
        h = float(traj.steps[n])
        with arb_precision(self.dps):  # dps digits + 32 guard bits (132 bits at 30 digits)
            for mask, side in zip(self.masks, sides):
                mask.side = side.reshape(-1).copy()  # entry idx = u·n_samples + i, row-major (u, i)
                mask._refresh()
            # hi + lo: two exact binary floats; their arb sum is exact or a ball enclosing it
            if start is None:
                y = [to_arb_mat(c[0]) + to_arb_mat(lo) for c, lo in zip(traj.coeffs[n], traj.start_lows[n])]
            else:
                y = [to_arb_mat(np.asarray(w, dtype=float).reshape(c[0].shape)) for w, c in zip(start, traj.coeffs[n])]
            sub = to_arb(h) / m  # exact: m is a power of two
            tails = 0.0
            half = None
            for q in range(m):
                if 2 * q == m:
                    half = y
                cs = series_coefficients(self.tape, self.outs, y, p, sign=-1)
                tails += self._tail(cs, float(sub), p, n)
                if m == 1:
                    half = [_horner_arb(c, sub / 2) for c in cs]
                y = [_horner_arb(c, sub) for c in cs]
        return y, half, tails, p, m, zeros

    def distance(self, y: list, end: list) -> flint.arb:
        """‖y − end‖₂ as an arb ball, ``end`` per block a pair of float arrays (hi, lo) taken exactly."""
        with arb_precision(self.dps):
            sq = flint.arb(0)
            for A, (hi, lo) in zip(y, end):
                for d in (A - (to_arb_mat(hi) + to_arb_mat(lo))).entries():
                    sq += d * d
            return sq.sqrt()

    def check(self, n: int, start: list | None = None) -> StepCheck:
        """‖y_ref(h_n) − y_{n+1}‖₂ for step n against the tier's bound local_errors[n]. The reference's
        own error (arb radius + truncation tails) widens [true_lower, true_upper] and must be ≤ REF_SHARE ×
        local_errors[n]: else ReferenceUnresolved (the reference cannot judge this bound). ``start``: as
        in :meth:`reference_end`."""
        traj = self.traj
        t0 = time.process_time()
        y, half, tails, p, m, zeros = self.reference_end(n, start)
        end = [(c[0], lo) for c, lo in zip(traj.coeffs[n + 1], traj.start_lows[n + 1])]
        dist = self.distance(y, end)
        upper = _up(dist.mid() + dist.rad())
        lower = max(0.0, float(dist.mid() - dist.rad()) * (1 - 4 * EPS))
        radius = _up(dist.rad())
        est = float(traj.local_errors[n])
        ref_error = radius + tails
        if ref_error > REF_SHARE * est:
            raise ReferenceUnresolved(f"step {n}: the reference's own error {ref_error:.3g} is not "
                                      f"≪ the bound {est:.3g}")
        return StepCheck(n, float(traj.steps[n]), p, m, est, upper + tails, max(0.0, lower - tails),
                         ref_error, time.process_time() - t0, zeros, y, half)

    @staticmethod
    def _tail(cs: list, s: float, p: int, n: int) -> float:
        """Truncation of one reference sub-step, estimated from its own coefficients: a_k = ‖y_k‖₂s^k,
        decay q = max(a_p/a_{p−1}, a_{p−1}/a_{p−2}, √(a_p/a_{p−2})) (the last of these for series whose
        odd or even terms vanish), tail Σ_{k>p} a_k ≤ a_p·q/(1 − q) for a series decaying at least
        geometrically at rate q from order p on. Not a certificate (like the tier's own truncation term),
        but here q ≈ h/ρ ≤ 1e-3 and the tail is asked to be ≤ 1e-6 of the bound checked: a misjudged
        decay would have to be off by many orders of magnitude to matter. StepSkipped if q > 1/2."""
        a = []
        for k in (p - 2, p - 1, p):
            sq = 0.0
            for Y in cs:
                sq += sum(float(x) ** 2 for x in Y[k].entries())
            a.append(math.sqrt(sq) * s**k)
        if a[2] == 0 and a[1] == 0:
            return 0.0
        qs = [a[2] / a[1] if a[1] > 0 else math.inf, a[1] / a[0] if a[0] > 0 else math.inf,
              math.sqrt(a[2] / a[0]) if a[0] > 0 else math.inf]
        q = max(qs)
        if not q <= 0.5:
            raise ReferenceUnresolved(f"step {n}: the reference series does not decay (ratio {q:.3g}) at order {p}")
        return a[2] * q / (1 - q)


def _up(x: flint.arb) -> float:
    """A float ≥ the arb midpoint x (float() rounds to nearest; 4ε covers it)."""
    v = float(x)
    return v * (1 + 4 * EPS) if v >= 0 else v * (1 - 4 * EPS)


def _horner_arb(C: list, s: flint.arb) -> flint.arb_mat:
    acc = C[-1]
    for c in C[-2::-1]:
        acc = acc * s + c
    return acc


def digits_net(n_samples: int, bias: bool, widths: tuple = (64, 50, 50, 10)):
    """A ReLU net on the first ``n_samples`` sklearn digits (pixels/16, one-hot targets, square loss), He init
    N(0, 2/fan_in) with seed 0, biases 0 (the research-scale cases of the float tier's tests)."""
    import theory
    from sklearn.datasets import load_digits

    d = load_digits()
    X, Y = d.data[:n_samples] / 16, np.eye(10)[d.target[:n_samples]]
    obj = theory.Objective(theory.ReLUNet(tuple(widths), 0.0, bias), theory.SquareLoss(X, Y))
    rng = np.random.default_rng(0)
    th = []
    for j in range(1, len(obj.widths)):
        th.append(rng.standard_normal((obj.widths[j], obj.widths[j - 1])) * np.sqrt(2 / obj.widths[j - 1]))
        if bias:
            th.append(np.zeros(obj.widths[j]))
    return obj, th
