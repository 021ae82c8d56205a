"""A cap on the Taylor step's radius from the softmax head's own singularities (both tiers; docs/theory.md F,
"A softmax saturated far from its target").

The step controllers (:func:`numerics.flows.taylor_step`, :func:`numerics.float_steps._step_size`) read the
radius of convergence ρ off the state's last coefficients. A softmax column saturated far from its target
hides its singularity from them: with logits z and the winning class ahead by g = 161, the losing class's
probability e^{−g} is below every working precision, the field is constant to all digits, and the state's
coefficients decay as if the series were entire. The flow moves g at ġ ≈ −8,700, so e^{−g(t)} becomes
O(1) at t ≈ 0.0186, where the softmax has poles (g(t) = ±iπ): the true radius. Both tiers took one step
across it (found by a soak of the random-net property test: the float tier 1.4, the arb tier at 30 digits
0.066 off a converged RK4 at t = 0.0625, each with an estimate ~1e-13).

The cap. Per column i (sample) let top be the class with the largest logit at the step start and
d_l(s) = z_l(s) − z_top(s) (the softmax is a function of these differences, d_top ≡ 0). On the complex disk
|s| ≤ r, |d_l(s) − d_l(0)| ≤ M_l(r) = Σ_{k≥1} |d_{l,k}| r^k (the computed coefficients). For a class with
M_l ≤ π/2 the term e^{d_l(s)} has argument within ±π/2, so its real part is ≥ 0; any other class
contributes at most e^{d_l(0) + M_l} in modulus. Hence

    |Σ_l e^{d_l(s)}| ≥ Re Σ_l e^{d_l(s)} ≥ 1 − Σ_{l: M_l(r) > π/2} e^{d_l(0) + M_l(r)} ≥ 1/2

when the last sum is ≤ 1/2 (the condition), and then every probability P_l = e^{d_l}/Σ is analytic on the
disk with |P_l| ≤ 2·max(e^{π/2}, 1/2) < 10. The cap is the largest r with the condition in every column.
On a disk of radius r ≥ ρ_used the softmax's k-th coefficient is then at most 10/r^k (Cauchy), so the
part of it the computed orders do not show adds at most ~10·(h/ρ)^{p+1} to the step's truncation, the
size the tiers' tail estimate already assumes (h = ρ/e² or ρ·tol^{1/p}). On the saturated column above it
gives r = (g − ln 2)/|ġ| ≈ 0.0184 against the true 0.0186; on a tied column (d = 0) r = π/(2|ḋ|), half the
logistic's pole distance π/|ḋ|.

A bare exp node (not the numerator of a column-wise softmax; the tapes record none today) gets the
entrywise cap M(r) ≤ 1: e^{z} stays within a factor e of its start on the disk.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

HALF_PI = math.pi / 2
# the condition's bound on the far classes' sum: |Σ| ≥ 1/2 on the disk (module docstring)
FAR_SUM = 0.5
# bisection on log r stops at this ratio: the cap is then within 1 % below the exact largest r
RATIO_STOP = 1.01


def exp_inputs(ops: Sequence[tuple]) -> list[tuple[int, bool]]:
    """(node, softmax) for each exp node's operand on a tape (``ops`` as (op, a, b, payload)): softmax is
    True when the exp node is the numerator of a div whose divisor is 1·(1ᵀe^{Z}) — two products with
    constant factors over it, as :func:`numerics.series_elementwise.softmax` records it (column-wise)."""
    out = []
    for e, (op, a, _b, _p) in enumerate(ops):
        if op != "exp":
            continue
        soft = False
        for (op2, num, den, _) in ops:
            if op2 == "div" and num == e:
                o1 = ops[den]
                if o1[0] == "matmul" and ops[o1[1]][0] == "const":
                    o2 = ops[o1[2]]
                    soft = o2[0] == "matmul" and ops[o2[1]][0] == "const" and o2[2] == e
        out.append((a, soft))
    return out


def tape_exp_inputs(tape: Any) -> list[tuple[int, bool]]:
    """:func:`exp_inputs` of a recorded :class:`numerics.series.Tape` (cached on it: a tape is not changed
    after recording)."""
    got = getattr(tape, "_exp_inputs", None)
    if got is None:
        got = tape._exp_inputs = exp_inputs(tape.ops)
    return got


def _excursion(A: np.ndarray, r: float) -> np.ndarray:
    """M(r) = Σ_{k≥1} A_{k−1} r^k for A = |coefficients 1..q−1| stacked on axis 0 (Horner)."""
    M = np.zeros(A.shape[1:])
    for k in range(A.shape[0] - 1, -1, -1):
        M = (M + A[k]) * r
    return M


def logit_radius(Z: np.ndarray, r_max: float, softmax: bool = True) -> float:
    """The largest r ≤ ``r_max`` (to 1 %) at which the softmax condition of the module docstring holds
    in every column of the logits ``Z`` — an array (q, classes, samples) of their coefficients 0..q−1 —
    or, with ``softmax=False``, the entrywise cap M(r) ≤ 1 of a bare exp. ``r_max`` itself when the
    condition holds there (the usual case: one evaluation); r_max may be ∞."""
    Z = np.asarray(Z, dtype=float)
    q = Z.shape[0]
    if q < 2 or Z.size == 0:
        return r_max
    if softmax:
        Z = Z.reshape(q, Z.shape[1], -1)
        top = np.argmax(Z[0], axis=0)
        cols = np.arange(Z.shape[2])
        D = Z - Z[:, top, cols][:, None, :]
        d0 = D[0]
        A = np.abs(D[1:])

        def ok(r: float) -> bool:
            M = _excursion(A, r)
            with np.errstate(over="ignore"):
                far = np.where(M > HALF_PI, np.exp(d0 + M), 0.0)
            return bool(np.all(far.sum(axis=0) <= FAR_SUM))
    else:
        A = np.abs(Z[1:])

        def ok(r: float) -> bool:
            return bool(np.all(_excursion(A, r) <= 1.0))

    if not np.all(np.isfinite(A)):
        raise FloatingPointError("the series of the softmax logits left the float64 range, so the step's radius "
                                 "cap cannot be computed (logits beyond ~1e300): use the arb tier (dps=...) or a "
                                 "smaller initial scale")
    hi = r_max if math.isfinite(r_max) else 1e6
    if ok(hi):
        return r_max
    lo = hi
    while not ok(lo):  # M(r) → 0 as r → 0, where the condition holds: a few quarterings find a lower end
        hi, lo = lo, lo / 4
        if lo < 1e-300:
            return 0.0
    while hi > RATIO_STOP * lo:
        mid = math.sqrt(lo * hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def logit_cap(series: dict, nodes: Sequence[tuple[int, bool]], r_max: float, to_array: Any = None) -> float:
    """min over the exp nodes' operands of :func:`logit_radius` (``series[node]``: coefficients 0..q−1,
    float arrays stacked (q, rows, cols), or a list that ``to_array`` turns into one)."""
    r = r_max
    for node, soft in nodes:
        Z = series.get(node)
        if Z is None:
            continue
        r = min(r, logit_radius(Z if to_array is None else to_array(Z), r, soft))
    return r


def arb_logit_cap(tape: Any, watched: dict) -> Callable[[float], float] | None:
    """ρ ↦ ρ capped by :func:`logit_cap` for the arb tier, from the logits' series in ``watched`` (arb_mat
    coefficients 0..q−1 per exp operand, read at their midpoints: the cap is a step-size choice); None for
    a tape without exp nodes."""
    nodes = tape_exp_inputs(tape)
    if not nodes:
        return None

    def stack(cs: list) -> np.ndarray:
        return np.stack([np.array([float(x.mid()) for x in c.entries()]).reshape(c.nrows(), c.ncols())
                         for c in cs])
    return lambda rho: logit_cap(watched, nodes, rho, stack)
