"""``gfgd track``: GD at a given η beside the ground-truth GF on a user's net, with the curvature along both.

It answers "where does my GD stop being a discretisation of gradient flow?" (issue 12 item 6):

* along GD, at the kept iterates, λ_min and λ_max of ∇²f (:func:`numerics.curvature_along`, matrix-free
  Lanczos with residual bounds) and η·λ_max: where η·λ_max > 1 the hypothesis of THEORY A1/A2 fails
  (their contraction ‖I − ηH‖ ≤ 1 − ηλ_min needs it); where η·λ_max > 2 GD is unstable in the top
  direction (the edge of stability, EC21 §3; Cohen et al. 2021);
* the ground-truth GF from the same θ₀ (:func:`numerics.gradient_flow`: the float64 Taylor tier, with exact
  kink events on (leaky) ReLU nets, its error estimate a 2-norm bound; where it refuses, the arb tier at
  ``--dps`` digits, the JSON's ``gf_tier`` saying why; ``--tier arb`` the arb tier alone. Until 2026-12-05
  nets without kinks used DOP853, whose error estimate is not a bound), λ_min along it and
  I₋(t) = ∫ max(0, −λ_min);
* the distance ‖θ_GD(t) − θ_GF(t)‖ at t = kη. "GD leaves the flow" is flagged at the first kept time
  where η·λ_max > 2 and the distance grows to the next kept time (a catapult or edge-of-stability
  oscillation); without such a time none is claimed.

The net: gfgd's own (``objective``, ``theta0``), or a torch ``nn.Sequential`` (``model``; converted by
:func:`proofs_check.validation.torch_adapter.from_torch_sequential`, weights copied exactly) with
``data`` a :class:`theory.data.Dataset` or a ``.npz`` path (:func:`theory.data.load_npz`). Writes
``track.png``/``track.svg`` (three panels) and ``track.json`` (every plotted number).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import figures
from ..files import write_json
from .ec21 import _blas_one, _has_kinks


def _ground_truth(obj, th0, t_end, tier, dps, kinks, P, tick, say):
    """(trajectory, its tier's description — with why the float tier refused, if it did —, its error bound on
    the 2-norm)."""
    import numerics

    traj = refused = None
    if tier == "float":
        from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError

        try:  # its estimate bounds the Euclidean norm over all parameters (docs/theory.md F)
            traj = numerics.gradient_flow(obj, th0, t_end, dps=None, progress=tick)
            gf_tier = ("gradient_flow (float64 Taylor tier" + (" with kink events" if kinks else "")
                       + "; error estimate a 2-norm bound: "
                       + ("growth from THEORY B1" if traj.growth_rate == "b1" else "measured growth")
                       + (" and saltation factors)" if kinks else ")"))
            err = float(traj.error_estimate)
        except (UnsupportedKinkError, NonUniqueFlowError, FloatingPointError) as e:
            refused = f"{type(e).__name__}: {e}"
            say(f"track: the float tier refused ({refused}); the arb tier at {dps} digits instead")
    if traj is None:
        traj = numerics.gradient_flow(obj, th0, t_end, dps=dps, progress=tick)
        gf_tier = f"gradient_flow (arb Taylor{' with kink events' if kinks else ''}, dps {dps})" + (
            f"; the float tier was asked for and refused: {refused}" if refused else "")
        err = math.sqrt(P) * float(traj.error_estimate)  # max-norm → 2-norm
    return traj, gf_tier, err


def _objective(objective, theta0, model, data, loss):
    if objective is not None:
        if theta0 is None:
            raise ValueError("theta0: give the initial parameters with objective")
        return objective, [np.asarray(w, dtype=float) for w in theta0], {"source": "objective"}
    if model is None:
        raise ValueError("give objective and theta0, or a torch model with data")
    from .jobs import user_objective

    return user_objective(model, data, loss)


def run(out_dir: str, eta: float, steps: int, objective: Any = None, theta0: Sequence[Any] | None = None,
        model: Any = None, data: Any = None, loss: str = "cross_entropy", points: int = 33, dps: int = 16,
        seed: int = 0, progress: Callable[[str], None] | None = None, provenance: dict | None = None,
        tier: str = "float") -> dict:
    """Run GD at ``eta`` for ``steps`` beside the GF (module docstring); write the figure and JSON.
    ``tier``: ``"float"`` (the float64 Taylor tier, falling back to the arb tier at ``dps`` digits where it
    refuses; the JSON says why) or ``"arb"``."""
    import numerics

    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(points, bool) or int(points) != points or points < 3:
        raise ValueError(f"points must be an integer >= 3, got {points!r}")
    if tier not in ("float", "arb"):
        raise ValueError(f"tier must be 'float' or 'arb', got {tier!r}")
    steps = int(steps)
    say = progress or (lambda m: None)
    t0 = time.perf_counter()
    obj, th0, prov = _objective(objective, theta0, model, data, loss)
    stride = max(1, steps // (points - 1))
    steps = stride * (steps // stride)  # every kept iterate on the stride (Iterates need even spacing)
    t_end = steps * eta
    os.makedirs(out_dir, exist_ok=True)
    with _blas_one():
        say(f"track: GD at η = {eta:g} for {steps} steps (t_end = {t_end:.4g})")
        gd = numerics.gradient_descent(obj, th0, eta, steps, keep=stride)
        if gd.diverged:
            say(f"track: GD diverged: {gd.message}")
        say("track: ground-truth GF")
        P = sum(np.size(w) for w in th0)
        kinks = _has_kinks(obj)
        from .. import progress as pg

        bar, tick = pg.time_bar(t_end, "track GF") if progress is not None else (contextlib.nullcontext(), None)
        with bar:
            traj, gf_tier, err = _ground_truth(obj, th0, t_end, tier, dps, kinks, P, tick, say)
        say("track: curvature along GD and GF")
        along_gd = numerics.curvature_along(obj, gd, eta=eta, seed=seed)
        times = [k * eta for k in gd.kept]
        along_gf = numerics.curvature_along(obj, _FloatPath(traj, t_end), times, seed=seed)
        dist = [float(d) for d in numerics.gf_gd_distance(traj, gd)]
        gf_loss = [float(numerics.value(obj, _floats(traj.at(_time(traj, t))))) for t in times]
    gd_loss = [float(gd.losses[k]) for k in gd.kept]
    el = along_gd.eta_lambda_max
    a1_fail = [t for t, v in zip(times, el) if v > 1]
    edge = [t for t, v in zip(times, el) if v > 2]
    leaves = next((times[i] for i in range(len(times) - 1) if el[i] > 2 and dist[i + 1] > dist[i]), None)
    out = {"experiment": "track", "eta": eta, "steps": steps, "t_end": t_end, "stride": stride,
           "parameters": int(P), "data": prov, "provenance": provenance or {}, "gf_tier": gf_tier,
           "gf_error_estimate": err, "gd_diverged": bool(gd.diverged), "t": times, "gd_loss": gd_loss,
           "gf_loss": gf_loss, "distance": dist,
           "gd_lambda_min": along_gd.lambda_min.tolist(), "gd_lambda_max": along_gd.lambda_max.tolist(),
           "gd_lambda_max_error": along_gd.lambda_max_error.tolist(), "eta_lambda_max": el.tolist(),
           "gf_lambda_min": along_gf.lambda_min.tolist(), "gf_negativity": along_gf.negativity.tolist(),
           "gf_negativity_error": along_gf.negativity_error.tolist(),
           "a1_hypothesis_fails_at": a1_fail, "edge_of_stability_at": edge, "leaves_flow_at": leaves}
    out["figures"] = {"track": _draw(out, out_dir)}
    out["seconds"] = time.perf_counter() - t0
    write_json(os.path.join(out_dir, "track.json"), out, "--out")
    return out


def _time(traj, t):
    from fractions import Fraction
    if isinstance(getattr(traj, "t_end", None), Fraction):
        return min(Fraction(t), traj.t_end)
    return min(float(t), float(traj.t_end))


def _floats(theta):
    from theory import to_kind
    return [to_kind(w, "float") for w in theta]


class _FloatPath:
    """A trajectory whose ``at`` takes float times (clamped to t_end), for curvature_along."""

    def __init__(self, traj, t_end):
        self.traj, self.t_end = traj, t_end

    def at(self, t):
        return _floats(self.traj.at(_time(self.traj, t)))


def report_lines(out: dict) -> list[str]:
    """The printed table: one line per kept time, flags where A1/A2's hypothesis fails or GD is unstable."""
    lines = [f"GD eta = {out['eta']:g}, {out['steps']} steps; GF: {out['gf_tier']}, error <= {out['gf_error_estimate']:.2e}",
             f"{'t':>9} {'loss GD':>10} {'loss GF':>10} {'|GD-GF|':>10} {'lmin(GD)':>10} {'eta*lmax':>9}  flags"]
    for i, t in enumerate(out["t"]):
        v = out["eta_lambda_max"][i]
        flags = ("EDGE (eta*lmax > 2)" if v > 2 else "A1/A2 hypothesis fails (eta*lmax > 1)" if v > 1 else "")
        if out["leaves_flow_at"] is not None and t == out["leaves_flow_at"]:
            flags += "  <- GD leaves the flow"
        lines.append(f"{t:9.4g} {out['gd_loss'][i]:10.4g} {out['gf_loss'][i]:10.4g} {out['distance'][i]:10.3e} "
                     f"{out['gd_lambda_min'][i]:10.4g} {v:9.3g}  {flags}")
    return lines


def _draw(out: dict, out_dir: str) -> dict:
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    reg: list = []
    t = np.array(out["t"])
    figures.curve(axes[0], t, out["gf_loss"], "GF loss", reg, label="GF", color="k", lw=2)
    figures.curve(axes[0], t, out["gd_loss"], "GD loss", reg, label=f"GD η = {out['eta']:g}", ls="--")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss")
    figures.curve(axes[1], t[1:], out["distance"][1:], "GD-GF distance", reg, label="‖θ_GD(t) − θ_GF(t)‖", marker="o", ms=3)
    axes[1].axhline(out["gf_error_estimate"], color="k", ls="-.", lw=0.8, label="GF error estimate")
    axes[1].set_yscale("log")
    figures.curve(axes[2], t, out["eta_lambda_max"], "eta lambda_max along GD", reg, label="η·λ_max(∇²f(θ_k))",
                  marker="o", ms=3)
    axes[2].axhline(1, color="g", ls="--", lw=0.8, label="A1/A2 hypothesis: 1")
    axes[2].axhline(2, color="r", ls="--", lw=0.8, label="stability edge: 2")
    for ts in out["edge_of_stability_at"]:
        axes[2].axvline(ts, color="r", alpha=0.15)
    if out["leaves_flow_at"] is not None:
        for ax in axes[1:]:
            ax.axvline(out["leaves_flow_at"], color="r", lw=1.2)
        axes[1].text(out["leaves_flow_at"], out["distance"][-1], " GD leaves the flow", color="r", fontsize=8)
    for ax in axes:
        ax.set_xlabel("t = kη")
        ax.legend(fontsize=7)
    fig.suptitle(f"gfgd track: GD at η = {out['eta']:g} beside gradient flow ({out['parameters']} parameters)",
                 fontsize=11)
    paths = figures.save(fig, out_dir, "track")
    return {"files": [os.path.basename(p) for p in paths], "curves": len(reg), "registry": reg}


def _load_model(ref: str):
    """``file.py:function`` → the nn.Sequential that function returns (:func:`.jobs.load_model`)."""
    from .jobs import load_model

    return load_model(ref)


def main(argv: Sequence[str] | None = None, argv_for_provenance: Sequence[str] | None = None) -> int:
    """``python -m proofs_check.reports.track --out DIR --eta ETA --steps K (--model F.py:fn --data D.npz |
    --net linear|relu --widths 64,50,50,10 [--n 500])``."""
    import argparse

    from .. import argtypes as at
    from ..files import OutputError, check_output_dir
    from ..provenance import provenance

    ap = argparse.ArgumentParser(prog="gfgd track", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--eta", type=at.real(0, lo_strict=True), required=True)
    ap.add_argument("--steps", type=at.positive_int, required=True)
    ap.add_argument("--model", help="FILE.py:FUNCTION returning a torch nn.Sequential")
    ap.add_argument("--data", help=".npz with X and labels (or Y); default: sklearn digits")
    ap.add_argument("--net", choices=("linear", "relu"), default="linear")
    ap.add_argument("--widths", type=at.integers(1, 2), default=(64, 50, 50, 10))
    ap.add_argument("--n", type=at.positive_int, default=500)
    ap.add_argument("--loss", choices=("cross_entropy", "square"), default="cross_entropy")
    ap.add_argument("--points", type=at.positive_int, default=33)
    ap.add_argument("--tier", choices=("float", "arb"), default="float",
                    help="ground truth of a net with kinks: the float64 Taylor tier (default; the arb tier where it "
                         "refuses) or the arb tier at --dps digits")
    ap.add_argument("--dps", type=at.dps, default=16)
    ap.add_argument("--seed", type=at.seed, default=0)
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # usage errors exit 2 (message printed), --help 0
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    try:
        args.out = check_output_dir(args.out, "--out")
    except OutputError as e:
        print(f"gfgd track: {e}", file=sys.stderr)
        return 2
    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    prov = provenance(argv_for_provenance if argv_for_provenance is not None else ["track", *(argv or [])], {"seed": args.seed})
    if args.model:
        if not args.data:
            ap.error("--model needs --data FILE.npz")
        from .jobs import UserInputError

        try:
            model = _load_model(args.model)
        except UserInputError as e:
            print(f"gfgd track: {e}", file=sys.stderr)
            return 2
        try:
            res = run(args.out, args.eta, args.steps, model=model, data=args.data, loss=args.loss,
                      points=args.points, dps=args.dps, seed=args.seed, progress=say, provenance=prov,
                      tier=args.tier)
        except UserInputError as e:
            print(f"gfgd track: {e}", file=sys.stderr)
            return 2
    else:
        import numerics
        import theory
        from theory import data as tdata

        try:  # a data file, widths or loss that do not fit: the user's mistake (exit 2, one line)
            ds = tdata.load_npz(args.data) if args.data else tdata.digits(args.n, seed=args.seed)
            model = theory.DeepLinear(args.widths) if args.net == "linear" else theory.ReLUNet(args.widths)
            obj = theory.Objective(model, ds.loss(args.loss))
        except (ValueError, TypeError) as e:
            print(f"gfgd track: {e}", file=sys.stderr)
            return 2
        res = run(args.out, args.eta, args.steps, objective=obj, theta0=numerics.xavier_init(obj, seed=args.seed),
                  loss=args.loss, points=args.points, dps=args.dps, seed=args.seed, progress=say, provenance=prov,
                  tier=args.tier)
    print("\n".join(report_lines(res)))
    print(f"wrote {', '.join(res['figures']['track']['files'])} and track.json to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
