"""Ground-truth GF of (leaky) ReLU nets with kinks (docs/theory.md E1, E2; numerics.kink_flows) against
references written separately here: tests/relu_reference.py (mpmath.odefun region by region,
findroot on its dense output, Filippov's λ = a/(a − b) pointwise) and, for the sliding case built by
hand, the reduced ODE on the kink written out by hand.

Instances: seeds were chosen by running the *reference* (not gfgd) and keeping ones with events in
a short horizon; every test asserts the reference's events exist, so none is vacuous.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.kink_events import NonUniqueFlowError

import relu_reference as R

DPS = 30
REF_DPS = 34  # the reference runs at more digits, so its own error is below what is compared


def instance(seed, widths, alpha, bias, n=4):
    """Random data and θ0 (seeded; the same draw as the instance search)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    Y = rng.standard_normal((n, widths[-1]))
    P = sum(widths[j] * widths[j - 1] + (widths[j] if bias else 0) for j in range(1, len(widths)))
    p = rng.standard_normal(P)
    obj = theory.Objective(theory.ReLUNet(widths, alpha, bias), theory.SquareLoss(X, Y))
    return obj, obj.unflatten(p), R.Net(widths, alpha, bias, X, Y)


def mpq(q: Fraction):
    return mpmath.mpf(q.numerator) / q.denominator


def z_sensitivity(net, p, layer, unit, sample, pieces, t):
    """(‖∇_θ z‖₁, |ż|) of a pre-activation at the reference state: central differences in mp (z is a
    polynomial in θ; at 34 digits a 1e-12 step leaves ~1e-12 relative error, enough for a tolerance)."""
    def z(q):
        return net.preacts(q)[0][layer - 1][unit][sample]
    h = mpmath.mpf(10) ** -12
    grad1 = 0
    for k in range(len(p)):
        a, b = list(p), list(p)
        a[k] += h
        b[k] -= h
        grad1 += abs((z(a) - z(b)) / (2 * h))
    zdot = abs((z(R.at(pieces, t + h)) - z(R.at(pieces, t - h))) / (2 * h))
    return grad1, zdot


def compare(obj, theta0, net, t_end, check_times):
    with mpmath.workdps(REF_DPS):
        pieces, ref_events = R.flow(net, list(obj.flatten(theta0)), mpq(Fraction(t_end)), dps=REF_DPS)
    traj = numerics.gradient_flow(obj, theta0, Fraction(t_end), dps=DPS)
    assert ref_events, "the reference finds no kink: the instance does not test what it should"
    assert [(e.kind, e.layer, e.sample, e.unit) for e in traj.events] == [e[1:] for e in ref_events]
    est = traj.error_estimate
    with mpmath.workdps(REF_DPS):
        true = max(
            max(abs(x - y) for x, y in zip(obj.flatten(traj.at(t)), R.at(pieces, mpq(Fraction(t)))))
            for t in check_times
        )
        for e, r in zip(traj.events, ref_events):
            dt = abs(mpq(e.t) - r[0])
            p = R.at(pieces, r[0])
            g1, zdot = (1, 1)
            if e.kind != "leave sliding":
                g1, zdot = z_sensitivity(net, p, e.layer, e.unit, e.sample, pieces, r[0])
            # |δt| ≤ |δz|/|ż| and |δz| ≤ ‖∇z‖₁‖δθ‖∞ ≤ ‖∇z‖₁·estimate (+ the reference's last digits)
            tol = float((est * g1 + 10.0 ** -REF_DPS) / max(float(zdot), 1e-300)) if e.kind != "leave sliding" else None
            print(f"event {e.kind} layer {e.layer} unit {e.unit} sample {e.sample}: t = {float(r[0]):.6f}, "
                  f"|t - t_ref| = {float(dt):.2e}" + (f", bound {tol:.2e}" if tol else ""))
            if tol is not None:
                assert dt <= tol
            else:  # leaving sliding: λ → 0 at a simple root, δt ≲ δλ/|λ'|; compare at working precision
                assert dt <= 10.0 ** -(DPS - 4)
    print(f"estimate {est:.3e}, true {float(true):.3e}, ratio estimate/true {est / max(float(true), 1e-300):.3g}")
    # honest down to the reference's own resolution (it runs at REF_DPS digits)
    assert true <= est + 10.0 ** -(REF_DPS - 1), "dishonest error estimate"
    # useful: within 1000x of the true error (or of the digits asked)
    assert est <= 1000 * max(float(true), 10.0 ** -DPS)
    return traj


def test_relu_crossings_first_layer():
    obj, th, net = instance(4, (2, 2, 1), 0, False)
    compare(obj, th, net, Fraction(5, 8), [Fraction(1, 4), Fraction(1, 2), Fraction(5, 8)])


def test_leaky_relu_crossings():
    obj, th, net = instance(4, (2, 2, 1), 0.25, False)
    compare(obj, th, net, Fraction(3, 8), [Fraction(1, 8), Fraction(3, 8)])


@pytest.mark.thorough
def test_leaky_negative_slope_second_layer_crossings():
    obj, th, net = instance(0, (2, 2, 2, 1), -0.5, False)
    compare(obj, th, net, Fraction(9, 16), [Fraction(1, 4), Fraction(9, 16)])


def test_bias_crossings_and_e2_conservation():
    obj, th, net = instance(1, (2, 2, 1), 0, True)
    traj = compare(obj, th, net, Fraction(1, 2), [Fraction(1, 4), Fraction(1, 2)])
    # E2 along the trajectory, also across the kinks: drift at the working precision
    with mpmath.workdps(DPS + 5):
        g0 = numerics.neuron_norm_gaps(traj.at(0))
        for t in traj.times:
            g = numerics.neuron_norm_gaps(traj.at(t))
            drift = max(abs(a - b) for A, B in zip(g, g0) for a, b in zip(A, B))
            # δ(Σθ²) ≤ 2‖θ‖₁‖δθ‖∞ to first order, at both ends
            assert drift <= 2 * traj.error_estimate * sum(abs(x) for x in obj.flatten(traj.at(t))) + 10.0 ** -DPS
    assert max(traj.conservation_defects) <= 10.0 ** -(DPS - 2)


@pytest.mark.thorough
def test_bias_leaky_second_layer():
    obj, th, net = instance(5, (2, 2, 2, 1), 0.25, True)
    compare(obj, th, net, Fraction(1, 2), [Fraction(1, 4), Fraction(1, 2)])


def test_unit_dies_on_orthogonal_inputs():
    """X = I: when z_1[0, 0] reaches 0 from above, the z ≤ 0 field does not move it at all (a = 0
    exactly): Filippov's λ = 0, the entry stays at 0 under F₋ (a "pinned" entry)."""
    rng = np.random.default_rng(0)
    X, Y = np.eye(3), rng.standard_normal(3)
    obj = theory.Objective(theory.ReLUNet((3, 2, 1), 0), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) for s in obj.shapes]
    net = R.Net((3, 2, 1), 0, False, X, Y.reshape(-1, 1))
    traj = compare(obj, th, net, Fraction(1, 2), [Fraction(1, 4), Fraction(1, 2)])
    with mpmath.workdps(DPS):
        assert abs(traj.at(Fraction(1, 2))[0][0, 0]) <= traj.error_estimate  # W_1[0,0] = z stays at 0


# ---- sliding ----------------------------------------------------------------------------------------
# Built by hand: one hidden unit, x_1 = (1, 0), x_2 = (1, 1), x_3 = (−1, 2), targets y = (−1, 0.2, 1),
# f = (1/3)Σ ½(v·relu(w·x_i) − y_i)². On z_1 = w·x_1 = w_1 = 0 (samples 2, 3 active, p = v·w_2):
#   a = ż_1 under relu'(z_1) = 0:  ẇ_1 = −(v/3)(r_2 − r_3) = (v/3)(p − 0.8),
#   b = ż_1 under relu'(z_1) = 1:  a + (v/3)·y_1 = (v/3)(p − 1.8),
# so the kink attracts from both sides while 0.8 < p < 1.8; the flow slides with w_1 ≡ 0 and
#   ẇ_2 = −(v/3)(r_2·1 + r_3·2),  v̇ = −(1/3)(r_2·w_2 + r_3·2w_2),  r_2 = p − 0.2, r_3 = 2p − 1,
# (the Filippov field on the kink: sample 1 contributes only to ẇ_1, which the weight cancels) until
# p = 0.8 (λ = a/(a − b) reaches 0), where it leaves to z_1 < 0. Start: z_1 = 0.05 > 0, p = 1.5.
X_S = np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
Y_S = np.array([-1.0, 0.2, 1.0])
TH_S = [np.array([[0.05, 1.2]]), np.array([[1.25]])]


def hand_reduced(t_entry, state_entry):
    """The reduced ODE on the kink from the entry state (w_1 = 0): returns its odefun solution."""
    def F(t, y):
        w2, v = y
        r2, r3 = v * w2 - mpmath.mpf(0.2), 2 * v * w2 - 1
        return [-(v / 3) * (r2 + 2 * r3), -(r2 * w2 + r3 * 2 * w2) / 3]
    return mpmath.odefun(F, t_entry, [state_entry[1], state_entry[2]])


def test_sliding_by_hand_vs_reduced_ode():
    obj = theory.Objective(theory.ReLUNet((2, 1, 1), 0), theory.SquareLoss(X_S, Y_S))
    traj = numerics.gradient_flow(obj, TH_S, Fraction(1, 2), dps=DPS)
    kinds = [e.kind for e in traj.events]
    assert kinds == ["enter sliding", "leave sliding"]
    net = R.Net((2, 1, 1), 0, False, X_S, Y_S.reshape(-1, 1))
    with mpmath.workdps(REF_DPS):
        # before the kink: the full-region ODE, entry where z_1 = w_1 = 0
        pieces, ev = R.flow(net, list(obj.flatten(TH_S)), mpmath.mpf("0.5"), dps=REF_DPS)
        assert [e[1] for e in ev] == ["enter sliding", "leave sliding"]
        t_in = ev[0][0]
        # the by-hand reduced ODE from the entry; its exit where p = v·w_2 = 0.8
        red = hand_reduced(t_in, R.at(pieces, t_in))
        def gap(t):
            return red(t)[0] * red(t)[1] - (1 - mpmath.mpf(0.2))
        t_out = mpmath.findroot(gap, (t_in + mpmath.mpf("0.05"), t_in + mpmath.mpf(0.2)), solver="anderson")
        t_out = mpmath.findroot(gap, t_out)  # secant polish to the full precision
        d_in, d_out = abs(mpq(traj.events[0].t) - t_in), abs(mpq(traj.events[1].t) - t_out)
        print(f"entry {float(t_in):.8f} (|Δ| {float(d_in):.1e}), exit {float(t_out):.8f} (|Δ| {float(d_out):.1e})")
        # entry: z_1 = w_1 with |∇z|₁ = 1 and |ż_1| = |b|; exit: λ = a/(a − b) with a = (v/3)(p − 0.8)
        p_in = R.at(pieces, t_in)
        b_in = abs(p_in[2] / 3 * (p_in[2] * p_in[1] - (2 - mpmath.mpf(0.2))))
        assert d_in <= traj.error_estimate / b_in + 10.0 ** -REF_DPS
        y = red(t_out)
        dp = abs(y[0] * (-(y[1] / 3) * ((y[0] * y[1] - mpmath.mpf(0.2)) + 2 * (2 * y[0] * y[1] - 1)))
                 + y[1] * (-(y[0] * y[1] - mpmath.mpf(0.2)) * y[0] / 3 - (2 * y[0] * y[1] - 1) * 2 * y[0] / 3))
        # |δt| ≤ |δp|/|ṗ|, |δp| ≤ (|v| + |w_2|)·‖δθ‖∞ (to first order)
        assert d_out <= (abs(y[0]) + abs(y[1])) * traj.error_estimate / dp + 10.0 ** -REF_DPS
        # state during sliding (w_1 held at 0) and after the exit, vs the two references
        worst = 0
        for t in (t_in + (t_out - t_in) / 3, t_in + 2 * (t_out - t_in) / 3):
            got = obj.flatten(traj.at(Fraction(float(t))))
            tq = mpq(Fraction(float(t)))
            w2, v = red(tq)
            worst = max(worst, abs(got[0]), abs(got[1] - w2), abs(got[2] - v))
        for t in (Fraction(3, 8), Fraction(1, 2)):
            got = obj.flatten(traj.at(t))
            worst = max(worst, max(abs(x - y) for x, y in zip(got, R.at(pieces, mpq(t)))))
    est = traj.error_estimate
    print(f"estimate {est:.3e}, true {float(worst):.3e}, ratio {est / max(float(worst), 1e-300):.3g}")
    assert worst <= est
    assert est <= 1000 * max(float(worst), 10.0 ** -DPS)


def test_sliding_scipy_chatters_gfgd_reaches_horizon():
    """DOP853 at rtol 1e-12 with a budget of 20,000 gradient evaluations does not get past the
    entry into sliding (t ≈ 0.19 of 1); gfgd reaches t = 1."""
    from scipy.integrate import solve_ivp

    obj = theory.Objective(theory.ReLUNet((2, 1, 1), 0), theory.SquareLoss(X_S, Y_S))
    g = numerics.gradients.flat_gradient_function(obj)
    count = [0]

    class Budget(Exception):
        pass

    def rhs(t, y):
        count[0] += 1
        if count[0] > 20000:
            raise Budget(t)
        return -g(y)

    reached = None
    try:
        sol = solve_ivp(rhs, (0.0, 1.0), obj.flatten(TH_S), method="DOP853", rtol=1e-12, atol=1e-12)
        reached = float(sol.t[-1])
    except Budget as b:
        reached = float(b.args[0])
    print(f"DOP853: {count[0]} evaluations, reached t = {reached:.6f} of 1")
    assert reached < 0.5
    traj = numerics.gradient_flow(obj, TH_S, 1, dps=20)
    assert traj.t_end == 1 and traj.times[-1] == 1


def test_second_layer_sliding_vs_filippov_reference():
    obj, th, net = instance(5, (2, 3, 3, 1), 0, False, n=5)
    traj = compare(obj, th, net, Fraction(1, 8), [Fraction(1, 16), Fraction(1, 8)])
    assert [(e.kind, e.layer) for e in traj.events] == [("enter sliding", 2)]


@pytest.mark.thorough
def test_biased_second_layer_sliding_enter_and_leave():
    obj, th, net = instance(8, (2, 3, 3, 1), 0, True, n=5)
    traj = compare(obj, th, net, Fraction(5, 8), [Fraction(1, 4), Fraction(5, 8)])
    assert [(e.kind, e.layer) for e in traj.events][-2:] == [("enter sliding", 2), ("leave sliding", 2)]


def test_random_sliding_vs_filippov_reference():
    obj, th, net = instance(6, (2, 2, 1), 0, False)
    compare(obj, th, net, Fraction(1, 8), [Fraction(1, 16), Fraction(1, 8)])


def test_biased_sliding_and_e2():
    """A biased net that slides (instance picked by the reference), checked against it; E2 holds."""
    obj, th, net = instance(14, (2, 2, 1), 0, True)
    traj = compare(obj, th, net, Fraction(5, 16), [Fraction(1, 4), Fraction(5, 16)])
    assert [e.kind for e in traj.events] == ["cross", "enter sliding"]
    assert max(traj.conservation_defects) <= 10.0 ** -(DPS - 2)


# ---- errors -----------------------------------------------------------------------------------------
def test_bad_input():
    X, Y = np.ones((3, 2)), np.ones(3)
    obj = theory.Objective(theory.ReLUNet((2, 2, 1), 0, bias=True), theory.SquareLoss(X, Y))
    th = [np.ones((2, 2)), np.ones(3), np.ones((1, 2)), np.ones(1)]
    with pytest.raises(ValueError, match=r"theta0\[1\] \(bias b_1\) must have shape \(2,\)"):
        numerics.gradient_flow(obj, th, 1)
    with pytest.raises(ValueError, match=r"theta\[1\] \(bias b_1\)"):
        numerics.gradient(obj, th)
    with pytest.raises(ValueError, match="alpha"):
        theory.ReLUNet((2, 2, 1), alpha=1.5, bias=True)
    with pytest.raises(ValueError, match="alpha"):
        theory.ReLUNet((2, 2, 1), alpha=-2)
    with pytest.raises(ValueError, match="loss: WhitenedSquare"):
        theory.Objective(theory.ReLUNet((2, 2, 1), 0, bias=True), theory.WhitenedSquare(np.ones((1, 2))))
    with pytest.raises(TypeError, match="bias"):
        theory.ReLUNet((2, 2, 1), 0, bias="yes")
    with pytest.raises(ValueError, match="gradient_flow"):
        numerics.gradient_flow_generic(obj, [np.ones((2, 2)), np.ones(2), np.ones((1, 2)), np.ones(1)], 1)


def test_repelling_kink_is_reported():
    """d_0 = 1, one hidden unit with bias, x = (1, 2), y = (1, 0.5), θ: w = 1, b = −1, v = 1, c = 0.
    z_1 = w + b = 0, z_2 = 1 (active). ż_1 = −(∂f/∂w + ∂f/∂b) = −(3δ_2 + 2m·½r_1), r_1 = −1, r_2 = 0.5:
    a (m = 0) = −0.75 < 0 < b (m = 1) = 0.25 — both fields push away from z_1 = 0: not unique."""
    X = np.array([[1.0], [2.0]])
    Y = np.array([1.0, 0.5])
    obj = theory.Objective(theory.ReLUNet((1, 1, 1), 0, bias=True), theory.SquareLoss(X, Y))
    th = [np.array([[1.0]]), np.array([-1.0]), np.array([[1.0]]), np.array([0.0])]
    with pytest.raises(NonUniqueFlowError, match="repelling"):
        numerics.gradient_flow(obj, th, Fraction(1, 4), dps=20)


def _repelling_case():
    X = np.array([[1.0], [2.0]])
    Y = np.array([1.0, 0.5])
    obj = theory.Objective(theory.ReLUNet((1, 1, 1), 0, bias=True), theory.SquareLoss(X, Y))
    return obj, [np.array([[1.0]]), np.array([-1.0]), np.array([[1.0]]), np.array([0.0])]


def test_a_verdict_is_confirmed_by_the_rerun():
    """The repelling kink above (a = −0.75 < 0 < b = 0.25, worked by hand) is reached at t = 0 by both the run and
    its dps + 10 rerun: the verdict says so, and carries the flow up to it (here the initial point)."""
    obj, th = _repelling_case()
    with pytest.raises(NonUniqueFlowError, match=r"repelling.*confirmed by the rerun at 30 digits \(the same 0 "
                                                 r"events before it; its verdict at t = 0\)") as e:
        numerics.gradient_flow(obj, th, Fraction(1, 4), dps=20)
    part = e.value.trajectory
    assert part.t_end == 0 and part.events == [] and part.error_estimate == 0
    assert [float(x) for x in part.at(0)[1].flat] == [-1.0]
    with pytest.raises(NonUniqueFlowError, match="repelling") as e:  # the float tier's verdict carries it too
        numerics.gradient_flow(obj, th, 0.25, dps=None)
    part = e.value.trajectory
    assert part.t_end == 0 and part.events == [] and part.error_estimate == 0


@pytest.mark.parametrize("how", ["refuses", "runs on"])
def test_a_verdict_the_rerun_does_not_reach_is_refused(monkeypatch, how):
    """A verdict the rerun does not reach is not resolved at the run's precision: UnsupportedKinkError, which says
    what the rerun did. The rerun is made to differ by hand (at its 30 digits the repelling kink is refused, or
    passed over as if it were a crossing)."""
    from numerics import kink_flows

    orig = kink_flows._KinkFlow._kink_entry

    def patched(self, *a, **k):
        if self.dps < 30:
            return orig(self, *a, **k)
        if how == "refuses":
            raise kink_flows.UnsupportedKinkError("made up for the test")
        try:
            return orig(self, *a, **k)
        except NonUniqueFlowError:  # taken as a crossing to the active side
            y, j, idx = a[:3]
            self.masks[j].set_side(idx, 1)
            self.skip[(j, idx)] = 1

    monkeypatch.setattr(kink_flows._KinkFlow, "_kink_entry", patched)
    obj, th = _repelling_case()
    want = "refuses \\(made up for the test\\)" if how == "refuses" else "runs on to t = 0.25 without it"
    with pytest.raises(kink_flows.UnsupportedKinkError, match=r"^t = 0: .*repelling.*but the rerun at 30 digits "
                                                                 + want + ": the verdict is not resolved at 20 digits"):
        numerics.gradient_flow(obj, th, Fraction(1, 4), dps=20)


def test_two_entries_sliding_leave_time_converges():
    """Two entries of one unit slide together, then one leaves (docs/theory.md E1, "The step must suit
    μ too"). The leave time is a root of the Filippov weight's series; before the step rule included
    that series it came out 2e-4 late at 20-40 digits (0.35130, 0.35126, 0.35118 against 0.3510524 at
    60) while the state was right to 1e-33. Instance found by a seed scan for two simultaneous sliding
    entries; checked here across precisions (independent step sequences and orders) and, for the
    state, by the E2 conservation witness; against the reference in
    tests/test_relu_kink_paths.py::test_two_entries_sliding_seed_130_vs_reference (thorough)."""
    obj, th, net = instance(130, (3, 3, 1), 0, False, n=6)
    T = Fraction(23, 64)
    runs = {d: numerics.gradient_flow(obj, th, T, dps=d) for d in (20, 30)}
    kinds = [(e.kind, e.unit, e.sample) for e in runs[30].events]
    assert kinds == [("cross", 2, 4), ("enter sliding", 2, 5), ("enter sliding", 2, 4), ("leave sliding", 2, 5)]
    assert [(e.kind, e.unit, e.sample) for e in runs[20].events] == kinds
    t20, t30 = (mpq(runs[d].events[-1].t) for d in (20, 30))
    # both runs' event times are within their own uncertainty of each other (2e-4 before the fix)
    assert abs(t20 - t30) <= 10.0 ** -15
    for d, tr in runs.items():
        assert tr.error_estimate <= 10.0 ** -(d - 6), (d, tr.error_estimate)
        assert max(tr.conservation_defects) <= 10.0 ** -(d - 3)
    with mpmath.workdps(40):
        diff = max(abs(x - y) for x, y in zip(obj.flatten(runs[20].at(T)), obj.flatten(runs[30].at(T))))
    assert diff <= runs[20].error_estimate + runs[30].error_estimate


def _from_reference_state(seed, widths, bias, n, hexes):
    """The seeded instance restarted from a state of the reference's own run (float64, given exactly
    as float.hex; computed by tests/relu_reference.py at 34 digits, never by numerics)."""
    obj, _, net = instance(seed, widths, 0, bias, n=n)
    return obj, obj.unflatten(np.array([float.fromhex(h) for h in hexes])), net


def test_joining_entry_pushes_another_out_vs_reference():
    """A unit's entry starts sliding, and later another entry of the same unit joins and pushes the
    first one's weight out of [α, 1] (docs/theory.md E1): the reference (which solves the sliding set
    pointwise) agrees on the events, their times and the state. Start: seed 285's reference state at
    t = 0.23, just before the first entry slides (the reference sees it at 0.2420 and the push at
    0.2692 from t = 0)."""
    hexes = ['0x1.f11eb62ccc91ep-3', '-0x1.c3a7e8d907e03p-1', '0x1.7c68c8daa6e9ap-1', '0x1.08914b1059067p-3',
             '-0x1.0d6f82502dfb8p-5', '0x1.3c3409a17725ep-2', '0x1.f6adf84b47b96p+0', '-0x1.226f9164740bcp+0',
             '0x1.26389782ed74fp+0']
    obj, th, net = _from_reference_state(285, (2, 2, 1), True, 5, hexes)
    traj = compare(obj, th, net, Fraction(3, 64), [Fraction(1, 64), Fraction(3, 64)])
    assert [(e.kind, e.unit, e.sample) for e in traj.events] == [
        ("enter sliding", 0, 2), ("enter sliding", 0, 1), ("leave sliding", 0, 2)]


def test_crossing_pushes_a_sliding_entry_out_vs_reference():
    """While one entry of a unit slides, another entry of the same unit crosses its kink; the new mask
    moves the sliding weight out of [α, 1] and that entry leaves at the crossing's time (docs/theory.md
    E1). Start: seed 8's reference state at t = 0.15 (3-3-1, 6 samples); from t = 0 the reference sees
    the entry slide at 0.15889 and the crossing with the push at 0.17732."""
    hexes = ['0x1.05e27db05240cp-6', '-0x1.46b8ac9da0c94p-8', '-0x1.909b0363f6cb5p-9', '0x1.5070a993c3c8dp-4',
             '-0x1.fe2537889dcdcp+0', '0x1.6b4b2f6bd3de1p+0', '-0x1.364d7be4c7a17p-1', '-0x1.e1835b0ab212cp+0',
             '0x1.c6de4f6056fa7p-4', '0x1.6ca51d271074bp+0', '-0x1.6b37e48b4b5c7p-1', '0x1.7c30617a728b2p-1']
    obj, th, net = _from_reference_state(8, (3, 3, 1), False, 6, hexes)
    traj = compare(obj, th, net, Fraction(9, 256), [Fraction(1, 64), Fraction(9, 256)])
    assert [(e.kind, e.unit, e.sample) for e in traj.events] == [
        ("enter sliding", 0, 4), ("cross", 0, 1), ("leave sliding", 0, 4)]


# a 1-2-3-2 leaky (α = −0.5) biased net on 3 samples, T = 2, two crossings; values as drawn by the soak of
# 2026-12-04 (seed 412; 17 significant digits: exact float64). Its last three steps are long (h ≈ 0.22,
# order 37) and their arb radii, 1.5e-28 each at 30 digits, made the estimate 1.1e4× the true error
LONG_STEPS = ((1, 2, 3, 2), -0.5, [-0.34543104749704273, 0.3400796607390567, 0.13540064542481697],
              [0.042718074388188185, -0.7471199550052169, 2.4622862649917825, -2.238373749093436,
               -0.1108416336060932, -1.5612111139929545],
              [-0.689973448125968, -0.2603657454779976, -0.7021717332338727, -1.1125043187652284,
               -3.5029355904350883, -1.5167802895335543, -0.775594706352398, -0.8950164380573084,
               -0.996080183431487, -0.06558481635372043, 2.829020077060964, 1.4615095204613158,
               -0.9969178311691563, -2.9642795343920962, 1.9073961337833263, 0.791450089578069,
               -2.5305048098074154, 1.0929818991060736, -1.4401359885928098, 0.017271499325109723,
               -0.8406339219486958])


def test_long_steps_rounding_is_measured_not_the_radius():
    """The arb tier's local error on a step whose arb radius is above an eighth of its truncation term
    takes the measured rounding (the step again with 32 more bits, ×2) instead of the radius
    (numerics.kink_flows._KinkFlow._local_error): estimate ≥ the distance to a 50-digit run and within
    1000× of it (measured: 5.7e-30 against 4.6e-32, 124×; the radius gave 4.8e-28, 1.1e4×)."""
    widths, alpha, x, y, p = LONG_STEPS
    obj = theory.Objective(theory.ReLUNet(widths, alpha, True),
                           theory.SquareLoss(np.array(x).reshape(3, 1), np.array(y).reshape(3, 2)))
    th = obj.unflatten(np.array(p))
    T = Fraction(2)
    f = numerics.gradient_flow(obj, th, T, dps=30)
    ref = numerics.gradient_flow(obj, th, T, dps=50)
    assert [e.key() for e in f.events] == [e.key() for e in ref.events] and len(f.events) == 2
    with mpmath.workdps(60):
        true = max(max(abs(a - b) for a, b in zip(obj.flatten(f.at(t)), obj.flatten(ref.at(t))))
                   for t in [T / 4, T / 2, 3 * T / 4, T])
    print(f"estimate {f.error_estimate:.3g}, true {float(true):.3g}, ratio {f.error_estimate / float(true):.3g}")
    assert true <= f.error_estimate + ref.error_estimate
    assert f.error_estimate <= 1000 * float(true)


def test_sliding_weights_newton_stops_at_its_rounding_floor():
    """Two units of layer 2 slide together on one sample (from t = 0.340 to 0.785) on a biased leaky (α = 1/10) (3,6,6,2) net
    (seed 11 of the soak generator of tests/test_float_simultaneous_kinks.py, with biases and α). The arb tier's
    Newton for their weights μ_0 (numerics.kink_flows._KinkFlow._solve_mu0) used to demand corrections below
    2^{8−bits}: on the step's re-evaluation at 164 bits they cycled at 2.2e-47 against a margin of 1.1e-47 (the
    residual's midpoint rounds at a few ulps × cond), and the run was refused at T = 0.7 ("did not converge").
    It now also stops where Newton no longer contracts and each correction lies inside its own ball. Checked
    against a 40-digit run and the float tier (a separate Newton and series, in float64): events equal, the
    30-digit state within its estimate of the 40-digit one, the float state within its own estimate."""
    rng = np.random.default_rng(11)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet((3, 6, 6, 2), Fraction(1, 10), True), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) for s in obj.shapes]
    T = Fraction(7, 10)
    arb = numerics.gradient_flow(obj, th, T, dps=DPS)
    ref = numerics.gradient_flow(obj, th, T, dps=40)
    flt = numerics.gradient_flow(obj, th, float(T), dps=None)
    keys = [e.key() for e in arb.events]
    assert keys == [e.key() for e in ref.events] == [e.key() for e in flt.events]
    assert [(e.kind, e.layer, e.unit, e.sample) for e in arb.events[-3:]] == [
        ("enter sliding", 2, 0, 0), ("leave sliding", 2, 1, 0), ("enter sliding", 2, 1, 0)]
    times = [T * k / 8 for k in range(1, 9)]
    with mpmath.workdps(50):
        true_arb = max(max(abs(a - b) for a, b in zip(obj.flatten(arb.at(t)), obj.flatten(ref.at(t)))) for t in times)
        true_flt = max(max(abs(mpmath.mpf(float(a)) - b) for a, b in zip(obj.flatten(flt.at(float(t))),
                                                                         obj.flatten(ref.at(t)))) for t in times)
    print(f"arb: estimate {arb.error_estimate:.3g}, true {float(true_arb):.3g}; "
          f"float: estimate {flt.error_estimate:.3g}, true {float(true_flt):.3g}")
    assert true_arb <= arb.error_estimate + ref.error_estimate
    assert true_flt <= flt.error_estimate


@pytest.mark.thorough
def test_two_sliding_units_vs_reference():
    """The instance above against the independent reference (its weights solved pointwise, at 34 digits; ~4 min):
    the same six events (measured: the arb state within 9.5e-33 of it, estimate 1.0e-30)."""
    rng = np.random.default_rng(11)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet((3, 6, 6, 2), Fraction(1, 10), True), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) for s in obj.shapes]
    with mpmath.workdps(REF_DPS):  # α = 1/10 to the reference's precision (at 15 digits its events move by 2e-18)
        net = R.Net((3, 6, 6, 2), mpmath.mpf(1) / 10, True, X, Y)
    traj = compare(obj, th, net, Fraction(7, 10), [Fraction(7, 20), Fraction(7, 10)])
    assert [e.kind for e in traj.events].count("enter sliding") == 3


def test_float_sliding_weights_newton_stops_at_its_rounding_floor():
    """The float tier's Newton for the weights (numerics.float_sliding.FloatSliding._solve_mu0) stops at 1e-15
    relative or, where it no longer contracts, within a linear solve's forward error (64·cond(A)·ε): on a leaky
    (α = −1/2) bias-free (3,6,6,2) net (seed 18 of the soak generator of tests/test_float_simultaneous_kinks.py)
    two layer-2 units slide on one sample with cond(A) = 39 and corrections cycling at 2.3e-15. It used to take
    whatever it had after 8 steps (converged or not); with a refusal after 8 and no floor this instance was refused.
    Checked against the arb tier at 30 digits (its own Newton, ball arithmetic): events equal, the float state
    within its estimate."""
    rng = np.random.default_rng(18)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet((3, 6, 6, 2), Fraction(-1, 2)), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) for s in obj.shapes]
    flt = numerics.gradient_flow(obj, th, 1.0, dps=None)
    arb = numerics.gradient_flow(obj, th, Fraction(1), dps=DPS)
    assert [e.key() for e in flt.events] == [e.key() for e in arb.events] and len(flt.events) == 12
    times = [Fraction(k, 8) for k in range(1, 9)]
    with mpmath.workdps(50):
        true = max(max(abs(mpmath.mpf(float(a)) - b) for a, b in zip(obj.flatten(flt.at(float(t))),
                                                                    obj.flatten(arb.at(t)))) for t in times)
    print(f"float: estimate {flt.error_estimate:.3g}, true {float(true):.3g}")
    assert true <= flt.error_estimate


@pytest.mark.parametrize("seed,alpha,t_end", [(18, Fraction(-1, 2), 1.0), (36, Fraction(0), 0.1)])
def test_the_weights_error_bound_holds_against_the_reference(monkeypatch, seed, alpha, t_end):
    """The float tier's weights μ̂ stop at Newton's floor, and the field it uses, F(θ, μ̂), differs from the
    Filippov field F(θ, μ*) of its own state; ``FloatSeries.weights_error`` bounds that (numerics.weights_error;
    docs/theory.md E1, "The weights' error, bounded"). Checked on the weight solves of two sliding runs (seed 18
    leaky α = −1/2, one layer, cond(A) up to 39; seed 36 ReLU, entries of two layers) against relu_reference at 50
    digits: its own gradient at the float's state, masks and μ̂, and its own solve for μ* (findroot where the
    constraints couple layers). The bound must hold and be within 1000× of the error or of u‖F‖ (below F's own
    rounding, which the relative term counts, no bound of this term can be useful). Measured 2026-12-08: q / max(error,
    u‖F‖) from 1.1 to 127 (seed 18) and 0.09 to 4.8 (seed 36), q ≥ the error on every solve checked."""
    from numerics.float_sliding import FloatSliding

    seen = []
    bound = FloatSliding._weights_error

    def record(self, reps, members):
        q = bound(self, reps, members)
        if all(len(members[r]) == 1 for r in reps):  # (a tied group: one λ for entries the reference solves apart)
            S = self.series
            seen.append(([y.copy() for y in self.y], {L: np.array(np.broadcast_to(m, S.maskv[L].shape if np.ndim(m)
                                                                                   else m.shape)) for L, m in S.maskv.items()},
                         {(j, u, i): S.slide[j + 1][(u, i)][0] for j, u, i in reps}, q,
                         np.concatenate([np.ravel(Y[1]) for Y in S.run(self.y, 1)[0]]) * S.sign))
        return q

    monkeypatch.setattr(FloatSliding, "_weights_error", record)
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet((3, 6, 6, 2), alpha), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) for s in obj.shapes]
    numerics.gradient_flow(obj, th, t_end, dps=None)
    assert len(seen) >= 20
    net = R.Net((3, 6, 6, 2), float(alpha), False, X.tolist(), Y.tolist())
    ratios = []
    with mpmath.workdps(50):
        for y, maskv, mus, q, G in seen[:: max(1, len(seen) // 12)]:
            p = [mpmath.mpf(float(x)) for b in y for x in b.ravel()]  # (exact: binary floats)
            masks = [[[1 if maskv[j + 1][u, i] == 1 else 0 for i in range(5)] for u in range(6)] for j in range(2)]
            hat = [[list(r) for r in m] for m in masks]
            for (j, u, i), mu in mus.items():
                hat[j][u][i] = R.Slope(mpmath.mpf(mu))
            F_hat = net.grad(p, hat)
            # the reference's field is the float tier's (same masks, weights and conventions): a convention check, not
            # a precision claim — a wrong mask or sign moves F by O(‖F‖); 1e-13 ≈ 900u is above the float field's own
            # rounding on these 119-parameter nets (its bound, the relative share plus field_error less the weights'
            # term, came to ≤ 50u‖F‖ on these runs, 2026-12-08)
            assert float(mpmath.sqrt(sum((a - g) ** 2 for a, g in zip(F_hat, G)))) <= 1e-13 * float(
                mpmath.sqrt(sum(a * a for a in F_hat)))
            _, star = R._solve_sliding(net, p, masks, list(mus))
            F_star = net.grad(p, star)
            err = mpmath.sqrt(sum((a - b) ** 2 for a, b in zip(F_hat, F_star)))
            floor = 2.0**-53 * float(mpmath.sqrt(sum(a * a for a in F_star)))
            assert err <= q, (err, q)
            ratios.append(q / max(float(err), floor))
    print(f"\n{len(seen)} weight solves, {len(ratios)} checked: q / max(error, u‖F‖) from {min(ratios):.3g} to "
          f"{max(ratios):.3g}")
    assert max(ratios) <= 1000
