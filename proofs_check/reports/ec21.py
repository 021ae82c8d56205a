"""``gfgd report ec21``: does gradient descent follow gradient flow on a real network? (EC21 §6, THEORY C3)

Elkabetz & Cohen compare GD at η₀ with GD at η₀/r at equal times t = kη. This report does that and
also compares every GD run with the ground-truth GF θ(t) itself, with the GF's own error bar, on
sklearn's digits (shipped, no download; ``theory.data.digits``, pixels/16, stratified seeded subset).

Size: the experiment (choice of η₀ and horizon, jobs, curvature, A1, records, findings) and its CLI
in one place, with the derivations it rests on; the figures are in :mod:`.ec21_figures`, the
first-order fit in :mod:`.ec21_fit`. The ground truth's settings (tier, propagation, their checks before the
work: ~50 lines) stay beside the job that uses them, ``gf_job``.

Nets: 64-50-50-10 deep linear (6,200 parameters) and a bias-free ReLU net, Xavier-uniform init
(seeded), softmax cross-entropy (``loss="square"``: ½‖h − e_c‖² mean). Figures (PNG and SVG):

* ``ec21_loss`` (a): loss vs t for the GF and every GD run;
* ``ec21_distance`` (b): ‖θ_GD(t) − θ_GF(t)‖ and ‖θ_η₀(t) − θ_{η₀/r}(t)‖ vs the distance from init
  ‖θ_GF(t) − θ(0)‖ (the paper's axis), on the common time grid;
* ``ec21_curvature`` (c): λ_min(∇²f) along the GF and the integrated negativity I₋(t) (THEORY A2/B6);
* ``ec21_sharpness`` (d): η·λ_max(∇²f) along GD at η₀ and at the edge-of-stability step η_e, with the
  lines 1 (A1's hypothesis) and 2 (GD's stability edge); points above 2 are flagged;
* ``ec21_a1`` (e): THEORY A1's a-posteriori bound b_k beside the measured ‖θ(kη₀) − θ_k‖.

How η₀ and the horizon are chosen (derived, not tuned; the same rule for every net). GD on a quadratic
is stable iff ηλ_max < 2 and A1's contraction needs ηλ_max ≤ 1; so η₀ = c/λ_max(∇²f(θ₀)) with c =
``ETA_FACTOR`` = 1/2, which keeps ηλ_max ≤ 1/2 at init (on these nets λ_max *falls* along training with
cross-entropy: 15.5 → 2.3 on the linear net, measured). c = 1/2, not 1, so that η₀ is in the asymptotic
regime of A4 (distance ∝ η). The horizon: GD at η₀ is run until its loss first reaches L₀/10 (step k*);
K₀ is k* rounded up to a multiple of the grid G = min(``grid``, k*) kept points per run, t_end = K₀η₀.
So GD at η₀ ends with the loss down ≥ 10× (the GF's fall is recorded as measured). GD at η₀/r runs rK₀
steps, every one keeping its iterates at the same grid times. The edge-of-stability run uses η_e = m·η₀,
m the least integer with η_e·λ_max(θ₀) > 2 (m = 5: 2.5), for ⌊t_end/η_e⌋ steps (none if fewer than 2).
``t_cap`` (the ground truth's budget, option ``--relu-t-cap``) may shorten the horizon: K₀ = G⌊t_cap/(Gη₀)⌋,
or, if the cap holds fewer than G steps of η₀, G steps of t_cap/G; the JSON says ``capped`` and the
loss's fall is then recorded, not promised.

Ground truth. Linear: the float64 Taylor tier (``numerics.gradient_flow(..., dps=None)``), whose error
estimate is a derived bound on the 2-norm (local errors propagated with the growth measured along the run,
docs/theory.md F; on the default row 2.3e-12 to t = 10.3, in ~9 s: B1's growth rate, no Lanczos). Until 2026-12-05 the linear row used
DOP853 with an estimate that is not a bound (twice its distance to a run at 100× tighter tolerances, which
assumes the finer run's error is at most half the coarser one's; docs/theory.md G). ReLU:
``numerics.gradient_flow`` (arb Taylor with exact kink events and Filippov sliding, dps ``RELU_DPS``, error
by an independent rerun at dps + 10), or the float64 Taylor tier (the same kink events, cross-entropy, and
an error bound, docs/theory.md F, G2): by default (``--relu-propagation set``, up to ``SET_MAX`` parameters) the
error carried as a set through dense propagators, 60–93× the true error at the horizon on the default row (seeds 0–2,
against the arb tier); with ``--relu-propagation windows`` (the float tier's own default above 1,024
parameters) a product of norms with windows through lone crossings, ~16× faster and 10⁴–10⁵× the true error there.
DOP853 is not a ground truth at kinks. The ReLU row (docs/theory.md G2, measured there): by default 64-16-16-10 on 5 digits on
the float tier (seed 0: 58 kink events, loss/10 at t = 3.26, error bound 2.5e-13 against GF–GD distances
≥ 3.8e-3; the report in ~200 s, ~40 s with windows); where the float tier refuses — a kink it cannot resolve, a touch or a
rate within its error bar — the arb tier runs instead and the record says why. The paper's widths
(``--relu-widths 64,50,50,10``) were the default from 2026-12-03 to 2026-12-05: the float tier's bound
there grows past any use (2.2e-7 at t = 1.6, a rate bar of 0.95 at a kink), it refuses at t = 1.62 and
the arb tier's fallback takes tens of minutes. ``--relu-tier arb`` makes the arb tier the ground truth
(error known to ~1e-15 by rerun): its cost grows with parameters × samples × kink events (quick:
64-8-8-10 on 3 digits, arb); ``--relu-widths``, ``--relu-n``, ``--relu-t-cap`` let the row grow (more
digits make the flow's events and horizon grow: 50 digits need t ≈ 9.6 for loss/10, beyond the cap).

The GF–GD distance on the ReLU row (docs/theory.md G1): GD's local error at a kink crossing is O(η)
(∇f jumps), once per crossing, with a constant set by where the kink falls inside GD's step; so
d(η) = O(η) with an erratic constant and the two-point slope between η₀ and η₀/2 is erratic (recorded
under ``findings``). What is tested instead: the least-squares slope of ln d on ln η over GD at η₀/r,
r = 1..20 (``FIT_RATIOS``; end points only), is 1 within its own 99% error (:func:`first_order`). A1's
bound, which needs f C², does not hold across kinks (the A1 panel says so).

A1 panel. b_{k+1} = (1 − η m_k) b_k + (η²/2) M_k with m_k, M_k sampled at the GF points of the
curvature grid (m_k = min λ_min, M_k = max ‖∇²f∇f‖ over the two grid points around [kη, (k+1)η]),
i.e. coarser than :func:`numerics.a1_bound` (which samples every step's segment): per-step sampling at
6,200 parameters costs ~25 s per step. A sampled bound, not a certificate — as in numerics.a1_bound.

Jobs. Each GD run and each GF is one job (a picklable spec → plain arrays, a pure function of the
spec), so ``map_runs`` — ``--scheduler ADDRESS`` uses :func:`.jobs.dask_map` — gives the same numbers
as the serial run (tested bit for bit on a local Dask cluster). ``--model F.py:FN --data D.npz`` runs
the report on a user's torch ``nn.Sequential`` (:mod:`.jobs`). BLAS runs on one thread (shared cores:
two OpenBLAS threads under contention made GD ~100× slower, measured).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..files import write_json
from . import ec21_figures
from .ec21_fit import first_order

ETA_FACTOR = 0.5
LOSS_FALL = 10.0
LINEAR = dict(widths=(64, 50, 50, 10))
# The ReLU row's size is set by the cost of its ground truth (module docstring, "The ReLU row"); every
# entry is an option (``--relu-widths``, ``--relu-n``, ``--relu-t-cap``) so it can grow with the tier.
# t_cap: the default rows reach loss/10 at T = 3.26 (quick 2.83); the cap keeps a variant whose loss falls
# slower (--loss square, --bias, another seed) within the time goals — it binds there, and says so
# The default row is 64-16-16-10 on the float64 tier (docs/theory.md G2: its error bound, 2.5e-13 at seed 0 with the
# error carried as a set, is 1e-10 of the smallest GF–GD distance; on the paper's 64-50-50-10 the tier refuses at t = 1.62 and the
# report falls back to the arb tier); with ``--relu-tier arb`` and no widths given the row is
# RELU_ARB_WIDTHS, the size the arb tier's cost allows (parameters × samples × events)
RELU = dict(widths=(64, 16, 16, 10), n=5, grid=20, t_cap=5.0, eos=True, tier="float")
RELU_ARB_WIDTHS = (64, 16, 16, 10)
DEFAULT = dict(n=500, grid=40, curvature_points=17, gd_curvature_points=9, max_steps=20000,
               linear=LINEAR, relu=RELU)
QUICK = dict(n=100, grid=20, curvature_points=9, gd_curvature_points=5, max_steps=5000,
             linear=dict(widths=(64, 12, 12, 10)), relu=dict(widths=(64, 8, 8, 10), n=3, grid=20, t_cap=4.0,
                                                           eos=True, tier="arb"))
RELU_DPS = 16
FIT_RATIOS = tuple(range(1, 21))  # GD at η₀/r, r = 1..20, for the first-order fit (docs/theory.md)


def _blas_one():
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(1)
    except ImportError:  # pragma: no cover
        from numerics.ntk_training import blas_threads
        return blas_threads(1)


def _bar(total: int, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional here
        return None
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, file=sys.stderr)


# ---- the problem ---------------------------------------------------------------------------------
def build(spec: dict) -> tuple[Any, list[np.ndarray], dict]:
    """(objective, θ₀, data provenance) for a spec: a user's ``objective``/``theta0``, or a digits net."""
    import numerics
    import theory
    from theory import data

    if spec.get("objective") is not None:
        return spec["objective"], [np.asarray(w, dtype=float) for w in spec["theta0"]], spec.get("data", {})
    ds = data.digits(spec["n"], seed=spec["seed"], normalize="scale")
    model = (theory.DeepLinear(spec["widths"], bias=spec["bias"]) if spec["net"] == "linear"
             else theory.ReLUNet(spec["widths"], bias=spec["bias"]))
    obj = theory.Objective(model, ds.loss(spec["loss"], num_classes=spec["widths"][-1]))  # all 10 classes, even on a subset
    theta0 = numerics.xavier_init(obj, seed=spec["seed"])
    return obj, theta0, ds.provenance


def relu_propagation(asked: str | None, P: int) -> str:
    """How the float tier carries the ReLU row's error (``numerics.gradient_flow(..., propagation=)``): what was
    asked, or by default ``"set"`` up to ``SET_MAX`` parameters (on the default row the windows' bound is 1e4–1e5
    times its true error, the set's 60–93×, at ~10× the flow's time: docs/theory.md G2) and ``"auto"`` above."""
    from numerics.float_taylor import SET_MAX

    if asked is not None:
        return asked
    return "set" if P <= SET_MAX else "auto"


def _as_set(prop: str, P: int) -> bool:
    """Whether ``propagation=prop`` carries the error as a set on a net of P parameters (with kinks)."""
    from numerics.dense_propagation import DENSE_MAX

    return prop == "set" or (prop == "auto" and P <= DENSE_MAX)


def _set_fits(shapes: Sequence[Sequence[int]], what: str) -> None:
    """A UserInputError where the set was asked for on a net of parameter blocks ``shapes`` above ``SET_MAX``
    parameters (before the work)."""
    from numerics.float_taylor import SET_MAX

    from .jobs import UserInputError

    P = sum(math.prod(s) for s in shapes)
    if P > SET_MAX:
        raise UserInputError(f"--relu-propagation set carries P x P matrices: at most {SET_MAX} parameters, "
                             f"{what} has {P}")


def _flat(th: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype=float).ravel() for w in th])


def gd_job(spec: dict) -> dict:
    """One GD run: θ at the kept steps (flattened), every loss, and whether it diverged."""
    import numerics

    with _blas_one():
        obj, theta0, _ = build(spec)
        it = numerics.gradient_descent(obj, theta0, spec["eta"], spec["steps"], keep=spec["keep"])
    return {"eta": spec["eta"], "steps": spec["steps"], "kept": list(it.kept),
            "thetas": [_flat(th) for th in it.thetas], "losses": [float(x) for x in it.losses],
            "diverged": bool(it.diverged), "message": it.message}


def gf_job(spec: dict) -> dict:
    """The ground-truth GF at ``spec['times']``: θ (flattened), loss, error estimate (2-norm bound)."""
    import numerics

    t0 = time.perf_counter()
    with _blas_one():
        obj, theta0, _ = build(spec)
        P = sum(np.size(w) for w in theta0)
        kinks = _has_kinks(obj)
        traj = refused = None
        if not kinks or spec.get("tier", "arb") == "float":
            from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError
            prop = relu_propagation(spec.get("propagation"), P) if kinks else None
            try:  # its estimate bounds the Euclidean norm over all parameters (docs/theory.md F)
                traj = numerics.gradient_flow(obj, theta0, float(spec["t_end"]), dps=None, propagation=prop)
                tier = ("gradient_flow (float64 Taylor tier" + (", kink events" if kinks else "")
                        + "; error estimate a 2-norm bound: "
                        + ("growth from THEORY B1" if traj.growth_rate == "b1" else "measured growth")
                        + (" and saltation factors" if kinks else "")
                        + (f", propagation {prop!r}: " + ("the error carried as a set through dense propagators"
                                                          if _as_set(prop, P) else "windows through lone crossings")
                           if kinks else "") + ", docs/theory.md F)")
                err_inf = err_2 = float(traj.error_estimate)  # max-norm ≤ 2-norm
                at = traj.at
            except (UnsupportedKinkError, NonUniqueFlowError) as e:  # only nets with kinks raise these
                refused = f"{type(e).__name__}: {e}"
                traj = None
        if traj is None:
            traj = numerics.gradient_flow(obj, theta0, spec["t_end"], dps=spec.get("dps", RELU_DPS))
            tier = (f"gradient_flow (arb Taylor, kink events, dps {spec.get('dps', RELU_DPS)}; error by rerun "
                    "at +10)" + (f"; the float tier was asked for and refused: {refused}" if refused else ""))
            err_inf = float(traj.error_estimate)  # max-norm
            err_2 = math.sqrt(P) * err_inf

            def at(t):
                from fractions import Fraction

                from theory import to_kind
                return [to_kind(w, "float") for w in traj.at(min(Fraction(t), traj.t_end))]
        events = len(traj.events) if kinks else None
        unverified = int(getattr(traj, "modes_unverified", 0)) if kinks else None
        thetas = [_flat([np.asarray(w, dtype=float) for w in at(t)]) for t in spec["times"]]
        losses = [float(numerics.value(obj, obj.unflatten(th))) for th in thetas]
    return {"times": list(spec["times"]), "thetas": thetas, "losses": losses, "tier": tier,
            "error_estimate_max_norm": err_inf, "error_estimate": err_2,
            "events": events, "modes_unverified": unverified, "seconds": time.perf_counter() - t0}


def _has_kinks(obj: Any) -> bool:
    return getattr(obj.model, "alpha", 1) != 1


# ---- the experiment ------------------------------------------------------------------------------
def _lam_max(obj, flat_theta, seed):
    import numerics
    r = numerics.lambda_max(obj, obj.unflatten(flat_theta), seed=seed, return_info=True)
    return r.value, r.error_bound


def _choose(obj, theta0, cfg, spec, say) -> dict:
    """η₀, the edge-of-stability multiple m and the horizon K₀ (module docstring), the same rule for
    every net; ``t_cap`` (the ground truth's budget, ReLU row) may shorten the horizon, which is recorded."""
    import numerics

    lam0, lam0_err = _lam_max(obj, _flat(theta0), 0)
    eta0 = ETA_FACTOR / lam0
    cap = spec.get("t_cap")
    run = numerics.gradient_descent(obj, theta0, eta0, cfg["max_steps"], keep="last")
    L = np.array([float(x) for x in run.losses])
    hit = np.flatnonzero(L <= L[0] / LOSS_FALL)
    k_star = int(hit[0]) if hit.size else None
    # grid points: `grid`, or every step of η₀ when the loss falls in fewer (the horizon stays k*)
    G = max(1, min(spec.get("grid") or cfg["grid"], k_star or cfg["max_steps"]))
    K_fall = G * max(1, math.ceil((k_star if hit.size else len(L) - 1) / G))
    capped = cap is not None and K_fall * eta0 > cap
    K0 = G * math.floor(cap / (G * eta0)) if capped else K_fall
    eta_rule = "ETA_FACTOR/lambda_max(theta0)"
    if K0 == 0:  # the cap holds fewer than `grid` steps of η₀: the grid's steps, each shorter (ηλ_max < c still)
        K0, eta0, eta_rule = G, cap / G, "t_cap/grid (< ETA_FACTOR/lambda_max(theta0))"
    m = int(math.floor(2 / (eta0 * lam0))) + 1  # least integer with m·η₀·λ_max(θ₀) > 2
    t_end = K0 * eta0
    K_e = int(math.floor(t_end / (m * eta0))) if spec.get("eos", True) else 0
    K_e = K_e if K_e >= 2 else 0  # one step of GD shows nothing of an instability
    say(f"  {spec['net']}: λ_max(θ₀) = {lam0:.4g}, η₀ = {eta0:.4g} (η₀λ_max = {eta0 * lam0:.3g}), loss/10 at "
        f"k* = {k_star}, K₀ = {K0}{f' (capped at t_cap = {cap:g}; {K_fall} needed)' if capped else ''}, "
        f"t_end = {t_end:.4g}"
        + (f", edge-of-stability run {m}η₀ for {K_e} steps" if K_e else ", no edge-of-stability run"))
    return {"lambda_max_init": lam0, "lambda_max_init_error": lam0_err, "eta0": eta0, "eos_multiple": m,
            "eos_steps": K_e, "k_star": k_star, "K0": K0, "K_loss_fall": K_fall, "t_end": t_end, "t_cap": cap,
            "capped": capped, "grid": G, "eta0_rule": eta_rule}


def run_net(spec: dict, cfg: dict, ratios: Sequence[int], map_runs: Callable | None, say: Callable,
            show: bool, fit_ratios: Sequence[int] = FIT_RATIOS) -> dict:
    """Everything for one net (module docstring): choice, jobs, curvature, A1, records."""
    import numerics

    obj, theta0, prov = build(spec)
    P = sum(np.size(w) for w in theta0)
    with _blas_one():
        ch = _choose(obj, theta0, cfg, spec, say)
    G, K0, eta0, m, t_end = ch["grid"], ch["K0"], ch["eta0"], ch["eos_multiple"], ch["t_end"]
    grid_t = [i * K0 // G * eta0 for i in range(G + 1)]
    etas = [(1, eta0)] + [(r, eta0 / r) for r in ratios]
    jobs = [dict(spec, eta=e, steps=r * K0, keep=r * K0 // G) for r, e in etas]
    K_e = ch["eos_steps"]
    eos = dict(spec, eta=m * eta0, steps=K_e, keep="all")
    eos_t = [k * m * eta0 for k in range(K_e + 1)] if K_e else []
    gf_spec = dict(spec, t_end=max([t_end] + eos_t), times=sorted(set(grid_t) | set(eos_t)))
    # the fit's other step sizes (end points only), for nets with kinks: on smooth nets the fit's error
    # model does not apply (docs/theory.md G1) and the report's ratios suffice
    fit_r = [int(r) for r in fit_ratios if int(r) not in (1, *ratios)] if _has_kinks(obj) else []
    fit_jobs = [dict(spec, eta=eta0 / r, steps=r * K0, keep="last") for r in fit_r]
    mapper = map_runs or (lambda f, xs: list(map(f, xs)))
    items = [("gf", gf_spec)] + [("gd", j) for j in jobs + ([eos] if K_e else []) + fit_jobs]
    bar = _bar(len(items), f"ec21 {spec['net']}: GD and GF jobs", show)
    results = []
    for res in mapper(_job, items):
        results.append(res)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    gf, gds = results[0], results[1:len(jobs) + 1]
    gd_eos = results[len(jobs) + 1] if K_e else None
    fit_end = {r: g["thetas"][-1] for r, g in zip(fit_r, results[len(items) - len(fit_r):])}
    gf_at = dict(zip(gf["times"], gf["thetas"]))
    gf_grid = np.array([gf_at[t] for t in grid_t])
    th0 = _flat(theta0)
    travelled = np.linalg.norm(gf_grid - th0, axis=1)
    gf_loss_grid = [gf["losses"][gf["times"].index(t)] for t in grid_t]

    # GD vs GF and GD vs GD on the grid (every run kept the iterates at the grid times)
    runs = []
    ref = np.array(gds[0]["thetas"])
    for (r, e), g in zip(etas, gds):
        th = np.array(g["thetas"])
        d_gf = np.linalg.norm(th - gf_grid, axis=1)
        d_gd = None if r == 1 else np.linalg.norm(th - ref, axis=1)
        losses = np.array(g["losses"])[np.array(g["kept"])]
        runs.append({"r": r, "eta": e, "steps": g["steps"], "t": grid_t, "loss": losses.tolist(),
                     "gf_gd_distance": d_gf.tolist(), "gd_gd_distance": None if d_gd is None else d_gd.tolist(),
                     "distance_from_init": np.linalg.norm(th - th0, axis=1).tolist(), "diverged": g["diverged"]})
    eos_run = None
    if K_e:
        th_e = np.array(gd_eos["thetas"])
        gf_e = np.array([gf_at[t] for t in eos_t])
        eos_run = {"eta": m * eta0, "multiple": m, "steps": K_e, "t": eos_t, "loss": gd_eos["losses"],
                   "gf_gd_distance": np.linalg.norm(th_e - gf_e, axis=1).tolist(),
                   "distance_from_init": np.linalg.norm(th_e - th0, axis=1).tolist(), "diverged": gd_eos["diverged"]}

    # curvature along the GF (c) and sharpness along GD (d)
    C = cfg["curvature_points"]
    ci = sorted(set(int(round(i * G / (C - 1))) for i in range(C)))
    bar = _bar(len(ci) + 2 * cfg["gd_curvature_points"] + len(eos_t), f"ec21 {spec['net']}: curvature", show)
    with _blas_one():
        path = _Sampled({grid_t[i]: obj.unflatten(gf_grid[i]) for i in ci}, t_end)
        ca = numerics.curvature_along(obj, path, [grid_t[i] for i in ci], seed=0)
        if bar is not None:
            bar.update(len(ci))
        Hg = []
        for i in ci:
            th = obj.unflatten(gf_grid[i])
            Hg.append(float(np.sqrt(sum(float(np.sum(x * x)) for x in
                                        numerics.hvp(obj, th, numerics.gradient(obj, th))))))
        sharp = {}
        gsel = sorted(set(int(round(i * G / (cfg["gd_curvature_points"] - 1)))
                          for i in range(cfg["gd_curvature_points"])))
        for (r, e), g in zip(etas, gds):
            if r not in (1, ratios[0]):
                continue
            lm = [_lam_max(obj, g["thetas"][i], 0)[0] for i in gsel]
            sharp[f"eta0/{r}" if r > 1 else "eta0"] = {"eta": e, "t": [grid_t[i] for i in gsel],
                                                        "eta_lambda_max": [e * x for x in lm]}
            if bar is not None:
                bar.update(len(gsel))
        if K_e:
            esel = list(range(0, len(eos_t), max(1, len(eos_t) // (2 * cfg["gd_curvature_points"]))))
            lm_e = [_lam_max(obj, gd_eos["thetas"][i], 0)[0] for i in esel]
            if bar is not None:
                bar.update(len(esel))
            sharp["eos"] = {"eta": m * eta0, "t": [eos_t[i] for i in esel],
                            "eta_lambda_max": [m * eta0 * x for x in lm_e]}
        # max ηλ_max per run: sampled on the GD runs where measured, else η·max λ_max along the GF
        lam_gf_max = float(np.max(ca.lambda_max))
    if bar is not None:
        bar.close()

    # A1 bound along GD at η₀ (module docstring: m_k, M_k sampled on the curvature grid)
    ct = np.array([grid_t[i] for i in ci])
    lmin = np.asarray(ca.lambda_min) - np.asarray(ca.lambda_min_error)
    b = np.zeros(K0 + 1)
    for k in range(K0):
        lo = int(np.searchsorted(ct, k * eta0, side="right")) - 1
        hi = min(len(ct) - 1, int(np.searchsorted(ct, (k + 1) * eta0, side="left")))
        lo = max(lo, 0)
        mk = float(np.min(lmin[lo:hi + 1]))
        Mk = float(np.max(Hg[lo:hi + 1]))
        b[k + 1] = (1 - eta0 * mk) * b[k] + eta0 * eta0 / 2 * Mk
    kept0 = gds[0]["kept"]
    a1 = {"eta": eta0, "k": list(range(K0 + 1)), "b": b.tolist(), "k_measured": kept0,
          "measured": runs[0]["gf_gd_distance"],
          "hypothesis_eta_lambda_max_le_1": bool(eta0 * lam_gf_max <= 1),
          # A1 needs f C² on the segments; at a ReLU kink ∇f jumps and GD's local error is O(η), not O(η²)
          "kinks_crossed_by_gf": gf["events"], "applies": not gf["events"],
          "tightness": float(max((d / b[k] for k, d in zip(kept0, runs[0]["gf_gd_distance"]) if b[k] > 0),
                                 default=0.0))}

    # records (issue 12 item 3)
    records = []
    for run_ in runs:
        key = "eta0" if run_["r"] == 1 else f"eta0/{run_['r']}"
        mx = (max(sharp[key]["eta_lambda_max"]) if key in sharp else run_["eta"] * lam_gf_max)
        records.append(_record(spec, run_, t_end, gf, mx, key in sharp))
    if K_e:
        records.append(_record(spec, eos_run, t_end, gf, max(sharp["eos"]["eta_lambda_max"]), True, eos=True))
    gf_fall = gf_loss_grid[0] / gf_loss_grid[-1]
    d_end = {r_["r"]: r_["gf_gd_distance"][-1] for r_ in runs}
    d_end.update({r: float(np.linalg.norm(th - gf_grid[-1])) for r, th in fit_end.items()})
    rs = sorted(d_end)
    fo = first_order([eta0 / r for r in rs], [d_end[r] for r in rs], gf["error_estimate"])
    fo["ratios"] = rs
    # the fit's error model (erratic residuals) is that of kinks (docs/theory.md G1); on a smooth net the
    # residuals are A4's smooth O(η) correction, a bias the residual-based error does not cover
    fo["error_model_applies"] = bool(gf["events"])
    five = first_order([r_["eta"] for r_ in runs], [r_["gf_gd_distance"][-1] for r_ in runs], gf["error_estimate"])
    fo["report_ratios_fit"] = {k: five[k] for k in ("fit_slope", "fit_slope_error", "consistent_with_1", "resolved")}
    return {"net": spec["net"], "widths": list(spec.get("widths", [])), "parameters": int(P), "data": prov,
            "choice": ch, "grid_t": grid_t, "gf": {"tier": gf["tier"], "loss": gf_loss_grid,
                                                  "distance_from_init": travelled.tolist(),
                                                  "error_estimate": gf["error_estimate"],
                                                  "error_estimate_max_norm": gf["error_estimate_max_norm"],
                                                  "kink_events": gf["events"],
                                                  "modes_unverified": gf.get("modes_unverified"),
                                                  "seconds": gf["seconds"],
                                                  "loss_fall": gf_fall},
            "runs": runs, "eos_run": eos_run,
            "curvature": {"t": ct.tolist(), "lambda_min": ca.lambda_min.tolist(),
                          "lambda_min_error": ca.lambda_min_error.tolist(), "lambda_max": ca.lambda_max.tolist(),
                          "negativity": ca.negativity.tolist(), "negativity_error": ca.negativity_error.tolist(),
                          "hessian_gradient_norm": Hg},
            "sharpness": sharp, "a1": a1, "first_order": fo, "records": records}


def _record(spec, run_, t_end, gf, mx, measured, eos=False) -> dict:
    return {"net": spec["net"], "loss": spec["loss"], "eta": run_["eta"], "t_end": t_end,
            "gf_gd_distance": run_["gf_gd_distance"][-1],
            "gd_gd_distance": None if eos or run_.get("gd_gd_distance") is None else run_["gd_gd_distance"][-1],
            "distance_travelled": run_["distance_from_init"][-1], "gf_error_estimate": gf["error_estimate"],
            "max_eta_lambda_max": mx, "eta_lambda_max_sampled_on_gd": measured,
            "edge_of_stability": bool(mx > 2), "diverged": run_["diverged"],
            "final_loss": run_["loss"][-1], "ratio": None if eos else run_["r"]}


class _Sampled:
    """A GF path known at sampled times (what a job returned), for :func:`numerics.curvature_along`."""

    def __init__(self, points: dict, t_end: float) -> None:
        self.points, self.t_end = points, t_end

    def at(self, t):
        return self.points[t]


def _job(item):
    kind, spec = item
    return gf_job(spec) if kind == "gf" else gd_job(spec)


def run(out_dir: str, quick: bool = False, seed: int = 0, nets: Sequence[str] = ("linear", "relu"),
        loss: str = "cross_entropy", bias: bool = False, n: int | None = None,
        ratios: Sequence[int] = (2, 5, 10, 20), map_runs: Callable | None = None,
        progress: Callable[[str], None] | None = None, provenance: dict | None = None,
        objective: Any = None, relu: dict | None = None, data_provenance: dict | None = None,
        linear: dict | None = None, fit_ratios: Sequence[int] = FIT_RATIOS) -> dict:
    """Run the experiment, write the figures (a)–(e) as PNG and SVG and ``ec21.json`` into ``out_dir``.

    ``objective``: a user's (objective, θ₀) pair (e.g. from ``torch_adapter.from_torch_sequential``)
    run instead of the digits nets, under the name ``"custom"`` (a net with kinks gets the ReLU row's
    ``t_cap`` and ``grid``). ``relu``: overrides of the ReLU row's size (``widths``, ``n``, ``grid``,
    ``t_cap``, ``eos``), ``linear`` those of the linear row. ``fit_ratios``: the r of GD at η₀/r in the
    first-order fit (:func:`first_order`, nets with kinks; the report's ``ratios`` are always in).
    ``map_runs(f, items)``: any map (e.g. :func:`.jobs.dask_map`) for the GD/GF jobs; the serial map by
    default.
    """
    cfg, ratios = configuration(quick, loss, ratios, nets, relu, n, linear)
    say = progress or (lambda msg: None)
    t_start = time.perf_counter()
    specs = []
    if objective is not None:
        obj, th0 = objective
        kinks = _has_kinks(obj)
        specs.append(dict(net="custom", objective=obj, theta0=[np.asarray(w, dtype=float) for w in th0],
                          loss=type(obj.loss).__name__, seed=seed, bias=False, data=data_provenance or {},
                          widths=tuple(getattr(obj.model, "widths", ())),
                          t_cap=cfg["relu"]["t_cap"] if kinks else None,
                          grid=cfg["relu"]["grid"] if kinks else None, eos=cfg["relu"]["eos"] if kinks else True,
                          tier=cfg["relu"].get("tier", "arb"), propagation=cfg["relu"].get("propagation")))
        if kinks and cfg["relu"].get("propagation") == "set":
            _set_fits([np.shape(w) for w in th0], "the model")
    else:
        for net in nets:
            sub = cfg[net]
            if net == "relu" and sub.get("propagation") == "set":
                import theory

                _set_fits(theory.ReLUNet(tuple(sub["widths"]), 0, bool(bias)).shapes, "the ReLU row")
            specs.append(dict(net=net, widths=tuple(sub["widths"]), n=int(sub.get("n") or cfg["n"]), seed=seed,
                              loss=loss, bias=bool(bias), t_cap=sub.get("t_cap"), grid=sub.get("grid"),
                              eos=sub.get("eos", True), tier=sub.get("tier", "arb"),
                              propagation=sub.get("propagation") if net == "relu" else None))
    out = {"experiment": "ec21", "settings": {"quick": quick, "seed": seed, "loss": loss, "bias": bias,
                                               "ratios": list(ratios), "fit_ratios": sorted({1, *ratios, *fit_ratios}),
                                               "eta_factor": ETA_FACTOR,
                                               "loss_fall": LOSS_FALL, "grid": cfg["grid"],
                                               "relu": {k: (list(v) if isinstance(v, tuple) else v)
                                                        for k, v in cfg["relu"].items()},
                                               "linear": {k: (list(v) if isinstance(v, tuple) else v)
                                                          for k, v in cfg["linear"].items()},
                                               "relu_dps": RELU_DPS,
                                               "scheduler": map_runs is not None},
           "provenance": provenance or {}, "nets": []}
    os.makedirs(out_dir, exist_ok=True)
    for spec in specs:
        say(f"ec21: {spec['net']} net {spec.get('widths', '')}")
        out["nets"].append(run_net(spec, cfg, ratios, map_runs, say, progress is not None, fit_ratios))
    out["records"] = [r for net in out["nets"] for r in net["records"]]
    out["findings"] = _findings(out["nets"])
    out["figures"] = ec21_figures.draw_all(out, out_dir)
    out["seconds"] = time.perf_counter() - t_start
    write_json(os.path.join(out_dir, "ec21.json"), out, "--out")
    return out


def configuration(quick: bool, loss: str, ratios: Sequence[int], nets: Sequence[str], relu: dict | None,
                  n: int | None, linear: dict | None = None) -> tuple[dict, tuple[int, ...]]:
    """The run's settings (QUICK or DEFAULT with the overrides), or a ValueError naming the bad argument."""
    if loss not in ("cross_entropy", "square"):
        raise ValueError(f"loss must be 'cross_entropy' or 'square', got {loss!r}")
    ratios = tuple(int(r) for r in ratios)
    if not ratios or ratios[0] != 2 or any(r < 2 for r in ratios):
        raise ValueError(f"ratios must start with 2 and be integers >= 2, got {ratios!r}")
    bad = [net for net in nets if net not in ("linear", "relu")]
    if bad or not nets:
        raise ValueError(f"nets must name 'linear' and/or 'relu', got {','.join(nets)!r}")
    cfg = dict(QUICK if quick else DEFAULT)
    for net, over in (("relu", relu), ("linear", linear)):
        cfg[net] = dict(cfg[net])
        if net == "relu" and not quick and (over or {}).get("tier") == "arb" and (over or {}).get("widths") is None:
            cfg[net]["widths"] = RELU_ARB_WIDTHS
        for k, v in (over or {}).items():
            if k not in ("widths", "n", "grid", "t_cap", "eos", "tier", "propagation"):
                raise ValueError(f"{net}: unknown entry {k!r}; expected widths, n, grid, t_cap, eos, tier, "
                                 "propagation")
            if k == "tier" and v not in (None, "arb", "float"):
                raise ValueError(f"relu tier must be 'arb' or 'float', got {v!r}")
            if k == "propagation" and v not in (None, "auto", "set", "windows"):
                raise ValueError(f"relu propagation must be 'auto', 'set' or 'windows', got {v!r}")
            if v is not None:
                cfg[net][k] = v
        if cfg[net].get("propagation") is not None and cfg[net].get("tier", "arb") != "float":
            raise ValueError("relu propagation applies to the float tier (--relu-tier float); the arb tier's "
                             "error comes from a rerun")
        w = tuple(cfg[net]["widths"])
        if len(w) < 3 or any(int(x) != x or x < 1 for x in w) or w[0] != 64 or w[-1] != 10:
            raise ValueError(f"{net} widths must be 64,...,10 (digits: 64 inputs, 10 classes) with a hidden "
                             f"layer, got {w!r}")
    if n is not None:
        cfg["n"] = int(n)
    return cfg, ratios


def _findings(nets: Sequence[dict]) -> list[dict]:
    """What the numbers say beyond the records: the loss that did not fall 10× under a capped horizon,
    and a two-point slope outside 1 ± 0.1 (A4's resolution; erratic on ReLU nets, docs/theory.md)."""
    out = []
    for net in nets:
        ch, fo = net["choice"], net["first_order"]
        if ch["capped"]:
            out.append({"net": net["net"], "finding": "horizon capped by the ground truth's budget",
                        "t_end": ch["t_end"], "t_cap": ch["t_cap"], "gf_loss_fall": net["gf"]["loss_fall"]})
        if abs(fo["two_point_slope"] - 1) > 0.1:
            out.append({"net": net["net"], "finding": "two-point slope of the GF-GD distance between eta0 and "
                        "eta0/2 outside 1 +- 0.1" + (" (kinks: O(eta) jumps, docs/theory.md)"
                                                     if net["gf"]["kink_events"] else ""),
                        "two_point_slope": fo["two_point_slope"], "fit_slope": fo["fit_slope"],
                        "fit_slope_error": fo["fit_slope_error"], "kink_events": net["gf"]["kink_events"]})
    return out


def _ratios_text(rs: Sequence[int]) -> str:
    return f"{rs[0]}..{rs[-1]}" if list(rs) == list(range(rs[0], rs[-1] + 1)) else ",".join(map(str, rs))


def main(argv: Sequence[str] | None = None, argv_for_provenance: Sequence[str] | None = None) -> int:
    """``gfgd report ec21 --out DIR [--quick] [--seed S] [--loss square] [--bias] [--nets linear,relu] [--n N]
    [--relu-widths 64,50,50,10] [--relu-n N] [--relu-t-cap T] [--relu-tier float] [--relu-propagation set]
    [--model F.py:FN --data D.npz] [--scheduler ADDRESS]`` (the folder is checked before the work; files are written whole; the JSON
    carries provenance)."""
    import argparse

    from .. import argtypes as at
    from ..files import OutputError, check_output_dir
    from ..provenance import provenance
    from .jobs import UserInputError, dask_map, load_model, user_objective

    ap = argparse.ArgumentParser(prog="gfgd report ec21", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for the figures and ec21.json (created if missing)")
    ap.add_argument("--quick", action="store_true", help="the CI-sized configuration (under 2 minutes)")
    ap.add_argument("--seed", type=at.seed, default=0, help="data and init seed (default 0)")
    ap.add_argument("--loss", choices=("cross_entropy", "square"), default="cross_entropy")
    ap.add_argument("--bias", action="store_true", help="nets with biases (theta = [W_1, b_1, ...])")
    ap.add_argument("--nets", default="linear,relu", help="comma-separated: linear, relu (default both)")
    ap.add_argument("--n", type=at.positive_int, default=None, help="digits for the linear net (default 500)")
    ap.add_argument("--relu-widths", type=at.integers(1, 2), default=None,
                    help="widths of the ReLU net (default 64,16,16,10; quick 64,8,8,10; the paper's "
                         "64,50,50,10 falls back to the arb tier: docs/theory.md G2)")
    ap.add_argument("--relu-n", type=at.positive_int, default=None,
                    help="digits for the ReLU net (default 5; quick 3)")
    ap.add_argument("--relu-t-cap", type=at.real(0, lo_strict=True), default=None,
                    help="longest horizon of the ReLU ground truth (its budget)")
    ap.add_argument("--relu-tier", choices=("arb", "float"), default=None,
                    help="ground truth of the ReLU net: the float64 tier (default; an error bound, honest and "
                         "looser; falls back to arb where it refuses) or the arb tier (error by rerun; quick's "
                         "default; narrower nets)")
    ap.add_argument("--relu-propagation", choices=("auto", "set", "windows"), default=None,
                    help="how the float tier carries the ReLU row's error (default: set up to 4096 parameters, "
                         "60-93x the true error on the default row; windows: the report ~5x faster, 1e4-1e5x the "
                         "true error; docs/theory.md G2)")
    ap.add_argument("--model", help="FILE.py:FUNCTION returning a torch nn.Sequential (with --data)")
    ap.add_argument("--data", help=".npz with X and labels (or Y), for --model")
    ap.add_argument("--scheduler", type=at.address, default=None,
                    help="run the per-step-size GD and GF jobs on this Dask scheduler (dask extra)")
    ap.add_argument("--scheduler-timeout", type=at.real(0, lo_strict=True), default=5.0, metavar="SECONDS")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # usage errors exit 2 (message printed), --help 0
        return int(e.code or 0) if not isinstance(e.code, str) else 2

    def usage(msg: str) -> int:
        print(f"gfgd report ec21: {msg}", file=sys.stderr)
        return 2

    if bool(args.model) != bool(args.data):
        return usage("--model and --data go together (a torch nn.Sequential and its .npz data)")
    try:
        args.out = check_output_dir(args.out, "--out")
    except OutputError as e:
        return usage(str(e))
    t0 = time.perf_counter()
    objective = data_prov = map_runs = None
    relu = {"widths": args.relu_widths and tuple(args.relu_widths), "n": args.relu_n, "t_cap": args.relu_t_cap,
            "tier": args.relu_tier, "propagation": args.relu_propagation}
    try:
        configuration(args.quick, args.loss, (2, 5, 10, 20), tuple(args.nets.split(",")), relu, args.n)
    except ValueError as e:
        return usage(str(e).replace("relu widths", "--relu-widths").replace("nets must", "--nets must")
                     .replace("relu propagation", "--relu-propagation"))
    try:
        if args.model:
            obj, th, data_prov = user_objective(load_model(args.model), args.data, args.loss)
            objective = (obj, th)
        map_runs = dask_map(args.scheduler, args.scheduler_timeout) if args.scheduler else None
        res = run(args.out, quick=args.quick, seed=args.seed, nets=tuple(args.nets.split(",")), loss=args.loss,
                  bias=args.bias, n=args.n, progress=lambda m: print(m, file=sys.stderr), map_runs=map_runs,
                  objective=objective, relu=relu, data_provenance=data_prov,
                  provenance=provenance(argv_for_provenance if argv_for_provenance is not None
                                        else ["report", "ec21", *(argv or [])], {"seed": args.seed}))
    except UserInputError as e:
        return usage(str(e))
    finally:
        client = getattr(map_runs, "client", None)
        if client is not None:
            client.close()
    for r in res["records"]:
        print(f"{r['net']:7s} eta={r['eta']:.4g} |GF-GD|(t_end)={r['gf_gd_distance']:.3e} "
              f"|GD-GD|={'' if r['gd_gd_distance'] is None else format(r['gd_gd_distance'], '.3e')} "
              f"travelled={r['distance_travelled']:.3g} max eta*lmax={r['max_eta_lambda_max']:.3g}"
              f"{' EDGE OF STABILITY' if r['edge_of_stability'] else ''}")
    for net in res["nets"]:
        fo = net["first_order"]
        fit = ("" if fo["fit_slope"] is None else f"fitted slope {fo['fit_slope']:.3f} +- "
               f"{fo['fit_slope_error']:.3f} ({fo['confidence']:.0%}, r = {_ratios_text(fo['ratios'])}"
               f"{'' if fo['error_model_applies'] else '; not the check on a smooth net, docs/theory.md G1'}), ")
        print(f"{net['net']:7s} GF-GD distance vs eta: {fit}two-point slope {fo['two_point_slope']:.3f}; GF loss fell "
              f"{net['gf']['loss_fall']:.3g}x")
    for f in res["findings"]:
        print(f"finding: {f['net']}: {f['finding']}")
    print(f"wrote {', '.join(f for fig in res['figures'].values() for f in fig['files'])} and ec21.json "
          f"to {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
