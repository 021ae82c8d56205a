"""The arb tier's rerun at dps + 10 digits, beyond running it (docs/theory.md E3): the estimate it gives a run
(:func:`rerun_estimate`), the check of its kink decisions against its own error (:func:`check_rerun_decisions`,
with :mod:`numerics.kink_margins`), and the confirmation of a verdict that stops a run (:func:`confirmed`).
:func:`numerics.kink_flows.relu_gradient_flow` runs both flows and calls these."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any, Sequence

import mpmath

from theory import Objective

from .kink_events import NonUniqueFlowError, UnsupportedKinkError, mark_immaterial


def confirmed(obj: Objective, theta0: Sequence[Any], dps: int, flow: Any, t_end: Fraction,
              e: NonUniqueFlowError) -> RuntimeError:
    """The run's verdict ``e`` (the flow is not unique from e.trajectory.t_end), checked by the dps + 10 rerun as
    the events of a completed run are (docs/theory.md E3, "Verdicts that stop a run"): the rerun must reach the
    same verdict, after the same material events, within the last step either run took before it (a verdict is
    decided at a step's end or start: a lift found at a step start lies inside that step). Returns ``e`` with the
    confirmation added to its message (and the rerun's flow as ``e.rerun``), or an UnsupportedKinkError that says
    how the rerun differs (or the UnsupportedKinkError of
    :meth:`numerics.kink_margins.DecisionMargins.check_decisions` on the rerun's decisions before it). Without the
    rerun, a verdict decided on rates within the run's own error (the rates are balls of the computed state, which
    is itself off by that error) would stand unchecked."""
    part = e.trajectory
    n = len(part.events)
    merge_tol = flow.merge_tol
    fine = type(flow)(obj, theta0, dps + 10, None, merge_tol=merge_tol)
    try:
        fine.run(t_end, None)
        differs = f"runs on to t = {float(t_end):.17g} without it"
    except NonUniqueFlowError as f:
        other = f.trajectory
        with mpmath.workdps(dps + 10):
            tol = 10.0 ** -(dps - 5)  # as for a completed run's events (kink_flows.relu_gradient_flow)
            mark_immaterial(obj, part, tol)
            mark_immaterial(obj, other, tol)
        ka = [x.key() for x in part.events if x.material]
        kb = [x.key() for x in other.events if x.material]
        ta, tb = part.t_end, other.t_end
        window = max(part.steps[-1], other.steps[-1]) + Fraction(merge_tol) * max(1, ta)
        if ka != kb:
            differs = (f"reaches a verdict at t = {float(tb):.17g} after other events ({len(ka)} vs {len(kb)} material; "
                       f"first difference {next((x, y) for x, y in zip(ka + [None], kb + [None]) if x != y)})")
        elif abs(ta - tb) > window:
            differs = (f"reaches its verdict at t = {float(tb):.17g}, farther from this one than the last step "
                       f"either run took ({float(window):.3g})")
        else:
            check_rerun_decisions(fine, other, part, rerun_estimate(part, other, dps))  # (those before the verdict)
            e.rerun = other
            e.args = (f"{e}; confirmed by the rerun at {dps + 10} digits (the same {n} events before it; its verdict at "
                      f"t = {float(tb):.17g})",)
            return e
    except UnsupportedKinkError as f:
        differs = f"refuses ({f})"
    return UnsupportedKinkError(f"{e}; but the rerun at {dps + 10} digits {differs}: the verdict is not resolved at "
                                f"{dps} digits; raise dps")


def error_at(traj: Any, t: Fraction) -> float:
    """The estimate that covers t: that of the step that starts at t or contains it (estimates are carried
    forward, so it covers the step that ends at t too)."""
    return float(traj.errors[traj._locate(min(t, traj.t_end))[0]])


def check_rerun_decisions(fine_flow: Any, fine: Any, traj: Any, r: float) -> None:
    """The rerun's kink decisions checked against its own error (:meth:`numerics.kink_margins.DecisionMargins.check_decisions`), which
    estimate bounds by r·e (e the run's estimate, r from :func:`rerun_estimate`; docs/theory.md E3) or by the rerun's
    local errors if larger. The rerun's decisions are the ones to check: the runs' material events are the same, and
    the run's estimate |run − rerun| + e_f holds whatever the margins of the run's own decisions, as long as the
    rerun's are those of the exact flow."""
    fine_flow.check_role = f" of the rerun at {fine_flow.dps} digits"
    fine_flow.check_decisions(lambda t: max(r * error_at(traj, t), error_at(fine, t)))


def rerun_estimate(traj: Any, fine: Any, dps: int) -> float:
    """Sets ``traj.errors`` from the dps + 10 rerun ``fine`` (same material events; docs/theory.md E3): at every
    step, the larger of the run's local errors and |run − rerun| on the step's end and midpoint, inflated, plus
    the rerun's own local errors, carried forward; inf on a step that ends past ``fine.t_end``. Returns r, the bound
    on the rerun's error relative to the run's."""
    fine_local = fine.error_estimate
    # |run − true| ≤ |run − rerun| + |rerun − true| = D + e_f. Every error source of a run at d digits
    # (rounding, the series truncated at order ⌈1.15d⌉ + 2, constants held at d digits) shrinks at
    # least like 10^−d, and both runs follow the same linearised error equation, so e_f ≤ r·e with
    # r = 10^−10 (the rerun's 10 extra digits) or the ratio of the runs' local errors if larger, times
    # a safety factor 10; e ≤ D + r·e gives e ≤ D/(1 − r). History: a ReLU + cross-entropy case once
    # came out 8e-12 (relative) short of its true error, with local estimates (2.7e-50) 15 orders below
    # it (2.2e-35). The cause was not the estimate: Trajectory.at read the run out at dps + 32 bits while
    # cross-entropy runs work at dps + 32 + 2p bits (2^-115 ≈ 2.4e-35 of read-out rounding); at the run's
    # precision the true error is 4.0e-53 and the local estimates are honest on their own
    # (tests/test_cross_entropy_flow.py, per step). The rerun stays as the cross-check of E3.
    coarse_local = traj.error_estimate
    r = 10.0 * max(10.0 ** -10, fine_local / coarse_local if coarse_local > 0 else 1.0)
    r = min(r, 0.5)
    inflate = 1.0 / (1.0 - r)
    if traj.t_end > fine.t_end and traj.t_end - fine.t_end <= fine.steps[-1] / 1024:
        # verdicts of the two runs at one instant, their times apart by rounding: the rerun's last series read a
        # hair past its step (s ≤ (1 + 2⁻¹⁰)h, well inside its radius — h is e⁻² of it — where the tail grows by
        # (1 + 2⁻¹⁰)^(p+1) ≤ 1.07 for p ≤ 60, inside the factor 10 on its local errors)
        fine = dataclasses.replace(fine, t_end=traj.t_end)
    with mpmath.workdps(dps + 10):
        ends = traj.times[1:]
        mids = [a + (b - a) / 2 for a, b in zip(traj.times[:-1], traj.times[1:])]
        for i, (tm, te) in enumerate(zip(mids, ends)):
            diff = 0.0
            if te > fine.t_end:  # (a verdict's partial flows: past the rerun's end the step has no estimate)
                traj.errors[i] = math.inf
                continue
            for tk in (tm, te):
                a, b = traj.at(tk), fine.at(tk)
                diff = max(diff, float(max(abs(x - z) for A, B in zip(a, b) for x, z in zip(A.flat, B.flat))))
            traj.errors[i] = max(traj.errors[i], diff * inflate + fine_local)
    # the estimate at a step covers everything before it (errors are carried forward)
    for i in range(1, len(traj.errors)):
        traj.errors[i] = max(traj.errors[i], traj.errors[i - 1])
    return r
