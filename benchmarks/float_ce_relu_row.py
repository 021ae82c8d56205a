"""How far the float64 Taylor tier gets on the ec21 report's ReLU row with cross-entropy (issue 12).

The net and data are the report's (``proofs_check.reports.ec21.build``: sklearn digits, stratified
seeded subset of n images, pixels/16, Xavier-uniform init seed 0, bias-free ReLU, softmax
cross-entropy). One thread, ``growth=True`` (the default). Prints, as JSON, the kink events, steps and
wall seconds at the first step end where the loss is ≤ L0/2 and ≤ L0/10, or where it stopped (a budget
or an error).

``--resolve`` is a MEASUREMENT device, not a method of the package: the float tier refuses a kink met
while another entry slides and one side's field pushes that entry's Filippov weight out of [α, 1]
(``UnsupportedKinkError``, "simultaneous-kink"). With ``--resolve`` such entries leave sliding to the side
their weight points to, as the arb tier does (``numerics.kink_flows._kink``; uniqueness of the consistent
set not checked), and the saltation factor of an entry that joins other sliding entries is taken as 1
(not derived). It exists to measure the cost the tier would have once that configuration is resolved.

    python benchmarks/float_ce_relu_row.py N WIDTHS [--resolve] [--t-end T] [--cap2 S] [--cap10 S]
    e.g. python benchmarks/float_ce_relu_row.py 20 64,50,50,10 --resolve
"""

from __future__ import annotations

import argparse
import json
import time
from fractions import Fraction

import numpy as np


def resolving_flow():
    """The float tier's integrator with the arb tier's resolution of simultaneous kinks (docstring)."""
    from numerics.float_taylor import _FloatFlow
    from numerics.kink_flows import KinkEvent, UnsupportedKinkError

    class Resolving(_FloatFlow):
        def _rates(self, j, u, i):
            out = []
            old = self.side[j][u, i]
            for s in (-1, 1):
                self.side[j][u, i] = s
                self._set_mask(j)
                ys, w = self._pass(1, self.zdot)
                out.append((float(w[self.zdot[j]][0][u, i]), [Y[1] for Y in ys]))
            self.side[j][u, i] = old
            self._set_mask(j)
            return out[0][0], out[1][0], out[0][1], out[1][1]

        def _resolve(self, t, joining=None):
            for _ in range(len(self._sliding()) + 1):
                sl = self._sliding()
                if not sl:
                    return
                self._solve_mu0(sl)
                out = [(jj, uu, ii, self.series.slide[jj + 1][(uu, ii)][0]) for (jj, uu, ii) in sl
                       if not self.alpha - 1e-12 <= self.series.slide[jj + 1][(uu, ii)][0] <= 1 + 1e-12]
                if not out:
                    return
                if joining is not None and any((jj, uu, ii) == joining for jj, uu, ii, _ in out):
                    raise UnsupportedKinkError("the joining entry cannot slide with the others")
                for jj, uu, ii, mu0 in out:
                    self._leave(jj, uu, ii, -1 if mu0 < self.alpha else 1, t)
                    self.skip[(jj, uu, ii)] = 1  # ż ≠ 0 as it leaves: z moves linearly
            raise UnsupportedKinkError("no consistent sliding set")

        def _kink(self, j, u, i, t, from_side):
            a, b, _, _ = self._rates(j, u, i)
            if a > 0 > b and self._sliding():
                self.side[j][u, i] = -1
                self._set_mask(j)
                self.series.slide.setdefault(j + 1, {})[(u, i)] = [self.alpha + (1 - self.alpha) * a / (a - b)]
                self.events.append(KinkEvent(Fraction(t), "enter sliding", j + 1, i, u))
                self._resolve(t, joining=(j, u, i))
                return 1.0
            f = super()._kink(j, u, i, t, from_side)
            self._resolve(t)
            return f

    return Resolving


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("widths")
    ap.add_argument("--resolve", action="store_true")
    ap.add_argument("--t-end", type=float, default=30.0)
    ap.add_argument("--cap2", type=float, default=600.0, help="wall seconds allowed to reach L0/2")
    ap.add_argument("--cap10", type=float, default=300.0, help="total wall seconds allowed once L0/2 is reached")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    import numerics
    from numerics.float_taylor import _FloatFlow
    from proofs_check.reports.ec21 import build

    widths = tuple(int(x) for x in args.widths.split(","))
    spec = dict(n=args.n, seed=0, widths=widths, net="relu", bias=False, loss="cross_entropy")
    cls = resolving_flow() if args.resolve else _FloatFlow
    with threadpool_limits(1):
        obj, th, _ = build(spec)
        L0 = float(numerics.value(obj, th))
        flow = cls(obj, [np.asarray(w, float) for w in th], 20, True)
        rec: dict = {"n": args.n, "widths": widths, "P": obj.num_params, "L0": L0, "resolve": args.resolve}
        t0 = time.perf_counter()
        state = {"last": -1.0, "steps": 0}

        class Stop(Exception):
            pass

        def point(t, w):
            return dict(t=float(t), seconds=w, events=len(flow.events), steps=state["steps"], loss=state["L"])

        def progress(t, T):
            w = time.perf_counter() - t0
            state["steps"] += 1
            if w - state["last"] < 0.5 and t < T:  # the loss every half second (a forward pass)
                return
            state["last"] = w
            state["L"] = float(numerics.value(obj, flow._theta(flow.y)))
            if "half" not in rec and state["L"] <= L0 / 2:
                rec["half"] = point(t, w)
            if state["L"] <= L0 / 10:
                rec["tenth"] = point(t, w)
                raise Stop
            if ("half" not in rec and w > args.cap2) or ("half" in rec and w > args.cap10):
                rec["stopped"] = point(t, w)
                raise Stop

        try:
            flow.run(args.t_end, progress, 10**7)
        except Stop:
            pass
        except Exception as e:  # the tier's refusals are findings: record them
            rec["error"] = repr(e)[:300]
            rec["at_error"] = dict(seconds=time.perf_counter() - t0, events=len(flow.events), steps=state["steps"])
        rec["kinds"] = {k: sum(1 for e in flow.events if e.kind == k) for k in ("cross", "enter sliding", "leave sliding")}
        rec["growth_integral"] = flow.growth.integral
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
