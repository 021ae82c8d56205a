"""Both tiers' activation pattern against the state they integrate: inside every step, wherever a hidden
pre-activation of the dense output is away from 0 (|z| > 1e-9), its sign must be the side the tier
integrates that entry with. A missed event (a crossing the locator did not see, an entry wrongly taken for
identically zero) shows here without any reference run.

It is the invariant whose violation found the "dead for good" bug of 2026-12-04 (an entry identically 0 at
t = 0 that a switch below it set moving; docs/theory.md E1, "relu′(0) and identically zero
pre-activations"). Random small nets: square or cross-entropy loss, leaky or not, with or without biases;
5 points per step, strictly inside it (the arb tier at 20 digits on fewer instances)."""

import numpy as np
from hypothesis import event, example, given, note, settings
from hypothesis import strategies as st

import numerics
import theory
from test_float_taylor import relu_instance
from numerics.float_taylor import _FloatFlow
from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError, _KinkFlow


@st.composite
def nets(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    widths = draw(st.sampled_from([(2, 3, 3, 1), (3, 4, 4, 2), (2, 4, 3, 1), (3, 5, 2)]))
    alpha, bias = draw(st.sampled_from([0.0, 0.2])), draw(st.booleans())
    ce = draw(st.booleans()) and widths[-1] > 1
    note(f"seed {seed}, widths {widths}, alpha {alpha}, bias {bias}, cross-entropy {ce}")
    rng = np.random.default_rng(seed)
    n = 5
    X = rng.standard_normal((n, widths[0]))
    loss = theory.CrossEntropy(X, rng.integers(0, widths[-1], n)) if ce else \
        theory.SquareLoss(X, rng.standard_normal((n, widths[-1])))
    obj = theory.Objective(theory.ReLUNet(widths, alpha, bias), loss)
    return obj, obj.unflatten(rng.standard_normal(obj.num_params))


def _run_with_sides(obj, th, t_end):
    """The float run and, per search of a step (``_locate`` without an error bar), the state's high part and
    the sides the step integrates with."""
    seen = []
    orig = _FloatFlow._locate

    def spy(self, w, h, zerr=None, *a, **k):
        if zerr is None:
            seen.append(([y.copy() for y in self.y], [s.copy() for s in self.side],
                         {(L - 1, u, i) for L, S in self.series.slide.items() for (u, i) in S}))
        return orig(self, w, h, zerr, *a, **k)

    _FloatFlow._locate = spy
    try:
        f = numerics.gradient_flow(obj, th, t_end, dps=None)
    finally:
        _FloatFlow._locate = orig
    return f, seen


def _check_pattern(obj, steps):
    """For each (start, h, sides, sliding) of a step of positive length: the sign pattern of the dense output
    at 5 points inside it is the sides wherever |z| > 1e-9 (sliding entries, at 0, excepted)."""
    X = np.asarray(obj.loss.inputs, dtype=float)
    alpha = float(obj.model.alpha)
    for at, a, h, sides, sliding in steps:
        for q in range(5):
            t = a + h * (0.01 + 0.98 * q / 4)
            Ws, bs = obj.split([np.asarray(w, dtype=float) for w in at(t)])
            act = X
            for l in range(len(Ws) - 1):
                z = Ws[l] @ act + (bs[l].reshape(-1, 1) if bs is not None else 0.0)
                far = np.abs(z) > 1e-9
                for (j, u, i) in sliding:
                    if j == l:
                        far[u, i] = False
                want = np.where(z > 0, 1, -1)
                assert np.array_equal(want[far], sides[l][far]), \
                    f"t = {float(t):.6g}, layer {l + 1}: the tier's side is not the state's sign"
                act = np.where(sides[l] > 0, 1.0, alpha) * z
    assert steps


@settings(max_examples=min(settings().max_examples, 200))
@given(nets())
@example(relu_instance(481322445, (2, 4, 3, 1), 0.0, False, scale=1.0))  # the "dead for good" instance
def test_the_float_tiers_pattern_is_the_states_sign_pattern(inst):
    obj, th = inst
    try:
        f, seen = _run_with_sides(obj, th, 1.0)
    except (UnsupportedKinkError, NonUniqueFlowError, FloatingPointError) as e:
        event(f"refused: {type(e).__name__}")
        return
    event(f"events: {min(len(f.events), 5)}{'+' if len(f.events) >= 5 else ''}")
    starts = {}
    for y, sides, sliding in seen:  # the last search at a state is the step's (zero-length steps search again)
        starts[b"".join(a.tobytes() for a in y)] = (sides, sliding)
    steps = []
    for a, h, c in zip(f.starts, f.steps, f.coeffs):
        key = b"".join(np.ascontiguousarray(Y[0]).tobytes() for Y in c)
        if h > 0 and key in starts:
            steps.append((f.at, a, h, *starts[key]))
    _check_pattern(obj, steps)


@settings(max_examples=min(settings().max_examples, 30))
@given(nets())
@example(relu_instance(481322445, (2, 4, 3, 1), 0.0, False, scale=1.0))
def test_the_arb_tiers_pattern_is_the_states_sign_pattern(inst):
    """The same for the arb tier (20 digits, no dps + 10 rerun; T = 1/2): the sides each step's search saw,
    in order, for the steps of positive length."""
    from fractions import Fraction

    from numerics.kink_flows import relu_gradient_flow

    obj, th = inst
    seen = []
    orig = _KinkFlow._locate

    def spy(self, watched, h, bits):
        ev = orig(self, watched, h, bits)
        if (ev[0] if ev is not None else h) > 0:
            seen.append(([m.side.reshape(m.rows, m.cols).copy() for m in self.masks],
                         {(j, *divmod(idx, m.cols)) for j, m in enumerate(self.masks) for idx in m.sliding}))
        return ev

    _KinkFlow._locate = spy
    try:
        f = relu_gradient_flow(obj, th, Fraction(1, 2), 20, rerun=False)
    except (UnsupportedKinkError, NonUniqueFlowError, FloatingPointError) as e:
        event(f"refused: {type(e).__name__}")
        return
    finally:
        _KinkFlow._locate = orig
    event(f"events: {min(len(f.events), 5)}{'+' if len(f.events) >= 5 else ''}")
    steps = [(lambda t: [np.asarray(w, dtype=float) for w in f.at(Fraction(t))], float(a), float(h), *s)
             for a, h, s in zip(f.starts, f.steps, seen) if h > 0]
    assert len(steps) == len(seen)
    _check_pattern(obj, steps)
