"""The independent exact reference: losses built from SymPy symbols by their forward definition.

Nothing here uses a gradient formula. Every quantity is derived from the *definition* of the loss,

    f(θ) = (c/2)·‖Z − T‖_F²,   Z = W_N σ(W_{N−1} ⋯ σ(W_1 X)),

(THEORY.md notation; X = I for the whitened loss, where f = ½‖W_N⋯W_1 − Φ‖_F²) or of the quadratic
f(θ) = ½θᵀAθ − bᵀθ, written once in :func:`_forward` / :func:`_square_loss` / :func:`_quadratic` and
evaluated over three kinds of scalars:

* SymPy symbols -> the loss as an expression (:func:`loss_expr`);
* elements of the polynomial ring ℚ[δ] in the parameter symbols, truncated at total degree 2
  (:class:`_Jet`) -> the exact Taylor polynomial
  f(θ₀ + δ) = f(θ₀) + ∇f(θ₀)ᵀδ + ½δᵀ∇²f(θ₀)δ + O(δ³),
  from which :func:`gradient` and :func:`hessian` read the coefficients;
* exact ``Fraction``s -> the activation pattern of a leaky-ReLU net at θ₀.

Why the truncated ring is exact: f is a polynomial in θ (inside one activation region), so its
Taylor expansion at θ₀ is finite and exact, and the coefficients of total degree ≤ 2 of f(θ₀ + δ)
depend only on the degree ≤ 2 parts of the factors (degrees add under products), so dropping higher
terms after every product changes none of them. This is second-order forward-mode differentiation
*of the definition*: SymPy's sparse polynomials over ℚ do the arithmetic; ``tests/test_symbolic.py``
holds it equal to ``sympy.hessian`` of :func:`loss_expr` on small nets.

Also here: the certified smallest eigenvalue of a rational symmetric matrix
(:func:`lambda_min_interval`) and the conservation laws of THEORY.md B3 as polynomial identities
(:func:`conservation_derivatives`, :func:`neuron_conservation_derivatives`).

Imports nothing from ``numerics`` or ``proofs_check``.
"""

from __future__ import annotations

import functools
import operator
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, PolyRing, ring

from .arrays import to_kind
from .objective import Objective
from .quadratic import Quadratic

__all__ = [
    "EigenInterval",
    "conservation_derivatives",
    "gradient",
    "hessian",
    "lambda_min_interval",
    "loss_expr",
    "neuron_conservation_derivatives",
    "parameter_symbols",
]

Matrix = list  # a matrix here is a list of rows (lists), so any scalar type can fill it


# ---- generic arithmetic over any scalar type supporting +, -, * ---------------------------------


def _sum(terms: Sequence[Any]) -> Any:
    """Σ terms; one flat ``sympy.Add`` for SymPy expressions (repeated + would nest and be slow)."""
    if not terms:
        raise ValueError("empty sum")  # shapes are validated, so this is a bug, not bad input
    if isinstance(terms[0], sympy.Basic):
        return sympy.Add(*terms)
    return functools.reduce(operator.add, terms)


def _matmul(A: Matrix, B: Matrix) -> Matrix:
    """A @ B on lists of rows; the left factor's entries come first in each product."""
    inner = len(B)
    return [[_sum([A[i][l] * B[l][k] for l in range(inner)]) for k in range(len(B[0]))] for i in range(len(A))]


def _forward(Ws: Sequence[Matrix], inputs: Matrix | None, activation: Callable[[int, Matrix], Matrix],
             biases: Sequence[Sequence[Any]] | None = None) -> Matrix:
    """Z = W_N σ(W_{N−1} ⋯ σ(W_1 X + b_1 1ᵀ) ⋯) + b_N 1ᵀ; ``inputs`` None means X = I (then W_1 X = W_1).

    ``activation(j, A_j)`` applies σ to the pre-activation A_j = W_j H_{j−1} (+ b_j 1ᵀ) of hidden
    layer j (1-based, j < N); it is a callback so the same forward pass can record the activation
    pattern at a rational point and replay it with symbols. ``biases``: b_1..b_N as lists, or None.
    """
    def affine(j: int, H: Matrix) -> Matrix:
        if biases is None:
            return H
        return [[z + biases[j][r] for z in row] for r, row in enumerate(H)]

    H = affine(0, [list(row) for row in Ws[0]] if inputs is None else _matmul(Ws[0], inputs))
    for j in range(1, len(Ws)):
        H = affine(j, _matmul(Ws[j], activation(j, H)))
    return H


def _square_loss(Z: Matrix, T: Matrix, half_weight: Any) -> Any:
    """(c/2)·‖Z − T‖_F², with ``half_weight`` = c/2 as a constant of the scalar type."""
    residuals = [Z[i][k] - T[i][k] for i in range(len(Z)) for k in range(len(Z[0]))]
    return _sum([r * r for r in residuals]) * half_weight


def _quadratic(x: Sequence[Any], A: Matrix, b: Sequence[Any], half: Any) -> Any:
    """½ xᵀAx − bᵀx from the definition (``half`` = ½ as a constant of the scalar type)."""
    P = len(x)
    quad = _sum([x[i] * x[k] * A[i][k] for i in range(P) for k in range(P)])
    lin = _sum([x[i] * b[i] for i in range(P)])
    return quad * half - lin


# ---- inputs: exact constants, symbols --------------------------------------------------------------


def _exact(a: Any) -> np.ndarray:
    """Object array of ``Fraction`` (floats and mpf convert exactly: they are binary rationals)."""
    return to_kind(a, "exact")


def _rows(a: np.ndarray, const: Callable[[Fraction], Any]) -> Matrix:
    """A 2-D array as a list of rows, each entry converted by ``const``."""
    return [[const(x) for x in row] for row in np.asarray(a)]


def _sympy_const(x: Fraction) -> sympy.Rational:
    return sympy.Rational(x.numerator, x.denominator)


def _qq_const(x: Fraction) -> Any:
    return QQ(x.numerator, x.denominator)


def _check_obj(obj: Any) -> None:
    if not isinstance(obj, (Objective, Quadratic)):
        raise TypeError(f"obj must be theory.Objective or theory.Quadratic, got {type(obj).__name__}")


def parameter_symbols(obj: Objective | Quadratic) -> list[sympy.Symbol]:
    """The real SymPy symbols of θ in ``obj.flatten`` order.

    Networks: ``W{j}_{r}_{c}`` is entry (r, c) (0-based) of W_j (1-based j), W_1 row-major first.
    Quadratic: ``theta_{i}``. Biases (``bias=True``): ``b{j}_{r}``, after W_j.
    """
    _check_obj(obj)
    if isinstance(obj, Quadratic):
        return list(sympy.symbols(f"theta_0:{obj.num_params}", real=True))
    out = []
    for j, (rows, cols) in enumerate(obj.model.weight_shapes, start=1):
        out += [sympy.Symbol(f"W{j}_{r}_{c}", real=True) for r in range(rows) for c in range(cols)]
        if obj.model.bias:
            out += [sympy.Symbol(f"b{j}_{r}", real=True) for r in range(rows)]
    return out


def _layers(flat: Sequence[Any], shapes: Sequence[tuple[int, ...]]) -> list[Matrix]:
    """Cut a flat parameter list into θ's blocks, inverse of row-major flatten: a matrix block as a
    list of rows, a 1-D block (a bias) as a flat list."""
    out, i = [], 0
    for shape in shapes:
        if len(shape) == 1:
            out.append(list(flat[i : i + shape[0]]))
            i += shape[0]
            continue
        rows, cols = shape
        out.append([list(flat[i + r * cols : i + (r + 1) * cols]) for r in range(rows)])
        i += rows * cols
    return out


def _net_forward(obj: Objective, flat: Sequence[Any], inputs: Matrix | None,
                 activation: Callable[[int, Matrix], Matrix]) -> Matrix:
    """:func:`_forward` on θ = flat, split into weights and (if the model has them) biases."""
    blocks = _layers(flat, obj.shapes)
    if obj.model.bias:
        return _forward(blocks[0::2], inputs, activation, blocks[1::2])
    return _forward(blocks, inputs, activation)


def _theta_exact(obj: Objective | Quadratic, theta: Sequence[Any]) -> list[Fraction]:
    """θ validated and flattened to exact ``Fraction``s."""
    return list(_exact(obj.flatten(theta)))


# ---- activation pattern --------------------------------------------------------------------------


def _activation_masks(obj: Objective, flat: list[Fraction] | None) -> list[Matrix] | None:
    """Per hidden layer j < N, per unit a and sample i: 1 if the pre-activation at θ is > 0, else α.

    None for a linear network (α = 1: σ is the identity, no pattern, no kinks). Raises ValueError
    if a pre-activation is exactly 0 (and α ≠ 1): the loss is not C² there, so no Hessian exists.
    """
    alpha = obj.model.alpha
    if alpha == 1:
        return None
    if flat is None:
        raise ValueError(
            "theta is required for a ReLUNet with alpha != 1: the loss is a polynomial only inside one "
            "activation region, and theta selects it"
        )
    alpha_q = _exact(np.array([alpha], dtype=object))[0]
    masks: list[Matrix] = []

    def record(j: int, A: Matrix) -> Matrix:
        mask = []
        for a, row in enumerate(A):
            mrow = []
            for i, z in enumerate(row):
                if z == 0:
                    raise ValueError(
                        f"theta is at a kink: the pre-activation of hidden unit {a} of layer {j} on sample {i} "
                        "is exactly 0; f is not C² there (the activation pattern is ambiguous)"
                    )
                mrow.append(Fraction(1) if z > 0 else alpha_q)
            mask.append(mrow)
        masks.append(mask)
        return [[z * m for z, m in zip(row, mrow)] for row, mrow in zip(A, mask)]

    inputs = None if obj.loss.inputs is None else _rows(_exact(obj.loss.inputs), Fraction)
    _net_forward(obj, flat, inputs, record)
    return masks


def _build_loss(obj: Objective | Quadratic, flat_vars: Sequence[Any], const: Callable[[Fraction], Any],
                masks: list[Matrix] | None) -> Any:
    """f at the parameters ``flat_vars`` (any scalar type), constants converted by ``const``."""
    if isinstance(obj, Quadratic):
        A = _rows(_exact(obj.A), const)
        b = [const(x) for x in _exact(obj.b)]
        return _quadratic(flat_vars, A, b, const(Fraction(1, 2)))
    loss = obj.loss
    inputs = None if loss.inputs is None else _rows(_exact(loss.inputs), const)
    target = _rows(_exact(loss.target), const)
    cmasks = None if masks is None else [[[const(m) for m in row] for row in mask] for mask in masks]

    def apply(j: int, A: Matrix) -> Matrix:
        if cmasks is None:
            return A
        return [[z * m for z, m in zip(row, mrow)] for row, mrow in zip(A, cmasks[j - 1])]

    Z = _net_forward(obj, flat_vars, inputs, apply)
    return _square_loss(Z, target, const(Fraction(loss.weight) / 2))


# ---- 1. the loss as an expression ----------------------------------------------------------------


def loss_expr(
    obj: Objective | Quadratic, theta: Sequence[Any] | None = None
) -> tuple[sympy.Expr, list[sympy.Symbol]]:
    """The loss f as a SymPy expression in the parameter symbols, built by its forward definition.

    Returns ``(f, symbols)`` with ``symbols`` in ``obj.flatten`` order (see :func:`parameter_symbols`).

    * network: f = (c/2)‖Z − T‖_F² with Z = W_N σ(⋯σ(W_1 X)) (whitened: ½‖W_N⋯W_1 − Φ‖_F²);
    * quadratic: f = ½θᵀAθ − bᵀθ.

    For a leaky-ReLU net (α ≠ 1) σ is piecewise linear, so ``theta`` is required: the activation
    pattern (σ(z) = z if z > 0 else αz, per hidden unit and sample) is read off exactly at θ, and the
    expression is the polynomial that equals f on that activation region (masks are the constants
    1 or α). ValueError if θ is at a kink (a pre-activation exactly 0). Float data convert exactly.
    """
    _check_obj(obj)
    flat = None if theta is None else _theta_exact(obj, theta)
    masks = None if isinstance(obj, Quadratic) else _activation_masks(obj, flat)
    syms = parameter_symbols(obj)
    return _build_loss(obj, syms, _sympy_const, masks), syms


# ---- 2. gradient and Hessian via the truncated polynomial ring -------------------------------------


class _Jet:
    """An element c0 + p1 + p2 of ℚ[δ]/(δ)³: constant, linear part, quadratic part.

    ``p2 is None`` means first order only, ℚ[δ]/(δ)² (enough for the gradient). Products drop every
    term above the order kept; that is exact for the coefficients kept, because the degree-≤k part of
    a product depends only on the degree-≤k parts of the factors.
    """

    __slots__ = ("c0", "p1", "p2")

    def __init__(self, c0: Any, p1: PolyElement, p2: PolyElement | None) -> None:
        self.c0, self.p1, self.p2 = c0, p1, p2

    def __add__(self, o: Any) -> "_Jet":
        if isinstance(o, _Jet):
            return _Jet(self.c0 + o.c0, self.p1 + o.p1, None if self.p2 is None else self.p2 + o.p2)
        return _Jet(self.c0 + o, self.p1, self.p2)

    __radd__ = __add__

    def __neg__(self) -> "_Jet":
        return _Jet(-self.c0, -self.p1, None if self.p2 is None else -self.p2)

    def __sub__(self, o: Any) -> "_Jet":
        return self + (-o)

    def __rsub__(self, o: Any) -> "_Jet":
        return (-self) + o

    def __mul__(self, o: Any) -> "_Jet":
        if isinstance(o, _Jet):
            # (a0 + a1 + a2)(b0 + b1 + b2) mod degree 3 = a0b0 + (a0b1 + b0a1) + (a0b2 + b0a2 + a1b1)
            p1 = self.p1.mul_ground(o.c0) + o.p1.mul_ground(self.c0)
            p2 = None
            if self.p2 is not None:
                p2 = self.p2.mul_ground(o.c0) + o.p2.mul_ground(self.c0) + self.p1 * o.p1
            return _Jet(self.c0 * o.c0, p1, p2)
        return _Jet(self.c0 * o, self.p1.mul_ground(o), None if self.p2 is None else self.p2.mul_ground(o))

    __rmul__ = __mul__


def _taylor(obj: Objective | Quadratic, theta: Sequence[Any], order: int) -> tuple[PolyRing, list[PolyElement], _Jet]:
    """f(θ₀ + δ) mod (δ)^{order+1}, computed from the loss definition in ℚ[δ]."""
    _check_obj(obj)
    flat = _theta_exact(obj, theta)
    masks = None if isinstance(obj, Quadratic) else _activation_masks(obj, flat)
    syms = parameter_symbols(obj)
    R, *gens = ring(syms, QQ)  # generator k stands for the displacement δ_k of parameter k
    zero = R.zero
    params = [_Jet(_qq_const(x), g, zero if order == 2 else None) for x, g in zip(flat, gens)]
    f = _build_loss(obj, params, _qq_const, masks)
    if not isinstance(f, _Jet):  # cannot happen for a non-empty θ; guard the coefficient reading below
        raise RuntimeError("internal: the loss did not depend on theta")
    return R, gens, f


def _to_rational(q: Any) -> sympy.Rational:
    return sympy.Rational(int(q.numerator), int(q.denominator))


def gradient(obj: Objective | Quadratic, theta: Sequence[Any]) -> sympy.Matrix:
    """∇f(θ) exactly, a P×1 SymPy Matrix of Rationals in ``obj.flatten`` order.

    The reference for THEORY.md's gradient ∇_{W_j}f = S_{j+1}ᵀ∇φ(W)P_{j−1}ᵀ (preamble) and for every
    exact check that needs ∇f (A1, B4), without using that formula.

    The coefficients of δ in f(θ₀ + δ) = f(θ₀) + Σ_k g_k δ_k + O(δ²), computed from the loss
    definition in ℚ[δ] (module docstring). θ's entries may be Fraction, int or float (taken exactly).
    Leaky-ReLU nets: the gradient of the polynomial of θ's activation region (ValueError at a kink).
    """
    _, gens, f = _taylor(obj, theta, order=1)
    P = len(gens)
    g = [QQ.zero] * P
    for monom, coeff in f.p1.items():
        g[monom.index(1)] = coeff
    return sympy.Matrix(P, 1, [_to_rational(c) for c in g])


def hessian(obj: Objective | Quadratic, theta: Sequence[Any]) -> sympy.Matrix:
    """∇²f(θ) exactly, a P×P SymPy Matrix of Rationals in ``obj.flatten`` order.

    The exact curvature behind THEORY.md B1, B2 and B6 (λ_min(∇²f) bounds; with
    :func:`lambda_min_interval` it decides them without rounding) and A1's m_k.

    Read from the quadratic part of the exact Taylor polynomial f(θ₀ + δ) (module docstring):
    ½δᵀHδ = Σ_{k<l} H_kl δ_kδ_l + Σ_k (H_kk/2) δ_k², so H_kl is the coefficient of δ_kδ_l for
    k ≠ l and H_kk is twice the coefficient of δ_k². Leaky-ReLU nets (α ≠ 1): the Hessian of the
    polynomial of θ's activation region, which is ∇²f(θ) because the pattern is constant near θ;
    ValueError at a kink (THEORY.md B2 holds only where f is C²).
    """
    _, gens, f = _taylor(obj, theta, order=2)
    P = len(gens)
    H = [[QQ.zero] * P for _ in range(P)]
    for monom, coeff in f.p2.items():
        idx = [k for k, e in enumerate(monom) if e]
        if len(idx) == 1:  # δ_k²
            H[idx[0]][idx[0]] = 2 * coeff
        else:  # δ_kδ_l, k < l
            k, l = idx
            H[k][l] = H[l][k] = coeff
    return sympy.Matrix(P, P, [_to_rational(c) for row in H for c in row])


from .certified import EigenInterval, _fraction_of, lambda_min_interval  # noqa: E402,F401  (public here too)


# ---- 4. conservation laws along gradient flow (THEORY.md B3) ---------------------------------------


def _symbol_grid(prefix: str, rows: int, cols: int) -> list[list[sympy.Symbol]]:
    """Real symbols ``{prefix}_{r}_{c}`` as a list of rows."""
    return [[sympy.Symbol(f"{prefix}_{r}_{c}", real=True) for c in range(cols)] for r in range(rows)]


def _in_ring(grids: list[list[list[sympy.Symbol]]]) -> list[Matrix]:
    """The same grids with each symbol replaced by its generator of one ring ℚ[all symbols]."""
    flat = [s for grid in grids for row in grid for s in row]
    _, *gens = ring(flat, QQ)
    gen_of = dict(zip(flat, gens))
    return [[[gen_of[s] for s in row] for row in grid] for grid in grids]


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(w) for w in widths)
    if len(out) < 2 or any(w < 1 for w in out):
        raise ValueError(f"widths must be >= 2 positive integers (depth >= 1), got {tuple(widths)!r}")
    return out


def _flow(f: PolyElement, layers: list[Matrix]) -> list[Matrix]:
    """Ẇ_j = −∂f/∂W_j entrywise, by differentiating the polynomial f (gradient flow θ' = −∇f)."""
    return [[[-f.diff(w) for w in row] for row in W] for W in layers]


def _transpose(A: Matrix) -> Matrix:
    return [list(col) for col in zip(*A)]


def conservation_derivatives(
    widths: Sequence[int], weight_decay: Sequence[Any] | None = None
) -> list[sympy.Matrix]:
    """d/dt D_j along gradient flow, D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ (THEORY.md B3), j = 1..N−1.

    Deep linear net, whitened square loss f = ½‖W_N⋯W_1 − Φ‖_F², with every entry of the W_j *and*
    of Φ a free symbol; the flow is Ẇ_j = −∂f/∂W_j with the partial derivatives taken of the
    polynomial f (built by its definition), and

        d/dt D_j = Ẇ_{j+1}ᵀW_{j+1} + W_{j+1}ᵀẆ_{j+1} − Ẇ_jW_jᵀ − W_jẆ_jᵀ.

    The entries are returned expanded (canonical polynomials); B3 says every one is identically 0.
    Symbols: ``W{j}_{r}_{c}`` as in :func:`parameter_symbols`, ``Phi_{r}_{c}``.

    ``weight_decay`` = (λ_1, ..., λ_N) adds Σ_j (λ_j/2)‖W_j‖_F² to f. It exists so that a test can
    show the identity is not vacuous: with λ_1 ≠ 0 only, d/dt D_1 = 2λ_1 W_1W_1ᵀ ≠ 0.
    """
    widths = _check_widths(widths)
    N = len(widths) - 1
    decay = [Fraction(0)] * N if weight_decay is None else [_fraction_of(x, "weight_decay") for x in weight_decay]
    if len(decay) != N:
        raise ValueError(f"weight_decay must have N = {N} entries, got {len(decay)}")
    grids = [_symbol_grid(f"W{j}", widths[j], widths[j - 1]) for j in range(1, N + 1)]
    *layers, Phi = _in_ring(grids + [_symbol_grid("Phi", widths[-1], widths[0])])

    f = _square_loss(_forward(layers, None, lambda j, A: A), Phi, QQ(1, 2))  # ½‖W_N⋯W_1 − Φ‖²
    for lam, W in zip(decay, layers):
        if lam:
            f += _sum([w * w for row in W for w in row]) * _qq_const(lam / 2)
    dW = _flow(f, layers)

    out = []
    for j in range(N - 1):  # 0-based: D_{j+1} = W_{j+2}ᵀW_{j+2} − W_{j+1}W_{j+1}ᵀ in THEORY.md's indices
        Wn, dWn, Wp, dWp = layers[j + 1], dW[j + 1], layers[j], dW[j]
        plus = [_matmul(_transpose(dWn), Wn), _matmul(_transpose(Wn), dWn)]
        minus = [_matmul(dWp, _transpose(Wp)), _matmul(Wp, _transpose(dWp))]
        d = widths[j + 1]
        entry = lambda a, b: plus[0][a][b] + plus[1][a][b] - minus[0][a][b] - minus[1][a][b]  # noqa: E731
        out.append(sympy.Matrix(d, d, lambda a, b: entry(a, b).as_expr()))
    return out


def neuron_conservation_derivatives(widths: Sequence[int], n_samples: int,
                                    bias: bool = False) -> list[list[sympy.Expr]]:
    """Per-neuron B3 for leaky-ReLU nets inside a fixed activation region, as polynomial identities.

    Square loss f = (1/n)Σ_i ½‖h(x_i) − y_i‖² with h(x) = W_N M_{N−1}⊙(W_{N−1} ⋯ M_1⊙(W_1 x)):
    inside one activation region σ acts on hidden unit a of layer j on sample i as multiplication by
    a constant m_{j,a,i} ∈ {1, α}. Here the weights, the inputs X, the targets Y *and* the masks m are
    free symbols. Returns, for j = 1..N−1 and each hidden unit a of layer j,

        d/dt (‖W_j[a,:]‖² − ‖W_{j+1}[:,a]‖²)
            = 2⟨W_j[a,:], Ẇ_j[a,:]⟩ − 2⟨W_{j+1}[:,a], Ẇ_{j+1}[:,a]⟩

    along Ẇ = −∂f/∂W, expanded; THEORY.md B3 says each is identically 0 (incoming minus outgoing
    squared norm per neuron: rescaling a neuron's row by s > 0 and its column by 1/s leaves h
    unchanged). Symbols: ``W{j}_{r}_{c}``, ``X_{r}_{i}``, ``Y_{r}_{i}``, ``m{j}_{a}_{i}``.

    ``bias=True`` (THEORY.md E2): z_j = W_j a_{j−1} + b_j 1ᵀ with free symbols ``b{j}_{r}``, and the
    quantity is ‖W_j[a,:]‖² + b_j[a]² − ‖W_{j+1}[:,a]‖² (the rescaling acts on (row, bias) jointly).
    """
    widths = _check_widths(widths)
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    N, n = len(widths) - 1, int(n_samples)
    grids = (
        [_symbol_grid(f"W{j}", widths[j], widths[j - 1]) for j in range(1, N + 1)]
        + [_symbol_grid("X", widths[0], n), _symbol_grid("Y", widths[-1], n)]
        + [_symbol_grid(f"m{j}", widths[j], n) for j in range(1, N)]
        + ([[[sympy.Symbol(f"b{j}_{r}", real=True)] for r in range(widths[j])] for j in range(1, N + 1)]
           if bias else [])
    )
    ring_grids = _in_ring(grids)
    layers, (X, Y), masks = ring_grids[:N], ring_grids[N : N + 2], ring_grids[N + 2 : 2 * N + 1]
    bias_cols = ring_grids[2 * N + 1 :] if bias else None
    biases = [[row[0] for row in col] for col in bias_cols] if bias else None

    def apply(j: int, A: Matrix) -> Matrix:
        return [[z * m for z, m in zip(row, mrow)] for row, mrow in zip(A, masks[j - 1])]

    f = _square_loss(_forward(layers, X, apply, biases), Y, QQ(1, 2 * n))
    dW = _flow(f, layers)
    db = _flow(f, bias_cols) if bias else None
    out = []
    for j in range(N - 1):
        W_in, dW_in, W_out, dW_out = layers[j], dW[j], layers[j + 1], dW[j + 1]
        row = []
        for a in range(len(W_in)):
            incoming = [w * dw for w, dw in zip(W_in[a], dW_in[a])]
            if bias:
                incoming.append(bias_cols[j][a][0] * db[j][a][0])
            outgoing = [W_out[r][a] * dW_out[r][a] for r in range(len(W_out))]
            row.append((2 * (_sum(incoming) - _sum(outgoing))).as_expr())
        out.append(row)
    return out
