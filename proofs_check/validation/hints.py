"""Hints for a mismatch on the minimal instance: the common mistakes, each recognised by recomputing
the reference under the mistaken convention and holding the implementation's output to it with the
same tolerance model (a hint is given only when the output *matches* the mistake, never as a guess).

Recognised: iterates shifted by one; GD with the wrong sign; the EMA momentum convention; torch's
``dampening ≠ 0``; Nesterov's look-ahead points y_k returned instead of x_k; a step size off by a
constant factor; a constant factor in a gradient/HVP/Hessian/λ_min (``MSELoss`` with the mean, a
missing ½, estimated by least squares); float32 or bfloat16 arithmetic (within that format's
rounding model but not the validated one's); a Gauss–Newton matrix JᵀJ posing as the Hessian; the
eigenvalue of smallest magnitude (``eigsh(which='SM')``) or the largest one instead of λ_min; a
non-symmetric Hessian.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np

import numerics
import theory

from .compare import _compare, _num_str
from .precision import PRECISIONS, Precision
from .references import REFERENCES, _Ref, _exact, _mp, _run_method, lambda_min_reference
from .report import Outcome
from .strategies import Instance
from .tolerance import MP_DPS

class _Hint(str):
    """A hint's text with the value it was fitted with (a factor), for :func:`_confirm`."""

    value: float | None = None


def _hint(text: str, value: float | None = None) -> _Hint:
    h = _Hint(text)
    h.value = value
    return h


MATCH = 4.0
"""A mistaken convention "matches" when the output is within MATCH × the tolerance of its
reference: the mistaken computation is evaluated with the same rounding, so a correct
implementation of the mistake lands within 1×; the margin absorbs the estimated constants (a
least-squares factor, a fitted dampening) without letting a different bug through (bugs sit at
10^4 and more, docs/validation.md)."""


def _diagnose(kind: str, impl: Callable, inst: Instance, model: str, o: Outcome, opts: dict | None = None) -> list[str]:
    """Hints for a mismatch ``o`` of ``impl`` on ``inst`` (the instance as handed over, rounded to
    the validated precision). ``opts`` are the run's options (precision, flush-to-zero)."""
    ref: _Ref | None = getattr(o, "_ref", None)
    got = getattr(o, "_got", None)
    if ref is None or got is None:
        return []
    opts = opts or {}
    tiny = opts.get("tiny", 0.0)
    hints: list[str] = []
    if o.ratio <= 1:
        return hints  # within the tolerance: nothing to explain
    for check in _CHECKS.get(kind, []) + [_precision_hint, _factor_hint]:
        try:
            h = check(kind, inst, model, ref, got, opts, tiny)
            if h and check in _CONFIRMED and not _confirm(check, h, kind, impl, inst, model, opts):
                h = None
        except Exception:  # noqa: BLE001 - a hint is optional; never let it mask the verdict
            h = None
        if h:
            hints.append(h)
    return hints


def confirmation_instances(inst: Instance, count: int = 2) -> list[Instance]:
    """Instances of the same widths (and η, β, steps, times) with fixed pseudo-random entries,
    uniform in [−1, 1] (seeded; full 53-bit values, so that lower-precision code rounds): where a
    hint that one small instance cannot pin down (a constant factor, float32 rounding) is checked
    again before it is given."""
    from dataclasses import replace

    out = []
    for k in range(1, count + 1):
        rng = np.random.default_rng(1000 + k)

        def draw(shape):
            return rng.uniform(-1.0, 1.0, size=shape)

        ws = [draw(w.shape) for w in inst.weights]
        new = replace(inst, family="confirmation", Phi=draw(inst.Phi.shape), weights=ws,
                      v=None if inst.v is None else [draw(w.shape) for w in inst.v])
        out.append(new)
    return out


def _confirm(check, first, kind, impl, inst, model, opts) -> bool:
    """The hint ``check`` also holds for ``impl`` on the confirmation instances (where they are in
    the reference's domain and the implementation is wrong there; at least one must be)."""
    from .runner import _run_one

    checked = 0
    for c in confirmation_instances(inst):
        o2 = _run_one(kind, impl, c, model, opts, 1.0)
        if o2 is None or o2.failure is not None and o2.failure != "mismatch":
            if o2 is not None:
                return False  # raised, wrong shape...: not the same mistake
            continue
        if o2.ratio <= 1:
            continue  # correct there (e.g. a zero gradient hides a factor): no evidence either way
        h = check(kind, o2._inst, model, o2._ref, o2._got, opts, opts.get("tiny", 0.0))
        if not h:
            return False
        want = getattr(first, "value", None)
        if want is not None and not (getattr(h, "value", None) is not None
                                     and abs(h.value - want) <= 1e-4 * abs(want)):
            return False  # a factor, but not the same one
        checked += 1
    return checked > 0


# ----------------------------------------------------------------------------------- utilities
def _ratio(kind: str, got: np.ndarray, values: np.ndarray, tol: np.ndarray, ref: _Ref, lohi=None) -> float:
    """max error/tolerance of ``got`` against ``values`` (λ_min: the distance to [lo, hi])."""
    if kind == "lambda_min":
        lo, hi = lohi if lohi is not None else (ref.extra["lo"], ref.extra["hi"])
        g = Fraction(float(got[0]))
        dist = float(max(lo - g, g - hi, Fraction(0)))
        return 0.0 if dist == 0 else (dist / float(tol[0]) if tol[0] > 0 else np.inf)
    with mpmath.workdps(MP_DPS):
        return _compare(got, values, tol, ref.label).ratio


def _ref_float(ref: _Ref) -> np.ndarray:
    return np.array([float(x) for x in ref.values], dtype=np.float64)


def _explains(kind: str, got: np.ndarray, alt: np.ndarray, ref: _Ref, tol: np.ndarray, lohi=None) -> bool:
    """``got`` matches the alternative ``alt`` within ``tol`` while the true result (rounded to
    float64) does not: the mistake explains the output and is distinguishable on this instance
    (e.g. at a stationary point a shifted or wrong-sign GD equals the correct one: no hint)."""
    if kind == "lambda_min":
        mid = np.array([float((ref.extra["lo"] + ref.extra["hi"]) / 2)])
        return _ratio(kind, got, None, tol, ref, lohi) <= 1 and _ratio(kind, mid, None, tol, ref, lohi) > 1
    return _ratio(kind, got, alt, tol, ref) <= 1 and _ratio(kind, _ref_float(ref), alt, tol, ref) > 1


def _flat(thetas) -> np.ndarray:
    return np.concatenate([np.concatenate([np.asarray(w).reshape(-1) for w in th]) for th in thetas])


def _scale(values: np.ndarray, c: float) -> np.ndarray:
    cf = Fraction(c)
    return np.array([r * cf if isinstance(r, Fraction) else r * mpmath.mpf(c) for r in values], dtype=object)


def _lower_precisions(opts: dict) -> list[Precision]:
    """Formats below the validated one that a hint may name. bfloat16 is left out: its worst-case
    bound (u = 2^−8, S·γ_K of 6-27 % per operation chain, compounded over steps) accepts almost any
    output of the right order of magnitude, so "consistent with bfloat16" would explain bugs too."""
    cur = opts.get("prec", PRECISIONS["float64"])
    return [p for p in PRECISIONS.values() if cur.p > p.p >= 24]


def _reference_at(kind: str, inst: Instance, model: str, opts: dict, prec: Precision):
    """(instance rounded to ``prec``, its reference with ``prec``'s tolerance model), or None."""
    from .runner import round_instance

    low = round_instance(inst, prec)
    if low is None:
        return None
    o2 = dict(opts, prec=prec, u=prec.u, underflow=prec.underflow_unit(opts.get("ftz", False)), tiny=prec.tiny)
    r = REFERENCES[kind](low, model, o2)
    return None if r is None else (low, r)


# ------------------------------------------------------------------------- hints for the methods
def _shifted(kind, inst, model, ref, got, opts, tiny):
    P, steps, xs = inst.num_params, int(inst.steps), ref.extra["xs"]
    if ref.extra["next"] is None:
        return None
    shifted = np.concatenate(xs[1: steps + 2])
    tol = np.concatenate([ref.tol[P:], 2 * ref.tol[-P:]]) * MATCH + tiny
    if _explains(kind, got, shifted, ref, tol):
        return "the iterates are shifted by one: entry k matches θ_{k+1} (return θ_0 = weights first, then θ_1..θ_steps)"
    return None


def _matches(kind, got, thetas, ref, tiny) -> bool:
    alt = _flat(thetas)
    return alt.size == got.size and _explains(kind, got, alt, ref, ref.tol * MATCH + tiny)


def _wrong_sign(kind, inst, model, ref, got, opts, tiny):
    obj, steps = inst.objective(model), int(inst.steps)
    with mpmath.workdps(MP_DPS):
        th, eta, out = _mp(inst.weights), mpmath.mpf(inst.eta), []
        out.append(th)
        for _ in range(steps):
            th = [w + g * eta for w, g in zip(th, numerics.gradient(obj, th))]
            out.append(th)
        if _matches(kind, got, out, ref, tiny):
            return "the iterates match a step with the wrong sign (θ + η∇f, gradient ascent)"
    return None


def _ema(kind, inst, model, ref, got, opts, tiny):
    if not inst.beta:
        return None
    obj, steps = inst.objective(model), int(inst.steps)
    with mpmath.workdps(MP_DPS):
        eta_ema = mpmath.mpf(inst.eta) * (1 - mpmath.mpf(inst.beta))
        if _matches(kind, got, _run_method(kind, obj, inst, steps, eta=eta_ema).thetas, ref, tiny):
            return ("the iterates match the EMA convention v ← βv + (1−β)∇f, θ ← θ − ηv (= heavy ball with η(1−β); "
                    "THEORY's heavy ball is v ← βv + ∇f, θ ← θ − ηv, which is torch.optim.SGD(momentum=β))")
    return None


def _torch_damped(obj, inst, tau, steps) -> list:
    """torch.optim.SGD(lr=η, momentum=β, dampening=τ) at MP_DPS digits: v_0 = g_0,
    v_k = βv_{k−1} + (1 − τ)g_k, p_{k+1} = p_k − ηv_k."""
    eta, beta, tau = mpmath.mpf(inst.eta), mpmath.mpf(inst.beta), mpmath.mpf(tau)
    p = _mp(inst.weights)
    out, v = [p], None
    for k in range(steps):
        g = numerics.gradient(obj, p)
        v = g if v is None else [beta * a + (1 - tau) * b for a, b in zip(v, g)]
        p = [w - eta * a for w, a in zip(p, v)]
        out.append(p)
    return out


def _dampening(kind, inst, model, ref, got, opts, tiny):
    """torch's dampening τ: the first step is undamped, then heavy ball with η(1 − τ). τ is fitted
    from the second step by least squares and snapped to a short decimal (or τ = β)."""
    steps = int(inst.steps)
    if not inst.beta or steps < 2:
        return None
    obj, P, beta, eta = inst.objective(model), inst.num_params, float(inst.beta), float(inst.eta)
    th0, th1, th2 = (got[k * P:(k + 1) * P] for k in range(3))
    g1 = obj.flatten(numerics.gradient(obj, obj.unflatten(th1)))
    r = th2 - th1 - beta * (th1 - th0)
    gg = float(g1 @ g1)
    if gg == 0 or eta == 0:
        return None
    tau = 1 + float(r @ g1) / (eta * gg)
    cands = [beta] + [round(tau, d) for d in (1, 2, 3)] + [tau]
    with mpmath.workdps(MP_DPS):
        for t in dict.fromkeys(cands):
            if not 0 < t < 1:
                continue
            if _matches(kind, got, _torch_damped(obj, inst, t, steps), ref, tiny):
                return (f"the iterates match torch.optim.SGD(lr=η, momentum=β, dampening={t:.6g}): with dampening τ > 0 "
                        "the steps k ≥ 1 are heavy ball with η(1 − τ) after an undamped first step; THEORY's heavy "
                        "ball is dampening=0")
    return None


def _lookahead(kind, inst, model, ref, got, opts, tiny):
    beta = mpmath.mpf(inst.beta or 0)
    if beta == 0:
        return None
    xs = ref.extra["xs"][: int(inst.steps) + 1]
    with mpmath.workdps(MP_DPS):
        ys = [xs[0]] + [xs[k] + (xs[k] - xs[k - 1]) * beta for k in range(1, len(xs))]
        alt = np.concatenate(ys)
        if _explains(kind, got, alt, ref, ref.tol * MATCH + tiny):
            return ("the iterates match Nesterov's look-ahead points y_k = x_k + β(x_k − x_{k−1}) (what "
                    "torch.optim.SGD(nesterov=True) keeps in the parameters), not x_k; return x_k "
                    "(torch: x_k = p_k + lr·μ·momentum_buffer, see torch_adapter.nesterov_x)")
    return None


def _step_factor(kind, inst, model, ref, got, opts, tiny):
    """The iterates of the same method with η replaced by c·η (c fitted on the first step): a
    constant factor in the loss (MSELoss mean, a missing ½) scales every step."""
    P = inst.num_params
    xs = ref.extra["xs"]
    d_ref = np.array([float(a) for a in (xs[1] - xs[0])])
    d_got = got[P:2 * P] - got[:P]
    nn = float(d_ref @ d_ref)
    if nn == 0:
        return None
    c = float(d_got @ d_ref) / nn
    if not np.isfinite(c) or c <= 0 or abs(c - 1) < 1e-3:
        return None
    obj = inst.objective(model)
    for cs in dict.fromkeys([_snap(c, inst), c]):
        with mpmath.workdps(MP_DPS):
            thetas = _run_method(kind, obj, inst, int(inst.steps), eta=mpmath.mpf(inst.eta) * mpmath.mpf(cs)).thetas
            if _matches(kind, got, thetas, ref, tiny):
                return _hint(f"the iterates match the method with the step size {_fmt_c(cs)} × η: "
                             + _factor_reason(cs, inst, "the loss or gradient"), cs)
    return None


# ------------------------------------------------------------- hints for derivatives and spectra
def _asymmetric(kind, inst, model, ref, got, opts, tiny):
    P = inst.num_params
    G = got.reshape(P, P)
    asym = np.abs(G - G.T)
    tolm = ref.extra["tol_matrix"]
    if np.any(asym > tolm + tolm.T + 2 * tiny):
        i, k = np.unravel_index(int(np.argmax(asym - (tolm + tolm.T))), asym.shape)
        return (f"the returned Hessian is not symmetric: |H[{i},{k}] − H[{k},{i}]| = {asym[i, k]:.3g} "
                "(the exact Hessian is symmetric; did you fill only one triangle or forget to symmetrise?)")
    return None


def _gauss_newton_matrix(inst: Instance, model: str) -> np.ndarray:
    """JᵀJ exactly: the Hessian of ½‖h(I) − Φ'‖² at Φ' = h(I) (the residual term Σ r_i∇²h_i vanishes)."""
    ex = _exact(inst.weights)
    z = ex[0]
    for W in ex[1:]:
        if model == "relu":
            z = np.vectorize(lambda x: x if x > 0 else Fraction(0), otypes=[object])(z)
        z = W @ z
    net = theory.DeepLinear(inst.widths) if model == "linear" else theory.ReLUNet(inst.widths, 0)
    return numerics.hessian(theory.Objective(net, theory.WhitenedSquare(z)), ex)


_GN_TEXT = ("the Gauss–Newton part JᵀJ of the Hessian (J the Jacobian of the network output): the term "
            "Σ_i r_i∇²h_i of the residual r = h(I) − Φ is missing; JᵀJ is positive semidefinite, the Hessian "
            "of a deep net is not")


def _gauss_newton(kind, inst, model, ref, got, opts, tiny):
    GN = _gauss_newton_matrix(inst, model)
    if kind == "hessian":
        if _explains(kind, got, GN.reshape(-1), ref, ref.tol * MATCH + tiny):
            return f"the matrix matches {_GN_TEXT}"
        return None
    if ref.extra["hi"] >= 0:
        return None  # the true λ_min is not negative: GN and H are not told apart by the sign
    lo, hi, _ = lambda_min_reference(GN)
    if _explains(kind, got, None, ref, ref.tol * MATCH + tiny, (lo, hi)):
        return (f"λ = {float(got[0]):.6g} ≥ 0 matches λ_min of {_GN_TEXT} (the true λ_min = "
                f"{_num_str(ref.extra['lo'], 8)} < 0)")
    return None


def _eigenvalues(inst: Instance, model: str) -> list:
    """All eigenvalues of the exact Hessian at MP_DPS digits (mpmath's Jacobi method), ascending."""
    H = numerics.hessian(inst.objective(model), _exact(inst.weights))
    with mpmath.workdps(MP_DPS):
        A = mpmath.matrix([[mpmath.mpf(x.numerator) / x.denominator for x in row] for row in H])
        E = mpmath.eigsy(A, eigvals_only=True)
        return sorted(E[i] for i in range(len(E)))


def _which_eigenvalue(kind, inst, model, ref, got, opts, tiny):
    """``eigsh(which='SM')`` returns the eigenvalue closest to 0; 'LM'/'LA' the largest."""
    ev = _eigenvalues(inst, model)
    tol = float(ref.tol[0]) * MATCH + tiny
    g = mpmath.mpf(float(got[0]))
    sm = min(ev, key=abs)
    cands = [(sm, "the eigenvalue smallest in magnitude (eigsh(which='SM') or sigma=0; use which='SA' for the "
                  "smallest algebraic one)"),
             (ev[-1], "the largest eigenvalue λ_max (which='LA'/'LM' or the last entry of eigvalsh)"),
             (max(ev, key=abs), "the eigenvalue largest in magnitude (which='LM')")]
    for lam, text in cands:
        if abs(lam - ev[0]) > tol and abs(g - lam) <= tol:
            return (f"λ = {float(got[0]):.6g} matches {text}, not λ_min = {mpmath.nstr(ev[0], 8)} "
                    f"(eigenvalues {[mpmath.nstr(x, 4) for x in ev]})")
    return None


# ------------------------------------------------------------------------ precision and factors
def _precision_hint(kind, inst, model, ref, got, opts, tiny):
    """The output is within a lower precision's rounding model (inputs rounded to it, reference
    on the rounded inputs, that format's unit roundoff) though not the validated one's."""
    if kind == "gf":
        return None  # gf is judged by rtol, not by a rounding model
    for prec in _lower_precisions(opts):
        r = _reference_at(kind, inst, model, opts, prec)
        if r is None:
            continue
        low, rref = r
        lohi = (rref.extra["lo"], rref.extra["hi"]) if kind == "lambda_min" else None
        ratio = _ratio(kind, got, rref.values, rref.tol + prec.tiny, rref, lohi)
        if ratio <= 1:
            cur = opts.get("prec", PRECISIONS["float64"]).name
            return (f"the result is consistent with {prec.name} arithmetic: its error is within the {prec.name} rounding "
                    f"model (error/tolerance {ratio:.2g} there) but not the {cur} one; if the implementation computes "
                    f"in {prec.name} by design, validate it with precision='{prec.name}' (--precision {prec.name})")
    return None


def _snap(c: float, inst: Instance) -> float:
    """c snapped to a nearby simple rational p/q (q ≤ 4·d_N·d_0), when one is within 1e-4 relative."""
    q = Fraction(c).limit_denominator(max(4, 4 * inst.widths[-1] * inst.widths[0]))
    return float(q) if abs(float(q) - c) <= 1e-4 * abs(c) else c


def _fmt_c(c: float) -> str:
    q = Fraction(c).limit_denominator(1000)
    return f"{q.numerator}/{q.denominator}" if float(q) == c and q.denominator != 1 else f"{c:.6g}"


def _factor_reason(c: float, inst: Instance, what: str) -> str:
    n, d0 = inst.widths[-1] * inst.widths[0], inst.widths[0]
    known = [(2.0 / n, f"torch.nn.MSELoss() (reduction='mean': the mean over the d_N·d_0 = {n} output entries, "
                       "and no ½); use reduction='sum' and multiply by ½"),
             (2.0, "a missing ½ in the loss (THEORY's loss is ½‖W_N⋯W_1 − Φ‖²)"),
             (0.5, "an extra ½ (or a ½ counted twice)"),
             (-1.0, "the sign is flipped"),
             (1.0 / n, f"a mean over the d_N·d_0 = {n} output entries (with the ½)"),
             (2.0 / d0, f"a mean over the d_0 = {d0} input columns (samples) without the ½"),
             (1.0 / d0, f"a mean over the d_0 = {d0} input columns (samples)")]
    reasons = [t for k, t in known if abs(c - k) <= 1e-9 * abs(k)]
    base = f"a constant factor in {what}"
    return base + (" — " + "; or ".join(dict.fromkeys(reasons)) if reasons else "")


def _factor_hint(kind, inst, model, ref, got, opts, tiny):
    """got ≈ c × expected: c by least squares; stated when the residual after scaling is within
    the tolerance (of the validated precision, else of a lower one)."""
    if kind not in ("gradient", "hvp", "hessian", "lambda_min"):
        return None
    if kind == "lambda_min":
        mid = (ref.extra["lo"] + ref.extra["hi"]) / 2
        rf = np.array([float(mid)])
    else:
        rf = np.array([float(x) for x in ref.values])
    nn = float(rf @ rf)
    if nn == 0:
        return None
    c = float(got @ rf) / nn
    if not np.isfinite(c) or c == 0 or abs(c - 1) < 1e-3:
        return None
    cur = opts.get("prec", PRECISIONS["float64"])
    for prec in [cur] + _lower_precisions(opts):
        if prec is cur:
            low, rref = inst, ref
        else:
            r = _reference_at(kind, inst, model, opts, prec)
            if r is None:
                continue
            low, rref = r
        for cs in dict.fromkeys([_snap(c, inst), c]):
            tol = rref.tol * abs(cs) * MATCH + prec.tiny
            if kind == "lambda_min":
                lo, hi = sorted((rref.extra["lo"] * Fraction(cs), rref.extra["hi"] * Fraction(cs)))
                ratio = _ratio(kind, got, None, tol, rref, (lo, hi))
            else:
                ratio = _ratio(kind, got, _scale(rref.values, cs), tol, rref)
            if ratio <= 1:
                within = "" if prec is cur else f" (within the {prec.name} rounding model)"
                return _hint(f"got = {_fmt_c(cs)} × expected (least-squares factor {c:.6g}; the residual after "
                             f"scaling is within the tolerance{within}): " + _factor_reason(cs, inst, "the loss"), cs)
    return None


_CONFIRMED = (_precision_hint, _factor_hint, _step_factor)
"""Hints whose test on one (small, minimal) instance is weak: with one nonzero entry any wrong value
is "a constant factor", and a small error may be "consistent with float32"; they are given only if
they hold on the confirmation instances too."""

_CHECKS: dict[str, list[Callable[..., Any]]] = {
    "hessian": [_asymmetric, _gauss_newton],
    "lambda_min": [_gauss_newton, _which_eigenvalue],
    "gd": [_shifted, _wrong_sign, _step_factor],
    "heavy_ball": [_shifted, _ema, _dampening, _step_factor],
    "nesterov": [_shifted, _lookahead, _step_factor],
}
