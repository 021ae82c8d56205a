"""The rounding of the float field F(θ₀), c_1 of a float step, propagated through the tape at order 0
where terms cancel (docs/theory.md F, "The field's own rounding").

Why. The local error's rounding term ε·(p + d)·Σ_k‖c_k‖h^k is relative to each coefficient's size.
That holds where nothing cancels; a difference with a constant can be far smaller than its terms —
ℓ' = p − onehot of a saturated softmax (|p − 1| ≈ 0.005 carries a rounding ~u·1, not ~u·0.005), a
residual f − y near a fit (f's own rounding ~u·|f| is not relative to f − y). The property test found a
saturated cross-entropy instance whose true error was 1.3× the estimate (tests/test_float_rtol.py),
and this module's own property test a one-sample linear fit whose field rounding was 6× the relative
term (tests/test_float_rounding.py).

The bound. At order 0 the pass carries, beside each node's value v̂, a bound e on |v̂ − v| (v: exact
arithmetic on the same float inputs; u = 2^{−53}, γ_m = m·u/(1 − m·u)):

    A·B       γ_m·|v̂| + |Â|·e_B + e_A·(|B̂| + e_B)   (m the inner dimension)
    a ± b     e_a + e_b + u·|v̂|
    −a, Aᵀ    e_a
    c·a       |c|·e_a + 2u·|v̂|/(1 − u)             (c a float rounding of the exact constant)
    m ⊙ a     |m|·e_a + u·|v̂| where m ∉ {0, 1}      (ReLU masks are exact; α·z rounds once; a sliding
                                                     weight μ₀ enters as the float it is)
    a ⊙ b     |â|·e_b + e_a·(|b̂| + e_b) + u·|v̂|
    e^a       |v̂|·(e^{e_a} − 1)·(1 + 2u) + 2u·|v̂|  (numpy's exp within 1 ulp, taken as 2u)
    a ÷ s     (e_a + |q̂|·e_s)/(|ŝ| − e_s) + 2u·|q̂|  (unbounded if |ŝ| ≤ e_s)

Every line but the first is rigorous: the operation's error on perturbed operands, bounded exactly
(the products' only second-order terms, e_a·e_b, are kept), plus its own rounding; the computed bounds
are themselves rounded, which the final factor 1 + 4(n + 2)u (n the tape's length) covers to first
order. Constants (the data, the targets) are exact floats.

The first line is a model, not a bound: a product's own rounding is taken relative to its result,
γ_m·|v̂|, where Higham's bound is γ_m·|Â||B̂|. They differ where an inner product cancels (a sample sum
near a minimum with nonzero residuals, a pre-activation near its kink). The rigorous form, propagated
through |W| the same way, is ~6000× the field's actual rounding on the 64-50-50-10 research nets
(3.5e-11 against 5.7e-15, measured against a longdouble evaluation) and would make the per-step
estimates ~10⁴× their true errors; the model is 7.6e-12 there. tests/test_float_rounding.py checks
the model against the exact field on random nets.

Cost: two or three products of the order-0 sizes per product node, ~3/((p + 1)(p + 2)/2) of a step's
series pass (1.3 % at p = 20, more at the low orders after events).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

U = float(np.finfo(float).eps) / 2


def _nz(e: Any) -> bool:
    return bool(np.any(e))


def node_error(op: str, v: np.ndarray, A: Any, B: Any, ea: Any, eb: Any, c: Any = None, seed: bool = True) -> Any:
    """The bound e of the module docstring for one node at order 0: ``v`` its computed value, ``A``/``B``
    its operands' values (``B`` the divisor for ``div``), ``ea``/``eb`` their bounds (0.0 or arrays),
    ``c`` the scale constant or the mask (with sliding weights in place)."""
    if op == "matmul":
        m = np.shape(A)[-1]
        e = m * U / (1 - m * U) * np.abs(v) if seed else 0.0  # the relative model: γ_m·|v̂| (module docstring)
        if _nz(eb):
            e = e + np.abs(A) @ eb
        if _nz(ea):
            e = e + np.broadcast_to(ea, np.shape(A)) @ (np.abs(B) + eb)
        return e
    if op in ("add", "sub"):
        return ea + eb + U * np.abs(v)
    if op == "neg":
        return ea
    if op == "scale":
        return abs(c) * ea + 2 * U / (1 - U) * np.abs(v)
    if op == "hadamard":
        m = np.asarray(c)
        return np.abs(m) * ea + U * np.abs(v) * ((m != 0) & (m != 1))
    if op == "emul":
        return np.abs(A) * eb + ea * (np.abs(B) + eb) + U * np.abs(v)
    if op == "exp":
        return v * np.expm1(ea) * (1 + 2 * U) + 2 * U * v
    if op == "div":
        room = np.abs(B) - eb
        if np.any(room <= 0):
            return np.full(np.shape(v), math.inf)
        return (ea + np.abs(v) * eb) / room + 2 * U * np.abs(v)
    raise AssertionError(op)  # pragma: no cover


def output_error(errs: list[Any], outs: list[int], shapes: list[tuple], n: int) -> float:
    """‖e‖₂ over the output blocks, made whole for the bounds' own rounding (module docstring)."""
    total = sum(float(np.sum(np.square(np.broadcast_to(errs[o], s)))) for o, s in zip(outs, shapes))
    return math.sqrt(total) * (1 + 4 * (n + 2) * U)
