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

    A·B       |Â|·e_B + e_A·(|B̂| + e_B) [+ γ_m·|Â||B̂| at the head's products]  (m the inner dimension)
    a ± b     e_a + e_b + u·|v̂|
    −a, Aᵀ    e_a
    c·a       |c|·e_a + 2u·|v̂|/(1 − u)             (c a float rounding of the exact constant)
    m ⊙ a     |m|·e_a + u·|v̂| where m ∉ {0, 1}      (ReLU masks are exact; α·z rounds once; a sliding
                                                     weight μ₀ enters as the float it is)
    a ⊙ b     |â|·e_b + e_a·(|b̂| + e_b) + u·|v̂|
    e^a       |v̂|·(e^{e_a} − 1)·(1 + 2u) + 2u·|v̂|  (numpy's exp within 1 ulp, taken as 2u)
    a ÷ s     (e_a + |q̂|·e_s)/(|ŝ| − e_s) + 2u·|q̂|  (unbounded if |ŝ| ≤ e_s)

A column-wise softmax Ê ÷ 1·(1ᵀÊ), Ê = e^{z}, is taken as one node (:func:`softmax_error`): the chain of the
rules above loses the cancellation of its numerator's and denominator's errors (1 − p_c of a saturated
column).

The head's products are those whose result the loss head reads, through bias sums: the network output
f of the residual f − y, the logits of e^z. Every rule is rigorous (Higham's inner-product bound, in any
summation order, at the head's products): the operation's error on perturbed operands, bounded exactly
(the products' only second-order terms, e_a·e_b, are kept), plus its own rounding; the computed bounds
are themselves rounded, which the final factor 1 + 4(n + 2)u (n the tape's length) covers to first
order. Constants (the data, the targets) are exact floats. The result is added to the relative term,
not put in its place: the other products' own roundings stay with the relative term.

What stays a model: the relative term for the products inside the network — where one cancels (a
sample sum near a minimum with nonzero residuals, a pre-activation near its kink) its rounding is not
relative to its result. The rigorous form at every product, propagated through |W| the same way, is
~6000× the field's actual rounding on the 64-50-50-10 research nets (3.5e-11 against 5.7e-15, measured
against a longdouble evaluation; the relative term is 2.5e-12) and made the per-step estimates at
research scale 9,100× their true errors; γ_m·|v̂| at every product (7.6e-12 there) 1,800×. The bound
with the head's rigorous seed is 1.7e-12 / 1.9e-12 there (bias-free / biased; γ_m·|f̂| as the seed had
given 4.8e-13, but failed on a one-sample 2 → 1 fit where w·x itself cancels: the thorough property run).
tests/test_float_rounding.py checks the sum (relative term + this bound) against the exact field on
random nets.

The witness. The thorough run of that property found the model failing (2026-12-04): a width-1 layer
whose pre-activation, a sum of five terms, cancels; ‖ĉ_1 − F‖ = 8.99e-16 against a relative share of
1.84e-16 and this bound's 4.22e-16. Where it is affordable the field is therefore also measured
(:meth:`numerics.float_witness.FieldWitness._witness`): the order-0 pass is repeated in numpy's
longdouble on the same float inputs, constants and masks, and w = ‖ĉ_1 − c_1^ld‖₂ differs from ĉ_1's own
rounding by at most c_1^ld's, which is ≤ r·R: R the rigorous form of this bound for the float pass (γ_m|Â||B̂|
at every product, entrywise), r = u_ld/u the ratio of the units (2^-11 on x86-64; every rule here is first
order in the unit, the second-order terms scale by r² or less). What (w + r·R)(1 + 2^-20) exceeds the
relative share ε·d·‖ĉ_1‖ by is then the bound, in place of this module's (w + r·R bounds ‖ĉ_1 − F‖ on its
own; added to it until 2026-12-05, when the model's was 16× the actual rounding on a converged twin). R is the loose form (up to ~6000× the actual rounding),
but r·R is ≤ 3× of it at that looseness and ~100× below it on small nets, so the sum stays tight. The
witness runs where numpy's longdouble is wider than float64 (x86-64 Linux; not on macOS arm64 or
Windows, where the model stands alone) and the order-0 products cost ≤ 2^18 multiply-adds (a cost
threshold: 1–7 % of a run on the (4, 10, 10, 2) benchmark nets), or where the witness costs at most its pass
(:meth:`numerics.float_witness.FieldWitness._witnessed`: the full-order passes of the 64-50-50-10 deep linear
net). The ReLU research nets' event-cut low-order passes keep the model, checked step by step against arb
there — its share is 440× the field's actual rounding on them.

Cost: bounds stay the float 0.0 until a rounding makes them arrays, so a bias-free net's forward pass
costs nothing and its backward pass one product of the order-0 sizes per product node; ~6 % of a
research run's CPU (cProfile, bias-free 64-50-50-10 at rtol 1e-12 to t = 0.01: 1.7 s of 30 s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

U = float(np.finfo(float).eps) / 2


def _arr(e: Any) -> bool:
    # a bound is the float 0.0 until a rounding upstream makes it an array (the forward pass of a
    # bias-free net: no array at all before the head), so this test is cheap
    return isinstance(e, np.ndarray)


def node_error(op: str, v: np.ndarray, A: Any, B: Any, ea: Any, eb: Any, c: Any = None, seed: bool = True,
               exact_mask: bool = False) -> Any:
    """The bound e of the module docstring for one node at order 0: ``v`` its computed value, ``A``/``B``
    its operands' values (``B`` the divisor for ``div``), ``ea``/``eb`` their bounds (0.0 or arrays),
    ``c`` the scale constant or the mask (with sliding weights in place; ``exact_mask``: all of it in
    {0, 1}), ``seed``: a product the loss head reads (its own rounding γ_m·|Â||B̂| enters)."""
    if op == "matmul":
        m = np.shape(A)[-1]
        # the head's products: Higham's γ_m·|Â||B̂| (module docstring)
        e = m * U / (1 - m * U) * (np.abs(A) @ np.abs(B)) if seed else 0.0
        # (the same sums in the same order as e + |A|eb + ea(|B| + eb); a term added to the float 0.0 is
        # taken as it is, and the temporaries are reused: these bounds are ~5 % of a research run)
        if _arr(eb):
            t = np.abs(A) @ eb
            e = t if not _arr(e) else np.add(e, t, out=e)
        if _arr(ea):
            t = ea @ (np.abs(B) + eb if _arr(eb) else np.abs(B))
            e = t if not _arr(e) else np.add(e, t, out=e)
        return e
    if op in ("add", "sub"):
        r = np.abs(v)
        if not isinstance(r, np.ndarray):  # (a scalar node)
            return ea + eb + U * r
        r *= U
        if _arr(ea) and _arr(eb):
            return np.add(ea + eb, r, out=r)
        if _arr(ea) or _arr(eb):  # the other is the float 0.0 (x + 0.0 = x)
            return np.add(ea if _arr(ea) else eb, r, out=r)
        return r + (ea + eb)
    if op == "neg":
        return ea
    if op == "scale":
        return abs(c) * ea + 2 * U / (1 - U) * np.abs(v)
    if op == "hadamard":
        m = np.asarray(c)
        if exact_mask:
            return m * ea if _arr(ea) else 0.0
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


def softmax_error(p: np.ndarray, E: np.ndarray, S: np.ndarray, ez: Any) -> np.ndarray:
    """The bound e of p̂ = Ê ÷ Ŝ, the column-wise softmax of the tape (Ê = e^{ẑ}, Ŝ = 1·(1ᵀÊ)), taken as
    one node: e ≥ |p̂ − p(z)|, z the exact logits, |ẑ − z| ≤ ``ez`` entrywise (docs/theory.md F, "The
    softmax as one node"). Two parts:

    * the softmax's own rounding, |p̂ − p(ẑ)| ≤ r = (2u·Ê + p̂·e_S)/(Ŝ − e_S) + 2u·p̂, the rules of exp and ÷
      with the sum's own rounding in e_S = Σ_j 2u·Ê_j + γ_C·Σ_j Ê_j (C rows; the broadcast by ones is exact);
    * the logits' error carried through p: with ∂p_c/∂z_j = p_c(δ_cj − p_j) and Σ_j p_j = 1,
      dp_c = p_c Σ_{j≠c} p_j (dz_c − dz_j), and along the segment from ẑ to z every p_k is within a factor
      e^{2δ} of p_k(ẑ) ≤ p̂_k + r_k (δ = max_j ez_j of the column), so
      |p_c(ẑ) − p_c(z)| ≤ e^{4δ} q_c Σ_{j≠c} q_j (ez_c + ez_j), q = p̂ + r.

    The chain of separate rules gives ~p_c(ez_c + Σ_j p_j ez_j) for the second part: it loses the
    cancellation of the numerator's and the denominator's errors, 1 − p_c for a saturated softmax — the
    column sums Σ_{j≠c} are formed as sums (no 1 − p_c), so the bound's own rounding stays relative."""
    C = p.shape[0]
    p, E, S = np.abs(p), np.abs(E), np.abs(S)
    gam = C * U / (1 - C * U)
    eE = 2 * U * E
    eS = eE.sum(axis=0) + gam * E.sum(axis=0)
    room = S - eS
    if np.any(room <= 0):
        return np.full(p.shape, math.inf)
    # the bound's own arithmetic: ≤ C + 8 roundings of nonnegative terms per entry (the room S − e_S, with
    # e_S ≤ (C + 2)u·S, loses at most u relative to it), each u relative: ×(1 + 4(C + 8)u) covers them
    up = 1 + 4 * (C + 8) * U
    r = ((eE + p * eS) / room + 2 * U * p) * up
    if not _arr(ez):
        return r
    d = np.broadcast_to(np.abs(ez), p.shape)
    q = p + r
    others = np.ones((C, C)) - np.eye(C)  # Σ_{j≠c} as a sum of nonnegative terms
    grow = np.exp(4 * d.max(axis=0)) * (1 + 2 * U)
    return r + grow * q * (d * (others @ q) + others @ (q * d)) * up


# an output product larger than this (multiply-adds) gets the norm bound of output_product_norm: both
# forms are bounds, so the threshold trades tightness (1.4× on the research nets) for cost only
OUT_NORM_FLOPS = 1 << 18


class Norm(float):
    """A bound on the Frobenius norm of a node's error (an output's, where the entrywise bound would
    cost a product of the pass's order-0 size)."""


def output_product_norm(A: np.ndarray, B: np.ndarray, ea: Any, eb: Any) -> Norm:
    """‖e‖_F for an output product A·B (not read further) from norms: ‖|Â|e_B + e_A(|B̂| + e_B)‖_F ≤
    ‖Â‖_F‖e_B‖_F + ‖e_A‖_F(‖B̂‖_F + ‖e_B‖_F) (‖XY‖_F ≤ ‖X‖_F‖Y‖_F). Each norm is raised by its own
    rounding: a sum of n squares errs by ≤ γ_n relative (nonnegative terms), the square root by u, so
    ×(1 + (n + 2)u) covers it; the final sum of products by ×(1 + 4u). On the research nets the gradients'
    e_D·|H|ᵀ are products of nearly rank-one nonnegative factors, where this is 1.4× the entrywise bound
    (bias-free and biased at θ₀) and saves ~60 % of the bound's cost."""
    def fro(x: Any) -> float:
        if not _arr(x):
            return 0.0
        r = x.ravel() if x.flags.c_contiguous else np.ascontiguousarray(x).ravel()
        return math.sqrt(float(r @ r)) * (1 + (r.size + 2) * U)
    nb = fro(eb)
    return Norm((fro(A) * nb + fro(ea) * (fro(B) + nb)) * (1 + 4 * U))


def output_error(errs: list[Any], outs: list[int], shapes: list[tuple], n: int) -> float:
    """‖e‖₂ over the output blocks, made whole for the bounds' own rounding (module docstring)."""
    total = 0.0
    for o, s in zip(outs, shapes):
        e = errs[o]
        if isinstance(e, Norm):
            total += float(e) ** 2
        elif _arr(e):
            e = e.ravel() if e.shape == tuple(s) else np.broadcast_to(e, s).ravel()
            total += float(e @ e)
    return math.sqrt(total) * (1 + 4 * (n + 2) * U)
