"""Both tiers' activation pattern against the state they integrate: inside every step, wherever a hidden
pre-activation of the dense output is away from 0 (|z| > 1e-9), its sign must be the side the tier
integrates that entry with; the float tier's sliding weights lie in [α, 1] there; and at every switch the
switched entry's z is 0 (to 1e-9). A missed or misplaced event (a crossing the locator did not see, an entry
wrongly taken for identically zero, a stale root) shows here without any reference run.

It is the invariant whose violation found the "dead for good" bug of 2026-12-04 (an entry identically 0 at
t = 0 that a switch below it set moving; docs/theory.md E1, "relu′(0) and identically zero
pre-activations"). Random small nets: square or cross-entropy loss, leaky or not, with or without biases;
5 points per step, strictly inside it (the arb tier at 20 digits on fewer instances).

The 1e-9: on these nets (|z|, ‖∇_θz‖‖θ'‖ of order 1–10) the computed z of an entry at its kink — sliding,
pinned, just switched — is at the rounding level, ≲ 1e-14 (the default step target is 2^-53 per step), so
1e-9 leaves a margin of ~1e5 for the sign test; an entry excluded by it is only not tested. For the switches,
a root misplaced by δt moves z by ~|ż|δt, which is > 1e-9 for any δt > 1e-9/|ż| (≈ 1e-9 here)."""

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
    alpha, bias = draw(st.sampled_from([0.0, 0.2, -0.3])), draw(st.booleans())
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
                         {(L - 1, u, i): list(m) for L, S in self.series.slide.items() for (u, i), m in S.items()}))
        return orig(self, w, h, zerr, *a, **k)

    _FloatFlow._locate = spy
    try:
        f = numerics.gradient_flow(obj, th, t_end, dps=None)
    finally:
        _FloatFlow._locate = orig
    return f, seen


def _preacts(obj, theta, sides=None):
    """The hidden pre-activations z_l (units × samples) of the state θ, the masks those of ``sides`` (default:
    the signs of z themselves)."""
    Ws, bs = obj.split([np.asarray(w, dtype=float) for w in theta])
    act, out = np.asarray(obj.loss.inputs, dtype=float), []
    for l in range(len(Ws) - 1):
        z = Ws[l] @ act + (bs[l].reshape(-1, 1) if bs is not None else 0.0)
        out.append(z)
        act = np.where((z if sides is None else sides[l]) > 0, 1.0, float(obj.model.alpha)) * z
    return out


def _check_pattern(obj, steps):
    """For each (start, h, sides, sliding) of a step of positive length: the sign pattern of the dense output
    at 5 points inside it is the sides wherever |z| > 1e-9, and a sliding entry's weight (``sliding``: its
    series, where known) lies in [α, 1] there."""
    alpha = float(obj.model.alpha)
    for at, a, h, sides, sliding in steps:
        for q in range(5):
            s = h * (0.01 + 0.98 * q / 4)
            for l, z in enumerate(_preacts(obj, at(a + s), sides)):
                far = np.abs(z) > 1e-9
                for (j, u, i) in sliding:
                    if j == l:
                        far[u, i] = False
                want = np.where(z > 0, 1, -1)
                assert np.array_equal(want[far], sides[l][far]), \
                    f"t = {float(a + s):.6g}, layer {l + 1}: the tier's side is not the state's sign"
            for key, mus in (sliding.items() if isinstance(sliding, dict) else ()):
                mu = float(np.polynomial.polynomial.polyval(s, mus))
                assert min(alpha, 1.0) - 1e-9 <= mu <= 1.0 + 1e-9, f"t = {float(a + s):.6g}: weight {key} = {mu} outside [α, 1]"
    assert steps


def _check_events(obj, events, at):
    """At each recorded switch the entry's z of the dense output is 0 to 1e-9: the event sits where the state
    reaches the kink (a stale or misplaced root would show)."""
    for e in events:
        if e.kind == "leave sliding":
            continue  # z is 0 throughout the stretch before it: nothing to place
        t = float(e.t)
        z = _preacts(obj, at(t))[e.layer - 1]  # (the entries at 0 below it give a = 0 under either mask)
        assert abs(z[e.unit, e.sample]) <= 1e-9, f"{e.kind} of unit {e.unit} of layer {e.layer} on sample {e.sample} " \
            f"at t = {t:.6g}: z = {z[e.unit, e.sample]:.3g} there"


@settings(max_examples=min(settings().max_examples, 200))
@given(nets())
@example(relu_instance(481322445, (2, 4, 3, 1), 0.0, False, scale=1.0))  # the "dead for good" instance
def test_the_float_tiers_pattern_is_the_states_sign_pattern(inst):
    """Inside every step the sides are the state's signs away from 0 and the sliding weights lie in [α, 1];
    at every switch the entry's z is 0 (to 1e-9)."""
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
    _check_events(obj, f.events, f.at)


@settings(max_examples=min(settings().max_examples, 30))
@given(nets())
@example(relu_instance(481322445, (2, 4, 3, 1), 0.0, False, scale=1.0))
def test_the_arb_tiers_pattern_is_the_states_sign_pattern(inst):
    """The same for the arb tier (20 digits, no dps + 10 rerun; T = 1/2): the sides each step's search saw,
    in order, for the steps of positive length, and z = 0 at its switches."""
    from fractions import Fraction

    from numerics.kink_flows import relu_gradient_flow

    obj, th = inst
    seen = []
    orig = _KinkFlow._locate

    def spy(self, watched, h, bits, y):
        ev = orig(self, watched, h, bits, y)
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
    def at(t):
        return [np.asarray(w, dtype=float) for w in f.at(Fraction(t))]

    steps = [(at, float(a), float(h), *s) for a, h, s in zip(f.starts, f.steps, seen) if h > 0]
    assert len(steps) == len(seen)
    _check_pattern(obj, steps)
    _check_events(obj, f.events, at)
