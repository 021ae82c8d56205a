"""Wide-network experiment for THEORY.md D3/D4: heavy ball is linear, Nesterov is sublinear.

:func:`momentum_experiment` trains finite two-layer ReLU nets (``theory.TwoLayerReLU``, only W trained)
on synthetic data — n points on the unit sphere S^{d−1} (normalised seeded Gaussians, labels ±1:
``theory.ntk.sphere_data``) — with GD, heavy ball and Nesterov (``numerics.ntk_training``), and
compares fitted rates with the kernel theory:

* HB (β = 1 − b√η, t = k√η): the least-squares slope of log L(t) where L/L₀ ∈ [1e-16, 1e-6] (after
  the fast modes have died; before float64 rounding matters: e ~ 1e-8·|y| is still ~1e8 ulps)
  against −2ρ(b), ρ(b) = ρ(λ₀) of THEORY.md D3 with λ₀ = λ_min(H(W(0))) the *measured* finite-width
  Gram at initialisation. b = 2κ√λ₀(H^∞) is the same for every width (κ = 1.25: the worst mode is
  over-damped, so ρ depends on λ₀ and no (1 + √λ₀t) factor biases the fit). Deviation =
  slope/(−2ρ(b)) − 1. Also reported: the deviation from the exact rate of discrete HB on the λ₀ mode
  (``theory.momentum.hb_discrete_rate``: removes the O(√η) discretisation part), ρ at λ_min(H) after
  training (the Gram drift — the finite-width effect, which shrinks with m), and the same fit for
  discrete HB on the fixed-H(W(0)) model (the linearised net).
* NAG (momentum (k−1)/(k+r−1), t = k√η, own step η_NAG): the log-log slope of L against t, fitted to
  the maxima of L in 8 log-spaced bins of [T/4, T] (the upper envelope: the zeros of J₁ would
  otherwise tilt the fit), beside −r; and the log-loss slope per unit time on [T/8, T/4] and
  [3T/4, T] (maxima of 4 sub-windows), which tends to 0 (~ −r/t) while HB's stays near −2ρ(b). The
  same envelope fit of the kernel ODE's Bessel solution on H(W(0)) (``theory.momentum.nag_mode``) is
  ``nag_loglog_ode`` (what the ODE gives on this finite window), and of discrete NAG on the fixed-H
  model ``nag_loglog_kernel_discrete``. At fixed η discrete NAG carries an extra damping ≈ √η·H (the
  "high-resolution" ODE of Shi, Du, Jordan & Su 2018), which steepens the fitted slope by about
  √η·λ·t and vanishes as η → 0 — hence the smaller default η_NAG = η/4 (√η = 0.05).
* GD (t = kη): the slope of log L against −2λ₀ (GF rate), on the same loss window.

Defaults (chosen to finish in a few minutes on 2 cores; measured 20–35 s on an idle 2-core machine,
longer under contention; BLAS runs single-threaded, see ``threads``): n = 50 points in d = 20, widths (500, 1000, 2000, 5000), one model seed per width,
HB η = 0.01 (√η = 0.1; 1200 steps to T = 120), NAG η = 0.0025 (2400 steps), GD η = 1/λ_max(H^∞)
over the same T, seed 0. ``quick=True`` (tests): n = 20 in d = 10, widths (250, 1000, 4000) with 3 model
seeds each (``repeats``), same η and T — 15–20 s.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np

from numerics import ntk_training as nt
from theory import momentum as mo
from theory import ntk

LOSS_WINDOW = (1e-16, 1e-6)  # fit window for the linear rates, as L/L0
NAG_BINS = 8


def fit_log_slope(times: np.ndarray, losses: np.ndarray, window: tuple[float, float] = LOSS_WINDOW) -> float | None:
    """Least-squares slope of log L against t where L/L₀ lies in ``window`` (None if < 10 points)."""
    r = losses / losses[0]
    sel = (r >= window[0]) & (r <= window[1])
    if sel.sum() < 10:
        return None
    return float(np.polyfit(times[sel], np.log(losses[sel]), 1)[0])


def fit_loglog_envelope(times: np.ndarray, losses: np.ndarray, t_lo: float, t_hi: float,
                        bins: int = NAG_BINS) -> float | None:
    """Slope of log(max L over each of ``bins`` log-spaced bins of [t_lo, t_hi]) against log t."""
    edges = np.geomspace(t_lo, t_hi, bins + 1)
    xs, ys = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (times >= a) & (times <= b)
        if sel.any():
            xs.append(math.log(math.sqrt(a * b)))
            ys.append(math.log(float(losses[sel].max())))
    return float(np.polyfit(xs, ys, 1)[0]) if len(xs) >= 2 else None  # None: the run stopped early


def time_slope(times: np.ndarray, losses: np.ndarray, t_lo: float, t_hi: float, bins: int = 4) -> float | None:
    """Log-loss decay per unit time on [t_lo, t_hi]: least-squares slope of log(max L over each of
    ``bins`` equal sub-intervals) against their midpoints (the upper envelope, so an oscillation of
    NAG's loss inside the window does not tilt the fit)."""
    edges = np.linspace(t_lo, t_hi, bins + 1)
    xs, ys = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (times >= a) & (times <= b)
        if sel.any():
            xs.append((a + b) / 2)
            ys.append(math.log(float(losses[sel].max())))
    return float(np.polyfit(xs, ys, 1)[0]) if len(xs) >= 2 else None  # None: the run stopped early


def _kernel_losses(lam: np.ndarray, c0: np.ndarray, t: np.ndarray, mode: Callable) -> np.ndarray:
    """½‖e(t)‖² of a kernel ODE from its per-mode closed form (float64, t an array)."""
    E = np.array([mode(l, t, c) for l, c in zip(lam, c0)])
    return 0.5 * (E * E).sum(axis=0)


def _kernel_discrete(lam: np.ndarray, c0: np.ndarray, method: str, eta: float, steps: int, b: float = 0.0,
                     r: float = 3) -> np.ndarray:
    """Losses ½‖e_k‖² of discrete HB/NAG on the fixed-kernel model e ↦ ½eᵀHe (H = H(W(0)), the
    linearisation of the net), run per eigen-mode in float64: it isolates the finite-width effect
    (network vs this) from the discretisation (this vs the ODE)."""
    beta = 1 - b * math.sqrt(eta)
    x_prev = x = y = c0.astype(float).copy()
    out = [0.5 * float(x @ x)]
    for k in range(1, steps + 1):
        if method == "heavy_ball":
            x, x_prev = x - eta * lam * x + beta * (x - x_prev), x
        else:
            xn = y - eta * lam * y
            y = xn + (k - 1) / (k + r - 1) * (xn - x)
            x = xn
        out.append(0.5 * float(x @ x))
    return np.array(out)


def momentum_experiment(widths: Sequence[int] = (500, 1000, 2000, 5000), n: int = 50, d: int = 20,
                        seed: int = 0, kappa: float = 1.25, eta: float = 0.01, t_end: float = 120.0,
                        gd_eta: float | None = None, nag_eta: float | None = None, r: float = 3, repeats: int = 1,
                        quick: bool = False, threads: int | None = 1,
                        progress: Callable[[str], None] | None = None, data: tuple[Any, Any] | None = None,
                        data_label: str | None = None, curves: int = 0, map_runs: Callable | None = None) -> dict:
    """Train GD, HB and NAG nets of each width and report fitted vs predicted rates (module docstring).

    Returns a JSON-ready dict: ``settings``, ``data`` (λ₀ and λ_max of H^∞), one record per trained
    net (``widths``) and a per-width ``summary``. ``progress(message)`` is called as each run finishes.
    ``threads``: BLAS threads during training (``numerics.ntk_training.blas_threads``; None: leave as is).
    ``data = (X, y)``: train on these unit-norm rows instead of the synthetic sphere data (``n`` and
    ``d`` are then taken from X; ``data_label`` describes them in the record). ``curves > 0``: each
    record also holds the loss curves of the net and of the kernel ODEs, subsampled to about that
    many points (for figures). ``map_runs(function, jobs)``: how the per-width jobs run (default the
    builtin ``map``; e.g. a Dask client's map): each job is seeded on its own, so any map gives the
    same records.
    """
    with nt.blas_threads(threads):
        return _momentum_experiment(widths, n, d, seed, kappa, eta, t_end, gd_eta, nag_eta, r, repeats, quick,
                                    progress, data, data_label, curves, map_runs, threads)


def _momentum_experiment(widths, n, d, seed, kappa, eta, t_end, gd_eta, nag_eta, r, repeats, quick,
                         progress, data, data_label, curves, map_runs, threads) -> dict:
    t_start = time.perf_counter()
    if quick:
        widths, n, d, t_end, repeats = (250, 1000, 4000), 20, 10, 120.0, 3
    widths = tuple(int(m) for m in widths)
    repeats = int(repeats)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be positive integers, got {widths!r}")
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa!r}")
    if not (eta > 0 and t_end > 0):
        raise ValueError(f"eta and t_end must be > 0, got {eta!r}, {t_end!r}")
    if data is None:
        X, y = ntk.sphere_data(n, d, seed=seed)
        data_label = "unit-sphere Gaussian points, labels +-1 (theory.ntk.sphere_data)"
    else:
        X, y = (np.asarray(a, dtype=np.float64) for a in data)
        n, d = X.shape
    Hinf = ntk.gram_infinite(X)
    ev_inf = np.linalg.eigvalsh(Hinf)
    lam0_inf, lmax_inf = float(ev_inf[0]), float(ev_inf[-1])
    b = 2 * kappa * math.sqrt(lam0_inf)
    h = math.sqrt(eta)
    if b * h >= 1:
        raise ValueError(f"b*sqrt(eta) = {b * h:.3g} >= 1 makes beta < 0; reduce eta")
    gd_eta = 1.0 / lmax_inf if gd_eta is None else float(gd_eta)
    nag_eta = eta / 4 if nag_eta is None else float(nag_eta)
    if not nag_eta > 0:
        raise ValueError(f"nag_eta must be > 0, got {nag_eta!r}")
    K = round(t_end / h)
    K_nag = round(t_end / math.sqrt(nag_eta))
    K_gd = round(t_end / gd_eta)
    out = {"version": 1, "experiment": "momentum_ntk",
           "settings": {"widths": list(widths), "n": n, "d": d, "seed": seed, "kappa": kappa, "b": b,
                        "eta": eta, "beta": 1 - b * h, "t_end": t_end, "steps": K, "gd_eta": gd_eta,
                        "gd_steps": K_gd, "nag_eta": nag_eta, "nag_steps": K_nag, "r": r, "repeats": repeats,
                        "quick": quick, "loss_window": list(LOSS_WINDOW), "data": data_label},
           "data": {"lambda0_inf": lam0_inf, "lambda_max_inf": lmax_inf}, "widths": []}
    common = dict(X=X, y=y, Hinf=Hinf, d=d, b=b, eta=eta, K=K, nag_eta=nag_eta, K_nag=K_nag, gd_eta=gd_eta,
                  K_gd=K_gd, r=r, t_end=t_end, curves=int(curves), threads=threads)
    jobs = [dict(common, m=m, model_seed=seed + j) for m in widths for j in range(repeats)]
    for rec in (map_runs or map)(train_width, jobs):
        out["widths"].append(rec)
        if progress:
            progress(f"m={rec['m']} (model seed {rec['model_seed']}): done in {rec['seconds']:.1f} s")
    out["summary"] = []
    for m in widths:
        recs = [w for w in out["widths"] if w["m"] == m]
        devs = [abs(w["hb_deviation"]) for w in recs if w["hb_deviation"] is not None]
        out["summary"].append({
            "m": m, "runs": len(recs), "fitted": len(devs),
            "hb_abs_deviation_mean": float(np.mean(devs)) if devs else None,
            "hb_abs_deviation_max": float(np.max(devs)) if devs else None,
            **{f"{k}_mean": _mean([w[k] for w in recs]) for k in (
                "nag_loglog_slope", "nag_time_slope_early", "nag_time_slope_late", "hb_predicted_slope",
                "hb_time_slope_late", "gd_deviation")}})
    out["seconds"] = time.perf_counter() - t_start
    return out


def _subsample(k: int, points: int) -> np.ndarray:
    """About ``points`` indices of 0..k−1, log-spaced (the curves are drawn against log-scaled
    losses; early and late both matter), always with the first and the last."""
    if k <= points:
        return np.arange(k)
    idx = np.unique(np.concatenate([np.geomspace(1, k, points).astype(int) - 1, [0, k - 1]]))
    return idx


def _curve(run: Any, predicted: np.ndarray, points: int) -> dict:
    idx = _subsample(len(run.losses), points)
    return {"k": idx.tolist(), "t": run.loss_times[idx].tolist(), "loss": run.losses[idx].tolist(),
            "ode_loss": predicted[idx].tolist()}


def train_width(job: dict) -> dict:
    """One width and model seed: train HB, NAG and GD from the same W(0) and fit their rates (module
    docstring). A self-contained, seeded job (so it can run in another process or on a cluster)."""
    with nt.blas_threads(job["threads"]):
        return _train_width(**job)


def _train_width(X, y, Hinf, d, b, eta, K, nag_eta, K_nag, gd_eta, K_gd, r, t_end, curves, threads, m,
                 model_seed) -> dict:
    t0 = time.perf_counter()
    h = math.sqrt(eta)
    model = ntk.TwoLayerReLU(d, m, seed=model_seed)
    W0 = model.init()
    H0 = ntk.gram_finite(W0, X)
    lam, Q = np.linalg.eigh(H0)
    lam0, lmax = float(lam[0]), float(lam[-1])
    e0 = model.outputs(W0, X) - y
    c0 = Q.T @ e0
    rec: dict[str, Any] = {"m": m, "model_seed": model_seed, "lambda0_init": lam0, "lambda_max_init": lmax,
                           "gram_deviation_max": float(np.abs(H0 - Hinf).max())}
    # ---- heavy ball
    hb = nt.train_heavy_ball(model, X, y, eta, b, K, W0=W0, record_every=max(1, K // 8))
    rho = float(mo.hb_rate(b, lam0))
    rho_disc = mo.hb_discrete_rate(lam0, eta, b)
    slope = None if hb.diverged else fit_log_slope(hb.loss_times, hb.losses)
    lam_final = float(np.linalg.eigvalsh(ntk.gram_finite(hb.W, X))[0])
    ode_hb = _kernel_losses(lam, c0, hb.loss_times, lambda l, t, c: mo.hb_mode(max(l, 0.0), b, t, c))
    rec.update(b=b, beta=1 - b * h, rho=rho, hb_predicted_slope=-2 * rho, hb_slope=slope,
               hb_deviation=None if slope is None else slope / (-2 * rho) - 1,
               hb_rho_discrete=rho_disc,
               hb_deviation_discrete=None if slope is None else slope / (-2 * rho_disc) - 1,
               hb_lambda0_final=lam_final, hb_rho_final=float(mo.hb_rate(b, lam_final)),
               hb_slope_kernel_ode=fit_log_slope(hb.loss_times, ode_hb),
               hb_slope_kernel_discrete=fit_log_slope(
                   hb.loss_times, _kernel_discrete(lam, c0, "heavy_ball", eta, hb.steps, b=b)),
               hb_time_slope_early=time_slope(hb.loss_times, hb.losses, t_end / 8, t_end / 4),
               hb_time_slope_late=time_slope(hb.loss_times, hb.losses, 3 * t_end / 4, t_end),
               hb_final_loss_ratio=float(hb.losses[-1] / hb.losses[0]), hb_diverged=hb.diverged)
    # ---- Nesterov
    nag = nt.train_nesterov(model, X, y, nag_eta, K_nag, r=r, W0=W0, record_every=max(1, K_nag // 8))
    ode_nag = _kernel_losses(lam, c0, nag.loss_times, lambda l, t, c: mo.nag_mode(max(l, 0.0), t, r, c))
    rec.update(nag_loglog_slope=fit_loglog_envelope(nag.loss_times, nag.losses, t_end / 4, t_end),
               nag_predicted_loglog=-float(r),
               nag_loglog_ode=fit_loglog_envelope(nag.loss_times, ode_nag, t_end / 4, t_end),
               nag_loglog_kernel_discrete=fit_loglog_envelope(
                   nag.loss_times, _kernel_discrete(lam, c0, "nesterov", nag_eta, nag.steps, r=r), t_end / 4, t_end),
               nag_time_slope_late_ode=time_slope(nag.loss_times, ode_nag, 3 * t_end / 4, t_end),
               nag_time_slope_early=time_slope(nag.loss_times, nag.losses, t_end / 8, t_end / 4),
               nag_time_slope_late=time_slope(nag.loss_times, nag.losses, 3 * t_end / 4, t_end),
               nag_final_loss_ratio=float(nag.losses[-1] / nag.losses[0]), nag_diverged=nag.diverged)
    # ---- GD
    gd = nt.train_gd(model, X, y, gd_eta, K_gd, W0=W0, record_every=max(1, K_gd // 8))
    gslope = None if gd.diverged else fit_log_slope(gd.loss_times, gd.losses)
    rec.update(gd_slope=gslope, gd_predicted_slope=-2 * lam0,
               gd_deviation=None if gslope is None else gslope / (-2 * lam0) - 1,
               gd_predicted_discrete=2 * math.log1p(-gd_eta * lam0) / gd_eta,
               gd_final_loss_ratio=float(gd.losses[-1] / gd.losses[0]), gd_diverged=gd.diverged)
    if curves:
        ode_gf = _kernel_losses(lam, c0, gd.loss_times, lambda l, t, c: c * np.exp(-max(l, 0.0) * t))
        rec["curves"] = {"heavy_ball": _curve(hb, ode_hb, curves), "nesterov": _curve(nag, ode_nag, curves),
                         "gd": _curve(gd, ode_gf, curves), "lambda": lam.tolist(),
                         "loss0": float(0.5 * e0 @ e0)}
    rec["seconds"] = time.perf_counter() - t0
    return rec


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def _f(x: Any, fmt: str) -> str:
    """``format(x, fmt)``, or a dash padded to the field width for a missing value."""
    if x is not None:
        return format(x, fmt)
    width = "".join(ch for ch in fmt.split(".")[0] if ch.isdigit())
    return "-".rjust(int(width) if width else 1) if not fmt.startswith("<") else "-".ljust(int(width or 1))


def format_experiment(result: dict) -> str:
    """A plain-text table of :func:`momentum_experiment`'s result (one row per trained width/seed, then
    the per-width summary)."""
    s = result["settings"]
    data = result["data"]
    head = (f"{'m':>6} {'seed':>4} {'lam0(H0)':>8} {'HB slope':>8} {'-2rho(b)':>8} {'dev':>7} {'dev(disc)':>9} "
            f"{'-2rho(lamT)':>11} | {'NAG loglog':>10} {'kernel':>6} {'ODE':>5} {'-r':>3} "
            f"{'NAG dlogL/dt early/late':>23} {'HB late':>7} | {'GD slope':>8} {'-2lam0':>7} {'sec':>5}")
    lines = [
        (f"Momentum in the NTK regime: n={s['n']} points on S^{s['d'] - 1} (labels +-1), data seed {s['seed']}; "
         f"lambda0(H^inf) = {data['lambda0_inf']:.4f}, lambda_max(H^inf) = {data['lambda_max_inf']:.3f}"),
        (f"HB: b = {s['b']:.4f} = {s['kappa']} x 2 sqrt(lambda0(H^inf)), eta = {s['eta']:g}, beta = {s['beta']:.4f}, "
         f"t = k sqrt(eta) to {s['t_end']:g} ({s['steps']} steps); NAG: r = {s['r']:g}, eta = {s['nag_eta']:g} "
         f"({s['nag_steps']} steps); GD: eta = {s['gd_eta']:.4f}, t = k eta ({s['gd_steps']} steps)."),
        (f"Linear rates fitted where L/L0 in [{s['loss_window'][0]:g}, {s['loss_window'][1]:g}]; NAG log-log on "
         f"[T/4, T], per-unit-time slopes on [T/8, T/4] and [3T/4, T] (envelopes)."),
        "",
        head,
    ]
    for w in result["widths"]:
        lines.append(
            f"{w['m']:>6} {w['model_seed']:>4} {w['lambda0_init']:>8.4f} {_f(w['hb_slope'], '8.4f')} "
            f"{w['hb_predicted_slope']:>8.4f} {_f(w['hb_deviation'], '+7.1%')} {_f(w['hb_deviation_discrete'], '+9.1%')} "
            f"{-2 * w['hb_rho_final']:>11.4f} | {_f(w['nag_loglog_slope'], '10.2f')} "
            f"{_f(w['nag_loglog_kernel_discrete'], '6.2f')} {_f(w['nag_loglog_ode'], '5.2f')} {w['nag_predicted_loglog']:>3.0f} "
            f"{_f(w['nag_time_slope_early'], '11.4f')}/{_f(w['nag_time_slope_late'], '<11.4f')} "
            f"{_f(w['hb_time_slope_late'], '7.4f')} | "
            f"{_f(w['gd_slope'], '8.4f')} {w['gd_predicted_slope']:>7.4f} {w['seconds']:>5.1f}")
    lines += ["", "per width: " + "; ".join(
        f"m={x['m']}: mean |dev| {_f(x['hb_abs_deviation_mean'], '.1%')} (max {_f(x['hb_abs_deviation_max'], '.1%')}, "
        f"{x['fitted']}/{x['runs']} fitted)" for x in result["summary"])]
    lines += [
        ("dev = HB slope/(-2 rho(b)) - 1, rho from the measured lambda0(H(W0)); dev(disc): against the exact "
         "discrete-HB rate; -2rho(lamT): rho at lambda_min(H) after HB training (the Gram drift). NAG 'kernel': "
         "discrete NAG on the fixed-H(W0) model; 'ODE': the Bessel solution."),
        f"total {result['seconds']:.1f} s",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m proofs_check.reports.momentum [--quick] [--seed S] [--widths 500,1000] [--json FILE]``:
    run :func:`momentum_experiment`, print the table, optionally write the JSON record (whole file:
    a temporary file, then a rename)."""
    import argparse
    import json
    import os
    import sys
    import tempfile

    ap = argparse.ArgumentParser(prog="python -m proofs_check.reports.momentum", description=main.__doc__)
    ap.add_argument("--quick", action="store_true", help="the small test configuration")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", type=str, default=None, help="comma-separated widths (default 500,1000,2000,5000)")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", type=str, default=None, help="write the result record here")
    args = ap.parse_args(argv)
    kw: dict[str, Any] = {"seed": args.seed, "n": args.n, "repeats": args.repeats, "quick": args.quick,
                          "progress": lambda msg: print(msg, file=sys.stderr, flush=True)}
    if args.widths:
        try:
            kw["widths"] = tuple(int(w) for w in args.widths.split(","))
        except ValueError:
            print(f"--widths must be comma-separated integers, got {args.widths!r}", file=sys.stderr)
            return 2
    try:
        res = momentum_experiment(**kw)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_experiment(res))
    if args.json:
        d = os.path.dirname(os.path.abspath(args.json))
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(res, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
