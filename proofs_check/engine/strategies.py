"""Hypothesis strategies for instances: widths, rational and float weights, objectives.

Exported so users can property-test their own code on the same instance families, e.g.::

    from hypothesis import given
    from proofs_check.strategies import deep_linear_instances

    @given(deep_linear_instances(kind="float"))
    def test_my_gradient(inst):
        obj, theta = inst
        ...

Exact instances use rationals with small numerators and denominators so exact arithmetic stays
fast; float instances use finite floats of moderate magnitude (scale controls it).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import theory
from theory import DeepLinear, Objective, Quadratic, ReLUNet, SquareLoss, WhitenedSquare

KINDS = ("exact", "float")


def small_rationals(max_num: int = 9, max_den: int = 4) -> st.SearchStrategy[Fraction]:
    """Fractions p/q with |p| ≤ max_num, 1 ≤ q ≤ max_den."""
    return st.builds(Fraction, st.integers(-max_num, max_num), st.integers(1, max_den))


def entries(kind: str, scale: float = 1.0) -> st.SearchStrategy[Any]:
    if kind == "exact":
        return small_rationals()
    if kind == "float":
        return st.floats(-scale, scale, allow_nan=False, allow_infinity=False, width=64)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def matrices(shape: tuple[int, ...], kind: str = "exact", scale: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """A matrix of ``shape`` with entries of ``kind`` (object array of Fractions, or float64)."""
    n = int(np.prod(shape))

    def build(xs):
        if kind == "exact":
            a = np.empty(n, dtype=object)
            a[:] = xs
            return a.reshape(shape)
        return np.array(xs, dtype=np.float64).reshape(shape)

    return st.lists(entries(kind, scale), min_size=n, max_size=n).map(build)


def widths(min_depth: int = 1, max_depth: int = 4, min_width: int = 1, max_width: int = 3,
           scalar_output: bool = False) -> st.SearchStrategy[tuple[int, ...]]:
    """(d_0, ..., d_N) with N in [min_depth, max_depth]; d_N = 1 when ``scalar_output``."""

    @st.composite
    def build(draw):
        N = draw(st.integers(min_depth, max_depth))
        ws = draw(st.lists(st.integers(min_width, max_width), min_size=N + 1, max_size=N + 1))
        if scalar_output:
            ws[-1] = 1
        return tuple(ws)

    return build()


@st.composite
def deep_linear_instances(draw, kind: str = "exact", min_depth: int = 1, max_depth: int = 4,
                          max_width: int = 3, scalar_output: bool = False, scale: float = 1.0):
    """(Objective(DeepLinear, WhitenedSquare(Φ)), θ) with entries of ``kind``."""
    ws = draw(widths(min_depth, max_depth, 1, max_width, scalar_output))
    Phi = draw(matrices((ws[-1], ws[0]), kind, scale))
    obj = Objective(DeepLinear(ws), WhitenedSquare(Phi))
    theta = [draw(matrices(s, kind, scale)) for s in obj.shapes]
    return obj, theta


@st.composite
def relu_instances(draw, kind: str = "exact", min_depth: int = 1, max_depth: int = 3,
                   max_width: int = 3, max_samples: int = 3, alpha: Any = None, scale: float = 1.0):
    """(Objective(ReLUNet, SquareLoss(X, Y)), θ) with every pre-activation nonzero (away from kinks).

    ``alpha=None`` draws the leaky slope from {0, 1/10, −1/2, 1} (exact) or [−1, 1] (float).
    """
    ws = draw(widths(min_depth, max_depth, 1, max_width))
    n = draw(st.integers(1, max_samples))
    if alpha is None:
        alpha = draw(st.sampled_from([Fraction(0), Fraction(1, 10), Fraction(-1, 2), Fraction(1)])
                     if kind == "exact" else st.floats(-1, 1))
    X = draw(matrices((n, ws[0]), kind, scale))
    Y = draw(matrices((n, ws[-1]), kind, scale))
    obj = Objective(ReLUNet(ws, alpha), SquareLoss(X, Y))
    theta = [draw(matrices(s, kind, scale)) for s in obj.shapes]
    assume(not at_kink(obj, theta, 0.0 if kind == "exact" else 1e-6 * scale))
    return obj, theta


@st.composite
def network_instances(draw, max_depth: int = 3, max_width: int = 4, max_samples: int = 4):
    """(Objective, θ) in float64: a (leaky) ReLU or linear net (α from {0, 0.1, −0.5, 1}), with or
    without biases, square loss or softmax cross-entropy (d_N ≥ 2 then), Gaussian inputs at scale
    {0.5, 1, 3} and weights at scale {0.3, 1, 2} from one drawn seed (recorded by Hypothesis). The
    instance may sit near a kink; tests that need smoothness check it themselves."""
    from theory import CrossEntropy

    depth = draw(st.integers(1, max_depth))
    ws = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1)))
    ce = draw(st.booleans())
    if ce:
        ws = ws[:-1] + (max(ws[-1], 2),)
    n = draw(st.integers(1, max_samples))
    alpha = draw(st.sampled_from([0.0, 0.1, -0.5, 1.0]))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.3, 1.0, 2.0]))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, ws[0])) * draw(st.sampled_from([0.5, 1.0, 3.0]))
    loss = CrossEntropy(X, rng.integers(0, ws[-1], n)) if ce else SquareLoss(X, rng.standard_normal((n, ws[-1])))
    obj = Objective(ReLUNet(ws, alpha, bias), loss)
    return obj, obj.unflatten(rng.standard_normal(obj.num_params) * scale)


# positive integer tuples a (n = len(a) samples) with Σa² = n·m², m an integer: the collinear twins below
COLLINEAR_TUPLES = (((1, 7), 5), ((7, 17), 13), ((1, 1), 1), ((1, 1, 5), 3), ((1, 5, 7), 5), ((1, 1, 1), 1),
                    ((1, 1, 3, 5), 3), ((1, 1, 7, 7), 5))


def _dyadic(rng: np.random.Generator, shape: Any, bits: int = 8) -> np.ndarray:
    return np.round(rng.standard_normal(shape) * 2**bits) / 2**bits


def collinear_twins(seed: int, max_depth: int = 3, max_width: int = 3) -> tuple:
    """(obj_n, obj_1, θ, T) from ``seed``: a bias-free (leaky) ReLU net on n positive collinear samples
    x_c = a_c·v, and its *twin* on the single sample x′ = m·v, m² = Σa_c²/n (``COLLINEAR_TUPLES``), with
    targets y_c = a_c·u + w_c (Σ a_c w_c = 0) and y′ = m·u. By positive homogeneity the net's output is
    h(a_c v) = a_c h(v), so (1/n)Σ_c ½‖a_c h(v) − y_c‖² = ½‖m h(v) − y′‖² + const: the two objectives have
    the same gradient everywhere and the same gradient flow. On the n-sample net every kink is one surface
    shared by the n entries of a unit (docs/theory.md E1, "Entries that share one kink surface"); on the twin
    each is a lone entry's, so any per-entry integrator — the independent reference of the tests — is a
    reference for the group's flow. All data are dyadic with few bits, so every product above is exact in
    float64. Widths: d_0 ∈ {1, 2}, 1–2 hidden layers of width ≤ ``max_width``; α ∈ {0, 0, 0.1, 0.25, −0.5};
    θ dyadic at scale {1, 1.5, 2}; T ∈ {1, 2, 4}."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, max_depth + 1))
    ws = (int(rng.integers(1, 3)),) + tuple(int(rng.integers(1, max_width + 1)) for _ in range(depth - 1)) \
        + (int(rng.integers(1, 3)),)
    alpha = float(rng.choice([0.0, 0.0, 0.1, 0.25, -0.5]))
    a, m = COLLINEAR_TUPLES[int(rng.integers(len(COLLINEAR_TUPLES)))]
    a = np.array(a, dtype=float)
    n = len(a)
    v, u = _dyadic(rng, ws[0]), _dyadic(rng, ws[-1])
    w = np.zeros((n, ws[-1]))
    w[0] = a[1] * _dyadic(rng, ws[-1])
    w[1] = -a[0] * w[0] / a[1]  # Σ a_c w_c = 0 (exact: a_0·w_0 is a multiple of a_0·a_1)
    X, Y = a[:, None] * v[None, :], a[:, None] * u[None, :] + w
    T = Fraction(int(rng.choice([4, 8, 16])), 4)
    scale = float(rng.choice([1.0, 1.5, 2.0]))
    net = ReLUNet(ws, alpha)
    obj_n = Objective(net, SquareLoss(X, Y))
    obj_1 = Objective(net, SquareLoss((m * v)[None, :], (m * u)[None, :]))
    theta = obj_n.unflatten(_dyadic(rng, obj_n.num_params) * scale)
    return obj_n, obj_1, theta, T


@st.composite
def collinear_relu_twins(draw, max_depth: int = 3, max_width: int = 3):
    """:func:`collinear_twins` from a drawn seed (recorded by Hypothesis)."""
    return collinear_twins(draw(st.integers(0, 2**32 - 1)), max_depth, max_width)


def at_kink(obj: Objective, theta: list, margin: float = 0.0) -> bool:
    """True if some hidden pre-activation has |z| ≤ ``margin`` (0 for exact: f is not C² at z = 0)."""
    a = np.asarray(obj.loss.inputs)
    alpha = obj.model.alpha
    for W in theta[:-1]:
        z = np.asarray(W) @ a
        if any(abs(x) <= margin for x in z.flat):
            return True
        a = np.where(z > 0, z, z * alpha)
    return False


@st.composite
def quadratics(draw, kind: str = "exact", max_dim: int = 4, scale: float = 1.0):
    """(Quadratic(A, b), θ) with A symmetric (indefinite allowed)."""
    P = draw(st.integers(1, max_dim))
    M = draw(matrices((P, P), kind, scale))
    A = (M + M.T) * (Fraction(1, 2) if kind == "exact" else 0.5)
    b = draw(matrices((P,), kind, scale))
    theta = [draw(matrices((P,), kind, scale))]
    return Quadratic(A, b), theta


def to_kind(theta: list, kind: str) -> list[np.ndarray]:
    """θ converted to entry kind ``kind`` (see :func:`theory.to_kind`)."""
    return [theory.to_kind(w, kind) for w in theta]


__all__ = ["KINDS", "small_rationals", "entries", "matrices", "widths", "deep_linear_instances", "relu_instances", "network_instances", "at_kink", "quadratics", "to_kind", "saltation_windows",
           "COLLINEAR_TUPLES", "collinear_twins", "collinear_relu_twins"]


@st.composite
def saltation_windows(draw: Any) -> tuple:
    """A window of the float tier's error bound (docs/theory.md F, "Windows through lone crossings"):
    ``(P, events, steps, seed)`` with events ``(κ, η, v̂, N)`` — lone-crossing saltation matrices
    S = I + κv̂v̂ᵀ + N, ‖N‖₂ ≤ η, κ ∈ (−0.95, κ_max] — and steps ``(nbefore, h, H)`` with a constant
    symmetric H (propagator expm(−hH)) coming after ``nbefore`` of the events. Spans of the v̂ may be
    rank-deficient (all in a plane); ‖H‖, h and κ range over three scales each."""
    P = draw(st.integers(2, 7))
    m = draw(st.integers(0, 6))
    n = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    hmax = draw(st.sampled_from([1e-3, 1e-2, 0.1, 0.5]))
    kmax = draw(st.sampled_from([0.05, 0.5, 2.0]))
    with_n = draw(st.booleans())
    aligned = draw(st.booleans())
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((P, 2))
    events = []
    for _ in range(m):
        v = base @ rng.standard_normal(2) if aligned else rng.standard_normal(P)
        v /= np.linalg.norm(v)
        kap = float(rng.uniform(-min(kmax, 0.95), kmax))
        N = np.zeros((P, P))
        eta = 0.0
        if with_n:
            N = rng.standard_normal((P, P))
            N *= 1e-3 * abs(kap) / np.linalg.norm(N, 2)
            eta = float(np.linalg.norm(N, 2)) * (1 + 1e-12)  # ≥ ‖N‖₂ (SVD within a few ε)
        events.append((kap, eta, v, N))
    nb = sorted(int(x) for x in rng.integers(0, m + 1, n))
    steps = []
    for k in range(n):
        A = rng.standard_normal((P, P))
        H = scale * (A + A.T) / 2 + scale * rng.uniform(-0.5, 1.0) * np.eye(P)
        steps.append((nb[k], float(rng.uniform(0, hmax)), H))
    return P, events, steps, seed

