"""C2's composition checked part by part (docs/theory.md C2a, C2b, C2c; issue 13).

C2 (:mod:`.gd_convergence`) composes a step bound η_d = min(η_stab, η_A2) from three pieces — the GF
time T to ε/2, the stability limit η_stab = 1/β and the A2 accuracy step η_A2 for a tube radius ε' —
and compares it with the largest η at which GD reaches ε. That comparison is ~100× loose, so a wrong
constant inside passes. Here each piece is compared with its own measurement, on C2's instances:

* **C2a — the A2 step.** Derived: η_d for the chosen ε' (the A2 step, capped by 1/β as A2 requires).
  Measured: η_tube, the largest η whose GD stays within ε' of GF on [0, t̃], i.e.
  max_{k ≤ ⌊t̃/η⌋} ‖θ(kη) − θ_k‖ ≤ ε', GF from the float64 Taylor tier (``numerics.gradient_flow``
  with ``dps=None``, an integrator other than the DOP853 run the bound is built on). Search: from
  η_s = 0.25/λ_T (÷4 until inside); the distance is ~linear in η, so the edge is near
  η_s·ε'/d(η_s) (a measured guess); steps of ×1.04 bracket it, log-bisection to hi/lo ≤ 1.01 (the
  part's slack is ≥ 16×, so 1% resolves it). GD runs in chunks of 2000 steps and stops at the first
  chunk that leaves the tube. lhs = η_d, rhs = η_tube; violated iff
  η_d > hi (a step below the derived bound leaves the tube). A2 is loose (βγ bounds ‖∇²f∇f‖ and the
  sups are over the whole tube): the ratio is the slack, reported, not sharp.
* **C2b — the stability limit.** Derived: η_stab,path = 1/β_path, β_path = β_s + L₃(h)·h the sampled
  sup of ‖∇²f‖₂ along the trajectory plus the path-gap margin (C2's β with ε' = 0). Measured:
  1/sup_{t ≤ t̃}‖∇²f(θ(t))‖₂ on the Taylor tier's GF: a grid 4× finer than the derivation's samples,
  then bounded maximisation (Brent) around each grid local maximum. Sharp (ratio ≥ 0.95 on most
  instances: the only slack is the path gap L₃h). The tube margin β/β_path and GD's own stability
  limit near the minimiser, 2/λ_T, are reported: η_stab·λ_T/2 ≤ 1/2 is the factor A1's hypothesis
  ηλ_max ≤ 1 gives away against linear stability ηλ_max < 2.
* **C2c — the GF time.** Derived: T, an upper bound of the first time GF's loss is ε/2 — the crossing
  located on the float64 Taylor tier (Brent on its dense output; DOP853 only says where) plus its derived
  time error. Measured: the same first passage on the arb Taylor tier at 30 digits. The composition needs
  the loss ≤ ε/2 on [T, t̃], i.e. T ≥ T_true (the loss decreases along GF): lhs = T_ref, rhs = T. They
  agree to the two tiers' errors (``holds within error``); a shorter T is violated.

Tolerances (docs/theory.md C2a–C2c):

* C2a: err = hi − lo (≤ 1% of lo) + hi·δ/ε', δ = e_GF + √P·K·4u·max(1, ‖θ‖∞) bounding the error of each computed
  distance (e_GF the Taylor tier's error estimate, ≥ its error in the Euclidean norm; GD's float64
  rounding accumulates at most linearly over K steps). The distance is ~linear in η (first-order
  method), so a distance error δ moves the edge by ≤ η·δ/ε'.
* C2b: the true sup exceeds the grid's largest value by at most (δ_t/2)·L₃(h)·γ_path (‖∇²f‖₂ is
  L₃-Lipschitz in θ, θ moves at speed ‖∇f‖ ≤ γ_path; δ_t the grid spacing), plus L₃·e_GF (the
  positions' error) and 8·P·u·‖H‖ (eigensolver backward error and the Hessian's rounding). That
  bounds sup_true − sup_found =: e_s ≥ 0 from above; with rhs = 1/sup_found,
  err = 1/sup_found − 1/(sup_found + e_s) + L₃e_GF/sup_found² (sup_found may be above the truth by
  the position error too).
* C2c: err = e_T of the reference alone (T is the quantity under test, an upper bound by construction):
  e_T = e·(‖∇f‖ + βe/2)/‖∇f‖² at T_ref + the Brent bracket (a position error e moves the loss by
  ≤ ‖∇f‖e + βe²/2, and the loss falls at rate ‖∇f‖²; :func:`.c1_events.taylor_event_times`). Until
  2026-12-05 T was DOP853's own first passage and err also held |T(rtol 10⁻¹⁰) − T(rtol 10⁻¹²)|; on the ci
  instances DOP853's T was up to 1.8·10⁻¹⁰ below T_true, a (tiny) failure of the premise that term hid.

Mutations: ``factor`` multiplies the derived quantity (C2a: η_d; C2b: η_stab,path; C2c: T).
Independent placement: the instances are C2's (drawn balanced inits); every measured side comes from
the Taylor tier and GD, never from the bound under test; the scans start from λ_T (the measured
sharpness at t̃), not from the derived step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

import numerics

from ..engine.claim import Claim, Measurement, require
from .c1_events import taylor_event_times
from .convergence import ConvInstance, _phi, check_setting, decode, encode, predicted_time
from .gd_convergence import c2_strategy, derived_step_bound

U = float(np.finfo(float).eps) / 2  # unit roundoff
REF_DPS = 30  # C2c's reference: the arb Taylor tier, independent of the float64 tier C2's T comes from
FINE = 4  # C2b's grid is FINE× finer than the derivation's samples


def _flat(theta: list) -> np.ndarray:
    return np.concatenate([np.asarray(W, dtype=float).reshape(-1) for W in theta])


def flow_states(traj: Any, ts: np.ndarray) -> np.ndarray:
    """θ(t) for many times at once from a float Taylor trajectory (rows = times, flattened θ):
    Horner on each step's polynomial, vectorised over the times that fall in that step."""
    ts = np.asarray(ts, dtype=float)
    starts = np.asarray(traj.starts)
    idx = np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, len(starts) - 1)
    out = np.empty((len(ts), sum(int(np.prod(s)) for s in traj.obj.shapes)))
    for i in np.unique(idx):
        sel = np.nonzero(idx == i)[0]
        s = (ts[sel] - starts[i])[:, None]
        cols = []
        for C in traj.coeffs[i]:
            Cf = C.reshape(C.shape[0], -1)
            acc = np.broadcast_to(Cf[-1], (len(sel), Cf.shape[1])).copy()
            for c in Cf[-2::-1]:
                acc = acc * s + c
            cols.append(acc)
        out[sel] = np.concatenate(cols, axis=1)
    return out


def _reference(obj: Any, theta0: list, t_end: float) -> Any:
    """The Taylor tier's GF (an integrator independent of the DOP853 run the bound is built on)."""
    traj = numerics.gradient_flow(obj, theta0, t_end, dps=None)
    require(math.isfinite(traj.error_estimate), "Taylor reference has no finite error estimate")
    return traj


CHUNK = 2000  # GD steps per chunk of a tube run (a run stops at the first chunk that leaves the tube)
TUBE_PREC = 1e-2  # C2a's bracket hi/lo ≤ 1 + TUBE_PREC (its slack is 16× or more: 1% resolves it)
STEP_BUDGET = 150_000  # GD steps per instance (~20 s); when spent the bracket stays as wide as it is


def tube_distance(obj: Any, theta0: list, traj: Any, eta: float, t_end: float,
                  radius: float = math.inf) -> tuple[float, int, int]:
    """(max_{k ≤ ⌊t_end/η⌋} ‖θ(kη) − θ_k‖, K, steps run): GD in float64 against the reference GF, in
    chunks of ``CHUNK`` steps; stops early (returning the distance so far, > ``radius``) once it
    leaves the tube."""
    K = int(math.floor(t_end / eta * (1 + 4 * U)))
    th, k0, worst = [np.asarray(W, dtype=float) for W in theta0], 0, 0.0
    while k0 < K:
        n = min(CHUNK, K - k0)
        gd = numerics.gradient_descent(obj, th, eta, n, keep="all")
        if gd.diverged or len(gd.thetas) < n + 1:
            return math.inf, K, k0 + n
        G = np.stack([_flat(x) for x in gd.thetas])
        F = flow_states(traj, np.minimum((k0 + np.arange(n + 1)) * eta, traj.t_end))
        d = np.linalg.norm(F - G, axis=1)
        if not np.all(np.isfinite(d)):
            return math.inf, K, k0 + n
        worst = max(worst, float(d.max()))
        if worst > radius:
            return worst, K, k0 + n
        th, k0 = gd.thetas[-1], k0 + n
    return worst, K, K


def largest_tube_eta(obj: Any, theta0: list, traj: Any, radius: float, t_end: float, lam: float,
                     precision: float = TUBE_PREC, budget: int = STEP_BUDGET) -> dict:
    """The largest η with GD within ``radius`` of GF on [0, t_end] (module docstring, C2a).

    From η_s = 0.25/λ (÷4 until inside), the distance is ~linear in η (first-order method), so the
    edge is near η_s·radius/d(η_s): a measured guess, not the bound under test. From there steps of
    ×(1 + 4·precision) up (while inside) or down (while outside) bracket it, then log-bisection to
    hi/lo ≤ 1 + precision, or until ``budget`` GD steps are spent (then the bracket is as wide as it
    is; hi None if no failing η was found yet). Returns lo (inside; None if none found), hi (outside),
    the number of GD runs, the largest K and the steps spent."""
    runs, worst_k, spent = [], [0], [0]

    def inside(eta):
        d, K, n = tube_distance(obj, theta0, traj, eta, t_end, radius)
        runs.append((eta, d))
        worst_k[0] = max(worst_k[0], K)
        spent[0] += n
        return d <= radius

    def done(lo, hi):
        return {"lo": lo, "hi": hi, "runs": len(runs), "K_max": worst_k[0], "steps": spent[0],
                "budget_spent": spent[0] >= budget}

    lo = 0.25 / lam
    while not inside(lo):
        if lo * lam < 1e-6 or spent[0] >= budget:
            return done(None, lo)
        lo /= 4
    d_s = runs[-1][1]
    step = 1 + 4 * precision
    guess = lo * radius / d_s if d_s > 0 else lo * step
    eta = min(max(guess, lo * step), 1e3 / lam)
    if spent[0] >= budget:
        return done(lo, None)
    if inside(eta):
        lo = eta
        hi = lo * step
        while inside(hi):
            lo, hi = hi, hi * step
            require(hi * lam < 1e3, "GD stays in the tube beyond 1e3/lambda_T")
            if spent[0] >= budget:
                return done(lo, None)
    else:
        hi = eta
        while spent[0] < budget:
            mid = max(hi / step, lo)
            if mid <= lo or inside(mid):
                lo = max(lo, mid)
                break
            hi = mid
    while hi / lo > 1 + precision and spent[0] < budget:
        mid = math.sqrt(lo * hi)
        if inside(mid):
            lo = mid
        else:
            hi = mid
    return done(lo, hi)


def _factor(x: Any) -> float:
    return 1.0 if x is None else float(x)


# ------------------------------------------------------------------------------------------- C2a
def c2a_measure(inst: ConvInstance, factor: Any = None) -> Measurement:
    """η_d at the chosen ε' (× ``factor``) against η_tube (module docstring)."""
    check_setting(inst.obj)
    obj, theta0 = inst.obj, [np.asarray(W, dtype=float) for W in inst.theta]
    d = derived_step_bound(obj, theta0, float(inst.eps_rel))
    eta_d = d["eta_d"] * _factor(factor)
    traj = _reference(obj, theta0, d["t_tilde"])
    emp = largest_tube_eta(obj, theta0, traj, d["eps_prime"], d["t_tilde"], d["lambda_T"])
    P = obj.num_params
    scale = max(1.0, max(float(np.abs(W).max()) for W in theta0))
    delta = traj.error_estimate + math.sqrt(P) * emp["K_max"] * 4 * U * scale
    details = {"family": inst.family, "N": obj.depth, "eps_prime": d["eps_prime"], "t_tilde": d["t_tilde"],
               "eta_d": d["eta_d"], "eta_a2": d["eta_a2"], "eta_stab": d["eta_stab"],
               "binding": "A2" if d["eta_a2"] <= d["eta_stab"] else "stability",
               "eta_a2_sampled": d["eta_a2_sampled"], "eta_tube": emp["lo"], "eta_tube_fail": emp["hi"],
               "gd_runs": emp["runs"], "distance_error": delta, "taylor_error": traj.error_estimate,
               "beta": d["beta"], "gamma": d["gamma"], "J": d["J"], "disc_factor": d["disc_factor"]}
    details.update(gd_steps=emp["steps"], budget_spent=emp["budget_spent"])
    if emp["lo"] is None:  # no η inside found: violated if η_d ≥ a failing η, else undecided
        return Measurement(eta_d, emp["hi"], 0.0 if eta_d >= emp["hi"] else emp["hi"], details=details)
    if emp["hi"] is None:  # budget spent before any failure above lo: η_tube ≥ lo is all that is known
        return Measurement(eta_d, emp["lo"], 0.0 if eta_d <= emp["lo"] else 2 * eta_d, details=details)
    # the slack, split: the first-order coefficient of the distance, c₁ = d(η)/η at η_tube, against
    # the bound's ε'/η_A2 = βγJ*e^{m̂₊/β}/2 (A2's inequality with the margined tube sups)
    # c1_sampled: the same coefficient with the path's sampled sups and no tube margins, so
    # slack = (c1_bound/c1_sampled: the tube margins) × (c1_sampled/c1_measured: A2's inequality)
    details.update(slack=emp["lo"] / d["eta_d"], c1_measured=d["eps_prime"] / emp["lo"],
                   c1_bound=d["eps_prime"] / d["eta_a2"], c1_sampled=d["eps_prime_max"] / d["eta_a2_sampled"])
    err = emp["hi"] - emp["lo"] + emp["hi"] * delta / d["eps_prime"]
    return Measurement(eta_d, emp["lo"], err, details=details)


# ------------------------------------------------------------------------------------------- C2b
def _norm(obj: Any, theta: list) -> float:
    lam = np.linalg.eigvalsh(numerics.hessian(obj, theta))
    return float(max(-lam[0], lam[-1]))


def sup_hessian_norm(obj: Any, traj: Any, t_end: float, n: int) -> tuple[float, float, float]:
    """(sup found of ‖∇²f(θ(t))‖₂ on [0, t_end], its time, the grid spacing): grid of n + 1
    points, then bounded Brent maximisation on the cells around each grid local maximum."""
    def norm_at(t):
        return _norm(obj, traj.at(min(max(t, 0.0), traj.t_end)))

    ts = np.linspace(0.0, t_end, n + 1)
    states = flow_states(traj, np.minimum(ts, traj.t_end))
    vals = np.array([_norm(obj, obj.unflatten(x)) for x in states])
    best, t_best = float(vals.max()), float(ts[int(vals.argmax())])
    peaks = [i for i in range(n + 1) if vals[i] >= vals[max(i - 1, 0)] and vals[i] >= vals[min(i + 1, n)]]
    for i in sorted(peaks, key=lambda i: -vals[i])[:4]:
        a, b = ts[max(i - 1, 0)], ts[min(i + 1, n)]
        r = minimize_scalar(lambda t: -norm_at(t), bounds=(a, b), method="bounded",
                            options={"xatol": 1e-12 * max(1.0, t_end)})
        if -r.fun > best:
            best, t_best = float(-r.fun), float(r.x)
    return best, t_best, t_end / n


def c2b_measure(inst: ConvInstance, factor: Any = None) -> Measurement:
    """η_stab,path = 1/β_path (× ``factor``) against 1/sup_t ‖∇²f(θ(t))‖₂ (module docstring)."""
    check_setting(inst.obj)
    obj, theta0 = inst.obj, [np.asarray(W, dtype=float) for W in inst.theta]
    d = derived_step_bound(obj, theta0, float(inst.eps_rel))
    lhs = _factor(factor) / d["beta_path"]
    traj = _reference(obj, theta0, d["t_tilde"])
    n = FINE * (d["samples"] - 1)
    sup, t_sup, dt = sup_hessian_norm(obj, traj, d["t_tilde"], n)
    e_gf = traj.error_estimate
    P = obj.num_params
    e_s = dt / 2 * d["L3_path"] * d["gamma_path"] + d["L3_path"] * e_gf + 8 * P * U * sup
    rhs = 1.0 / sup
    err = rhs - 1.0 / (sup + e_s) + d["L3_path"] * e_gf / sup ** 2
    details = {"family": inst.family, "N": obj.depth, "sup_measured": sup, "t_at_sup": t_sup,
               "beta_sampled": d["beta_sampled"], "beta_path": d["beta_path"], "beta_tube": d["beta"],
               "path_gap": d["path_gap"], "L3_path": d["L3_path"], "sup_error_bound": e_s,
               "eta_stab_path": 1.0 / d["beta_path"], "eta_stab": d["eta_stab"],
               "tube_margin": d["beta"] / d["beta_path"], "lambda_T": d["lambda_T"],
               "gd_stability_limit": 2.0 / d["lambda_T"],
               "eta_stab_over_gd_limit": d["eta_stab"] * d["lambda_T"] / 2, "taylor_error": e_gf}
    return Measurement(lhs, rhs, err, details=details)


# ------------------------------------------------------------------------------------------- C2c
def c2c_measure(inst: ConvInstance, factor: Any = None) -> Measurement:
    """T_true (the arb Taylor tier at 30 digits, with its derived time error) against T, the GF time to ε/2
    that C2's bound uses (× ``factor``; module docstring)."""
    check_setting(inst.obj)
    obj, theta0 = inst.obj, [np.asarray(W, dtype=float) for W in inst.theta]
    d = derived_step_bound(obj, theta0, float(inst.eps_rel))
    T, level = d["T"], d["eps"] / 2
    require(T > 0, "the init is already below eps/2")
    Ts, errs, traj = taylor_event_times(obj, theta0, [lambda th: float(numerics.value(obj, th)) - level],
                                        [("loss", level)], [T], 1.1 * T, _phi(obj), dps=REF_DPS)
    details = {"family": inst.family, "N": obj.depth, "T": T, "T_dop853": d["T_dop853"], "T_error": d["T_error"],
               "eps": d["eps"]}
    if Ts[0] is None:  # the reference is still above ε/2 where it stopped: T_true > that (a lower bound)
        return Measurement(float(traj.t_end), T * _factor(factor), 0.0, details={**details, "reached": False})
    details.update(reached=True, T_ref=Ts[0], taylor_time_error=errs[0], t_tilde=d["t_tilde"],
                   dop853_minus_true=d["T_dop853"] - Ts[0])
    return Measurement(Ts[0], T * _factor(factor), errs[0], details=details)


_FAMILIES = ("C2's: balanced_init N=2..3 (d0 2..4, hidden 1..4, |w0| 1e-2..0.3) and N=4..5 "
             "(widths <= 3, |w0| 0.03..0.3); |Phi| in [0.5, 2], eps_rel in {1e-1, 1e-2, 1e-3}")

C2A_PLATEAU = 15.0  # C2a's instances: T_pred·‖Φ‖ ≤ this (module docstring)


def c2a_strategy():
    """C2's families with short plateaus, T_pred·‖Φ‖ ≤ 15: the tube search runs GD for t̃/η steps ~10
    times, and on a long plateau η_tube is tiny (an N = 4 instance with T_pred·‖Φ‖ = 31 had
    η_tube = 6·10⁻⁴ over t̃ = 37: ~10⁶ GD steps, and η_d/η_tube = 3·10⁻⁷ there)."""
    def short(inst):
        pr = predicted_time(inst.obj, inst.theta, inst.eps_rel)
        return pr["T_pred"] * pr["p"] <= C2A_PLATEAU

    return c2_strategy().filter(short)


C2a = Claim(
    "C2a", "C2's A2 step vs the largest eta keeping GD in the eps'-tube", "EC21 §3/§5; docs/theory.md#c2a",
    "derived",
    "eta_d <= eta_tube (largest eta with max_{k <= t~/eta} |theta(k eta) - theta_k| <= eps')",
    "eta_d = min(1/beta, 2 eps'/(beta gamma J* exp(m+/beta))) at C2's eps' (A2 along GF on [0, t~])",
    "err = bracket hi - lo (hi/lo <= 1 + 1e-2, or as wide as a 1.5e5-step GD budget left it) + hi*delta/eps', "
    "delta = Taylor GF error + GD rounding",
    _FAMILIES + "; C2a: only T_pred*|Phi| <= 15", c2a_strategy, c2a_measure, encode, decode, default_budget=6, resolution=1e-2, options=("factor",))

C2b = Claim(
    "C2b", "C2's stability limit 1/beta vs 1/sup ||Hessian|| along GF", "EC21 §3/§5; docs/theory.md#c2b",
    "derived",
    "1/beta_path <= 1/sup_{t <= t~} ||grad^2 f(theta(t))||_2",
    "beta_path = sampled sup + L3(h)*h (path gap h); 1/beta = the tube version used by C2",
    "err from the grid spacing x L3 x |grad f| (Lipschitz), the Taylor GF error x L3, eigensolver 8 P u |H|",
    _FAMILIES, c2_strategy, c2b_measure, encode, decode, default_budget=4, resolution=1e-2, options=("factor",))

C2c = Claim(
    "C2c", "C2's GF time to eps/2 vs an independent integrator", "EC21 §5; docs/theory.md#c2c", "derived",
    "T_true <= T (T = the float Taylor tier's first passage of the loss to eps/2 + its derived time error; "
    "T_true from the arb Taylor tier at 30 digits)",
    "T as used by C2 (equality expected up to T's error)",
    "err = the reference's time error (Taylor error (|grad f| + beta e/2)/|grad f|^2) + Brent bracket",
    _FAMILIES, c2_strategy, c2c_measure, encode, decode, default_budget=4, resolution=1e-6, options=("factor",))
