"""The float field's rounding model (numerics.float_rounding; docs/theory.md F, "The field's own rounding"):
the first Taylor coefficient ĉ_1 = F(θ₀) of a float series pass is within ε·d·‖ĉ_1‖ (the relative term's
inner-product share) plus the elementwise running-error bound of the exact field −∇f(θ₀), computed
independently by numerics.gradients in mpmath at 40 digits from the same float θ₀ (converted exactly)."""

import math

import mpmath
import numpy as np
from hypothesis import assume, given, note, target
from hypothesis import strategies as st

from numerics.float_steps import EPS
from numerics.float_taylor import _FloatFlow
from numerics.gradients import gradient
from proofs_check.engine.strategies import network_instances


def field_check(obj, th) -> tuple[float, float, float]:
    """(‖ĉ_1 − F‖₂ in mp, the relative share ε·d·‖ĉ_1‖, the elementwise bound) at θ₀ = th; None where
    a hidden pre-activation is within 1e-8 of its kink (the float and mp masks may differ there)."""
    fl = _FloatFlow(obj, th, 4, False)
    try:
        fl._setup()
    except FloatingPointError:  # logits past the float tier's range: it refuses them
        return None
    ys, w = fl.series.run(fl.y, 1, fl.watch, field_error=True)
    if any(float(np.min(np.abs(w[z][0]))) < 1e-8 for z in fl.watch):  # near a kink: the masks may differ
        return None
    c1 = fl._theta([Y[1] for Y in ys])
    with mpmath.workdps(40):
        g = gradient(obj, [np.vectorize(mpmath.mpf, otypes=[object])(w) for w in th])
        diff = math.sqrt(sum(float(sum((mpmath.mpf(float(a)) + b) ** 2 for a, b in zip(c.flat, G.flat)))
                             for c, G in zip(c1, g)))
    norm = math.sqrt(sum(float(np.sum(c * c)) for c in c1))
    return diff, EPS * fl.series.dmax * norm, fl.series.field_error


def saturated_instances():
    """One linear or ReLU layer pair with cross-entropy on a few samples whose logits are large (scale
    2 inputs, weights ×4): p_label − 1 cancels."""
    import theory

    @st.composite
    def draw(d):
        ws = (d(st.integers(1, 3)), d(st.integers(2, 5)))
        n = d(st.integers(1, 3))
        rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
        X = rng.standard_normal((n, ws[0])) * 2.0
        obj = theory.Objective(theory.ReLUNet(ws, 0.0, d(st.booleans())),
                               theory.CrossEntropy(X, rng.integers(0, ws[-1], n)))
        return obj, obj.unflatten(rng.standard_normal(obj.num_params) * 4.0)
    return draw()


@given(inst=st.one_of(network_instances(max_width=6, max_samples=8), saturated_instances()))
def test_the_field_rounding_bound_covers_the_float_field(inst):
    """Property: ‖ĉ_1 − F(θ₀)‖ ≤ ε·d·‖ĉ_1‖ + field_error on random nets (steered to the worst ratio)."""
    got = field_check(*inst)
    # discarded, not passed: a pre-activation within 1e-8 of its kink (the float and mp masks may differ
    # there, so −∇f is not the float pass's field) or logits past the float tier's range (it refuses them)
    assume(got is not None)
    diff, rel, elem = got
    note(f"|c1 - F| = {diff:.3g}, relative share {rel:.3g}, elementwise bound {elem:.3g}")
    if rel + elem > 0:
        target(diff / (rel + elem), label="rounding / bound")
    assert diff <= rel + elem


def test_the_saturated_head_needs_the_elementwise_bound():
    """The instance of test_saturated_cross_entropy_rounding_is_counted (tests/test_float_rtol.py): the
    relative share alone does not cover ĉ_1's rounding (ℓ' = p − 1 cancels); with the bound it does."""
    import theory

    obj = theory.Objective(theory.ReLUNet((1, 4), 0.0), theory.CrossEntropy(np.array([[5.978348798065775]]), np.array([3])))
    th = [np.array([[-1.2654278488384327], [-0.1956773379786635], [0.07500527230314893], [1.330257815400924]])]
    diff, rel, elem = field_check(obj, th)
    assert rel < diff <= rel + elem <= 1000 * diff
