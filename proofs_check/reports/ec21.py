"""``gfgd report ec21``: does gradient descent follow gradient flow on a real network? (EC21 §6, THEORY C3)

Elkabetz & Cohen compare GD at η₀ with GD at η₀/r at equal times t = kη. This report does that and
also compares every GD run with the ground-truth GF θ(t) itself, with the GF's own error bar, on
sklearn's digits (shipped, no download; ``theory.data.digits``, pixels/16, stratified seeded subset).

Nets: 64-50-50-10 deep linear (6,200 parameters) and a bias-free ReLU net, Xavier-uniform init
(seeded), softmax cross-entropy (``loss="square"``: ½‖h − e_c‖² mean). Figures (PNG and SVG):

* ``ec21_loss`` (a): loss vs t for the GF and every GD run;
* ``ec21_distance`` (b): ‖θ_GD(t) − θ_GF(t)‖ and ‖θ_η₀(t) − θ_{η₀/r}(t)‖ vs the distance from init
  ‖θ_GF(t) − θ(0)‖ (the paper's axis), on the common time grid;
* ``ec21_curvature`` (c): λ_min(∇²f) along the GF and the integrated negativity I₋(t) (THEORY A2/B6);
* ``ec21_sharpness`` (d): η·λ_max(∇²f) along GD at η₀ and at the edge-of-stability step η_e, with the
  lines 1 (A1's hypothesis) and 2 (GD's stability edge); points above 2 are flagged;
* ``ec21_a1`` (e): THEORY A1's a-posteriori bound b_k beside the measured ‖θ(kη₀) − θ_k‖.

How η₀ and the horizon are chosen (derived, not tuned). GD on a quadratic is stable iff ηλ_max < 2
and A1's contraction needs ηλ_max ≤ 1; so η₀ = c/λ_max(∇²f(θ₀)) with c = ``ETA_FACTOR`` = 1/2,
which keeps ηλ_max ≤ 1/2 at init (on these nets λ_max *falls* along training with cross-entropy:
15.5 → 2.3 on the linear net, measured). c = 1/2, not 1, so that η₀ is in the asymptotic regime of
A4 (distance ∝ η; the test checks the log-log slope between η₀ and η₀/2: 1.046 at default settings,
1.058 quick). The horizon: GD at η₀ is run until its loss first reaches L₀/10 (step k*); K₀ is k*
rounded up to a multiple of the grid (``grid`` kept points per run), t_end = K₀η₀. So GD at η₀ ends
with the loss down ≥ 10× (the GF's fall is recorded as measured: 10.1× at default settings). GD at
η₀/r runs rK₀ steps, every one keeping its iterates at the same grid times. The edge-of-stability run
uses η_e = m·η₀, m the least integer with η_e·λ_max(θ₀) > 2 (m = 5: 2.5), for ⌊t_end/η_e⌋ steps.

Why cross-entropy stays the default: with X/16 and Xavier init, GD at 1/λ_max(θ₀) brings the loss
from 2.77 to L₀/10 in 159 steps (linear) and 2.44 → L₀/10 in 55 steps (ReLU) (measured, n = 500).
A slower figure quoted before this report (2.77 → 1.72 in 20,000 steps) is not reproduced here; on
this branch the float64 GD fast path computed the square loss for cross-entropy objectives (fixed in
:mod:`numerics.float_gd`, with a regression test), so runs through it trained another objective.

Ground truth. Linear: ``numerics.gradient_flow_float`` (DOP853, rtol = atol = 1e-12) with its error
estimate (max-norm; reported here as the 2-norm bound √P·estimate). ReLU: ``numerics.gradient_flow``
(arb Taylor with exact kink events and Filippov sliding, dps ``RELU_DPS``, error by an independent
rerun at dps + 10) — DOP853 is not a ground truth at kinks. Its cost decides the ReLU row (measured on
this machine): 64-4-4-10 on 20 images reaches t = 0.5 in 30 s (7 steps, 6 kink events, with the
rerun), while the loss needs t ≈ 20 to fall 10× — so a 64-50-50-10 ReLU flow over that horizon is far
out of budget. Larger rows failed outright: 64-8-8-10 on 50 images and 64-4-4-10 on 50 images stop
with ``UnsupportedKinkError`` ("both fields point back to its side (inconsistent event)") at
t = 0.156 and t = 0.596 (before the relu branch's "grazing touch" change, merged since; after it,
neither run finished within 15 minutes at machine load ~12). So the ReLU row is 64-4-4-10 on 20 images with the horizon capped at
``t_cap`` = 0.5 (η₀ = t_cap/K₀ ≤ 0.5/λ_max(θ₀), K₀ = ``grid`` steps); its loss does not fall 10×
(recorded), and it has no edge-of-stability run (2/λ_max(θ₀) > t_cap). On the ReLU row GD's distance
to GF jumps at each kink crossing (∇f jumps: the local error there is O(η), not O(η²)), so A1's bound,
which needs f C², does not hold there (the A1 panel says so) and the distance's slope in η between
η₀ and η₀/2 is erratic (quick run: ≈ 0; fit over the five step sizes ≈ 0.8).

A1 panel. b_{k+1} = (1 − η m_k) b_k + (η²/2) M_k with m_k, M_k sampled at the GF points of the
curvature grid (m_k = min λ_min, M_k = max ‖∇²f∇f‖ over the two grid points around [kη, (k+1)η]),
i.e. coarser than :func:`numerics.a1_bound` (which samples every step's segment): per-step sampling at
6,200 parameters costs ~25 s per step. A sampled bound, not a certificate — as in numerics.a1_bound.

Jobs. Each GD run and each GF is one job (a picklable spec → plain arrays), so ``map_runs`` (e.g. a
Dask client's map) gives the same numbers as the serial run. BLAS runs on one thread (shared cores:
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

ETA_FACTOR = 0.5
LOSS_FALL = 10.0
LINEAR = dict(widths=(64, 50, 50, 10))
RELU = dict(widths=(64, 4, 4, 10), n=20, t_cap=0.5, eos=False)
DEFAULT = dict(n=500, grid=40, curvature_points=17, gd_curvature_points=9, max_steps=20000,
               linear=LINEAR, relu=RELU)
QUICK = dict(n=100, grid=20, curvature_points=9, gd_curvature_points=5, max_steps=5000,
             linear=dict(widths=(64, 12, 12, 10)), relu=dict(widths=(64, 4, 4, 10), n=20, t_cap=0.25, eos=False))
RELU_DPS = 16
GF_TOL = 1e-12


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
    obj = theory.Objective(model, ds.loss(spec["loss"]))
    theta0 = numerics.xavier_init(obj, seed=spec["seed"])
    return obj, theta0, ds.provenance


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
        if spec["net"] == "linear" or not _has_kinks(obj):
            traj = numerics.gradient_flow_float(obj, theta0, spec["t_end"], rtol=GF_TOL, atol=GF_TOL,
                                                dense_output=True)
            tier = "gradient_flow_float (DOP853, rtol = atol = 1e-12)"
            at = traj.at
            events = None
        else:
            traj = numerics.gradient_flow(obj, theta0, spec["t_end"], dps=spec.get("dps", RELU_DPS))
            tier = f"gradient_flow (arb Taylor, kink events, dps {spec.get('dps', RELU_DPS)}; error by rerun at +10)"
            events = len(traj.events)

            def at(t):
                from fractions import Fraction

                from theory import to_kind
                return [to_kind(w, "float") for w in traj.at(min(Fraction(t), traj.t_end))]
        thetas = [_flat([np.asarray(w, dtype=float) for w in at(t)]) for t in spec["times"]]
        err_inf = float(traj.error_estimate)
        losses = [float(numerics.value(obj, obj.unflatten(th))) for th in thetas]
    return {"times": list(spec["times"]), "thetas": thetas, "losses": losses, "tier": tier,
            "error_estimate_max_norm": err_inf, "error_estimate": math.sqrt(P) * err_inf,
            "events": events, "seconds": time.perf_counter() - t0}


def _has_kinks(obj: Any) -> bool:
    return getattr(obj.model, "alpha", 1) != 1


# ---- the experiment ------------------------------------------------------------------------------
def _lam_max(obj, flat_theta, seed):
    import numerics
    r = numerics.lambda_max(obj, obj.unflatten(flat_theta), seed=seed, return_info=True)
    return r.value, r.error_bound


def _choose(obj, theta0, cfg, spec, say) -> dict:
    """η₀, the edge-of-stability multiple m and the horizon K₀ (module docstring)."""
    import numerics

    lam0, lam0_err = _lam_max(obj, _flat(theta0), 0)
    eta_guess = ETA_FACTOR / lam0
    G = cfg["grid"]
    cap = spec.get("t_cap")
    if cap is None:
        run = numerics.gradient_descent(obj, theta0, eta_guess, cfg["max_steps"], keep="last")
        L = np.array([float(x) for x in run.losses])
        hit = np.flatnonzero(L <= L[0] / LOSS_FALL)
        k_star = int(hit[0]) if hit.size else None
        K0 = G * max(1, math.ceil((k_star if hit.size else len(L) - 1) / G))
        eta0 = eta_guess
    else:  # the ground truth is affordable only up to t_cap (module docstring): K0 steps of η₀ ≤ c/λ₀
        k_star = None
        K0 = G * max(1, math.ceil(cap / (eta_guess * G)))
        eta0 = cap / K0
    m = int(math.floor(2 / (eta0 * lam0))) + 1  # least integer with m·η₀·λ_max(θ₀) > 2
    t_end = K0 * eta0
    K_e = max(1, int(math.floor(t_end / (m * eta0)))) if spec.get("eos", True) else 0
    say(f"  {spec['net']}: λ_max(θ₀) = {lam0:.4g}, η₀ = {eta0:.4g} (η₀λ_max = {eta0 * lam0:.3g}), loss/10 at "
        f"k* = {k_star}, K₀ = {K0}, t_end = {t_end:.4g}"
        + (f", edge-of-stability run {m}η₀ for {K_e} steps" if K_e else ", no edge-of-stability run"))
    return {"lambda_max_init": lam0, "lambda_max_init_error": lam0_err, "eta0": eta0, "eos_multiple": m,
            "eos_steps": K_e, "k_star": k_star, "K0": K0, "t_end": t_end, "t_cap": cap}


def run_net(spec: dict, cfg: dict, ratios: Sequence[int], map_runs: Callable | None, say: Callable,
            show: bool) -> dict:
    """Everything for one net (module docstring): choice, jobs, curvature, A1, records."""
    import numerics

    obj, theta0, prov = build(spec)
    P = sum(np.size(w) for w in theta0)
    with _blas_one():
        ch = _choose(obj, theta0, cfg, spec, say)
    G, K0, eta0, m, t_end = cfg["grid"], ch["K0"], ch["eta0"], ch["eos_multiple"], ch["t_end"]
    grid_t = [i * K0 // G * eta0 for i in range(G + 1)]
    etas = [(1, eta0)] + [(r, eta0 / r) for r in ratios]
    jobs = [dict(spec, eta=e, steps=r * K0, keep=r * K0 // G) for r, e in etas]
    K_e = ch["eos_steps"]
    eos = dict(spec, eta=m * eta0, steps=K_e, keep="all")
    eos_t = [k * m * eta0 for k in range(K_e + 1)] if K_e else []
    gf_spec = dict(spec, t_end=max([t_end] + eos_t), times=sorted(set(grid_t) | set(eos_t)))
    mapper = map_runs or (lambda f, xs: list(map(f, xs)))
    bar = _bar(len(jobs) + 2, f"ec21 {spec['net']}: GD and GF jobs", show)
    results = []
    for res in mapper(_job, [("gf", gf_spec)] + [("gd", j) for j in jobs + ([eos] if K_e else [])]):
        results.append(res)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    gf, gds = results[0], results[1:len(jobs) + 1]
    gd_eos = results[-1] if K_e else None
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
    return {"net": spec["net"], "widths": list(spec.get("widths", [])), "parameters": int(P), "data": prov,
            "choice": ch, "grid_t": grid_t, "gf": {"tier": gf["tier"], "loss": gf_loss_grid,
                                                  "distance_from_init": travelled.tolist(),
                                                  "error_estimate": gf["error_estimate"],
                                                  "error_estimate_max_norm": gf["error_estimate_max_norm"],
                                                  "kink_events": gf["events"], "seconds": gf["seconds"],
                                                  "loss_fall": gf_fall},
            "runs": runs, "eos_run": eos_run,
            "curvature": {"t": ct.tolist(), "lambda_min": ca.lambda_min.tolist(),
                          "lambda_min_error": ca.lambda_min_error.tolist(), "lambda_max": ca.lambda_max.tolist(),
                          "negativity": ca.negativity.tolist(), "negativity_error": ca.negativity_error.tolist(),
                          "hessian_gradient_norm": Hg},
            "sharpness": sharp, "a1": a1, "records": records}


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
        objective: Any = None) -> dict:
    """Run the experiment, write the figures (a)–(e) as PNG and SVG and ``ec21.json`` into ``out_dir``.

    ``objective``: a user's (objective, θ₀) pair (e.g. from ``torch_adapter.from_torch_sequential``)
    run instead of the digits nets, under the name ``"custom"``. ``map_runs(f, items)``: any map (a
    Dask client's ``map`` + gather) for the GD/GF jobs; the serial map by default.
    """
    if loss not in ("cross_entropy", "square"):
        raise ValueError(f"loss must be 'cross_entropy' or 'square', got {loss!r}")
    ratios = tuple(int(r) for r in ratios)
    if not ratios or ratios[0] != 2 or any(r < 2 for r in ratios):
        raise ValueError(f"ratios must start with 2 and be integers >= 2, got {ratios!r}")
    cfg = dict(QUICK if quick else DEFAULT)
    if n is not None:
        cfg["n"] = int(n)
    say = progress or (lambda msg: None)
    t_start = time.perf_counter()
    specs = []
    if objective is not None:
        obj, th0 = objective
        specs.append(dict(net="custom", objective=obj, theta0=[np.asarray(w, dtype=float) for w in th0],
                          loss=type(obj.loss).__name__, seed=seed, bias=False))
    else:
        for net in nets:
            if net not in ("linear", "relu"):
                raise ValueError(f"nets must name 'linear' or 'relu', got {net!r}")
            sub = cfg[net]
            specs.append(dict(net=net, widths=tuple(sub["widths"]), n=int(sub.get("n", cfg["n"])), seed=seed,
                              loss=loss, bias=bool(bias), t_cap=sub.get("t_cap"), eos=sub.get("eos", True)))
    out = {"experiment": "ec21", "settings": {"quick": quick, "seed": seed, "loss": loss, "bias": bias,
                                               "ratios": list(ratios), "eta_factor": ETA_FACTOR,
                                               "loss_fall": LOSS_FALL, "grid": cfg["grid"],
                                               "relu_dps": RELU_DPS, "gf_tol": GF_TOL},
           "provenance": provenance or {}, "nets": []}
    os.makedirs(out_dir, exist_ok=True)
    for spec in specs:
        say(f"ec21: {spec['net']} net {spec.get('widths', '')}")
        out["nets"].append(run_net(spec, cfg, ratios, map_runs, say, progress is not None))
    out["records"] = [r for net in out["nets"] for r in net["records"]]
    out["figures"] = ec21_figures.draw_all(out, out_dir)
    out["seconds"] = time.perf_counter() - t_start
    write_json(os.path.join(out_dir, "ec21.json"), out, "--out")
    return out


def main(argv: Sequence[str] | None = None, argv_for_provenance: Sequence[str] | None = None) -> int:
    """``gfgd report ec21 --out DIR [--quick] [--seed S] [--loss square] [--bias] [--nets linear,relu] [--n N]``
    (the folder is checked before the work; files are written whole; the JSON carries provenance)."""
    import argparse

    from .. import argtypes as at
    from ..files import OutputError, check_output_dir
    from ..provenance import provenance

    ap = argparse.ArgumentParser(prog="gfgd report ec21", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=at.seed, default=0)
    ap.add_argument("--loss", choices=("cross_entropy", "square"), default="cross_entropy")
    ap.add_argument("--bias", action="store_true")
    ap.add_argument("--nets", default="linear,relu")
    ap.add_argument("--n", type=at.positive_int, default=None)
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # usage errors exit 2 (message printed), --help 0
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    try:
        args.out = check_output_dir(args.out, "--out")
    except OutputError as e:
        print(f"gfgd report ec21: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    res = run(args.out, quick=args.quick, seed=args.seed, nets=tuple(args.nets.split(",")), loss=args.loss,
              bias=args.bias, n=args.n, progress=lambda m: print(m, file=sys.stderr),
              provenance=provenance(argv_for_provenance if argv_for_provenance is not None else ["report", "ec21", *(argv or [])], {"seed": args.seed}))
    for r in res["records"]:
        print(f"{r['net']:7s} eta={r['eta']:.4g} |GF-GD|(t_end)={r['gf_gd_distance']:.3e} "
              f"|GD-GD|={'' if r['gd_gd_distance'] is None else format(r['gd_gd_distance'], '.3e')} "
              f"travelled={r['distance_travelled']:.3g} max eta*lmax={r['max_eta_lambda_max']:.3g}"
              f"{' EDGE OF STABILITY' if r['edge_of_stability'] else ''}")
    print(f"wrote {', '.join(f for fig in res['figures'].values() for f in fig['files'])} and ec21.json "
          f"to {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
