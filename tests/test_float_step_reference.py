"""The float Taylor tier's per-step local error bounds (``FloatTaylorTrajectory.local_errors``) against a
30-digit arb reference of single steps (tests/float_step_reference.py), on the research nets:
ReLU 64-50-50-10 on sklearn digits (pixels/16, one-hot targets, square loss, He init seed 0, zero biases
where present; the setup of benchmarks/bench_float_taylor.py). The arb integrator is far too slow there,
so each checked step is integrated alone from the tier's own exact start state (hi + lo) on the step's
activation pattern (docs/theory.md F, "Per-step reference at research scale").

Asserted per checked step: honest (true error incl. the reference's own error ≤ local_errors[n]) and
tight (local_errors[n] ≤ 1000 × true error); and for step 0, whose start θ0 is exact, the same for the
carried estimate errors[0] against the flow from θ0 (a global check over the shortest horizon). Steps:
step 0 and a seeded-random choice among the steps that start at a kink event (the seed is recorded).
Ratios are printed (-s) and recorded as junit properties (--junitxml)."""

import numpy as np
import pytest

from float_step_reference import StepReference, StepSkipped, digits_net
from numerics.float_taylor import float_gradient_flow

SEED = 20261203  # the rng choosing steps among those after events

RATIOS: list = []  # (label, step, h, order, sub-steps, estimate, true lower, ratio, seconds)


@pytest.fixture(autouse=True)
def _record_ratios(record_property):
    k = len(RATIOS)
    yield
    for label, n, h, p, m, est, true, ratio, sec in RATIOS[k:]:
        record_property(f"tightness_{label}_step{n}", float(ratio))


def steps_after_events(traj) -> list[int]:
    """Steps that start at a recorded kink event (the event's time is the float at which the step
    starts, recorded as its exact Fraction) and whose end state is stored."""
    from fractions import Fraction

    times = {e.t for e in traj.events}
    return [n for n in range(1, len(traj.steps) - 1) if Fraction(traj.starts[n]) in times]


def _dense(traj, n: int, frac: float) -> list:
    """The tier's dense output on step n at s = frac·h_n: its step polynomial by Horner in float, as
    FloatTaylorTrajectory.at evaluates it (blocks as stored, biases as columns)."""
    s = frac * float(traj.steps[n])
    out = []
    for C in traj.coeffs[n]:
        acc = C[-1].copy()
        for c in C[-2::-1]:
            acc = acc * s + c
        out.append(acc)
    return out


def check_steps(label: str, obj, th, T: float, k: int) -> tuple:
    """Run the float tier to T, check step 0 and k seeded-random steps after events; return the checks."""
    traj = float_gradient_flow(obj, th, T)
    after = steps_after_events(traj)
    assert len(after) >= k, f"{label}: only {len(after)} steps after events up to T = {T}"
    ref = StepReference(traj)
    order = [0] + [int(n) for n in np.random.default_rng(SEED).permutation(after)]
    checks, skipped = [], []
    for n in order:
        if len(checks) == k + 1:
            break
        try:
            # step 0 from θ0 itself (exact floats): its local error is also the global error after it
            checks.append(ref.check(n, start=th if n == 0 else None))
        except StepSkipped as e:
            skipped.append(str(e))
    assert checks and checks[0].n == 0, f"{label}: step 0 not checked: {skipped[:1]}"
    assert len(checks) == k + 1, f"{label}: only {len(checks)} steps checkable; skipped: {skipped}"
    for c in checks:
        RATIOS.append((label, c.n, c.h, c.order, c.substeps, c.estimate, c.true_lower, c.ratio, c.seconds))
        print(f"{label} step {c.n}: h = {c.h:.3g}, reference order {c.order} × {c.substeps} sub-steps "
              f"({c.seconds:.1f} s), local bound {c.estimate:.3g}, true {c.true_lower:.3g} "
              f"(reference error {c.ref_error:.2g}), ratio {c.ratio:.3g}")
    if skipped:
        print(f"{label}: skipped {skipped}")
    for c in checks:
        assert c.true_upper <= c.estimate, f"{label} step {c.n}: bound {c.estimate:.3g} < true {c.true_upper:.3g}"
        assert c.estimate <= 1000 * c.true_lower, f"{label} step {c.n}: bound/true = {c.ratio:.3g} > 1000"
    # the shortest horizon: errors[0] bounds the error of the tier's float output on step 0 (the step
    # polynomial of hi by Horner; from θ0, exact, so this is the global error): checked at h/2 and h
    c0, e0 = checks[0], float(traj.errors[0])
    zero = [np.zeros_like(c[0]) for c in traj.coeffs[0]]
    outs = [(c0.y_half, _dense(traj, 0, 0.5)), (c0.y_ref, _dense(traj, 0, 1.0))]
    lo = up = 0.0
    for y, out in outs:
        d = ref.distance(y, list(zip(out, zero)))
        up = max(up, float(d.mid() + d.rad()) * (1 + 1e-15) + c0.ref_error)
        lo = max(lo, float(d.mid() - d.rad()) * (1 - 1e-15) - c0.ref_error)
    print(f"{label}: global error of the float output on step 0 {lo:.3g}, errors[0] = {e0:.3g} (ratio {e0 / lo:.3g})")
    RATIOS.append((f"{label}_global", 0, c0.h, c0.order, c0.substeps, e0, lo, e0 / lo, 0.0))
    assert up <= e0
    assert e0 <= 1000 * lo
    return traj, ref, checks


@pytest.mark.parametrize("bias", [False, True])
def test_float_step_bounds_on_a_digits_subset(bias):
    """64-50-50-10 on the first 40 digits (6,200 / 6,310 parameters), T = 2e-3 (~30 kinks): step 0 and
    two (bias-free) or one (biased) steps after events, ~1.3 s each."""
    obj, th = digits_net(40, bias)
    traj, ref, checks = check_steps(f"digits40{'b' if bias else ''}", obj, th, 2e-3, 1 if bias else 2)
    # the reference can fail: an end state moved by 8× the bound is measured as such
    c = checks[-1]
    y = c.y_ref
    end = [(hi[0].copy(), lo) for hi, lo in zip(traj.coeffs[c.n + 1], traj.start_lows[c.n + 1])]
    end[0][0][0, 0] += 8 * c.estimate
    assert float(ref.distance(y, end).mid()) >= 7 * c.estimate


@pytest.mark.thorough
@pytest.mark.parametrize("bias", [False, True])
def test_float_step_bounds_at_research_scale(bias):
    """64-50-50-10 on 500 digits (the research nets), T = 2e-4 (~37 kinks): step 0 and three steps
    after events (seed SEED), ~15 s each at order 8."""
    obj, th = digits_net(500, bias)
    check_steps(f"digits500{'b' if bias else ''}", obj, th, 2e-4, 3)


@pytest.mark.thorough
def test_float_global_error_on_a_digits_subset():
    """The whole run, not one step: the float tier on 64-50-50-10 (6,200 parameters, the first 40 digits, T =
    2e-3, 28 kinks in two windows) against the arb tier at 20 digits (~10 min on one core), at the event
    times and nine even times. Asserted at every time t: the arb distance ± the arb run's own estimate lies
    under the float bound of t's step (``errors[i]``; ``end_error`` at T), and the max bound is ≤ 1000× the
    max true error. Measured 2026-12-07: true 8.7e-16, bound 6.7e-15 (7.7×)."""
    from fractions import Fraction

    import numerics
    from error_norms import error2

    obj, th = digits_net(40, False)
    T = 2e-3
    traj = float_gradient_flow(obj, th, T)
    ref = numerics.gradient_flow(obj, th, Fraction(T), dps=20)
    assert [e.key() for e in traj.events] == [e.key() for e in ref.events]
    arb_err = float(ref.error_estimate)
    times = sorted(set(np.linspace(0.0, T, 9).tolist() + [float(e.t) for e in traj.events]))
    worst = 0.0
    for t in times:
        got = np.concatenate([np.ravel(B) for B in traj.at(t)])
        d = error2(got, [y for B in ref.at(Fraction(t)) for y in B.flat], 30)  # (the 2-norm, rounded up)
        i = max(0, int(np.searchsorted(traj.starts, t, side="right")) - 1)
        bound = traj.end_error if t == T else traj.errors[i]
        assert d + arb_err <= bound, f"t = {t!r}: true {d:.3g} > bound {bound:.3g}"
        worst = max(worst, d - arb_err)
    ratio = traj.error_estimate / worst
    RATIOS.append(("digits40_whole_run", len(traj.steps), T, 0, 0, traj.error_estimate, worst, ratio, 0.0))
    print(f"digits40 whole run: {len(traj.events)} events, bound {traj.error_estimate:.3g}, true {worst:.3g}, "
          f"ratio {ratio:.3g}")
    assert traj.error_estimate <= 1000 * worst
