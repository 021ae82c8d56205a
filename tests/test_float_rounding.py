"""The float field's rounding model (numerics.float_rounding; docs/theory.md F, "The field's own rounding"):
the first Taylor coefficient ĉ_1 = F(θ₀) of a float series pass is within ε·d·‖ĉ_1‖ (the relative term's
inner-product share) plus the elementwise running-error bound of the exact field −∇f(θ₀), computed
independently by numerics.gradients in mpmath at 40 digits from the same float θ₀ (converted exactly)."""

import math

import mpmath
import pytest
import numpy as np
from hypothesis import assume, given, note, target
from hypothesis import strategies as st

from numerics.float_witness import _LD_WIDER
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


@st.composite
def softmax_columns(draw):
    """(ẑ, ez, signs): C × n float logits, some saturated (scale up to 40), their error bounds (up to
    2^-30 relative, or exactly 0) and the corners ẑ ± ez the exact logits are put at."""
    C, n = draw(st.integers(2, 6)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Z = rng.standard_normal((C, n)) * draw(st.sampled_from([0.5, 4.0, 15.0, 40.0]))
    rel = draw(st.sampled_from([0.0, 2.0**-52, 2.0**-40, 2.0**-30]))
    ez = np.abs(Z) * rel * rng.random((C, n)) + rel * 1e-3
    return Z, ez, rng.choice([-1.0, 1.0], size=(C, n))


@given(col=softmax_columns())
def test_the_softmax_bound_covers_the_exact_softmax(col):
    """Property: the softmax taken as one node (numerics.float_rounding.softmax_error): |p̂ − p(z)| ≤ e for
    exact logits z anywhere in the box |z − ẑ| ≤ ez (at its corners here), p(z) in mpmath at 40 digits,
    p̂ computed by the operations the float series pass uses (e^{ẑ}, the sums by products with ones, ÷)."""
    from numerics.float_rounding import softmax_error

    Z, ez, signs = col
    C = Z.shape[0]
    E = np.exp(Z)
    S = np.ones((C, 1)) @ (np.ones((1, C)) @ E)
    p = E / S
    bound = softmax_error(p, E, S, ez if np.any(ez) else 0.0)
    worst = 0.0
    with mpmath.workdps(40):
        for i in range(Z.shape[1]):
            z = [mpmath.mpf(float(Z[c, i])) + signs[c, i] * mpmath.mpf(float(ez[c, i])) for c in range(C)]
            top = max(z)
            w = [mpmath.exp(x - top) for x in z]
            tot = mpmath.fsum(w)
            for c in range(C):
                err = float(abs(mpmath.mpf(float(p[c, i])) - w[c] / tot))
                assert err <= bound[c, i], (c, i, err, bound[c, i])
                if bound[c, i] > 0:
                    worst = max(worst, err / bound[c, i])
    target(worst, label="error / bound")


def test_the_cross_entropy_tape_has_its_softmax_detected():
    """The one-node rule is used: FloatSeries finds the softmax of a cross-entropy objective's tape (and
    none in a square loss's)."""
    import theory

    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 3))
    for loss, found in ((theory.CrossEntropy(X, np.array([0, 1, 2, 1])), 1),
                        (theory.SquareLoss(X, rng.standard_normal((4, 3))), 0)):
        obj = theory.Objective(theory.ReLUNet((3, 4, 3), 0.0, True), loss)
        fl = _FloatFlow(obj, obj.unflatten(rng.standard_normal(obj.num_params)), 4, False)
        assert len(fl.series._softmax) == found


def _hexes(rows):
    return np.array([[float.fromhex(v) for v in r] for r in rows])


@pytest.mark.skipif(not _LD_WIDER, reason="numpy's longdouble is float64 on this platform (macOS arm64, Windows): "
                    "no witness runs, and the relative model alone is known to fall short on this instance")
def test_an_interior_cancellation_is_covered_by_the_witness(monkeypatch):
    """The instance the thorough run of the property above found (2026-12-04; Hypothesis's draw, exact
    as float.hex): leaky ReLU (2, 5, 1, 2), α = 0.1, two samples; the width-1 layer's pre-activation is a
    sum of five terms that cancels, so its rounding is not relative to it and the relative term's share
    (1.84e-16) plus the head's bound (4.22e-16) fell short of ‖ĉ_1 − F‖ = 8.99e-16. The longdouble witness
    (FieldWitness._witness) covers it; without the witness the sum is still short (the instance
    tests what it should)."""
    import theory
    import numerics.float_witness as fw

    X = _hexes([['-0x1.b45059452df32p-1', '-0x1.694983bc223c8p+1'], ['-0x1.3854e9f54d9ddp-3', '-0x1.2fe693bb5755dp-4']])
    Y = _hexes([['-0x1.37199a44d6e15p-4', '-0x1.6cbdddf06098dp-1'], ['-0x1.f8278fc0eb681p-1', '-0x1.8e022cfcdca16p-1']])
    th = [_hexes([['0x1.e44273a19353ep-2', '-0x1.2924b9a693004p-1'], ['-0x1.69ef20fda86d6p+0', '-0x1.afc254b62b8c9p+0'],
                  ['0x1.716a2d1647b42p+0', '0x1.6c59aa18c2a22p-3'], ['0x1.5e19d4432db95p+0', '0x1.0e8b152173947p-1'],
                  ['-0x1.be5b59abe60a2p+1', '0x1.539aee53f12c9p-3']]),
          _hexes([['0x1.b8aeebe149599p-1', '0x1.41d08a3cce32cp-1', '0x1.9569f171fe7c6p-1', '-0x1.80611125a7cb2p-4',
                   '-0x1.f6bee1c20e853p+0']]),
          _hexes([['-0x1.ee55d4f2435fbp+1'], ['0x1.9a9f7a8a7840ap+0']])]
    obj = theory.Objective(theory.ReLUNet((2, 5, 1, 2), 0.1), theory.SquareLoss(X, Y))
    diff, rel, elem = field_check(obj, th)
    print(f"|c1 - F| = {diff:.3g}, relative share {rel:.3g}, bound with the witness {rel + elem:.3g}")
    assert diff <= rel + elem <= 1000 * diff
    monkeypatch.setattr(fw, "WITNESS_FLOPS", -1)
    diff0, rel0, elem0 = field_check(obj, th)
    # the bound without the witness falls short — with the rounding of the BLAS kernel the instance was found
    # on (OpenBLAS's Haswell kernel: |c1 − F| = 8.99e-16). The field is a BLAS product, whose summation order
    # (and so its rounding) depends on the kernel OpenBLAS picks for the CPU: its SkylakeX kernel (AVX-512,
    # an AMD EPYC, 2026-12-04) rounds this sum to 1.13e-16, which the model covers; there the instance does
    # not show the shortfall, and only the bound above is tested
    if diff0 > 5e-16:
        assert rel0 + elem0 < diff0
    else:
        print(f"this machine's BLAS rounds the field to {diff0:.3g} (8.99e-16 where found): the shortfall without "
              "the witness is not reproduced here")
