"""``gfgd report bxc21``: momentum in the NTK regime on real data, with the ODE predictions drawn.

Bu, Xu & Chen (2021) model GD, heavy ball (HB) and Nesterov (NAG) on a wide two-layer ReLU net
f(x) = m^{−1/2}Σ_r a_r relu(w_rᵀx) (only W trained, square loss) by ODEs for the error e = u − y
(docs/theory.md D2–D4): GF e' = −He, HB e'' + b e' + He = 0, NAG e'' + (r/t)e' + He = 0. This report
trains such nets on sklearn's digits (shipped with scikit-learn, no download) and draws:

* ``bxc21_losses`` — three panels (GD, HB, NAG), loss against the iteration k, for the widest net:
  the trained network; the kernel ODE solved in closed form on H(W(0)) (the measured Gram at
  initialisation; per eigen-mode: GF e^{−λt}, HB's damped modes, NAG's Bessel modes); and the
  theorem's bound on the ODE — GF ½‖e‖² ≤ e^{−2λ₀t}L₀, HB ½‖e‖² ≤ (1 + bt/2)²e^{−2ρ(b)t}L₀ (D3),
  NAG ½‖e‖² ≤ 4c²L₀/(λ₀^{3/2}t³) (D4) — with the time maps t = kη (GD) and t = k√η (HB, NAG).
* ``bxc21_widths`` — the width sweep: |fitted rate / predicted rate − 1| against m for GD (slope of
  log L vs −2λ₀), HB (vs −2ρ(b)) and NAG (log-log slope vs −r); one marker per trained net, a line
  through the means. The finite-width theory predicts the deviation shrinks as m grows.

Data: n digits drawn without replacement (seeded; indices recorded), features centred by the mean
image of all 1,797 digits and scaled to unit norm (the ODEs assume ‖x_i‖ = 1; centring spreads the
nonnegative pixel vectors over the sphere: λ₀(H^∞) ≈ 0.09 at n = 50 instead of 0.04), labels
y = +1 for digits 5–9 and −1 for 0–4. The fitted rates and their windows are those of
:mod:`proofs_check.reports.momentum`. Each (width, model seed) is one seeded job, so a Dask cluster
(``scheduler``) gives the same records as the serial run.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Callable, Sequence

import numpy as np

from theory import momentum as mo

from ..files import write_json
from . import figures
from .jobs import UserInputError, dask_map  # noqa: F401 - dask_map: the reports' shared Dask map
from .momentum import momentum_experiment

DEFAULT = dict(widths=(500, 1000, 2000, 5000), n=50, repeats=2, t_end=120.0)
QUICK = dict(widths=(250, 1000), n=20, repeats=2, t_end=60.0)
CURVE_POINTS = 300


def digits_unit_features(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """n digits (seeded draw without replacement, :func:`theory.data.digits`), centred by the mean
    of all 1,797 digits, unit norm; labels ±1 (digits ≥ 5 are +1). Returns (X, y, indices)."""
    from theory import data

    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 1797:
        raise ValueError(f"n must be an integer in [2, 1797], got {n!r}")
    everything = data.digits(n=None, normalize="none")
    sub = data.digits(n=n, seed=seed, normalize="none", stratified=False)
    Z = sub.X - everything.X.mean(axis=0)
    norms = np.linalg.norm(Z, axis=1)
    if np.any(norms == 0):
        raise ValueError("a drawn digit equals the mean image; draw another subset (seed)")
    return Z / norms[:, None], np.where(sub.labels >= 5, 1.0, -1.0), sub.provenance["indices"]


def run(out_dir: str, quick: bool = False, seed: int = 0, widths: Sequence[int] | None = None,
        n: int | None = None, repeats: int | None = None, map_runs: Callable | None = None,
        progress: Callable[[str], None] | None = None, provenance: dict | None = None) -> dict:
    """Run the experiment, write ``bxc21_losses`` and ``bxc21_widths`` (PNG and SVG) and
    ``bxc21.json`` (every plotted number, settings and provenance) into ``out_dir``; return the record."""
    cfg = dict(QUICK if quick else DEFAULT)
    if widths is not None:
        cfg["widths"] = tuple(widths)
    if n is not None:
        cfg["n"] = n
    if repeats is not None:
        cfg["repeats"] = repeats
    X, y, idx = digits_unit_features(int(cfg["n"]), seed)
    res = momentum_experiment(widths=cfg["widths"], seed=seed, repeats=cfg["repeats"], t_end=cfg["t_end"],
                              data=(X, y), data_label=f"sklearn digits: {len(idx)} images (seed {seed}), centred, "
                                                      "unit norm; labels +1 for 5-9, -1 for 0-4",
                              curves=CURVE_POINTS, map_runs=map_runs, progress=progress)
    res["experiment"] = "bxc21"
    res["data"]["indices"] = idx
    res["provenance"] = provenance or {}
    res["figures"] = {"bxc21_losses": _draw_losses(res, out_dir), "bxc21_widths": _draw_widths(res, out_dir)}
    write_json(os.path.join(out_dir, "bxc21.json"), res, "--out")
    return res


def _bounds(rec: dict, s: dict, method: str, t: np.ndarray) -> np.ndarray:
    """The theorem's bound on the kernel ODE's loss at times t (module docstring), λ₀ = λ_min(H(W(0)))."""
    L0, lam0 = rec["curves"]["loss0"], rec["lambda0_init"]
    if method == "gd":
        return L0 * np.exp(-2 * lam0 * t)
    if method == "heavy_ball":
        rho = float(mo.hb_rate(s["b"], lam0))
        return L0 * (1 + s["b"] * t / 2) ** 2 * np.exp(-2 * rho * t)
    c = float(mo.bessel_sup(1).c)  # D4 is stated for r = 3 (J₁)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 4 * c * c * L0 / (lam0 ** 1.5 * np.maximum(t, 1e-300) ** 3), np.inf)


def _draw_losses(res: dict, out_dir: str) -> dict:
    plt = figures.pyplot()
    s = res["settings"]
    rec = max(res["widths"], key=lambda w: (w["m"], -w["model_seed"]))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = []
    titles = {"gd": f"GD, η = {s['gd_eta']:.3g} (t = kη)", "heavy_ball": f"heavy ball, b = {s['b']:.3g}, "
              f"β = {s['beta']:.3f} (t = k√η)", "nesterov": f"Nesterov, r = {s['r']:g} (t = k√η)"}
    bound_names = {"gd": r"bound $e^{-2\lambda_0 t}L_0$", "heavy_ball": r"bound $(1+bt/2)^2e^{-2\rho t}L_0$",
                   "nesterov": r"bound $4c^2L_0/(\lambda_0^{3/2}t^3)$"}
    for ax, method in zip(axes, ("gd", "heavy_ball", "nesterov")):
        cv = rec["curves"][method]
        k, t = np.asarray(cv["k"]), np.asarray(cv["t"])
        reg: list = []
        figures.curve(ax, k, cv["loss"], f"{method} network (m = {rec['m']})", reg, label="network", lw=1.8)
        figures.curve(ax, k, cv["ode_loss"], f"{method} kernel ODE on H(W0)", reg, label="kernel ODE", ls="--")
        bound = _bounds(rec, s, method, t)
        keep = np.isfinite(bound) & (bound <= 10 * cv["loss"][0])
        figures.curve(ax, k[keep], bound[keep], f"{method} {bound_names[method]}", reg,
                      label=bound_names[method], ls=":", color="k")
        ax.set_yscale("log")
        if method == "nesterov":
            ax.set_xscale("log")
        ax.set_title(titles[method], fontsize=10)
        ax.set_xlabel("iteration k")
        ax.legend(fontsize=8)
        panels.append({"method": method, "curves": reg, "bound": _finite_list(bound[keep]),
                       "k_bound": k[keep].tolist()})
    axes[0].set_ylabel("loss ½‖u − y‖²")
    fig.suptitle(f"BXC21 on digits (n = {s['n']}): network vs kernel ODE vs bound, $\\lambda_0(H(W_0))$ = "
                 f"{rec['lambda0_init']:.4f}", fontsize=11)
    paths = figures.save(fig, out_dir, "bxc21_losses")
    return {"files": [os.path.basename(p) for p in paths], "width": rec["m"], "model_seed": rec["model_seed"],
            "panels": panels, "curves": sum(len(p["curves"]) for p in panels)}


def _draw_widths(res: dict, out_dir: str) -> dict:
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    series = {r"GD: |slope$/(-2\lambda_0) - 1$|": lambda w: w["gd_deviation"],
              r"HB: |slope$/(-2\rho(b)) - 1$|": lambda w: w["hb_deviation"],
              r"NAG: |log-log slope$/(-r) - 1$|": lambda w: (None if w["nag_loglog_slope"] is None
                                                         else w["nag_loglog_slope"] / w["nag_predicted_loglog"] - 1)}
    reg: list = []
    data = {}
    for name, get in series.items():
        ms = [w["m"] for w in res["widths"] if get(w) is not None]
        devs = [abs(get(w)) for w in res["widths"] if get(w) is not None]
        widths = sorted(set(ms))
        means = [float(np.mean([d for m2, d in zip(ms, devs) if m2 == m])) for m in widths]
        line = figures.curve(ax, widths, means, name, reg, marker="o")
        ax.scatter(ms, devs, s=12, color=line.get_color(), alpha=0.6)
        data[name] = {"m": ms, "deviation": devs, "m_mean": widths, "mean": means}
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width m")
    ax.set_ylabel("|fitted rate / theory − 1|")
    ax.set_title("deviation from the kernel theory vs width (markers: runs)", fontsize=10)
    ax.legend(fontsize=8)
    paths = figures.save(fig, out_dir, "bxc21_widths")
    return {"files": [os.path.basename(p) for p in paths], "curves": len(reg), "series": data, "registry": reg}


def _finite_list(a: np.ndarray) -> list:
    return [float(x) if math.isfinite(x) else None for x in a]


def main(argv: Sequence[str] | None = None, argv_for_provenance: Sequence[str] | None = None) -> int:
    """``gfgd report bxc21 --out DIR [--quick] [--seed S] [--widths 500,1000] [--n N] [--repeats R]
    [--scheduler ADDRESS] [--progress]``: run :func:`run` (the folder is checked before the work;
    every file is written whole; the JSON carries provenance)."""
    import argparse

    from .. import argtypes as at
    from .. import progress as pg
    from ..files import OutputError, check_output_dir
    from ..provenance import provenance

    ap = argparse.ArgumentParser(prog="gfgd report bxc21", description=main.__doc__)
    ap.add_argument("--out", required=True, help="folder for the figures and bxc21.json (created if missing)")
    ap.add_argument("--quick", action="store_true", help="the CI-sized configuration (about a minute)")
    ap.add_argument("--seed", type=at.seed, default=0, help="data and model seed (default 0)")
    ap.add_argument("--widths", type=at.integers(1, 1), default=None, help="comma-separated widths")
    ap.add_argument("--n", type=at.positive_int, default=None, help="number of digits (default 50; quick 20)")
    ap.add_argument("--repeats", type=at.positive_int, default=None, help="model seeds per width (default 2)")
    ap.add_argument("--scheduler", type=at.address, default=None, help="run the per-width jobs on this Dask scheduler")
    ap.add_argument("--progress", action="store_true", help="progress bar even off a terminal")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    if args.progress:
        pg.force(True)
    try:
        folder = check_output_dir(args.out, "--out")
    except OutputError as e:
        print(f"gfgd report bxc21: {e}", file=sys.stderr)
        return 2
    cfg = dict(QUICK if args.quick else DEFAULT)
    runs = len(args.widths or cfg["widths"]) * (args.repeats or cfg["repeats"])
    try:
        map_runs = dask_map(args.scheduler) if args.scheduler else None
    except UserInputError as e:
        print(f"gfgd report bxc21: {e}", file=sys.stderr)
        return 2
    prov = provenance(argv_for_provenance if argv_for_provenance is not None else ["report", "bxc21", *(argv or [])],
                      {"seed": args.seed}, quick=args.quick)
    t0 = time.perf_counter()
    with pg.bar(total=runs, desc="bxc21", unit="net") as bar:
        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            bar.update(1)

        try:
            res = run(folder, quick=args.quick, seed=args.seed, widths=args.widths, n=args.n, repeats=args.repeats,
                      map_runs=map_runs, progress=progress, provenance=prov)
        except ValueError as exc:
            print(f"gfgd report bxc21: {exc}", file=sys.stderr)
            return 2
    files = [f for fig in res["figures"].values() for f in fig["files"]] + ["bxc21.json"]
    print(f"wrote {', '.join(files)} to {folder} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
