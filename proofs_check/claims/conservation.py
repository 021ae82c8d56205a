"""Claims on conserved quantities and balanced dynamics: THEORY.md B3, B4, B5.

* B3: d/dt D_j ≡ 0 along GF as a polynomial identity in the weights and Φ (SymPy, exact).
* B4: one GD step changes D_j by exactly η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ) on linear nets, and each
  hidden neuron's incoming-minus-outgoing squared norm by exactly η²·(the same for G) on leaky-ReLU
  nets; compared with == in exact rationals.
* B5: at a balanced point (D_j = 0) of a scalar-output linear net, the end-to-end velocity
  ẇ = Σ_j S_{j+1}Ẇ_jP_{j−1} (chain rule with Ẇ_j = −∇_{W_j}f) equals
  −‖w‖^{2−2/N}(∇φ + (N−1)⟨∇φ, ŵ⟩ŵ), and ‖W_j‖₂ = ‖w‖^{1/N}. Balanced points are built in 50-digit
  mp (THEORY.md C1 recipe), so D_j = 0 up to 1e-49; the identity is checked to 1e-40 relative.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from hypothesis import strategies as st

import numerics
import theory
from theory import symbolic

from ..engine.claim import Claim, Measurement
from ..engine.instances import codec, decode_instance, encode_instance
from ..engine.strategies import at_kink, matrices, small_rationals


# ------------------------------------------------------------------------------------------ B3
def b3_measure(widths: tuple) -> Measurement:
    ders = symbolic.conservation_derivatives(widths)
    return Measurement(holds=all(e.expand() == 0 for M in ders for e in M), details={"widths": str(widths)})


def b3_strategy() -> st.SearchStrategy:
    return st.integers(1, 4).flatmap(lambda N: st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)
                                     .map(tuple))


# ------------------------------------------------------------------------------------------ B4
def b4_measure(inst: tuple, exponent: int = 2) -> Measurement:
    """Exact GD-step drift; ``exponent`` replaces the 2 of η² (a mutation hook)."""
    obj, theta, eta = inst
    G = numerics.gradient(obj, theta)
    step = [W - eta * g for W, g in zip(theta, G)]
    if obj.model.is_linear:
        before, after, base = numerics.balancedness(theta), numerics.balancedness(step), numerics.balancedness(G)
    else:
        before, after = numerics.neuron_norm_gaps(theta), numerics.neuron_norm_gaps(step)
        base = numerics.neuron_norm_gaps(G)
    ok = all(np.array_equal(a - b, eta**exponent * g) for a, b, g in zip(after, before, base))
    return Measurement(holds=ok)


@st.composite
def _b4_linear(draw):
    N = draw(st.integers(2, 4))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(draw(matrices((d[-1], d[0]), "exact"))))
    theta = [draw(matrices(s, "exact")) for s in obj.shapes]
    return obj, theta, draw(small_rationals(9, 50).filter(lambda x: x > 0))


@st.composite
def _b4_relu(draw):
    N = draw(st.integers(2, 4))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    n = draw(st.integers(1, 3))
    alpha = draw(st.sampled_from([Fraction(0), Fraction(1, 5), Fraction(-1, 3)]))
    obj = theory.Objective(theory.ReLUNet(d, alpha), theory.SquareLoss(draw(matrices((n, d[0]), "exact")),
                                                                      draw(matrices((n, d[-1]), "exact"))))
    theta = [draw(matrices(s, "exact")) for s in obj.shapes]
    from hypothesis import assume
    assume(not at_kink(obj, theta))
    return obj, theta, draw(small_rationals(9, 50).filter(lambda x: x > 0))


_enc3, _dec3 = codec("eta")


# ------------------------------------------------------------------------------------------ B5
def balanced_scalar_point(w: Any, us: list, dps: int = 50) -> list[np.ndarray]:
    """THEORY.md C1 recipe in mp: W_1 = s·u_1ŵᵀ, W_j = s·u_ju_{j−1}ᵀ, W_N = s·u_{N−1}ᵀ, s = ‖w‖^{1/N}.

    ``w`` is the end-to-end row (length d_0), ``us`` the hidden directions (normalised here).
    """
    with mpmath.workdps(dps):
        w = theory.to_kind(np.asarray(w, dtype=object if np.asarray(w).dtype == object else float), "mp")
        nw = mpmath.sqrt(mpmath.fsum(x * x for x in w))
        N = len(us) + 1
        s = nw ** (mpmath.mpf(1) / N)
        units = []
        for u in us:
            u = theory.to_kind(np.asarray(u, dtype=float), "mp")
            units.append(u / mpmath.sqrt(mpmath.fsum(x * x for x in u)))
        what = w / nw
        Ws = [s * np.outer(units[0], what)] if N > 1 else [w.reshape(1, -1)]
        for j in range(1, N - 1):
            Ws.append(s * np.outer(units[j], units[j - 1]))
        if N > 1:
            Ws.append(s * units[-1].reshape(1, -1))
        return Ws


def b5_measure(inst: tuple, power: Any = None) -> Measurement:
    """max(|ẇ_chain − ẇ_formula| / |ẇ|, max_j |‖W_j‖₂ − ‖w‖^{1/N}| / ‖w‖^{1/N}) ≤ 1e-40.

    ``power`` replaces the exponent 2 − 2/N (a mutation hook)."""
    obj, theta = inst
    N = obj.depth
    with mpmath.workdps(50):
        G = numerics.gradient(obj, theta)
        # chain rule: ẇ = Σ_j S_{j+1}(−G_j)P_{j−1}
        w = theta[0]
        for M in theta[1:]:
            w = M @ w
        wdot = np.zeros(w.shape, dtype=object) * mpmath.mpf(0)
        for j in range(N):
            term = -G[j]
            P = np.eye(theta[0].shape[1], dtype=object) * mpmath.mpf(1)
            for M in theta[:j]:
                P = M @ P
            S = np.eye(theta[j].shape[0], dtype=object) * mpmath.mpf(1)
            for M in theta[j + 1:]:
                S = M @ S
            wdot = wdot + S @ term @ P
        gphi = w - theory.to_kind(obj.loss.Phi, "mp")
        nw = mpmath.sqrt(mpmath.fsum(x * x for x in w.flat))
        what = w / nw
        inner = mpmath.fsum(a * b for a, b in zip(gphi.flat, what.flat))
        pw = (2 - mpmath.mpf(2) / N) if power is None else mpmath.mpf(power)
        formula = -(nw ** pw) * (gphi + (N - 1) * inner * what)
        scale = max(mpmath.mpf(10) ** -30, max(abs(x) for x in formula.flat))
        e1 = max(abs(a - b) for a, b in zip(wdot.flat, formula.flat)) / scale
        root = nw ** (mpmath.mpf(1) / N)
        e2 = max(abs(theory.bounds.spectral_norm_mp(W) - root) / root for W in theta)
        err = max(e1, e2)
    return Measurement(holds=bool(err <= mpmath.mpf(10) ** -40), details={"relative_error": float(err)})


@st.composite
def _b5_points(draw):
    N = draw(st.integers(2, 5))
    d0 = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.integers(1, 4), min_size=N - 1, max_size=N - 1))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    scale = 10 ** draw(st.floats(-3, 0.5))
    w = rng.standard_normal(d0)
    w = scale * w / np.linalg.norm(w)
    us = [rng.standard_normal(h) for h in hidden]
    Phi = rng.standard_normal((1, d0))
    obj = theory.Objective(theory.DeepLinear((d0, *hidden, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return obj, balanced_scalar_point(w, us)


def _enc2(inst):
    with mpmath.workdps(50):
        return encode_instance(*inst)


def _dec2(d):
    with mpmath.workdps(50):
        obj, theta, _ = decode_instance(d)
    return obj, theta


B3 = Claim(
    "B3", "conservation of D_j along GF (deep linear)", "EC21 §4; Arora et al. 2018 (THEORY.md B3)", "paper",
    "d/dt D_j == 0", "identity", "exact polynomial identity (SymPy expand), no tolerance",
    "widths N=1..4, d_j in 1..3, weights and Phi symbolic", b3_strategy, b3_measure,
    lambda w: {"widths": list(w)}, lambda d: tuple(d["widths"]), default_budget=4)

B4 = Claim(
    "B4", "exact GD drift of D_j / neuron norm gaps", "THEORY.md B4", "derived",
    "Delta D_j == eta^2 (G_{j+1}^T G_{j+1} - G_j G_j^T)", "identity", "exact rationals, compared with ==",
    "deep linear (whitened) and leaky ReLU (square loss) nets, N=2..4, d_j in 1..3",
    lambda: st.one_of(_b4_linear(), _b4_relu()), b4_measure, _enc3, _dec3, default_budget=12,
    options=("exponent",))

B5 = Claim(
    "B5", "end-to-end dynamics under balanced init (scalar output)", "Arora, Cohen & Hazan 2018 (THEORY.md B5)",
    "paper", "w' == -|w|^(2-2/N)(grad phi + (N-1)<grad phi, w^>w^), ||W_j||_2 == |w|^(1/N)", "identity",
    "balanced points built at 50 digits (D_j = 0 to 1e-49): relative error <= 1e-40",
    "N=2..5, d_0 1..4, hidden widths 1..4, |w| in 1e-3..3", lambda: _b5_points(), b5_measure, _enc2, _dec2,
    default_budget=12, options=("power",))
