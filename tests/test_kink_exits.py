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
is 6.1× and 4.3× below e_c.

The same ball gives a leave's switching-time uncertainty τ (last test, seed 1): the run's leave lies within τ of the
reference's, and τ is 1.1× the first-order bar e·‖∇μ‖₁/|μ̇| computed from the reference."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import relu_reference as R
from numerics.kink_events import UnsupportedKinkError
from numerics.kink_flows import _KinkFlow
from numerics.kink_rerun import error_at
from test_float_taylor import relu_instance

# every test of this file on one xdist worker (--dist loadgroup): the module's run (``_RUN``) computed once
pytestmark = pytest.mark.xdist_group("test_kink_exits")

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
    """Refused at e_c, passed at e_c/1000 (module docstring); the largest error passed is printed. The check leaves
    the flow's events and masks as they were."""
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


def test_a_leaves_time_uncertainty_holds_the_reference_leave():
    """τ of a leave (:meth:`numerics.kink_exits.NearExits._leave_taus`: the leaving weight's ball over the box of the
    run's error at the leave, over |μ̇|), which the decisions a leave sets going take as their switching-time
    uncertainty (numerics.kink_margins): on seed 1 of the sliding instances ((2, 3, 3, 1) bias-free), whose layer-1
    entry (unit 1, sample 2) leaves at t = 1.0304, the run at 20 digits leaves within τ of the reference's leave
    (40 digits), with e the run's own estimate there (its rerun at 30 digits). τ is also compared with the first-order
    e·‖∇μ‖₁/|μ̇| from the reference (∇μ by central differences at the run's leave state): within 1000× of it."""
    obj, th = relu_instance(1, WIDTHS, 0.0, False, scale=1.0)
    T1 = Fraction(11, 10)
    traj = numerics.gradient_flow(obj, th, T1, dps=20)
    flow = _KinkFlow(obj, th, 20, None)
    run = flow.run(T1, None)
    leaves = [e for e in run.events if e.kind == "leave sliding"]
    assert [e.key() for e in run.events] == [e.key() for e in traj.events] and len(leaves) == 1
    t20 = leaves[0].t
    taus = flow._leave_taus(lambda t: error_at(traj, t))
    assert list(taus) == [t20]
    tau = taus[t20]
    (_, _, mus, _, mudot), = flow._leaves
    (key, d), = mudot.items()
    X = np.asarray(obj.loss.inputs, dtype=float).T
    Y = np.asarray(obj.loss.target, dtype=float).T
    with mpmath.workdps(40):
        net = R.Net(obj.widths, obj.model.alpha, obj.model.bias, X, Y)
        _, ev = R.flow(net, list(obj.flatten(th)), mpmath.mpf(T1.numerator) / T1.denominator, dps=40)
        ref = [e[0] for e in ev if e[1] == "leave sliding"]
        assert len(ref) == 1
        dt = abs(mpmath.mpf(t20.numerator) / t20.denominator - ref[0])
    with mpmath.workdps(60):
        p0 = [mpmath.mpf(x) for x in obj.flatten(run.at(t20))]
        j, idx = key
        unit, i = divmod(idx, flow.masks[j].cols)
        S = sorted((jj, *divmod(ii, flow.masks[jj].cols)) for jj, ii in mus)
        masks = net.pattern(p0)
        for (jj, uu, ii) in S:  # (at the leave z is 0 to rounding: the sliding entries' pattern is the solve's)
            masks[jj][uu][ii] = 0

        def mu_at(p):
            lam, _ = R._solve_sliding(net, p, masks, S)
            return net.alpha + lam[S.index((j, unit, i))] * (1 - net.alpha)

        dd = mpmath.mpf(10) ** -20
        g1 = 0
        for k in range(len(p0)):
            if p0[k] == 0:
                continue
            pp, pm = list(p0), list(p0)
            pp[k] += dd
            pm[k] -= dd
            g1 += abs((mu_at(pp) - mu_at(pm)) / (2 * dd))
    e = error_at(traj, t20)
    first = float(e * g1) / abs(d)
    print(f"\nleave at t = {float(t20):.17g}: |t − t_ref| = {float(dt):.3g}, τ = {tau:.3g} (e = {e:.3g}, "
          f"|μ̇| = {abs(d):.3g}), first-order e·‖∇μ‖₁/|μ̇| = {first:.3g}, τ / it = {tau / first:.3g}")
    assert dt <= tau  # honest
    assert first <= tau <= 1000 * first  # useful
