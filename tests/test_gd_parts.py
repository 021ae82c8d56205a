"""C2's parts (docs/theory.md C2a–C2c, proofs_check.claims.gd_parts): each part's measurement
against something computed differently, the verdicts on a fixed instance, and mutations."""

import json
import math

import numpy as np
import pytest

import numerics
import theory
from proofs_check.claims import gd_convergence as gdc
from proofs_check.claims import gd_parts as gp
from proofs_check.claims.convergence import ConvInstance


def _instance(N=2, d0=3, hidden=2, seed=3, r0=0.05, eps_rel=1e-2):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((1, d0))
    Phi /= np.linalg.norm(Phi)
    obj = theory.Objective(theory.DeepLinear((d0,) + (hidden,) * (N - 1) + (1,)), theory.WhitenedSquare(Phi))
    return ConvInstance(obj, numerics.balanced_init(obj, r0, seed=seed + 1), eps_rel, "balanced-small")


def _flat(th):
    return np.concatenate([np.asarray(W, dtype=float).ravel() for W in th])


def test_flow_states_is_the_trajectory_dense_output():
    inst = _instance()
    traj = numerics.gradient_flow(inst.obj, inst.theta, 3.0, dps=None)
    ts = np.linspace(0.0, 3.0, 37)
    F = gp.flow_states(traj, ts)
    for t, row in zip(ts, F):
        assert np.max(np.abs(row - _flat(traj.at(t)))) <= 1e-14 * max(1.0, np.max(np.abs(row)))


def test_c2a_edge_is_an_edge_and_the_bound_is_below_it():
    """GD at η_tube stays within ε' of GF on [0, t̃] and at the failing end it leaves (both
    recomputed here against the DOP853 flow, not the Taylor reference the measure uses)."""
    inst = _instance()
    m = gp.c2a_measure(inst)
    d = gdc.derived_step_bound(inst.obj, inst.theta, inst.eps_rel)
    flow = d["flow"]

    def dist(eta):
        K = math.floor(d["t_tilde"] / eta)
        gd = numerics.gradient_descent(inst.obj, inst.theta, eta, K)
        return max(float(np.linalg.norm(_flat(flow.at(k * eta)) - _flat(gd.thetas[k]))) for k in range(K + 1))

    lo, hi = m.details["eta_tube"], m.details["eta_tube_fail"]
    assert dist(lo) <= d["eps_prime"] < dist(hi)
    assert m.status(gp.C2a.resolution) == "holds"
    assert m.lhs <= lo and hi / lo <= 1 + 1.001 * gp.TUBE_PREC
    # the slack is A2's inequality: the measured first-order coefficient is below the bound's
    assert m.details["c1_measured"] < m.details["c1_bound"]


def test_c2a_catches_a_bound_a_hundred_times_too_large():
    """C2's composition lets ×100 pass (worst η_d/η_emp ≈ 0.003 at ci seed 0); C2a's slack is ≈ 30×
    at its tightest default instance, so ×100 is violated (docs/theory.md#c2a; ×10 still passes:
    A2's own slack)."""
    r = gp.C2a.check(seed=0, factor=100.0)
    assert r.verdict == "violated"
    cx = json.loads(json.dumps(r.counterexample))
    assert gp.C2a.replay(cx, factor=100.0).status(gp.C2a.resolution) == "violated"


def test_c2b_sup_against_a_brute_force_grid():
    """The maximiser's sup (grid + Brent) against a 3000-point grid on the DOP853 flow: it is at
    least the brute-force value (up to the positions' error), and the error bound covers the gap."""
    inst = _instance(N=3, hidden=2, r0=0.2, eps_rel=1e-1)
    d = gdc.derived_step_bound(inst.obj, inst.theta, inst.eps_rel)
    traj = numerics.gradient_flow(inst.obj, inst.theta, d["t_tilde"], dps=None)
    sup, _, dt = gp.sup_hessian_norm(inst.obj, traj, d["t_tilde"], 200)
    brute = max(gp._norm(inst.obj, d["flow"].at(t)) for t in np.linspace(0.0, d["t_tilde"], 3001))
    assert sup >= brute - 1e-8 * brute
    e_s = dt / 2 * d["L3_path"] * d["gamma_path"]
    assert sup - 1e-8 * sup <= brute + e_s
    assert d["beta_sampled"] <= sup * (1 + 1e-8) <= d["beta_path"] * (1 + 1e-8)


def test_c2b_verdict_and_reported_findings():
    inst = _instance(N=3, hidden=2, r0=0.2, eps_rel=1e-1)
    m = gp.c2b_measure(inst)
    assert m.status(gp.C2b.resolution) == "holds"
    assert m.ratio >= 0.9
    assert m.details["tube_margin"] >= 1.0
    # A1's hypothesis ηλ_max ≤ 1 gives away at least a factor 2 against GD's stability limit 2/λ_T
    assert m.details["eta_stab_over_gd_limit"] <= 0.5 + 1e-12
    assert gp.c2b_measure(inst, factor=1.0 / m.ratio * 1.01).status(gp.C2b.resolution) == "violated"


def test_c2c_two_integrators_agree_and_a_shorter_time_is_violated():
    """C2's T (the float Taylor tier's first passage raised by its derived time error) is ≥ the arb tier's
    (30 digits), and above it by no more than that error plus the reference's own: the bound is tight."""
    inst = _instance()
    m = gp.c2c_measure(inst)
    assert m.status(gp.C2c.resolution) in ("holds", "holds within error")
    assert m.rhs - m.lhs <= m.details["T_error"] + m.err
    assert max(m.err, m.details["T_error"]) <= 1e-8 * m.rhs  # resolved far below any constant that matters
    assert gp.c2c_measure(inst, factor=0.999).status(gp.C2c.resolution) == "violated"
    assert gp.c2c_measure(inst, factor=1.001).status(gp.C2c.resolution) == "holds"


@pytest.mark.parametrize("claim", [gp.C2a, gp.C2b, gp.C2c])
def test_parts_refuse_models_they_do_not_cover(claim):
    relu = theory.Objective(theory.ReLUNet((2, 3, 1), 0.0), theory.SquareLoss(np.ones((2, 2)), np.ones(2)))
    with pytest.raises(TypeError, match="deep linear"):
        claim.measure(ConvInstance(relu, numerics.gaussian_init(relu, 0.1), 1e-3, "gaussian"))
