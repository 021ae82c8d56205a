"""How far the float64 Taylor tier gets on the ec21 report's ReLU row with cross-entropy (issue 12).

The net and data are the report's (``proofs_check.reports.ec21.build``: sklearn digits, stratified
seeded subset of n images, pixels/16, Xavier-uniform init seed 0, bias-free ReLU, softmax
cross-entropy). One thread, ``growth=True`` (the default). Prints, as JSON, the kink events, steps and
wall seconds at the first step end where the loss is ≤ L0/2 and ≤ L0/10, or where it stopped (a budget
or an error).

Kinks met while other entries slide are resolved by the package (consistent active sets, docs/theory.md
E1 and F "Kinks (saltation)"); the former ``--resolve`` measurement device is gone. The run stops at
loss ≤ L0/10, at a wall-clock cap, or at ``--t-end``; only a run that reaches ``--t-end`` returns a
trajectory, so the error estimate is printed for such runs (``estimate``): run again with ``--t-end``
at the time found and ``--no-stop`` (no stop at loss/10) to get it. The loss is sampled every half
second of wall time, so "half" and "tenth" are the first samples at or below L0/2, L0/10.
``salt_log`` is Σ ln ‖S‖₂ over the kinks (the saltation part of the estimate's growth),
``growth_integral`` the ∫ max(0, −λ_min) part.

    python benchmarks/float_ce_relu_row.py N WIDTHS [--t-end T [--no-stop]] [--cap2 S] [--cap10 S]
    e.g. python benchmarks/float_ce_relu_row.py 20 64,50,50,10
"""

from __future__ import annotations

import argparse
import json
import math
import time
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("widths")
    ap.add_argument("--t-end", type=float, default=30.0)
    ap.add_argument("--no-stop", action="store_true", help="run to --t-end (for the estimate), not to loss/10")
    ap.add_argument("--cap2", type=float, default=600.0, help="wall seconds allowed to reach L0/2")
    ap.add_argument("--cap10", type=float, default=300.0, help="total wall seconds allowed once L0/2 is reached")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    import numerics
    from numerics.float_taylor import _FloatFlow
    from proofs_check.reports.ec21 import build

    widths = tuple(int(x) for x in args.widths.split(","))
    spec = dict(n=args.n, seed=0, widths=widths, net="relu", bias=False, loss="cross_entropy")
    with threadpool_limits(1):
        obj, th, _ = build(spec)
        L0 = float(numerics.value(obj, th))
        flow = _FloatFlow(obj, [np.asarray(w, float) for w in th], 20, True)
        rec: dict = {"n": args.n, "widths": widths, "P": obj.num_params, "L0": L0}
        t0 = time.perf_counter()
        state = {"last": -1.0, "steps": 0, "salt_log": 0.0}
        kink = flow._kink

        def logged_kink(*a, **k):  # Σ ln ‖S‖₂: the saltation factors' share of the estimate
            f = kink(*a, **k)
            state["salt_log"] += math.log(f)
            return f

        flow._kink = logged_kink

        class Stop(Exception):
            pass

        def point(t, w):
            return dict(t=float(t), seconds=w, events=len(flow.events), steps=state["steps"], loss=state["L"])

        def progress(t, T):
            w = time.perf_counter() - t0
            state["steps"] += 1
            state["t"] = t
            if w - state["last"] < 0.5 and t < T:  # the loss every half second (a forward pass)
                return
            state["last"] = w
            state["L"] = float(numerics.value(obj, flow._theta(flow.y)))
            if "half" not in rec and state["L"] <= L0 / 2:
                rec["half"] = point(t, w)
            if t >= T:  # the run returns its trajectory (and the estimate)
                return
            if state["L"] <= L0 / 10 and "tenth" not in rec:
                rec["tenth"] = point(t, w)
                if not args.no_stop:
                    raise Stop
            if ("half" not in rec and w > args.cap2) or ("half" in rec and w > args.cap10):
                rec["stopped"] = point(t, w)
                raise Stop

        try:
            traj = flow.run(args.t_end, progress, 10**7)
            rec["end"] = point(args.t_end, time.perf_counter() - t0)
            rec["estimate"] = traj.error_estimate
        except Stop:
            pass
        except Exception as e:  # the tier's refusals are findings: record them
            rec["error"] = repr(e)[:300]
            rec["at_error"] = dict(t=state.get("t"), seconds=time.perf_counter() - t0, events=len(flow.events),
                                  steps=state["steps"])
        rec["kinds"] = {k: sum(1 for e in flow.events if e.kind == k) for k in ("cross", "enter sliding", "leave sliding")}
        rec["growth_integral"] = flow.growth.integral
        rec["salt_log"] = state["salt_log"]
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
