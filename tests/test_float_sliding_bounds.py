"""The float tier's error bound on sliding stretches (docs/theory.md F, "The growth on a sliding stretch"),
each piece against a computation that does not use it, on the two sliding instances of
tests/test_float_taylor.py (seeds 5 and 1, widths (2, 3, 3, 1), T = 3):

* the growth rate of every sliding step ≥ max(0, −λ_min) of the Hessian with the field's masks (the
  weights μ(t) at the sliding entries) at 9 points inside the step, that Hessian summed from per-sample
  central differences of the generic per-sample gradient with the masks fixed (not the HVP operator the
  tier samples);
* ζ ≥ |z_s(θ̂(t))| at 41 points of the step, z evaluated in mpmath on the step's polynomial;
* the weights' bar ≥ |μ̂ − μ_exact| at every sliding step's start, μ_exact solved by the separately written
  reference (tests/relu_reference.py, 40 digits) at the arb tier's state (30 digits) at that time;
* the near-exit check refuses a weight's dip inside its bar and passes one outside it.
Ratios are printed with -s."""

from fractions import Fraction
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from hypothesis import event, example, given, note, settings, target
from hypothesis import strategies as st

import numerics
import relu_reference as R
from numerics import error_growth, float_sliding_bounds
from numerics.float_taylor import _FloatFlow
from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError, relu_gradient_flow
from test_float_taylor import relu_instance

# every test of this file on one xdist worker (--dist loadgroup): the module's runs (fixture ``run``, ``_REFS``) computed once
pytestmark = pytest.mark.xdist_group("test_float_sliding_bounds")

# (seed, widths, T, scale, biases): the two sliding instances of tests/test_float_taylor.py, and two with
# biases (seed 0: an entry enters, another crosses, the first leaves; seed 13: two entries slide at once)
INSTANCES = [(5, (2, 3, 3, 1), 3.0, 1.0, False), (1, (2, 3, 3, 1), 3.0, 1.0, False),
             (0, (2, 3, 3, 1), 2.0, 1.0, True), (13, (2, 3, 3, 1), 2.0, 1.0, True)]


def _spied(seed, widths, t_end, scale, bias):
    """The float run with, per sliding step (matched to its start by the state): the growth rate with the
    sliding keys and the weights' series, ζ per entry, and the weights' bar and μ_0s."""
    return _spied_run(*relu_instance(seed, widths, 0.0, bias, scale=scale), t_end)


def _spied_run(obj, th, t_end):
    rec = {"rates": [], "zeta": [], "bars": [], "masks": []}
    o_step, o_zeta, o_bar = error_growth.MeasuredGrowth.step, float_sliding_bounds.SlidingBounds._surface_distance, \
        float_sliding_bounds.SlidingBounds._mu_bar
    o_masks = float_sliding_bounds.SlidingBounds._flow_masks
    o_tau = float_sliding_bounds.SlidingBounds._leave_tau
    rec["taus"] = []

    def tau(self, j, u, i, h):
        value = o_tau(self, j, u, i, h)
        rec["taus"].append(((j, u, i), value))
        return value

    def masks(self, h):
        out = o_masks(self, h)
        if out is not None:
            rec["masks"].append(([(L - 1, u, i) for L, S in self.series.slide.items() for (u, i) in S],
                                 [self.maskv[l + 1].copy() for l in range(len(self.masks))]))
        return out

    def step(self, *a, **k):
        mu = o_step(self, *a, **k)
        if k.get("masks") is not None:
            rec["rates"].append((a[0], a[3], mu, k["mask_coeffs"], *rec["masks"][-1]))
        return mu

    def zeta(self, ys, h, key):
        z = o_zeta(self, ys, h, key)
        rec["zeta"].append(([Y.copy() for Y in ys], h, key, z))
        return z

    def bar(self, err):
        b = o_bar(self, err)
        if b is not None:
            mus = {(L - 1, u, i): m[0] for L, S in self.series.slide.items() for (u, i), m in S.items()}
            rec["bars"].append(([y.copy() for y in self.y], b, mus))
        return b

    error_growth.MeasuredGrowth.step, float_sliding_bounds.SlidingBounds._surface_distance, \
        float_sliding_bounds.SlidingBounds._mu_bar, float_sliding_bounds.SlidingBounds._flow_masks, \
        float_sliding_bounds.SlidingBounds._leave_tau = step, zeta, bar, masks, tau
    try:
        f = numerics.gradient_flow(obj, th, t_end, dps=None)
    finally:
        error_growth.MeasuredGrowth.step, float_sliding_bounds.SlidingBounds._surface_distance, \
            float_sliding_bounds.SlidingBounds._mu_bar, float_sliding_bounds.SlidingBounds._flow_masks, \
            float_sliding_bounds.SlidingBounds._leave_tau = o_step, o_zeta, o_bar, o_masks, o_tau
    assert rec["rates"] and rec["bars"], "the instance does not slide"
    return obj, th, f, rec


_REFS: dict = {}


@pytest.fixture(scope="module", params=INSTANCES, ids=["seed5", "seed1", "seed0-bias", "seed13-bias"])
def run(request):
    return _spied(*request.param)


def _reference(obj, th, f):
    """The arb tier at 30 digits (no dps + 10 rerun) to the float run's horizon, once per instance."""
    key = id(f)
    if key not in _REFS:
        _REFS[key] = relu_gradient_flow(obj, th, Fraction(f.times[-1]), 30, rerun=False)
    return _REFS[key]


def _start_time(f, state):
    """The start of the step whose state (the tier's blocks) is ``state``."""
    for a, c in zip(f.starts, f.coeffs):
        if all(np.array_equal(Y[0], y) for Y, y in zip(c, state)):
            return a
    raise AssertionError("a spied state is no step's start")


def _start_time_theta(obj, f, theta):
    """The same for θ in the objective's shapes (what MeasuredGrowth.step is given: the tier's blocks
    reshaped, in the same order)."""
    want = np.concatenate([np.ravel(w) for w in theta])
    for a, h, c in zip(f.starts, f.steps, f.coeffs):
        if h > 0 and np.array_equal(np.concatenate([np.ravel(Y[0]) for Y in c]), want):
            return a
    raise AssertionError("a spied state is no step's start")


def _sample_hessian_sum(obj, theta, masks, eps=1e-5):
    """Σ_i ∇² of sample i's term with its masks fixed: central differences of the gradient with every sample's
    masks given (the generic formula, numerics.gradients.evaluate; its sum over samples is Σ_i of
    numerics.sample_gradient with each sample's column — one pass instead of one per sample, checked by
    test_the_masked_gradient_is_the_sum_of_sample_gradients); a polynomial in θ with the masks fixed: error
    ε²/6·‖D⁴‖ + u/ε, ~1e-10 of the Hessian."""
    from numerics.gradients import BACKENDS, evaluate, from_backend, to_backend

    b = BACKENDS["float"]
    flat = np.asarray(obj.flatten([np.asarray(w, dtype=float) for w in theta]), dtype=float)

    def grad(x):
        _, g = evaluate(obj, to_backend(obj, obj.unflatten(x), b), b, want_value=False, masks=masks)
        return np.concatenate([np.ravel(w) for w in from_backend(obj, g, b)])

    H = np.zeros((flat.size, flat.size))
    for k in range(flat.size):
        e = np.zeros(flat.size)
        e[k] = eps
        H[:, k] = (grad(flat + e) - grad(flat - e)) / (2 * eps)
    return (H + H.T) / 2


def test_the_masked_gradient_is_the_sum_of_sample_gradients():
    """What _sample_hessian_sum differentiates: the gradient with every sample's masks given equals the sum of
    numerics.sample_gradient over the samples with each one's column (masks drawn at random in [0, 1], α, or 1)."""
    from numerics.gradients import BACKENDS, evaluate, from_backend, to_backend

    rng = np.random.default_rng(7)
    for seed, widths, alpha, bias in [(1, (3, 4, 4, 2), 0.2, True), (5, (2, 3, 3, 1), 0.0, False)]:
        obj, th = relu_instance(seed, widths, alpha, bias, scale=1.0)
        n = obj.loss.num_samples
        masks = [rng.choice([alpha, 1.0, rng.uniform()], size=(d, n)) for d in obj.widths[1:-1]]
        b = BACKENDS["float"]
        _, g = evaluate(obj, to_backend(obj, [np.asarray(w, dtype=float) for w in th], b), b, want_value=False,
                        masks=masks)
        want = [sum(gi) for gi in zip(*[numerics.sample_gradient(obj, th, i, masks=[m[:, i:i + 1] for m in masks])
                                        for i in range(n)])]
        for a, w in zip(from_backend(obj, g, b), want):
            np.testing.assert_allclose(a, w, rtol=1e-13, atol=1e-14 * max(1.0, float(np.abs(w).max())))


def _masks_at(obj, theta, mask_series, keys, sides, t):
    """The flow's masks at θ: the sign pattern where |z| > 1e-9 (there it must be the tier's side), the
    tier's side where z is 0 to rounding (a pinned entry, or one whose z is identically 0 while a lower
    entry of the sample slides: the state cannot say), and the sliding entries at μ(t)."""
    Ws, bs = obj.split([np.asarray(w, dtype=float) for w in theta])
    a = np.asarray(obj.loss.inputs, dtype=float)
    out = []
    for l in range(len(Ws) - 1):
        z = Ws[l] @ a + (bs[l].reshape(-1, 1) if bs is not None else 0.0)
        m = np.where(z > 0, 1.0, float(obj.model.alpha))
        far = np.abs(z) > 1e-9
        assert np.array_equal(m[far], sides[l][far]), "the sign pattern is not the tier's away from the kinks"
        m[~far] = sides[l][~far]
        for (j, u, i), mus in zip(keys, mask_series):
            if j == l:
                m[u, i] = float(np.polynomial.polynomial.polyval(t, mus[:, 0]))
        out.append(m)
        a = m * z
    return out


def _check_growth(obj, f, rec, points=9):
    """The rate of every sliding step ≥ max(0, −λ_min) of the Hessian with the field's masks at ``points``
    points inside it; returns the largest ratio."""
    worst = 0.0
    for y0, h, mu, series, keys, sides in rec["rates"]:
        a = _start_time_theta(obj, f, y0)
        assert len(keys) == len(series)
        for q in range(points):
            s = h * (0.5 + 499 * q / (points - 1)) / 500
            theta = f.at(a + s)
            H = _sample_hessian_sum(obj, theta, _masks_at(obj, theta, series, keys, sides, s))
            lam = np.linalg.eigvalsh(H)[0]
            # the differences' error: ~1e-10 of ‖H‖ (see _sample_hessian_sum)
            assert max(0.0, -lam) <= mu + 1e-8 * max(1.0, float(np.abs(H).max()))
            if mu > 0:
                worst = max(worst, max(0.0, -lam) / mu)
    return worst


def _check_zeta(obj, rec, points=41):
    """ζ ≥ |z_s(θ̂(t))| at ``points`` points of each sliding step, z in mpmath on the step's polynomial;
    returns the largest ratio."""
    worst = 0.0
    alpha = mpmath.mpf(float(obj.model.alpha))
    with mpmath.workdps(40):
        X = [[mpmath.mpf(float(v)) for v in row] for row in np.asarray(obj.loss.inputs, dtype=float).T]
        for ys, h, (j, u, i), zeta in rec["zeta"]:
            def zs_at(s, sides=None):
                blocks = [[[mpmath.polyval([mpmath.mpf(float(c)) for c in Y[::-1, r, k]], s) for k in range(Y.shape[2])]
                           for r in range(Y.shape[1])] for Y in ys]
                Ws, bs = (blocks[0::2], blocks[1::2]) if obj.model.bias else (blocks, None)
                a, out = X[i], []
                for l in range(j + 1):
                    z = [mpmath.fsum(w * x for w, x in zip(row, a)) + (bs[l][r][0] if bs else 0)
                         for r, row in enumerate(Ws[l])]
                    out.append(z)
                    # a lower sliding entry of the sample would need μ here: none on these instances, and the
                    # property test below skips instances with one. The lower layers' pattern is the step's
                    # (read at its midpoint: events end steps), not the sign at each point: at a step ending
                    # in a lower entry's crossing that entry's z is at the rounding level there, and its sign
                    # is noise (found at thorough, 2026-12-04: relu_instance(1745, (3, 4, 4, 2), 0.2, False),
                    # a 5e-17 difference at t = 1.1119)
                    side = [v > 0 for v in z] if sides is None else sides[l]
                    a = [v if p else alpha * v for v, p in zip(z, side)]
                return out
            sides = [[v > 0 for v in z] for z in zs_at(mpmath.mpf(h) / 2)]
            for q in range(points):
                z = zs_at(mpmath.mpf(h) * q / (points - 1), sides)[j]
                val = abs(float(z[u]))
                assert val <= zeta
                worst = max(worst, val / zeta)
    return worst


def test_sliding_growth_rate_covers_the_hessian_with_the_fields_masks(run):
    obj, th, f, rec = run
    print(f"\nsliding steps: max μ⁺(H with the field's masks) / rate used = {_check_growth(obj, f, rec):.3g}")


def test_surface_distance_covers_z_along_the_step(run):
    obj, th, f, rec = run
    print(f"\nmax |z_s(θ̂(t))| / ζ = {_check_zeta(obj, rec):.3g}")


def test_sliding_weights_within_their_bar_against_the_reference(run):
    obj, th, f, rec = run
    ref = _reference(obj, th, f)
    X = np.asarray(obj.loss.inputs, dtype=float).T
    Y = np.asarray(obj.loss.target, dtype=float).T
    worst = 0.0
    with mpmath.workdps(40):
        net = R.Net(obj.widths, obj.model.alpha, obj.model.bias, X, Y)
        for y0, bar, mus in rec["bars"]:
            t = _start_time(f, y0)
            p = [mpmath.mpf(x) for x in obj.flatten(ref.at(Fraction(t)))]
            masks = net.pattern(p)
            S = sorted(mus)
            lam, _ = R._solve_sliding(net, p, masks, S)
            for (key, l) in zip(S, lam):
                exact = float(net.alpha + l * (1 - net.alpha))
                diff = abs(mus[key] - exact)
                assert diff <= bar
                worst = max(worst, diff / bar)
    print(f"\nmax |μ̂ − μ_exact| / bar = {worst:.3g}")


def test_leave_times_within_their_uncertainty():
    """Each weight's leave (α or 1 reached at a step's end) happens within τ = bar_μ/|μ̇| of the exact flow's
    leave of the same entry (the arb tier at 30 digits): the switching-time uncertainty the unpin check
    reads (FloatCrossings._unpin_within_bar). On seed 1, the one of INSTANCES whose weight leaves this way."""
    obj, th, f, rec = _spied(*INSTANCES[1])
    assert rec["taus"], "no weight leaves sliding on seed 1: the instance misses its point"
    ref = _reference(obj, th, f)
    worst = 0.0
    for (j, u, i), tau in rec["taus"]:
        mine = [float(e.t) for e in f.events if e.kind == "leave sliding" and (e.layer - 1, e.unit, e.sample) == (j, u, i)]
        theirs = [float(e.t) for e in ref.events if e.kind == "leave sliding" and (e.layer - 1, e.unit, e.sample) == (j, u, i)]
        assert mine and len(mine) == len(theirs)
        d = min(abs(a - b) for a, b in zip(mine, theirs))
        assert d <= tau
        worst = max(worst, d / tau)
    print(f"\nmax |t_leave − t_leave,exact| / τ = {worst:.3g}")


@pytest.mark.parametrize("bar,refused", [(0.01, True), (0.001, False)])
def test_a_weights_dip_inside_its_bar_is_refused(bar, refused):
    """μ(s) = 0.9 + 0.39s − 0.39s² on a step of length 1 comes within 0.0025 of 1 at s = 1/2 without reaching
    it: refused with a bar of 0.01, passed with 0.001 (the check's own logic, on a stub of the flow)."""
    flow = object.__new__(_FloatFlow)
    flow.series = SimpleNamespace(slide={2: {(0, 3): [0.9, 0.39, -0.39]}})
    flow.alpha = 0.0
    flow._geo = {"keys": [(1, 0, 3)]}
    flow._mu_bar = lambda err: bar
    if refused:
        with pytest.raises(UnsupportedKinkError, match="Filippov weight"):
            flow._near_exits(1.0, 1e-15, None)
    else:
        flow._near_exits(1.0, 1e-15, None)


@st.composite
def sliding_candidates(draw):
    """A small ReLU net (widths (2, 3, 3, 1), (3, 4, 4, 2) or (2, 4, 3, 1); α ∈ {0, 0.2}; with or without
    biases) from a drawn seed, N(0, 1) weights: about a third of them slide before T = 2."""
    seed = draw(st.integers(0, 2**32 - 1))
    widths = draw(st.sampled_from([(2, 3, 3, 1), (3, 4, 4, 2), (2, 4, 3, 1)]))
    alpha, bias = draw(st.sampled_from([0.0, 0.2])), draw(st.booleans())
    note(f"relu_instance({seed}, {widths}, {alpha}, {bias}, scale=1.0)")
    return relu_instance(seed, widths, alpha, bias, scale=1.0)


@settings(max_examples=min(settings().max_examples, 150))
@given(sliding_candidates())
@example(relu_instance(1027758452, (2, 3, 3, 1), 0.0, False, scale=1.0))  # simultaneous crossings after sliding
@example(relu_instance(1745, (3, 4, 4, 2), 0.2, False, scale=1.0))  # a step ending in a lower entry's crossing
def test_sliding_bounds_on_random_instances(inst):
    """The growth rate (3 points per sliding step) and ζ (11 points) checks above on random instances;
    those that do not slide, or that the tier refuses, or with two sliding entries of one sample in
    different layers (the ζ check's forward pass does not carry μ), pass vacuously."""
    obj, th = inst
    try:
        obj, th, f, rec = _spied_run(obj, th, 2.0)
    except (UnsupportedKinkError, NonUniqueFlowError, FloatingPointError, AssertionError) as e:
        if isinstance(e, AssertionError) and "does not slide" not in str(e):
            raise
        event("no sliding" if isinstance(e, AssertionError) else f"refused: {type(e).__name__}")
        return
    keys = {key for *_, key, _ in rec["zeta"]}
    if any(a[2] == b[2] and a[0] != b[0] for a in keys for b in keys):
        event("sliding entries of one sample in two layers")
        return
    event("slides: checked")
    g = _check_growth(obj, f, rec, points=3)
    z = _check_zeta(obj, rec, points=11)
    target(g, label="μ⁺(dense) / rate")
    target(z, label="|z_s| / ζ")


def test_a_long_sliding_step_is_shortened_for_the_gradients_sigma(monkeypatch):
    """Where the sliding gradients could move by more than half their σ_min over a step, the step is
    shortened (SlidingBounds._sliding_cap; before 2026-12-05 _normal_forcing refused it as "nearly
    dependent"). Forced here by counting the move 200× (as if σ_min were that much smaller) on seed 5 of
    INSTANCES: the run shortens its sliding steps instead of refusing, the forcing term's σ stays ≥ σ₀/2 on
    every sliding step, and the state stays within its estimate of the arb tier at 30 digits."""
    B = float_sliding_bounds.SlidingBounds
    o_move, o_cap, o_nf = B._gradient_move, B._sliding_cap, B._normal_forcing
    caps, margins = [], []

    def move(self, geo, V, h):
        return 200 * o_move(self, geo, V, h)

    def cap(self, ys, h):
        out = o_cap(self, ys, h)
        caps.append(out < h)
        return out

    def forcing(self, ys, h, local):
        out = o_nf(self, ys, h, local)
        margins.append(1 - move(self, self._geo, self._bar_speed, h) / self._geo["sigma"])
        return out

    monkeypatch.setattr(B, "_gradient_move", move)
    monkeypatch.setattr(B, "_sliding_cap", cap)
    monkeypatch.setattr(B, "_normal_forcing", forcing)
    seed, widths, T, scale, bias = INSTANCES[0]
    obj, th = relu_instance(seed, widths, 0.0, bias, scale=scale)
    f = numerics.gradient_flow(obj, th, T, dps=None)
    # (1e-12: the cap's h·σ₀/(2·move) and the move re-evaluated at it each round by a few ulps, ~1e-15 relative)
    assert sum(caps) >= 3 and margins and min(margins) >= 0.5 * (1 - 1e-12)
    ref = _reference(obj, th, f)
    with mpmath.workdps(40):
        err = max(float(mpmath.sqrt(sum((mpmath.mpf(float(x)) - y) ** 2 for A, Bm in zip(f.at(t), ref.at(Fraction(t)))
                                        for x, y in zip(np.ravel(A), np.ravel(Bm)))))
                  for t in np.linspace(0, T, 7))
    assert err <= f.error_estimate
    print(f"\n{sum(caps)} of {len(caps)} sliding steps shortened; min (σ₀ − move)/σ₀ = {min(margins):.3f}; "
          f"error {err:.3g} ≤ estimate {f.error_estimate:.3g}")
