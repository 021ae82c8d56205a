"""The arb tier's near-exit check (numerics.kink_exits; docs/theory.md E3, "Near exits within the run's error"),
against the separately written reference (tests/relu_reference.py): the Filippov weight μ solved there at 60 digits
on states of the max-norm box around the computed state.

Instance: seed 13 of tests/test_float_sliding_bounds.INSTANCES ((2, 3, 3, 1) with biases, T = 2), whose layer-2
entry (unit 1, sample 3) slides from t = 0.645 and layer-1 entry (unit 0, sample 0) from t = 1.694. The check
examines two points: the interior minimum of the layer-2 weight (μ = 0.0120 at t = 1.178, one sliding layer: the
ball solve is an enclosure there) and the horizon (μ = 0.0063 for the layer-1 weight, two sliding layers: a
Newton-like step there). The run's own error is ~1e-30, so neither is near its bar; the tests set the error by hand.

The corner state θ̂ − e·sign(∇μ) (∇μ by central differences at 60 digits) moves μ towards α fastest to first order:
the smallest e at which the reference's μ there reaches α, e_c, is an error at which the exact flow may leave
sliding, so the check must refuse at e_c (honest) and pass at e_c/1000 (useful). Measured: the largest error passed
is 6.1× and 4.3× below e_c."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import relu_reference as R
from numerics.kink_events import UnsupportedKinkError
from numerics.kink_flows import _KinkFlow
from test_float_taylor import relu_instance

SEED, WIDTHS, T = 13, (2, 3, 3, 1), Fraction(2)
_RUN: dict = {}


def _run():
    if not _RUN:
        obj, th = relu_instance(SEED, WIDTHS, 0.0, True, scale=1.0)
        flow = _KinkFlow(obj, th, 30, None)
        traj = flow.run(T, None)
        _RUN.update(obj=obj, flow=flow, traj=traj, recs=list(flow._exits))
    return _RUN


def _passes(flow, rec, e: float) -> bool:
    flow._exits = [rec]
    try:
        flow._check_exits(lambda t: e)
        return True
    except UnsupportedKinkError as x:
        assert "Filippov weight" in str(x) and "raise dps" in str(x)
        return False


def test_the_run_records_the_weights_extrema_and_the_horizon():
    """Two points, at the layer-2 weight's interior minimum and at the horizon; the run's events are the
    reference-checked ones of test_float_sliding_bounds (two crossings, two entries entering sliding)."""
    run = _run()
    got = [(float(t + u * h), sorted(k for k, _ in entries)) for t, h, u, _, _, _, entries in run["recs"]]
    assert len(got) == 2
    assert abs(got[0][0] - 1.178146) < 1e-6 and got[0][1] == [(1, 8)]
    assert got[1][0] == 2.0 and got[1][1] == [(0, 0), (1, 8)]
    assert [e.kind for e in run["traj"].events] == ["cross", "cross", "enter sliding", "enter sliding"]


@pytest.mark.parametrize("which", [0, 1], ids=["interior-one-layer", "horizon-two-layers"])
def test_the_largest_error_a_near_exit_passes_with_is_honest_and_useful(which):
    run = _run()
    obj, flow = run["obj"], run["flow"]
    rec = run["recs"][which]
    t, h, u, _, mus, _, entries = rec
    (j, idx), margin = min(entries, key=lambda x: x[1])
    unit, i = divmod(idx, flow.masks[j].cols)
    events, sides = list(flow.events), [m.side.copy() for m in flow.masks]
    with mpmath.workdps(60):
        X = np.asarray(obj.loss.inputs, dtype=float).T
        Y = np.asarray(obj.loss.target, dtype=float).T
        net = R.Net(obj.widths, obj.model.alpha, obj.model.bias, X, Y)
        p0 = [mpmath.mpf(x) for x in obj.flatten(run["traj"].at(t + u * h))]
        masks = net.pattern(p0)
        S = sorted((jj, *divmod(ii, flow.masks[jj].cols)) for jj, ii in mus)

        def mu_at(p):
            lam, _ = R._solve_sliding(net, p, masks, S)
            return net.alpha + lam[S.index((j, unit, i))] * (1 - net.alpha)

        mu0 = mu_at(p0)
        assert abs(float(mu0 - net.alpha) - margin) <= 1e-12  # near α, as recorded
        d = mpmath.mpf(10) ** -20  # central differences: error ~d²‖∇³μ‖ ≪ the 60 digits' cancellation d·1e-60
        grad = []
        for k in range(len(p0)):
            if p0[k] == 0:  # (held at 0 exactly: the box does not widen it, numerics.kink_margins.inflate)
                grad.append(0)
                continue
            pp, pm = list(p0), list(p0)
            pp[k] += d
            pm[k] -= d
            grad.append((mu_at(pp) - mu_at(pm)) / (2 * d))
        sgn = [-mpmath.sign(g) for g in grad]

        def exits(e) -> bool:
            return mu_at([x + e * s for x, s in zip(p0, sgn)]) <= net.alpha

        lo, hi = mpmath.mpf(0), mpmath.mpf(10) ** -12
        while not exits(hi):  # the first e at which the corner's weight reaches α (it turns back further out)
            lo, hi = hi, 2 * hi
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if exits(mid) else (mid, hi)
        e_c = float(hi)
    first_order = float(margin / sum(abs(g) for g in grad))
    assert not _passes(flow, rec, e_c)  # honest: some state within e_c leaves sliding
    assert _passes(flow, rec, e_c / 1000)  # useful
    a, b = np.log10(e_c / 1000), np.log10(e_c)
    for _ in range(20):
        m = (a + b) / 2
        a, b = (m, b) if _passes(flow, rec, 10.0**m) else (a, m)
    print(f"\n{['interior', 'horizon'][which]}: margin {margin:.4g}, e_c {e_c:.4g} (first order {first_order:.4g}), "
          f"largest error passed 1e{a:.3f}, e_c / it = {e_c / 10**a:.3g}")
    assert flow.events == events and all(np.array_equal(m.side, s) for m, s in zip(flow.masks, sides))
    flow._exits = list(run["recs"])
