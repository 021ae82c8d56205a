"""Softmax cross-entropy in the float64 Taylor tier (numerics.float_taylor / float_series: the exp, ⊙ and
÷ series of the softmax head in float64; docs/theory.md F, "Float tier: cross-entropy").

References, each computed differently from the code under test:
* the arb tier at 30 digits (its own ball-arithmetic rules, numerics.series_elementwise), for the
  trajectory, the kink events and the honesty / tightness of the float tier's error estimate;
* numerics.gradient on mpmath numbers at 50 digits (the generic formula with the max-shifted softmax,
  no tape, no series), for the field at order 0;
* central differences of that mp gradient, for the Hessian-vector products the error growth reads;
* the per-neuron conservation law (balancedness for linear nets), which holds for any loss of the
  output (docs/theory.md B3, E2).
Instances were drawn by running both tiers on seeded problems and keeping ones that cross kinks (the
ReLU tests assert the reference's crossing events exist)."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.kink_flows import relu_gradient_flow

from error_norms import diff2

EPS = float(np.finfo(float).eps)


def instance(kind: str, bias: bool, seed: int, widths=(3, 4, 4, 3), n: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    labels = rng.integers(0, widths[-1], size=n)
    net = theory.DeepLinear(widths, bias=bias) if kind == "linear" else theory.ReLUNet(widths, bias=bias)
    obj = theory.Objective(net, theory.CrossEntropy(X, labels))
    return obj, [rng.standard_normal(s) for s in obj.shapes]


def diff_mp(a, b) -> float:
    """‖a − b‖₂ over all entries, in mp (float entries taken exactly): the norm the float tier's estimate bounds
    (tests/error_norms.py; the largest entry's error until 2026-12-07)."""
    return diff2(a, b)


# (kind, bias, seed, t_end, widths, n): the ReLU ones cross kinks before t_end (asserted on the
# reference); the bias-free ReLU ones also enter Filippov sliding; the last two have 170 and 193 parameters
SMALL = ((3, 4, 4, 3), 5)
CASES = [("linear", False, 0, 2.0, *SMALL), ("linear", True, 1, 2.0, *SMALL), ("relu", False, 2, 1.0, *SMALL),
         ("relu", True, 0, 1.0, *SMALL), ("relu", False, 0, 0.5, (4, 10, 10, 3), 8),
         ("relu", True, 1, 0.5, (4, 10, 10, 3), 8)]


@pytest.mark.parametrize("kind,bias,seed,t_end,widths,n", CASES)
def test_float_tier_matches_arb_tier_with_honest_tight_estimate(kind, bias, seed, t_end, widths, n):
    obj, th = instance(kind, bias, seed, widths, n)
    f = numerics.gradient_flow(obj, th, t_end, dps=None)
    if kind == "linear" and not bias:
        ref = numerics.gradient_flow(obj, th, t_end, dps=30)
    else:  # the kink integrator without its dps + 10 rerun (its local-error estimate is checked below)
        ref = relu_gradient_flow(obj, th, Fraction(t_end), 30, rerun=False)
    if kind == "relu":
        assert "cross" in [e.kind for e in ref.events], "no crossing in the reference: the instance misses its point"
        assert [e.key() for e in f.events] == [e.key() for e in ref.events]
        for e, r in zip(f.events, ref.events):
            assert abs(float(e.t) - float(r.t)) <= 1e-12
    times = sorted(set(list(np.linspace(0, t_end, 9)) + f.times[1:8]))
    true = max(diff_mp(f.at(t), ref.at(t)) for t in times)
    ratio = f.error_estimate / true
    print(f"\n{kind} bias={bias} P={obj.num_params} T={t_end}: steps {len(f.steps)}, events {len(f.events)}, "
          f"|float - arb30| = {true:.3g}, estimate {f.error_estimate:.3g}, ratio {ratio:.3g}")
    assert ref.error_estimate <= true / 1000  # the reference is far more accurate than what it checks
    assert true <= 1e-12
    assert f.error_estimate >= true  # honest
    assert f.error_estimate <= 1000 * true  # tight


def _abs_gradient(obj, th) -> tuple[list[np.ndarray], float]:
    """The gradient's backpropagation run on absolute values (|W|, |x|, |b|, the ReLU masks of the
    true forward pass, and |P| + E for the head c(P − E)): the magnitude that bounds the rounding of
    every inner product of the float gradient (Higham's γ_n·|A||B|); and max of |W_N||a_{N−1}| (+ |b_N|),
    which bounds the logits' rounding through γ."""
    X = np.asarray(obj.loss.inputs, dtype=float)  # (d_0, n)
    bias = obj.model.bias
    Ws = th[0::2] if bias else th
    bs = [b.reshape(-1, 1) for b in th[1::2]] if bias else [0.0] * len(Ws)
    a, acts, masks = X, [np.abs(X)], []
    for j, W in enumerate(Ws):
        z = W @ a + bs[j]
        if j == len(Ws) - 1:
            break
        m = np.ones_like(z) if obj.model.is_linear else (z > 0).astype(float)
        masks.append(m)
        a = z * m
        acts.append((np.abs(W) @ acts[-1] + np.abs(bs[j])) * m)
    zabs = float((np.abs(Ws[-1]) @ acts[-1] + np.abs(bs[-1])).max())
    P = np.exp(z - z.max(axis=0))
    P /= P.sum(axis=0)
    E = np.zeros_like(P)
    E[obj.loss.labels, np.arange(P.shape[1])] = 1.0
    delta = float(obj.loss.weight) * (P + E)
    grads: list = [None] * len(th)
    for j in range(len(Ws) - 1, -1, -1):
        if bias:
            grads[2 * j], grads[2 * j + 1] = delta @ acts[j].T, delta.sum(axis=1)
        else:
            grads[j] = delta @ acts[j].T
        if j > 0:
            delta = (np.abs(Ws[j]).T @ delta) * masks[j - 1]
    return grads, zabs


@pytest.mark.parametrize("kind,bias,seed", [("linear", False, 0), ("relu", True, 0)])
def test_order0_series_of_the_field_is_minus_the_mp_gradient(kind, bias, seed):
    """y_1 = −∇f(θ_0) from the float series pass on the tape (exp/÷ rules at order 0) against the mp
    gradient at 50 digits (max-shifted softmax, no tape). Bound: Higham's γ_K·|g|_abs with K the
    longest chain of rounded operations (per layer an inner product of length ≤ max(width, n) + 1, then
    exp, the column sum over d_N rows and the quotient: d_N + 3), plus the logits' absolute rounding
    δz ≤ γ_{d_{N−1}+1}·max(|W_N||a_{N−1}| + |b_N|), which the softmax turns into a relative error ≤ 2δz of P
    (docs/theory.md F, "Float tier: cross-entropy"): K += 2(d_{N−1} + 1)·max(|W_N||a_{N−1}| + |b_N|)."""
    from numerics.float_taylor import _FloatFlow

    obj, th = instance(kind, bias, seed)
    flow = _FloatFlow(obj, [np.asarray(w, dtype=float) for w in th], 20, growth=False)
    flow._setup()
    ys, _ = flow.series.run(flow.y, 1)
    got = [Y[1].reshape(s) for Y, s in zip(ys, obj.shapes)]
    with mpmath.workdps(50):
        ref = numerics.gradient(obj, [theory.to_kind(w, "mp") for w in th])
    absg, zabs = _abs_gradient(obj, [np.asarray(w, dtype=float) for w in th])
    K = obj.depth * (max(max(obj.widths), obj.loss.num_samples) + 1) + obj.widths[-1] + 3
    K += 2 * (obj.widths[-2] + 1) * zabs
    worst = 0.0
    for G, R, A in zip(got, ref, absg):
        with mpmath.workdps(50):
            err = np.array([float(abs(mpmath.mpf(x) + r)) for x, r in zip(G.flat, R.flat)]).reshape(G.shape)
        bound = 2 * K * EPS * np.asarray(A).reshape(G.shape)  # γ_K ≤ 2Kε for Kε < 1/2
        assert np.all(err <= bound)
        worst = max(worst, float((err / np.maximum(bound, 1e-300)).max()))
    print(f"\n{kind} bias={bias}: max |float order-0 − (−∇f mp50)| / γ_K·|g|_abs = {worst:.3g}")


@pytest.mark.parametrize("kind,bias", [("linear", False), ("relu", True)])
def test_error_growth_reads_the_cross_entropy_hessian(kind, bias):
    """The error growth (numerics.error_growth.MeasuredGrowth) samples λ_min of the dense Hessian
    (P ≤ 800) or of numerics.spectra.hvp_operator: both against central differences of the mp gradient
    at 50 digits (step 1e-20: truncation 1e-40, cancellation 1e-30)."""
    from numerics.hessians import hessian
    from numerics.spectra import hvp_operator

    obj, th = instance(kind, bias, 0)
    P = obj.num_params
    H = hessian(obj, th)
    op = hvp_operator(obj, th)
    Hv = np.column_stack([op.matvec(e) for e in np.eye(P)])
    with mpmath.workdps(50):
        x = obj.flatten([theory.to_kind(w, "mp") for w in th])
        h = mpmath.mpf(10) ** -20
        ref = np.zeros((P, P))
        for i in range(P):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            gp = obj.flatten(numerics.gradient(obj, obj.unflatten(xp)))
            gm = obj.flatten(numerics.gradient(obj, obj.unflatten(xm)))
            ref[:, i] = [float((a - b) / (2 * h)) for a, b in zip(gp, gm)]
    # float64 second derivatives: a few hundred ulps of the largest entry (γ over the backprop chain)
    tol = 2 * (obj.depth * (max(obj.widths) + obj.loss.num_samples) + 8) * EPS * float(np.abs(ref).max())
    assert np.abs(H - ref).max() <= tol
    assert np.abs(Hv - ref).max() <= tol


@pytest.mark.parametrize("kind,bias,seed,t_end,widths,n", CASES)
def test_conservation_law_holds_along_the_float_cross_entropy_flow(kind, bias, seed, t_end, widths, n):
    """Balancedness (linear, bias-free) or the per-neuron law ‖(W_j[u,:], b_j[u])‖² − ‖W_{j+1}[:,u]‖²
    stays at its witness level: with θ̃ = θ + e, ‖e‖₂ ≤ E (the float tier's estimate) and every row or
    column norm ≤ R = max_t ‖θ̃(t)‖₂, a gap moves by ≤ 2·2R·E + E² from the error, and each gap (now and
    at t = 0) is rounded by ≤ γ_m·2R², m the longest sum of squares: level = 4RE + E² + 4(m + 1)εR²."""
    obj, th = instance(kind, bias, seed, widths, n)
    f = numerics.gradient_flow(obj, th, t_end, dps=None)
    R = max(float(np.sqrt(sum(np.sum(np.asarray(w) ** 2) for w in f.at(t)))) for t in f.times)
    E = f.error_estimate
    m = max(obj.widths) + 1
    level = 4 * R * E + E**2 + 4 * (m + 1) * EPS * R**2
    drift = max(f.conservation_defects)
    print(f"\n{kind} bias={bias}: max conservation drift {drift:.3g}, witness level {level:.3g}")
    assert drift <= level


@pytest.mark.parametrize("seed,widths,n,scale", [(0, (3, 4, 4, 3), 5, 1.0), (1, (3, 4, 4, 3), 5, 3.0),
                                                 (3, (4, 6, 6, 10), 10, 1.5)])
def test_local_error_estimate_covers_the_float_softmax_series(seed, widths, n, scale):
    """One float step from θ0 (order 20, the tier's own step size h) against the exact flow from the same
    start: the arb series at 40 digits and order 60 (truncation ~1e-50 at this h), evaluated at h taken
    exactly. The float tier's local estimate (truncation + rounding (p + d)εΣa_k + the two-part state's) must cover
    it, also where the logits reach ~80–180 (scale 3 and 1.5), where the softmax series' high orders
    lose most of their relative digits to cancellation (measured up to 4e8 ulps at order 20) and only
    their size at h (Σ‖Δy_k‖h^k) matters."""
    from numerics.flows import _gradient_tape, taylor_eval_many
    from numerics.float_series import FloatSeries
    from numerics.float_steps import _dd_step, _local_error, _step_size
    from numerics.series import arb_precision, arb_mat_to_mpf, series_coefficients, to_arb_mat

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.CrossEntropy(X, rng.integers(0, widths[-1], size=n)))
    th = [rng.standard_normal(s) * scale for s in obj.shapes]
    p = 20
    with arb_precision(20):
        tape, outs, sign = _gradient_tape(obj)
    fs = FloatSeries(tape, outs, sign, {})
    ys, _ = fs.run(th, p)
    h, _ = _step_size(ys, p, 1e9)
    # the step as the tier takes it: the state in two parts (hi, lo), from lo = 0
    new, new_lo, dd_round = _dd_step([np.asarray(w, dtype=float) for w in th], [np.zeros(np.shape(w)) for w in th], ys, h)
    local = _local_error(ys, p, h, fs.dmax) + dd_round
    with arb_precision(40, 32 + 2 * 60), mpmath.workdps(60):
        tape, outs, sign = _gradient_tape(obj)
        cs = series_coefficients(tape, outs, [to_arb_mat(w) for w in th], 60, sign=sign)
        exact = [arb_mat_to_mpf(acc) for acc in taylor_eval_many(cs, [Fraction(h)])[0]]
        true = float(mpmath.sqrt(sum((mpmath.mpf(float(x)) + mpmath.mpf(float(xl)) - y) ** 2
                                     for A, Al, B in zip(new, new_lo, exact)
                                     for x, xl, y in zip(A.flat, Al.flat, B.flat))))
    top = float(np.abs(th[2] @ th[1] @ th[0] @ obj.loss.inputs).max())
    print(f"\nmax logit {top:.3g}, h {h:.3g}: true local error {true:.3g}, estimate {local:.3g} ({local / true:.3g}x)")
    assert true <= local


def test_logits_beyond_the_exp_range_are_refused():
    """e^{z} for z > EXP_MAX is refused with a clear error (the float tier's exp is not max-shifted)."""
    from numerics.float_series import EXP_MAX

    obj, th = instance("linear", False, 0)
    th = [w * 8 for w in th]  # logits ~ 8³·8 ≈ 4e3
    Z = th[2] @ th[1] @ th[0] @ obj.loss.inputs
    assert Z.max() > EXP_MAX
    with pytest.raises(FloatingPointError, match="arb tier"):
        numerics.gradient_flow(obj, th, 0.1, dps=None)
