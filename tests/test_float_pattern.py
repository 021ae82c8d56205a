"""The float tier's activation pattern against the state it integrates: inside every step, wherever a
hidden pre-activation of the dense output is away from 0 (|z| > 1e-9), its sign must be the side the tier
integrates that entry with. A missed event (a crossing the locator did not see, an entry wrongly taken for
identically zero) shows here without any reference run.

It is the invariant whose violation found the "dead for good" bug of 2026-12-04 (an entry identically 0 at
t = 0 that a switch below it set moving; docs/theory.md E1, "relu′(0) and identically zero
pre-activations"). Random small nets: square or cross-entropy loss, leaky or not, with or without biases;
5 points per step, strictly inside it."""

import numpy as np
from hypothesis import event, example, given, note, settings
from hypothesis import strategies as st

import numerics
import theory
from test_float_taylor import relu_instance
from numerics.float_taylor import _FloatFlow
from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError


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


@settings(max_examples=min(settings().max_examples, 200))
@given(nets())
@example(relu_instance(481322445, (2, 4, 3, 1), 0.0, False, scale=1.0))  # the "dead for good" instance
def test_the_tiers_pattern_is_the_states_sign_pattern(inst):
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
    X = np.asarray(obj.loss.inputs, dtype=float)
    alpha = float(obj.model.alpha)
    checked = 0
    for a, h, c in zip(f.starts, f.steps, f.coeffs):
        key = b"".join(np.ascontiguousarray(Y[0]).tobytes() for Y in c)
        if h <= 0 or key not in starts:
            continue
        sides, sliding = starts[key]
        for q in range(5):
            Ws, bs = obj.split([np.asarray(w, dtype=float) for w in f.at(a + h * (0.01 + 0.98 * q / 4))])
            act = X
            for l in range(len(Ws) - 1):
                z = Ws[l] @ act + (bs[l].reshape(-1, 1) if bs is not None else 0.0)
                far = np.abs(z) > 1e-9
                for (j, u, i) in sliding:
                    if j == l:
                        far[u, i] = False
                want = np.where(z > 0, 1, -1)
                assert np.array_equal(want[far], sides[l][far]), \
                    f"t = {a + h * (0.01 + 0.98 * q / 4):.6g}, layer {l + 1}: the tier's side is not the state's sign"
                m = np.where(sides[l] > 0, 1.0, alpha)
                act = m * z
            checked += 1
    assert checked > 0
