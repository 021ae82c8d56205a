"""The ``gfgd flow`` verb: a net, its loss and θ₀ from the flags; the ground-truth gradient flow on either
Taylor tier; the JSON record.

Nets (``--net``): deep linear (``linear``) or (leaky) ReLU (``relu``, slope ``--alpha`` on the negative
side), with or without biases (``--bias``). Losses (``--data``):

* ``whitened`` (deep linear nets without biases, the default there): ½‖W_N⋯W_1 − Φ‖², Φ from ``--phi`` or a
  seeded random unit-norm matrix (``--phi-seed``);
* ``digits``: scikit-learn's shipped digits (``theory.data.digits``: ``--n`` images, stratified, seed
  ``--data-seed``, pixels/16), the default for ReLU nets and nets with biases;
* a ``.npz`` file (``theory.data.load_npz``: ``X`` and ``labels`` or ``Y``),

with ``--loss square`` ((1/n)Σ½‖h(x_i) − y_i‖², one-hot targets for labels) or ``--loss cross_entropy``.

Tiers (``--tier``): ``arb`` (:func:`numerics.gradient_flow` at ``--dps`` digits: exact kink events, an
error estimate per trajectory — for nets with kinks or biases from an independent rerun at dps + 10) or
``float`` (``dps=None``, the float64 Taylor tier of :mod:`numerics.float_taylor`: research sizes, the same
events, and an error bound on the Euclidean norm over all parameters, docs/theory.md F; ``--rtol`` its step
target). Both are one call, ``numerics.gradient_flow(obj, θ₀, T, dps=…)``; the JSON says which ran and what
its estimate bounds.

Numbers in the record are strings: decimals with dps + 10 significant digits on the arb tier (about its
working precision; ``error_estimate`` takes in their rounding, ``write_rounding``, so it bounds the numbers
as written), Python's shortest round-trip ``repr`` of the float64 on the float tier (read them back with
``float()``: exactly the computed floats, which the estimate bounds).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

# what each tier's ``error_estimate`` stands for (docs/theory.md E3, F)
ESTIMATE_MEANING = {
    ("arb", False): "estimated bound on the error of every coordinate over the run (Taylor tail and rounding, "
                    "propagated with the growth measured along it; docs/theory.md F)",
    ("arb", True): "bound on the error of every coordinate over the run from an independent rerun at dps + 10 "
                   "(docs/theory.md E3)",
    ("float", False): "bound on the Euclidean norm of the error over all parameters, over the run (local errors "
                      "propagated with the measured growth; docs/theory.md F); it bounds every coordinate too",
    ("float", True): "bound on the Euclidean norm of the error over all parameters, over the run (local errors "
                     "propagated with the measured growth and the kinks' saltation factors; docs/theory.md F); "
                     "it bounds every coordinate too",
}


DEFAULT_SCALE = 0.1  # --scale's default (gaussian and balanced inits)
DEFAULT_DIGITS = 100  # --n's default (--data digits)
# the arb tier writes dps + WRITE_GUARD significant digits: about its working precision (dps·log2(10) + 32
# guard bits, numerics.flows), so the numbers' own rounding is ~10^-10 of the digits asked
WRITE_GUARD = 10


class FlowRefused(ArithmeticError):
    """The tier cannot continue the flow with the accuracy it stands behind (a kink it cannot decide, a
    repelling kink): exit 3 with the tier's reason."""


class SpecError(ValueError):
    """A flag combination that does not describe a problem (exit 2, one line)."""


def problem(args: argparse.Namespace) -> tuple[Any, list[np.ndarray], dict, dict]:
    """(objective, θ₀, the spec's record, the seeds) from the flags; :class:`SpecError` (or ValueError from
    the library's own checks) on a combination that does not describe a problem."""
    import numerics
    import theory

    widths = tuple(args.widths)
    relu = args.net == "relu"
    data = args.data or ("digits" if relu or args.bias else "whitened")
    if args.alpha is not None and not relu:
        raise SpecError("--alpha is the negative-side slope of a ReLU net: use it with --net relu")
    alpha = 0.0 if args.alpha is None else args.alpha
    seeds: dict[str, int] = {"seed": args.seed}
    spec: dict[str, Any] = {"net": args.net, "widths": list(widths), "bias": bool(args.bias)}
    if relu:
        spec["alpha"] = repr(float(alpha))
    model = theory.ReLUNet(widths, alpha=alpha, bias=args.bias) if relu else theory.DeepLinear(widths, bias=args.bias)
    if data == "whitened":
        if args.n is not None or args.data_seed is not None:
            raise SpecError("--n and --data-seed choose the digits images: they apply with --data digits only")
        if relu or args.bias:
            raise SpecError("--data whitened is the loss of a deep linear net's end-to-end matrix W_N⋯W_1: "
                            "ReLU nets and nets with --bias need data (--data digits or FILE.npz)")
        if args.loss not in (None, "square"):
            raise SpecError("--loss cross_entropy needs data with labels (--data digits or FILE.npz)")
        if args.phi is not None and len(args.phi) != widths[-1] * widths[0]:
            raise SpecError(f"--phi needs d_N*d_0 = {widths[-1]}*{widths[0]} = {widths[-1] * widths[0]} numbers "
                            f"(row-major), got {len(args.phi)}")
        if args.phi is not None:
            Phi = np.array(args.phi, dtype=float).reshape(widths[-1], widths[0])
        else:
            rng = np.random.default_rng(args.phi_seed)
            Phi = rng.standard_normal((widths[-1], widths[0]))
            Phi /= np.linalg.norm(Phi)
            seeds["phi_seed"] = args.phi_seed
        loss = theory.WhitenedSquare(Phi)
        spec.update(loss="WhitenedSquare", data={"source": "whitened", **({} if args.phi is not None else
                                                                       {"phi_seed": args.phi_seed})},
                    Phi=[[repr(float(x)) for x in row] for row in Phi])
    else:
        if args.phi is not None:
            raise SpecError("--phi sets the whitened loss's target: it does not apply with --data digits or a file")
        if data == "digits":
            n = DEFAULT_DIGITS if args.n is None else args.n
            data_seed = 0 if args.data_seed is None else args.data_seed
            ds = theory.data.digits(n, seed=data_seed, normalize="scale")
            seeds["data_seed"] = data_seed
        else:
            if args.n is not None or args.data_seed is not None:
                raise SpecError("--n and --data-seed choose the digits images: they apply with --data digits only")
            try:
                ds = theory.data.load_npz(data)
            except ValueError as e:
                raise SpecError(f"--data: {e}") from None
        kind = args.loss or "square"
        if ds.labels is not None and widths[-1] < ds.num_classes:
            raise SpecError(f"the data has labels 0..{ds.num_classes - 1}: the net needs d_N >= {ds.num_classes} "
                            f"outputs (--widths ends in {widths[-1]})")
        loss = ds.loss(kind, num_classes=widths[-1] if ds.labels is not None else None)
        spec.update(loss=type(loss).__name__, data=ds.provenance)
    obj = theory.Objective(model, loss)
    scale = DEFAULT_SCALE if args.scale is None else args.scale
    if args.init == "balanced":
        if relu or args.bias:
            raise SpecError("--init balanced (D_j = 0) is for deep linear nets without biases")
        theta0 = numerics.balanced_init(obj, scale, seed=args.seed)
    elif args.init == "xavier":
        if args.scale is not None:
            raise SpecError("--scale does not apply to --init xavier (its variance is 2/(fan_in + fan_out))")
        theta0 = numerics.xavier_init(obj, seed=args.seed)
    else:
        theta0 = numerics.gaussian_init(obj, scale, seed=args.seed)
    spec["init"] = {"kind": args.init, "seed": args.seed, **({} if args.init == "xavier" else {"scale": scale})}
    return obj, theta0, spec, seeds


def integrate(obj: Any, theta0: list[np.ndarray], t_end: float, dps: int | None, rtol: float | None,
              progress: Any, propagation: str | None = None) -> Any:
    """``numerics.gradient_flow`` on the chosen tier; a tier's refusal becomes :class:`FlowRefused`."""
    import numerics
    from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError

    try:
        return numerics.gradient_flow(obj, theta0, t_end, dps=dps, rtol=rtol, progress=progress, propagation=propagation)
    except (UnsupportedKinkError, NonUniqueFlowError) as e:
        tier = "float64 tier" if dps is None else f"arb tier at {dps} digits"
        hint = "" if dps is None else "; a higher --dps may resolve it" if isinstance(e, UnsupportedKinkError) else ""
        raise FlowRefused(f"the {tier} refused to continue ({type(e).__name__}): {e}{hint}") from None


def record(obj: Any, theta0: list[np.ndarray], traj: Any, spec: dict, times: list[float], dps: int | None,
           progress_bar: Any = None) -> dict:
    """The JSON record of a run (docs/cli.md, "Ground-truth flows to JSON"): θ and the loss at ``times``,
    the events, the error estimate (with the written numbers' rounding) and what it bounds."""
    import mpmath

    import numerics

    tier = "float" if dps is None else "arb"
    # the arb tier takes nets with kinks or biases through its kink integrator (estimate by rerun); the float
    # tier's bound has saltation factors where there are kinks
    kinks = spec["net"] == "relu" or (tier == "arb" and spec["bias"])
    digits = None if dps is None else dps + WRITE_GUARD
    largest = 0.0
    with mpmath.workdps((digits or 17) + 10):
        if digits is None:
            def num(x: Any) -> str:
                return repr(float(x))
        else:
            def num(x: Any) -> str:
                return mpmath.nstr(mpmath.mpf(x), digits, min_fixed=-4, max_fixed=6)

        def block(W: Any) -> Any:
            return nested(W, num)

        states, losses = [], []
        for t in times:
            st = traj.at(t)
            losses.append(num(numerics.value(obj, st)))
            states.append([block(W) for W in st])
            largest = max([largest] + [float(abs(x)) for W in st for x in np.ravel(W)])
            if progress_bar is not None:
                progress_bar.update(1)
    # The written numbers: on the float tier repr() round-trips to the computed float exactly (read them
    # with float()); on the arb tier a decimal of `digits` significant digits is within ½·10^(1−digits)·|x|
    # of the computed value (10^E ≤ |x| < 10^(E+1), half a unit in the last place), which the recorded
    # estimate takes in, so it bounds the numbers in the file
    written = 0.0 if digits is None else 0.5 * 10.0 ** (1 - digits) * largest
    estimate = (float(traj.error_estimate) + written) * (1 + 2.0 ** -52)  # (the float sum's own rounding)
    at_times = [(b + written) * (1 + 2.0 ** -52) for b in step_bounds(traj, times)]
    events = [{"t": repr(float(e.t)), "kind": e.kind, "layer": e.layer, "unit": e.unit, "sample": e.sample}
              for e in (getattr(traj, "events", None) or [])]
    rec = {
        "version": 2,
        "kind": "gfgd.flow",
        "model": type(obj.model).__name__,
        **spec,
        "theta0": [block_repr(W) for W in theta0],
        "tier": tier,
        "dps": dps,
        "rtol": None if dps is not None else repr(float(traj.rtol)),
        "t_end": repr(float(traj.t_end)),
        "steps": len(traj.steps),
        "order": traj.order,
        "events": events,
        "digits": digits,
        "error_estimate": _up(estimate),
        "error_estimates": [_up(b) for b in at_times],
        "write_rounding": _up(written),
        "error_estimate_bounds": ESTIMATE_MEANING[(tier, kinks)].replace(
            "the measured growth", "the growth rate of THEORY B1")
        if getattr(traj, "growth_rate", "measured") == "b1" else ESTIMATE_MEANING[(tier, kinks)],
        "conservation_defect_max": f"{max(traj.conservation_defects, default=0.0):.3e}",
        "seconds": round(traj.seconds, 4),
        "times": [repr(float(t)) for t in times],
        "losses": losses,
        "states": states,
    }
    if tier == "float":
        rec["growth_integral"] = f"{traj.growth_integral:.4g}"
    if kinks:  # mode searches whose uniqueness was not tried (docs/theory.md E1, *Two ways to continue*)
        rec["modes_unverified"] = int(getattr(traj, "modes_unverified", 0))
    return rec


def step_bounds(traj: Any, times: list[float]) -> list[float]:
    """The trajectory's error bound at each of ``times``: the largest recorded bound of the steps whose span
    [t_i, t_i + h_i] holds t (a step's entry bounds its whole span, dense output included; docs/theory.md F,
    "What each step records"), the spans widened by 2⁻⁴⁰ relative so a time on a boundary (read from exact
    fractions on the arb tier, a float rounding away) takes both neighbours — the widening only ever takes in
    more steps, so it only raises a bar. ≤ ``traj.error_estimate``, the largest of them all."""
    starts = [float(a) for a in traj.starts]
    ends = [float(a + h) for a, h in zip(traj.starts, traj.steps)]
    errs = [float(e) for e in traj.errors]
    out = []
    for t in times:
        pad = 2.0 ** -40 * max(1.0, abs(t))
        near = [e for a, b, e in zip(starts, ends, errs) if a - pad <= t <= b + pad]
        out.append(max(near) if near else float(traj.error_estimate))
    return out


def _up(x: float) -> str:
    """x with 4 significant digits, rounded upwards (a bound stays a bound when it is printed)."""
    if not math.isfinite(x):
        return "inf"
    if x == 0:
        return "0"
    s = f"{x:.3e}"
    if float(s) < x:
        m, e = s.split("e")
        s = f"{float(m) + 0.001:.3f}e{e}"
    return s


def nested(W: Any, fmt: Any) -> Any:
    """A 1-D or 2-D array (a weight matrix or a bias) as nested lists of ``fmt(entry)`` strings."""
    W = np.asarray(W)
    return [fmt(x) for x in W] if W.ndim == 1 else [[fmt(x) for x in row] for row in W]


def block_repr(W: Any) -> Any:
    """A float64 array as nested lists of round-trip decimal strings (θ₀ is float64 on both tiers)."""
    return nested(np.asarray(W, dtype=float), lambda x: repr(float(x)))


__all__ = ["ESTIMATE_MEANING", "FlowRefused", "SpecError", "block_repr", "integrate", "nested", "problem", "record",
           "step_bounds"]
