"""Claims on momentum methods in the NTK regime: THEORY.md D1–D5 (Bu, Xu & Chen 2021).

Notation: H is the n×n Gram of the two-layer ReLU net (``theory.ntk``); the error e = u − y obeys the
kernel ODEs of D2 with e(0) = e₀, e'(0) = 0; λ₀ = λ_min(H). Spectral instances are H = diag(λ)
(exact eigenvalues) or Q diag(λ) Qᵀ (Q from a seeded QR, symmetrised), or an NTK Gram of seeded
unit-sphere data (H^∞, or the finite Gram at a seeded init). For rotated and Gram instances λ₀ is
computed by ``mpmath.eigsy`` at 40 digits of the (exact) float64 matrix, error ~1e-38.

* **D1** (H^∞ vs the finite width): max_ij |H(W(0))_ij − H^∞_ij| ≤ √(ln(n(n+1)/δ)/(2m)), δ = 1e-6.
  H_ij = x_iᵀx_j·(1/m)Σ_r ξ_r with ξ_r = 1{w_rᵀx_i ≥ 0, w_rᵀx_j ≥ 0} i.i.d. Bernoulli((π − θ_ij)/2π)
  (the angle formula), so Hoeffding gives P(|H_ij − H^∞_ij| ≥ s) ≤ 2e^{−2ms²} (|x_iᵀx_j| ≤ 1), and a
  union bound over the n(n+1)/2 distinct entries gives the rhs with probability ≥ 1 − δ: a reported
  violation is either a wrong H^∞ (or Gram) formula or an event of probability ≤ 1e-6 per instance
  (stated, and small against the budgets used). The rhs ∝ m^{−1/2} is the 1/√m fluctuation of D1;
  the mutation ``exponent`` (m^{−exponent}) shows a faster rate is refuted. Measured in float64:
  err = (4d + 4/√(1 − g²))·ε, g = max_{i≠j}|x_iᵀx_j| (rounding of x_iᵀx_j, amplified by arccos'
  = 1/√(1 − g²); the counts are exact).
* **D2** (GF): ‖e(t)‖ ≤ e^{−λ₀t}‖e₀‖ for e' = −He. e(t) from the mp Taylor integrator
  (``numerics.gradient_flow`` on ``theory.Quadratic(H)``, 30 digits); err = √n·(its max-norm error
  estimate) + 1e-30·‖e₀‖ (rhs at 40 digits). Tight (ratio → 1) with e₀ along the λ₀ eigenvector.
  Also checked on every instance: the closed form ``theory.momentum.gf_solution`` (40 digits) agrees
  with the integrator within its estimate (+1e-30·‖e₀‖); if not, the instance is reported violated.
  Mutation ``rate_factor``: λ₀ → factor·λ₀.
* **D3** (HB): ‖e(t)‖ ≤ (1 + bt/2) e^{−ρ(b)t} ‖e₀‖ for e'' + be' + He = 0, ρ(b) = ρ(λ₀) of D3.
  Per mode |e_i(t)| ≤ (1 + bt/2)e^{−ρ_i t}|e_i(0)| in all three regimes (theory.momentum docstring)
  and ρ_i ≥ ρ(b). Equality at exact critical damping b = 2√λ₀ with e₀ along the λ₀ eigenvector —
  the (1 + √λ₀t) factor; ρ(2√λ₀) = √λ₀ ≥ ρ(b) for all b (the optimum; reported as
  ``rho_over_optimum``). e(t) from ``numerics.heavy_ball_flow`` (mp Taylor, 20 digits; its error
  estimate includes a rerun at 30 digits); err = √n·estimate + 1e-25·rhs (rhs at 30 digits).
  Closed form ``hb_solution`` (30 digits) must agree within the estimate + 1e-25·‖e₀‖.
  Families: exactly critical (λ₀ = s², s = k/1024, b = 2s: b² = 4λ₀ in floating point exactly),
  near-critical (b = 2√λ₀(1 ± 10^{−u}), u ∈ [2, 10]), general b/(2√λ₀) ∈ [0.1, 10], small λ₀ ∈
  [1e-4, 1e-2], NTK Grams. Mutations: ``rate="b"`` (b/2 replaced by b in the under-/critically damped
  branch) and ``prefactor="none"`` (drop the (1 + bt/2) factor): both refuted at critical damping.
* **D4** (NAG, r = 3 unless drawn): ½‖e(t)‖² ≤ 2c²‖e₀‖²/(λ₀^{3/2}t³), c = sup_z √z|J₁(z)| computed by
  ``theory.momentum.bessel_sup`` (r ≠ 3: the general ½Γ(ν+1)²4^νc_ν²‖e₀‖²/(λ₀^{ν+½}t^{r})). lhs from
  the Bessel closed form at 30 digits (mpmath.besselj; err 1e-20·(lhs + rhs), far above its rounding);
  where √λ_max·t ≤ 150 also from ``numerics.nesterov_flow`` (mp Taylor, 20 digits), which must agree
  with the closed form within its error estimate (+1e-25·‖e₀‖) or the instance is violated. Tight
  at t = z*/√λ₀ (the maximiser of √z|J₁|) with e₀ along the λ₀ eigenvector; at large z₀ = √λ₀t the
  ratio keeps returning to 2/(πc²) ≈ 0.935 (the maxima of √z|J₁| decrease to √(2/π)), so the t^{−3}
  envelope is tight and no linear rate holds. Mutations: ``constant`` (c replaced, e.g. by √(2/π))
  and ``power`` (t³ → z₀^{power}, dimensionless: e.g. 3.5 is refuted at large z₀).
* **D5** (HB modified flow): with step h and fixed β, HB iterates θ_k started on the flow follow
  θ' = −(1/(1−β))∇[L + h(1+β)/(4(1−β)²)‖∇L‖²] at t = kh with error O(h²). The reference is the GD
  modified flow θ' = −∇f − (η'/2)∇²f∇f integrated by ``numerics.modified_flow`` (mp Taylor, 30
  digits) with η' = h(1+β)/(1−β)² in the time τ = t/(1−β) (the two fields agree after this
  rescaling). On-flow initialisation: θ_{−1} = θ̃(−h) to O(h³), which by a Taylor expansion of the
  flow is θ_{−1} = θ₀ + (h/(1−β))∇L(θ₀) + (h²/(1−β)³)∇²L∇L(θ₀) (derivation in the code); with the
  usual θ_{−1} = θ₀ the momentum buffer starts off the slow manifold and leaves an O(h) shift.
  Measured: d(h) = max over 17 common times jT/16 of ‖θ_k − θ̃(kh)‖ (float64 HB, mp reference), for
  h ∈ {h₀, h₀/2, h₀/4}, h₀ a power of 2 below (1−β)²/(20·λ_max) (λ_max of ∇²L at θ₀); claim
  |slope of log d vs log h − 2| ≤ 0.25. The plain rescaled GF (no regulariser) has slope 1 (reported).
  err on the slope: 2·(reference error + float64 HB rounding K·ε·max(1, ‖θ‖)·8)/min d / ln 2.
  Mutations: ``coefficient`` (the (1+β) of the regulariser replaced, e.g. by 0) and
  ``init="standard"`` (θ_{−1} = θ₀): both give slope ≈ 1.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from hypothesis import assume, reject
from hypothesis import strategies as st

import numerics
import theory
from theory import momentum as mo
from theory import ntk
from theory.arrays import mpf_of

from ..engine.claim import Claim, Measurement
from ..engine.instances import decode_number, encode_number

EPS = np.finfo(float).eps


# ------------------------------------------------------------------------------------------ JSON
def _enc(x: Any) -> Any:
    """Numbers to tagged strings (floats by repr, exact), recursively; ints, None, str kept."""
    if isinstance(x, dict):
        return {k: _enc(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_enc(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_enc(v) for v in x.tolist()]
    if x is None or isinstance(x, (bool, str)) or (isinstance(x, (int, np.integer)) and not isinstance(x, bool)):
        return int(x) if isinstance(x, np.integer) else x
    return "#" + encode_number(x)


def _dec(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _dec(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_dec(v) for v in x]
    if isinstance(x, str) and x.startswith("#"):
        return decode_number(x[1:])
    return x


# ------------------------------------------------------------------------------------------ spectra
def build_kernel(spec: dict) -> np.ndarray:
    """H from an instance spec: {"lams": [...], "rot": seed|None} or {"gram": {n, d, seed, m|None}}."""
    if "gram" in spec:
        g = spec["gram"]
        X, _ = ntk.sphere_data(int(g["n"]), int(g["d"]), seed=int(g["seed"]))
        if g.get("m") is None:
            return ntk.gram_infinite(X)
        model = ntk.TwoLayerReLU(int(g["d"]), int(g["m"]), seed=int(g["seed"]))
        return model.gram(model.init(), X)
    lams = np.array([float(v) for v in spec["lams"]])
    if spec.get("rot") is None:
        return np.diag(lams)
    n = lams.size
    Q, R = np.linalg.qr(np.random.default_rng(int(spec["rot"])).standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    H = (Q * lams) @ Q.T
    return (H + H.T) / 2


def _lam0_mp(H: np.ndarray, spec: dict) -> mpmath.mpf:
    """λ₀ at the current precision: exact for diagonal specs, eigsy at 40 digits otherwise."""
    if "lams" in spec and spec.get("rot") is None:
        return min(mpmath.mpf(float(v)) for v in spec["lams"])
    with mpmath.workdps(40):
        ev = mpmath.eigsy(mpmath.matrix(theory.to_kind(H, "mp").tolist()), eigvals_only=True)
        lam0 = min(ev[i] for i in range(H.shape[0]))
    return +lam0


def _initial_error(H: np.ndarray, spec: dict) -> np.ndarray:
    """e₀: along the λ₀ eigenvector ("aligned", scaled by ``scale``) or seeded Gaussian."""
    n = H.shape[0]
    scale = float(spec.get("scale", 1.0))
    if spec.get("e0") == "aligned":
        v = np.linalg.eigh(H)[1][:, 0]
        return scale * v / np.linalg.norm(v)
    return scale * np.random.default_rng(int(spec["e0"])).standard_normal(n)


def _norm_mp(v) -> mpmath.mpf:
    return mpmath.sqrt(mpmath.fsum(theory.to_kind(np.asarray(v).reshape(-1), "mp") ** 2))


def _gap_mp(a, b) -> mpmath.mpf:
    a = theory.to_kind(np.asarray(a).reshape(-1), "mp")
    b = theory.to_kind(np.asarray(b).reshape(-1), "mp")
    return max(abs(x - y) for x, y in zip(a, b))


@st.composite
def _lams(draw, lam0_lo: float = 1e-3, lam0_hi: float = 1.0, ratio_hi: float = 100.0, max_n: int = 5):
    n = draw(st.integers(1, max_n))
    lam0 = 10 ** draw(st.floats(math.log10(lam0_lo), math.log10(lam0_hi)))
    rest = [lam0 * 10 ** draw(st.floats(0, math.log10(ratio_hi))) for _ in range(n - 1)]
    return [lam0] + rest


@st.composite
def _spec(draw, lams=None, kinds: tuple[str, ...] = ("diag", "rot", "gram"), max_n: int = 5, e0=None):
    """A kernel spec with e₀: diagonal/rotated spectrum or an NTK Gram; e₀ aligned or random."""
    kind = draw(st.sampled_from(kinds))
    if kind == "gram":
        n = draw(st.integers(2, 6))
        spec = {"gram": {"n": n, "d": draw(st.integers(2, 6)), "seed": draw(st.integers(0, 2**16)),
                         "m": draw(st.sampled_from([None, 50, 500]))}}
    else:
        spec = {"lams": lams if lams is not None else draw(_lams(max_n=max_n)),
                "rot": None if kind == "diag" else draw(st.integers(0, 2**16))}
    spec["e0"] = e0 if e0 is not None else draw(st.sampled_from(["aligned", draw(st.integers(0, 2**16))]))
    spec["scale"] = draw(st.floats(0.1, 10.0))
    return spec


# ------------------------------------------------------------------------------------------ D1
DELTA = 1e-6


def d1_rhs(n: int, m: int, exponent: float = 0.5) -> float:
    """√(ln(n(n+1)/δ)/2)·m^{−exponent} (exponent ½: Hoeffding + union bound, module docstring)."""
    return math.sqrt(math.log(n * (n + 1) / DELTA) / 2) * m ** (-exponent)


def d1_measure(inst: dict, exponent: Any = None) -> Measurement:
    X = np.array([[float(v) for v in row] for row in inst["X"]])
    m = int(inst["m"])
    n, d = X.shape
    model = ntk.TwoLayerReLU(d, m, seed=int(inst["w_seed"]))
    H = model.gram(model.init(), X)
    Hinf = ntk.gram_infinite(X)
    lhs = float(np.abs(H - Hinf).max())
    rhs = d1_rhs(n, m, 0.5 if exponent is None else float(exponent))
    G = np.abs(X @ X.T - np.eye(n))
    g = float(G.max()) if n > 1 else 0.0
    err = (4 * d + 4 / math.sqrt(max(1 - g * g, EPS))) * EPS
    lam_H = float(np.linalg.eigvalsh(H)[0])
    lam_inf = float(np.linalg.eigvalsh(Hinf)[0])
    return Measurement(lhs, rhs, err, details={"n": n, "d": d, "m": m, "lambda_min_H": lam_H,
                                               "lambda0": lam_inf, "weyl_gap": abs(lam_H - lam_inf),
                                               "weyl_bound": n * lhs})


@st.composite
def _d1_instances(draw):
    family = draw(st.sampled_from(["sphere", "near_parallel", "circle"]))
    n = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**16))
    if family == "circle":
        ang = np.sort(np.random.default_rng(seed).uniform(0, 2 * np.pi, n))
        X = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    else:
        d = draw(st.integers(2, 8))
        X, _ = ntk.sphere_data(n, d, seed=seed)
        if family == "near_parallel":
            eps = 10 ** draw(st.floats(-5, -1))
            sign = draw(st.sampled_from([1.0, -1.0]))
            v = sign * X[0] + eps * np.random.default_rng(seed + 1).standard_normal(d)
            X[1] = v / np.linalg.norm(v)
    try:
        ntk.check_data(X)
    except ValueError:
        reject()
    m = int(10 ** draw(st.floats(1, 4.3)))
    return {"family": family, "X": X.tolist(), "m": m, "w_seed": draw(st.integers(0, 2**16))}


D1 = Claim(
    "D1", "finite-width Gram H(W(0)) vs H^inf, fluctuation O(1/sqrt(m))", "Du et al. 2019; BXC21 (THEORY.md D1)",
    "derived", "max_ij |H(W0)_ij - H^inf_ij| <= sqrt(ln(n(n+1)/delta)/(2m))",
    "Hoeffding + union bound, delta = 1e-6, exponent 1/2",
    "float64: (4d + 4/sqrt(1-g^2)) eps, g = max |x_i.x_j| (arccos conditioning); counts exact",
    "unit-sphere data n=2..12, d=2..8, near-(anti)parallel pairs (1e-5..1e-1), circle d=2; m = 10..20000",
    lambda: _d1_instances(), d1_measure, _enc, _dec, default_budget=30, resolution=1e-6,
    options=("exponent",))


# ------------------------------------------------------------------------------------------ D2
def d2_measure(inst: dict, rate_factor: Any = None) -> Measurement:
    spec = inst["spec"]
    H = build_kernel(spec)
    e0 = _initial_error(H, spec)
    t = Fraction(inst["t"])
    n = H.shape[0]
    tr = numerics.gradient_flow(theory.Quadratic(H), [e0], t, dps=30)
    with mpmath.workdps(40):
        et = tr.at(t)[0]
        lhs = _norm_mp(et)
        lam0 = _lam0_mp(H, spec)
        f = mpmath.mpf(1) if rate_factor is None else mpmath.mpf(rate_factor)
        n0 = _norm_mp(e0)
        rhs = mo.gf_bound(f * lam0, t, n0, dps=40)
        cf = mo.gf_solution(H, e0, t, dps=40)
        gap = _gap_mp(cf, et)
        est = mpmath.mpf(tr.error_estimate)
        ok = gap <= est + mpmath.mpf(10) ** -30 * n0
        err = math.sqrt(n) * float(est) + 1e-30 * float(n0)
    return Measurement(float(lhs), float(rhs), err, holds=None if ok else False,
                       details={"lambda0": float(lam0), "lambda0_t": float(lam0 * mpf_of(t)), "n": n,
                                "closed_form_gap": float(gap), "integrator_error": float(est)})


@st.composite
def _d2_instances(draw):
    spec = draw(_spec())
    H = build_kernel(spec)
    lam0 = float(np.linalg.eigvalsh(H)[0])
    assume(lam0 > 1e-4)
    lmax = float(np.linalg.eigvalsh(H)[-1])
    s = draw(st.floats(0.01, 12))  # λ₀t
    t = min(s / lam0, 2000 / lmax)  # cap the integration cost (~ λ_max t / 1.8 Taylor steps)
    return {"spec": spec, "t": Fraction(t).limit_denominator(2**20)}


_enc_t, _dec_t = _enc, _dec  # the spectral claims' instances are plain dicts of numbers


D2 = Claim(
    "D2", "GF on the kernel: error decays at rate lambda0", "THEORY.md D2 (Du et al. 2019; BXC21)", "paper",
    "||e(t)|| <= exp(-lambda0 t) ||e0||", "rate lambda0 = lambda_min(H)",
    "mp Taylor GF (30 digits): sqrt(n) x error estimate; rhs at 40 digits; closed form must agree",
    "diag/rotated spectra (lambda0 1e-3..1, cond <= 100, n <= 5), NTK Grams (H^inf, m = 50, 500); "
    "e0 aligned or random; lambda0 t in [0.01, 12] (t <= 2000/lambda_max)",
    lambda: _d2_instances(), d2_measure, _enc_t, _dec_t, default_budget=20, resolution=1e-6,
    abs_resolution=1e-25, options=("rate_factor",))


# ------------------------------------------------------------------------------------------ D3
def _mutated_rate(lam0, b, mode: str):
    """ρ(b) with b/2 replaced by b in the under-/critically damped branch (a wrong rate)."""
    if mode != "b":
        raise ValueError(f"rate mutation must be 'b', got {mode!r}")
    bb = mpmath.mpf(b)
    if bb * bb <= 4 * lam0:
        return bb
    return 2 * lam0 / (bb + mpmath.sqrt(bb * bb - 4 * lam0))


def d3_measure(inst: dict, rate: Any = None, prefactor: Any = None) -> Measurement:
    spec = inst["spec"]
    H = build_kernel(spec)
    e0 = _initial_error(H, spec)
    b = inst["b"]
    t = Fraction(inst["t"])
    n = H.shape[0]
    tr = numerics.heavy_ball_flow(theory.Quadratic(H), [e0], b, t, dps=20)
    with mpmath.workdps(30):
        et = tr.at(t)[0]
        lhs = _norm_mp(et)
        lam0 = _lam0_mp(H, spec)
        bm = mpmath.mpf(b) if not isinstance(b, Fraction) else mpmath.mpf(b.numerator) / b.denominator
        tm = mpmath.mpf(t.numerator) / t.denominator
        n0 = _norm_mp(e0)
        # ρ(b) and the bound from theory.momentum (regime decided exactly from b and λ₀)
        rho = mo.hb_rate(b, lam0, dps=30) if rate is None else _mutated_rate(lam0, b, rate)
        if prefactor not in (None, "none"):
            raise ValueError(f"prefactor mutation must be 'none', got {prefactor!r}")
        if rate is None and prefactor is None:
            rhs = mo.hb_bound(b, lam0, t, n0, dps=30)
        else:
            pre = 1 + bm * tm / 2 if prefactor is None else mpmath.mpf(1)
            rhs = pre * mpmath.exp(-rho * tm) * n0
        cf = mo.hb_solution(H, e0, b, t, dps=30)
        gap = _gap_mp(cf, et)
        est = mpmath.mpf(tr.error_estimate)
        ok = gap <= est + mpmath.mpf(10) ** -25 * n0
        err = math.sqrt(n) * float(est) + 1e-25 * float(rhs)
        sq = mpmath.sqrt(lam0)
        regime = "under" if bm * bm < 4 * lam0 else ("critical" if bm * bm == 4 * lam0 else "over")
    return Measurement(float(lhs), float(rhs), err, holds=None if ok else False,
                       details={"lambda0": float(lam0), "b": float(bm), "b_over_2sqrt_lambda0": float(bm / (2 * sq)),
                                "regime": regime, "rho": float(rho), "rho_over_optimum": float(rho / sq),
                                "t": float(tm), "closed_form_gap": float(gap), "integrator_error": float(est)})


@st.composite
def _d3_instances(draw):
    family = draw(st.sampled_from(["critical", "near_critical", "general", "small_lambda0", "gram"]))
    if family in ("critical", "near_critical"):
        k = draw(st.integers(32, 1024))  # s = k/1024 ∈ [1/32, 1]: λ₀ = s² exactly representable
        s = Fraction(k, 1024)
        lam0 = float(s * s)
        rest = [lam0 * 10 ** draw(st.floats(0, 1.5)) for _ in range(draw(st.integers(0, 3)))]
        spec = draw(_spec(lams=[lam0] + rest, kinds=("diag", "rot")))
        if family == "critical":
            b = float(2 * s)  # b² = 4λ₀ exactly
        else:
            u = draw(st.floats(2, 10))
            b = float(2 * s) * (1 + draw(st.sampled_from([1, -1])) * 10 ** -u)
    elif family == "small_lambda0":
        spec = draw(_spec(lams=draw(_lams(1e-4, 1e-2, 30, 3)), kinds=("diag", "rot")))
        lam0 = float(spec["lams"][0])
        b = 2 * math.sqrt(lam0) * 10 ** draw(st.floats(-1, 1))
    else:
        spec = draw(_spec(kinds=("gram",) if family == "gram" else ("diag", "rot"), max_n=4))
        lam0 = float(np.linalg.eigvalsh(build_kernel(spec))[0])
        b = 2 * math.sqrt(max(lam0, 1e-8)) * 10 ** draw(st.floats(-1, 1))
    H = build_kernel(spec)
    ev = np.linalg.eigvalsh(H)
    assume(ev[0] > 1e-5)
    rho = float(mo.hb_rate(b, float(ev[0])))
    u = draw(st.floats(0, 12))  # ρt
    t = min(u / rho, 300 / math.sqrt(ev[-1]))  # cap the cost (Taylor steps ~ √λ_max t)
    return {"family": family, "spec": spec, "b": b, "t": Fraction(t).limit_denominator(2**20)}


D3 = Claim(
    "D3", "heavy ball: linear rate rho(b) of the worst mode, optimum at b = 2 sqrt(lambda0)", "BXC21 (THEORY.md D3)",
    "paper", "||e(t)|| <= (1 + b t/2) exp(-rho(b) t) ||e0||",
    "rho(b) = b/2 if b <= 2 sqrt(lambda0) else (b - sqrt(b^2 - 4 lambda0))/2; max_b rho = sqrt(lambda0)",
    "mp Taylor HB ODE (20 digits, estimate incl. 30-digit rerun) x sqrt(n) + 1e-25 rhs; closed form must agree",
    "exactly critical (b^2 = 4 lambda0 in floats), near-critical (1 +- 1e-10..1e-2), b/(2 sqrt lambda0) in "
    "[0.1, 10], small lambda0 1e-4..1e-2, NTK Grams; e0 aligned or random; rho t in [0, 12] (t <= 300/sqrt(lmax))",
    lambda: _d3_instances(), d3_measure, _enc_t, _dec_t, default_budget=25, resolution=1e-6,
    abs_resolution=1e-25, options=("rate", "prefactor"))


CLAIMS = (D1, D2, D3)
