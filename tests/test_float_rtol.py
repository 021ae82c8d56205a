"""The float tier's looser step target (``rtol`` of numerics.float_taylor.float_gradient_flow): the steps'
last series term is rtol·max(1, ‖θ‖∞) instead of 2^{−53}, so the orders after events are lower and the
truncation larger — and the error estimate must still bound the true error (the arb tier at 30 digits,
as in test_float_taylor) and stay within 1000× of it. The ReLU instances of test_float_taylor (kink
crossings, a Filippov sliding stretch)."""

from fractions import Fraction
from functools import lru_cache

import mpmath
import numpy as np
import pytest
from hypothesis import given, note, reject, target
from hypothesis import strategies as st

import numerics
from proofs_check.strategies import network_instances
from numerics.kink_flows import relu_gradient_flow
from test_float_taylor import maxdiff, relu_instance

# (seed, widths, alpha, bias, init scale, horizon): the crossing and sliding instances of test_float_taylor
INSTANCES = {"crossing": (1, (3, 5, 5, 2), 0.0, True, 0.5, 0.5),
             "leaky crossings": (4, (3, 5, 5, 1), 0.25, False, 0.5, 0.5),
             "sliding": (5, (2, 3, 3, 1), 0.0, False, 1.0, 3.0)}


@lru_cache(maxsize=None)
def _case(name):
    seed, widths, alpha, bias, scale, t_end = INSTANCES[name]
    obj, th = relu_instance(seed, widths, alpha, bias, scale=scale)
    ref = relu_gradient_flow(obj, th, Fraction(t_end), 30, rerun=False)
    assert ref.events, "no kink in the reference: the instance misses its point"
    default = numerics.gradient_flow(obj, th, t_end, dps=None)
    return obj, th, t_end, ref, default


def _pass_cost(traj):
    """Σ over steps of (p+1)(p+2)/2: the Cauchy products a pass of order p costs (numerics.float_series)."""
    return sum((c[0].shape[0]) * (c[0].shape[0] + 1) // 2 for c in traj.coeffs)


@pytest.mark.parametrize("rtol", [1e-12, 1e-8, 1e-5])
@pytest.mark.parametrize("name", list(INSTANCES))
def test_a_looser_step_target_keeps_the_estimate_honest(name, rtol):
    obj, th, t_end, ref, default = _case(name)
    f = numerics.gradient_flow(obj, th, t_end, dps=None, rtol=rtol)
    assert f.rtol == rtol
    with mpmath.workdps(30):
        true = max(maxdiff(f.at(t), ref.at(t)) for t in list(np.linspace(0, t_end, 9)) + f.times[1:8])
    ratio = f.error_estimate / max(true, 1e-300)
    print(f"{name}, rtol {rtol:g}: float vs arb {true:.3g}, estimate {f.error_estimate:.3g} (ratio {ratio:.3g}); "
          f"pass cost {_pass_cost(f)} vs {_pass_cost(default)} at the default")
    assert [e.key() for e in f.events] == [e.key() for e in ref.events]
    assert f.error_estimate >= true  # honest with the larger truncation
    assert f.error_estimate <= 1000 * true  # and tight
    assert _pass_cost(f) < _pass_cost(default)  # the target took effect: lower orders after the events


def test_rtol_is_validated():
    obj, th, t_end, _, default = _case("crossing")
    for bad in (0.0, -1e-10, 1e-3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rtol"):
            numerics.gradient_flow(obj, th, 0.1, dps=None, rtol=bad)
    with pytest.raises(ValueError, match="rtol applies to the float tier"):
        numerics.gradient_flow(obj, th, 0.1, dps=30, rtol=1e-10)
    # below the rounding level there is nothing to gain: taken as 2^-53, the default run bit for bit
    f = numerics.gradient_flow(obj, th, t_end, dps=None, rtol=1e-30)
    assert f.rtol == default.rtol == 2.0**-53
    assert all(np.array_equal(a, b) for a, b in zip(f.at(t_end), default.at(t_end)))


@given(network_instances(max_width=5, max_samples=6), st.sampled_from([None, 1e-12, 1e-8, 1e-5]))
def test_the_estimate_bounds_the_error_on_random_nets(inst, rtol):
    """Property: on random small nets (numerics' ``network_instances``: ReLU, leaky or linear, with or
    without biases, square or cross-entropy loss) the float tier's estimate at T = 0.5, at the default
    step target or a looser one, is ≥ the distance to the arb tier at 30 digits (at 9 grid times and the
    first step ends). Steered (``target``) to the largest true error / estimate. Instances the arb tier
    refuses (a repelling or undecidable kink) are discarded; the float tier may refuse one the arb tier
    integrates (a touch inside its own error bar: UnsupportedKinkError), never return a wrong bar.
    Power: the estimates run 10–100× the true error, so this net catches gross under-estimates — local
    errors scaled by 0.1 are caught at the dev profile (an rtol = 1e-8 instance, true 1.1e-9 against
    4.4e-10), not at ci; the parametrized cases above catch the truncation term scaled by 0.01."""
    from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError

    obj, th = inst
    t_end = 0.5
    try:
        ref = relu_gradient_flow(obj, th, Fraction(t_end), 30, rerun=False)
    except (NonUniqueFlowError, UnsupportedKinkError):
        reject()
    try:
        f = numerics.gradient_flow(obj, th, t_end, dps=None, rtol=rtol)
    except UnsupportedKinkError as e:
        note(f"the float tier refused: {e}")
        return
    with mpmath.workdps(30):
        true = max(maxdiff(f.at(t), ref.at(t)) for t in list(np.linspace(0, t_end, 9)) + f.times[1:8])
    note(f"rtol {rtol}: events {len(f.events)} (arb {len(ref.events)}), true {true:.3g}, estimate {f.error_estimate:.3g}")
    target(true / max(f.error_estimate, 1e-300), label="true error / estimate")
    assert f.error_estimate >= true
