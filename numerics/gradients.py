"""Loss value and gradient, written once for every arithmetic (DESIGN.md "write each formula once").

Layered networks (deep linear, leaky ReLU) use backpropagation on the output matrix. With inputs as
columns a_0 = X_in (``None`` = identity, the whitened loss), z_j = W_j a_{j-1}, a_j = m_j ⊙ z_j
(m_j = 1 where z_j > 0, α elsewhere; all ones when α = 1), f = (c/2)‖z_N − T‖²:

    δ_N = c (z_N − T),   ∇_{W_j} f = δ_j a_{j-1}ᵀ,   δ_{j-1} = m_{j-1} ⊙ (W_jᵀ δ_j).

For a deep linear net with whitened loss this is ∇_{W_j} f = S_{j+1}ᵀ (W − Φ) P_{j-1}ᵀ (docs/theory.md
notation). With explicit inputs and a narrow output (d_N ≪ d_j, many samples) the same gradient is
formed in that order, ∇_{W_j} f = S_{j+1}ᵀ (δ Xᵀ) P_{j-1}ᵀ with δ = ∂f/∂z_N at z_N = W X, which keeps d_N
as one dimension of every product (:func:`_end_to_end`; 9.0M multiply-adds against 42M for 784-50-50-10
on 500 samples), except on the float Taylor tier's tape (see :func:`evaluate`).

Inside an activation region a ReLU net is multilinear in the weights, so the masks are constants decided
at the primal point; at an exact kink (z = 0) the derivative from the z < 0 side is taken (PyTorch's
relu'(0) = 0 convention), where f is not differentiable.

Cross-entropy (docs/theory.md E3): the same backpropagation from δ_N = c (softmax(z_N) − E), E the one-hot
labels, and f = c Σ_i [log Σ_k e^{z_ki} − z_{c_i i}] (:mod:`numerics.cross_entropy`; float64 and mp only,
exact rationals are refused since e^z is irrational).

Biases (``bias=True``): z_j = W_j a_{j-1} + b_j 1ᵀ (1ᵀ the row of n ones, one column per sample), and
∇_{b_j} f = δ_j 1. Both are matrix products, so every backend (and the Taylor tape) runs them unchanged;
a bias is carried internally as a (d_j, 1) column and handed back as a (d_j,) vector.

Quadratics: ∇f = Aθ − b.

The same code runs on float64 arrays, object arrays of mpf, exact flint rationals and on
:class:`~numerics.duals.Dual` matrices of any of them (Hessian-vector products).
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from theory import CrossEntropy, Objective, ParamSpace, Quadratic
from theory.arrays import check_dps, common_kind

from . import cross_entropy
from .backends import BACKENDS, AMat, Backend, QMat, positive, sumsq
from .duals import Dual, primal
from theory.lazy import lazy_module

mpmath = lazy_module("mpmath")

_CONSTS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def check_objective(obj: Any) -> ParamSpace:
    if not isinstance(obj, (Objective, Quadratic)):
        raise TypeError(f"obj must be a theory.Objective or theory.Quadratic, got {type(obj).__name__}")
    return obj


def precision(kind: str, dps: int | None):
    """Context for the call's arithmetic: ``mpmath.workdps(dps)`` for mp when ``dps`` is given."""
    if dps is not None:
        if kind != "mp":
            raise ValueError(f"dps applies to mpmath.mpf entries only; theta has {kind} entries")
        return mpmath.workdps(check_dps(dps))
    return contextlib.nullcontext()


def _consts(obj: ParamSpace, b: Backend) -> dict:
    """The objective's data converted to backend ``b`` (cached per kind and mp precision)."""
    key = (b.kind, getattr(b, "variant", ""), mpmath.mp.prec if b.kind == "mp" else None)
    # a tracing backend's constants belong to one tape: never cache them
    cache = _CONSTS.setdefault(obj, {}) if b.kind in BACKENDS else {}
    if key not in cache:
        if isinstance(obj, Quadratic):
            P = obj.A.shape[0]
            cache[key] = {"A": b.matrix(obj.A), "b": b.matrix(np.asarray(obj.b).reshape(P, 1)), "half": b.scalar(0.5)}
        else:
            loss = obj.loss
            xent = isinstance(loss, CrossEntropy)
            if xent and b.kind == "exact":
                raise TypeError(cross_entropy.EXACT_REFUSAL)
            target = loss.onehot(obj.widths[-1]) if xent else loss.target
            n = loss.num_samples
            ones = np.ones((1, n), dtype=np.int64).astype(object) * 1
            cache[key] = {
                "ones_row": b.matrix(ones) if obj.model.bias else None,
                "ones_col": b.matrix(ones.T) if obj.model.bias else None,
                "X": None if loss.inputs is None else b.matrix(loss.inputs),
                "XT": None if loss.inputs is None else b.matrix(loss.inputs.T),
                "T": b.matrix(target),
                "TT": b.matrix(target.T),
                "c": b.scalar(loss.weight),
                "half_c": b.scalar(loss.weight / 2),
                "labels": loss.labels if xent else None,
            }
    return cache[key]


def _entry(m: Any) -> Any:
    return m.m[0, 0] if isinstance(m, (QMat, AMat)) else m[0, 0]


def evaluate(obj: ParamSpace, Ws: Sequence[Any], b: Backend, want_value: bool = True,
             masks: Sequence[Any] | None = None, watch: list | None = None) -> tuple[Any, list]:
    """The generic formula on backend matrices (or Duals of them): returns (f or None, [∇_θ f blocks]).

    ``Ws`` are already in the backend's matrix type (biases as (d_j, 1) columns); a quadratic's θ is
    a (P, 1) column. ``masks`` (one per hidden layer) replace the activation pattern read off the
    primal pre-activations (the Taylor tape, where the pattern is fixed per region, passes them);
    ``watch``, a list, receives the pre-activations z_1..z_{N−1} (for the kink events).
    """
    k = _consts(obj, b)
    if isinstance(obj, Quadratic):
        (x,) = Ws
        Ax = k["A"] @ x
        g = Ax - k["b"]
        val = None
        if want_value and not isinstance(x, Dual):
            # ½xᵀAx − bᵀx = xᵀ(½Ax − b)
            val = _entry(x.T @ (Ax * k["half"] - k["b"]))
        return val, [g]

    alpha = obj.model.alpha
    if obj.model.bias:
        val, g = _backprop(list(Ws[0::2]), k["X"], k["XT"], k["T"], k, alpha, b, want_value,
                           biases=list(Ws[1::2]), masks=masks, watch=watch)
        return val, [x for gw, gb in zip(g[0::2], g[1::2]) for x in (gw, gb)]
    if k["X"] is None and alpha == 1 and obj.widths[-1] < obj.widths[0] and masks is None and watch is None:
        # Linear net, identity input: f = ½‖Wᵀ − Φᵀ‖² is the same loss for the transposed net
        # W_1ᵀ⋯W_Nᵀ, whose passes carry d_N columns instead of d_0 (O(d²) per layer, not O(d³),
        # for scalar output). Its gradients are the transposes of ours.
        val, g = _backprop([w.T for w in reversed(Ws)], None, None, k["TT"], k, alpha, b, want_value)
        return val, [gi.T for gi in reversed(g)]
    # A narrow-output linear net's gradient is cheaper through its end-to-end matrix (HVPs, DOP853's field,
    # GD, the arb tier's tape). Not on the float Taylor tier's tape (b.end_to_end False): its head's product
    # would be W·X, whose rounding float_rounding bounds rigorously by γ_{d_0}|W||X| (nonnegative data do
    # not cancel in |X|): 4.3e-9 against the layer order's 8.3e-12 on the 784-50-50-10 net at θ₀ (the
    # field's actual rounding 1.3e-14 and 9.2e-15). (The forward pass layer by layer and only the backward
    # pass end to end, measured too: its bound was 1.8× the layer order's on the 64-50-50-10 digits net, the
    # run's estimate 8× at 784-50-50-10, and the run no faster.)
    if k["X"] is not None and alpha == 1 and masks is None and watch is None and getattr(b, "end_to_end", True) and \
            end_to_end_cheaper(obj.widths, obj.loss.num_samples):
        return _end_to_end(list(Ws), k, b, want_value)
    return _backprop(list(Ws), k["X"], k["XT"], k["T"], k, alpha, b, want_value, masks=masks, watch=watch)


def _flops_per_layer(widths: Sequence[int], n: int) -> tuple[int, int]:
    """Multiply-adds of one gradient of a bias-free linear net on n samples: (layer by layer, end to end).

    Layer by layer (:func:`_backprop`): z_j = W_j a_{j−1} (d_j·d_{j−1}·n each), ∇W_j = δ_j a_{j−1}ᵀ (the
    same) and δ_{j−1} = W_jᵀδ_j (the same, j ≥ 2). End to end (:func:`_end_to_end`): the suffixes
    S_j = S_{j+1}W_j and the row products Q_j = Q_{j−1}W_{j−1}ᵀ (d_N·d_j·d_{j−1} each), ∇W_j = S_{j+1}ᵀQ_j
    (the same), and the two products with the data, W·X and δ·Xᵀ (d_N·d_0·n each)."""
    d, N = list(widths), len(widths) - 1
    layer = sum(d[j] * d[j - 1] * n for j in range(1, N + 1)) * 3 - d[1] * d[0] * n
    end = 3 * d[N] * sum(d[j] * d[j - 1] for j in range(1, N)) + 2 * d[N] * d[0] * n
    return layer, end


def end_to_end_cheaper(widths: Sequence[int], n: int) -> bool:
    """Whether a bias-free linear net's gradient on n explicit inputs costs fewer multiply-adds through
    its end-to-end matrix W = W_N⋯W_1 than layer by layer (:func:`_flops_per_layer`): the case of a
    narrow output, d_N ≪ d_j, with many samples (784-50-50-10 on 500 samples: 9.0M against 42M)."""
    layer, end = _flops_per_layer(widths, n)
    return end < layer


def _end_to_end(Ws: list, k: dict, b: Backend, want_value: bool) -> tuple[Any, list]:
    """The gradient of a bias-free linear net through its end-to-end matrix (docs/theory.md B1): with the
    suffixes S_j = W_N⋯W_j (S_{N+1} = I) and W = S_1, the output is z = W X and the loss head gives
    δ = ∂f/∂z (c(z − T), or c(softmax(z) − E)); with G = δXᵀ = ∂f/∂W and Q_j = G·(W_{j−1}⋯W_1)ᵀ
    (Q_1 = G, Q_j = Q_{j−1}W_{j−1}ᵀ),

        ∇_{W_j} f = S_{j+1}ᵀ Q_j,

    the chain rule for W = S_{j+1}W_j(W_{j−1}⋯W_1). The same gradient as :func:`_backprop`, in another
    order of the products: every product here has the narrow output width d_N as one of its dimensions."""
    N = len(Ws)
    S: list[Any] = [None] * (N + 2)  # S[j] = W_N⋯W_j (S[N + 1] = I: None)
    S[N] = Ws[N - 1]
    for j in range(N - 1, 0, -1):
        S[j] = S[j + 1] @ Ws[j - 1]
    val, delta = _head(S[1] @ k["X"], k["T"], k, want_value)
    Q = delta @ k["XT"]
    grads: list[Any] = [None] * N
    for j in range(1, N + 1):
        grads[j - 1] = Q if j == N else S[j + 1].T @ Q
        if j < N:
            Q = Q @ Ws[j - 1].T
    return val, grads


def _head(z: Any, T: Any, k: dict, want_value: bool) -> tuple[Any, Any]:
    """(f or None, δ = ∂f/∂z) of the loss head at the network output z."""
    if k.get("labels") is not None:
        # softmax cross-entropy: only the output gradient differs (numerics.cross_entropy)
        val = cross_entropy.value(z, k["labels"], k["c"]) if want_value and not isinstance(z, Dual) else None
        return val, cross_entropy.output_gradient(z, T, k["c"])
    r = z - T
    val = k["half_c"] * sumsq(r) if want_value and not isinstance(r, Dual) else None
    return val, r * k["c"]


def sample_gradient(obj: Objective, theta: Sequence[Any], i: int,
                    masks: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """∇_θ of sample i's term of a network's loss in float64, shaped like θ: f = c·Σ_n ℓ(net(x_n), y_n)
    (c the loss weight, ℓ = ½‖·‖² or softmax cross-entropy), so this is c·∇_θ ℓ(net(x_i), y_i), and the
    sum over i is :func:`gradient` — a reference for per-sample gradient code. The generic formula of
    :func:`evaluate` on the one column x_i, with the whole data's weight c kept. ``masks``: the sample's
    activation pattern, one (d_j, 1) column per hidden layer (1 or α per unit); default the pattern at θ
    (:func:`primal_masks`, 1 where z > 0, α elsewhere)."""
    obj = check_objective(obj)
    if not isinstance(obj, Objective) or obj.loss.inputs is None:
        raise TypeError("sample_gradient needs a network objective with explicit inputs (theory.Objective)")
    n = obj.loss.num_samples
    if not (isinstance(i, (int, np.integer)) and 0 <= i < n):
        raise ValueError(f"sample index i must be an integer in [0, {n}), got {i!r}")
    b = BACKENDS["float"]
    Ws = to_backend(obj, [np.asarray(w, dtype=np.float64) for w in obj.check_theta(theta, "theta")], b)
    if masks is None:
        pattern = primal_masks(obj, Ws, b)
        masks = [m[:, i:i + 1] for m in pattern] if pattern is not None else []
    else:
        want = [(d, 1) for d in obj.widths[1:-1]] if obj.model.alpha != 1 else []
        masks = [np.asarray(m, dtype=np.float64).reshape(-1, 1) if np.ndim(m) == 1 else np.asarray(m, dtype=np.float64)
                 for m in masks]
        if [m.shape for m in masks] != want:
            raise ValueError(f"masks must be one column per hidden layer, shapes {want}; got {[m.shape for m in masks]}")
    return from_backend(obj, sample_gradient_columns(obj, Ws, int(i), masks), b)


def sample_gradient_columns(obj: Objective, Ws: Sequence[np.ndarray], i: int,
                            masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """:func:`sample_gradient` on the state's float64 blocks as the tapes hold them (biases as (d, 1)
    columns), with the sample's masks given; no validation (the float tier's kink handler, per event)."""
    b = BACKENDS["float"]
    k = _consts(obj, b)
    one = np.ones((1, 1))
    ki = dict(k, X=k["X"][:, i:i + 1], XT=k["XT"][i:i + 1, :], T=k["T"][:, i:i + 1], ones_row=one, ones_col=one)
    Ws = list(Ws)
    if obj.model.bias:
        _, g = _backprop(Ws[0::2], ki["X"], ki["XT"], ki["T"], ki, obj.model.alpha, b, False,
                         biases=Ws[1::2], masks=list(masks) or None)
        return g
    return _backprop(Ws, ki["X"], ki["XT"], ki["T"], ki, obj.model.alpha, b, False, masks=list(masks) or None)[1]


def primal_masks(obj: ParamSpace, Ws: Sequence[Any], b: Backend) -> list | None:
    """The activation pattern at θ as :func:`evaluate` reads it (1 where z > 0, α elsewhere), one mask per
    hidden layer, or None for linear nets and quadratics. Passed as ``masks`` to repeated dual passes at
    one θ, it makes the masks the same objects in every pass (:func:`numerics.duals.primal_memo`)."""
    alpha = getattr(getattr(obj, "model", None), "alpha", 1)
    if alpha == 1:
        return None
    zs: list = []
    evaluate(obj, Ws, b, want_value=False, watch=zs)
    return [activation_mask(z, alpha, b) for z in zs]


def activation_mask(z: Any, alpha: Any, b: Backend) -> Any:
    """The derivative pattern of the (leaky) ReLU at the pre-activations z: 1 where the primal z > 0 (an
    exact comparison in every kind), α elsewhere — z = 0 takes α, the slope of the left piece."""
    return b.mask(positive(primal(z)), alpha)


def _backprop(Ws: list, X: Any, XT: Any, T: Any, k: dict, alpha: Any, b: Backend, want_value: bool,
              biases: list | None = None, masks: Sequence[Any] | None = None,
              watch: list | None = None) -> tuple[Any, list]:
    """Forward and backward pass (module docstring). With ``biases`` the gradient list interleaves
    [∇W_1, ∇b_1, ...]; ``masks``/``watch`` as in :func:`evaluate`."""
    N = len(Ws)
    acts: list[Any] = [X]
    used: list[Any] = []
    z = Ws[0] if X is None else Ws[0] @ X
    if biases is not None:
        z = z + biases[0] @ k["ones_row"]
    for j in range(1, N):
        if watch is not None:
            watch.append(z)
        if alpha != 1:
            m = masks[j - 1] if masks is not None else activation_mask(z, alpha, b)
            used.append(m)
            z = z * m
        acts.append(z)
        z = Ws[j] @ z
        if biases is not None:
            z = z + biases[j] @ k["ones_row"]
    val, delta = _head(z, T, k, want_value)
    grads: list[Any] = [None] * N
    bgrads: list[Any] = [None] * N
    for j in range(N - 1, -1, -1):
        a = acts[j]
        if a is None:
            grads[j] = delta
        elif j == 0:
            grads[j] = delta @ XT
        else:
            grads[j] = delta @ a.T
        if biases is not None:
            bgrads[j] = delta @ k["ones_col"]
        if j > 0:
            delta = Ws[j].T @ delta
            if alpha != 1:
                delta = delta * used[j - 1]
    if biases is not None:
        return val, [x for pair in zip(grads, bgrads) for x in pair]
    return val, grads


def prepare(obj: Any, theta: Sequence[Any], name: str = "theta") -> tuple[ParamSpace, Backend, list]:
    """Validate θ and convert it to its backend: returns (obj, backend, backend matrices)."""
    obj = check_objective(obj)
    arrays = obj.check_theta(theta, name)
    b = BACKENDS[common_kind(arrays, name)]  # checked just above: obj.kind would check θ again
    return obj, b, to_backend(obj, arrays, b)


def to_backend(obj: ParamSpace, arrays: Sequence[Any], b: Backend) -> list:
    """θ's blocks as backend matrices; 1-D blocks (a quadratic's θ, biases) become columns."""
    return [b.matrix(np.asarray(a).reshape(-1, 1) if np.ndim(a) == 1 else a) for a in arrays]


def from_backend(obj: ParamSpace, mats: Sequence[Any], b: Backend) -> list[np.ndarray]:
    return [b.output(m).reshape(s) for m, s in zip(mats, obj.shapes)]


def value(obj: Any, theta: Sequence[Any], dps: int | None = None) -> Any:
    """f(θ) in the arithmetic of θ's entries (float, ``mpf`` or ``Fraction``).

    ``dps``: decimal digits for mpf entries (default: the caller's mpmath context).
    """
    return value_and_gradient(obj, theta, dps)[0]


def gradient(obj: Any, theta: Sequence[Any], dps: int | None = None) -> list[np.ndarray]:
    """∇f(θ) as a list shaped like θ, in the arithmetic of θ's entries (module docstring has the formula)."""
    return value_and_gradient(obj, theta, dps)[1]


def value_and_gradient(obj: Any, theta: Sequence[Any], dps: int | None = None) -> tuple[Any, list[np.ndarray]]:
    """(f(θ), ∇f(θ)) from one forward/backward pass."""
    obj = check_objective(obj)
    kind = obj.kind(theta)
    with precision(kind, dps):
        obj, b, Ws = prepare(obj, theta)
        val, grads = evaluate(obj, Ws, b)
        return b.scalar_out(val), from_backend(obj, grads, b)


def flat_gradient_function(obj: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A fast float64 map y ↦ ∇f(unflatten(y)) on flat vectors (no per-call validation).

    For inner loops (ODE right-hand sides, matvecs) where θ is known to be well formed.
    """
    obj = check_objective(obj)
    b = BACKENDS["float"]
    shapes = [(s[0], 1) if len(s) == 1 else tuple(s) for s in obj.shapes]
    sizes = [r * c for r, c in shapes]
    offsets = np.cumsum([0] + sizes)

    def grad(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        Ws = [y[offsets[i]:offsets[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]
        _, g = evaluate(obj, Ws, b, want_value=False)
        return np.concatenate([gi.reshape(-1) for gi in g])

    return grad
