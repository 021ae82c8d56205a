"""The field's extended-precision witness of the float tier (docs/theory.md F, "The field's witness";
:mod:`numerics.float_rounding`, "The witness"): the order-0 pass of a :class:`numerics.float_series.FloatSeries`
repeated in numpy's longdouble on the same float inputs, constants and masks. w = ‖ĉ_1 − c_1^ld‖₂ differs
from the float field's own rounding by at most c_1^ld's, ≤ r·R (R the rigorous form of the float pass's
rounding bound, r = u_ld/u), so w + r·R bounds ‖ĉ_1 − F(θ₀)‖₂ — measured, not modelled. Where it runs
(:meth:`FieldWitness._witnessed`: a cost rule) it is the field's bound in place of the model's.

A mixin of :class:`~numerics.float_series.FloatSeries`, whose tape (``ops``, ``const``, ``outs``, ``sign``,
``slide``, ``dmax``) and order-0 rules (``_const``, ``_error0``) it reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .float_rounding import output_error
from .float_steps import EPS

# the field's extended-precision witness (FieldWitness._witness) runs where numpy's longdouble is wider
# than float64 and the order-0 products cost at most this many multiply-adds, or where its cost is at most
# the pass's own (_witnessed): cost thresholds only (the research ReLU nets, ~8·10^6, keep the relative term
# alone on their event-cut low-order steps, checked there against arb step by step)
WITNESS_FLOPS = 1 << 18
# a longdouble multiply-add costs this many float64 BLAS ones here (numpy's longdouble matmul is a plain loop:
# 0.16–0.31 GFlop/s against 27–149× that by OpenBLAS on the shapes of the 64-50-50-10 and 784-50-50-10 nets,
# one core, 2026-12-05)
LD_COST = 100
_LD_WIDER = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
_LD_RATIO = float(np.finfo(np.longdouble).eps / np.finfo(np.float64).eps)  # u_ld / u


def _longdouble(c: Any) -> Any:
    """A scale constant (an arb, or a float) in numpy's longdouble, within u_ld(1 + 2^-32) of its exact value:
    an arb's midpoint (within its radius, ≤ 2^-96 relative at the tape's 99 bits, of the exact constant)
    rounded to 64 bits, to nearest. Why it must not be the float64 rounding: the witness (FieldWitness._witness)
    measures what the float pass adds to the field; a rounding both passes share would be invisible to it
    (the loss weight 1/n: found by the field property test at thorough, 2026-12-05, ‖ĉ_1 − F‖ = 5.20e-17
    against a witness of 5.11e-17). Its rule in the witness's own bound R (2u·|v̂|/(1 − u), scaled by u_ld/u)
    covers the constant's rounding and the product's; the extra 2^-32 is far inside the witness's 2^-20 margin."""
    import flint

    if not isinstance(c, flint.arb):
        return np.longdouble(float(c))  # a float constant is exact
    m, e = (int(x) for x in c.mid().man_exp())
    if m == 0:
        return np.longdouble(0)
    sign, m = (-1 if m < 0 else 1), abs(m)
    shift = m.bit_length() - 64
    if shift > 0:  # to 64 bits, to nearest (ties to even)
        q, r = divmod(m, 1 << shift)
        if 2 * r > (1 << shift) or (2 * r == (1 << shift) and q & 1):
            q += 1
        m, e = q, e + shift
    # two 32-bit halves: each and their sum exact in longdouble's 64-bit significand (m ≤ 2^64)
    v = np.longdouble(m >> 32) * np.longdouble(2.0**32) + np.longdouble(m & 0xFFFFFFFF)
    return sign * np.ldexp(v, e)


class FieldWitness:
    """The witness's methods (module docstring)."""

    def _witness_bound(self, y0: list[np.ndarray], ys: list[np.ndarray], coef: list,
                       need: list[bool]) -> tuple[float, float]:
        """(bound, credit) where the witness runs, W = (w + r·R)(1 + 2^-20) (:meth:`_witness`) against the
        relative term's share of c_1, s = ε·d·‖ĉ_1‖(1 − 2^-20) (:meth:`relative_share`): the field bound
        max(0, W − s), so that share + bound = max(share, W) ≥ ‖ĉ_1 − F‖ (the field's error bar), and the
        credit max(0, s − W), which the local error may give back (``FloatSeries.local_field``): its term for
        c_1's rounding is then W itself, the rest of the relative term (the Horner sums, the higher
        coefficients) staying. The witness replaces the model's bound rather than adding to it (until
        2026-12-05 it was added, and the share kept: the model's worst-case propagation of the head's rounding
        was 16× the field's actual rounding on a converged 11-parameter twin, ~950× on the 64-50-50-10 deep
        linear digits net, and the share ~430× it there at θ₀: 2.1e-13 against 4.8e-16; docs/theory.md F). The factors 1 ± 2^-20 cover the
        rounding of w and of the share themselves: P differences and squares summed in longdouble, then
        converted and square-rooted in float64, ≤ (P + 3)·u_ld + 2u relative, and the share's float64 norm
        ≤ (P + 3)u — both far below 2^-20 for any P ≤ 2^30."""
        w, R = self._witness(y0, ys, coef, need)
        W, s = (w + _LD_RATIO * R) * (1 + 2.0**-20), self.relative_share(ys) * (1 - 2.0**-20)
        return max(0.0, W - s), max(0.0, s - W)

    def relative_share(self, ys: list[np.ndarray]) -> float:
        """ε·d·‖ĉ_1‖₂: the share of the local error's relative rounding term (float_steps._local_error) that
        stands for c_1 = F's own rounding, d the longest inner product of the pass."""
        return EPS * self.dmax * math.sqrt(sum(float(np.sum(Y[1] * Y[1])) for Y in ys))

    def _witnessed(self, coef: list, need: list[bool], p: int = 0) -> bool:
        """Whether this pass's field gets the extended-precision witness (:meth:`_witness`): where
        numpy's longdouble is wider than float64 and either the order-0 products cost ≤ ``WITNESS_FLOPS``
        multiply-adds, or ``LD_COST`` times that is at most the products of this pass of order ``p`` — a
        product with a constant factor costs p + 1 order-0 products, one of two series (p + 1)(p + 2)/2 (the
        Cauchy sums) — so that the witness at most doubles a pass's products (the full-order passes of a
        64-50-50-10 deep linear net on 500 samples; not its event-cut low orders, nor 784-50-50-10's).
        Counted once, from the first pass's shapes."""
        if getattr(self, "_witness_flops", None) is None:
            flops, series, fixed = 0, 0, 0
            for i, (op, a, b, _) in enumerate(self.ops):
                if need[i] and not self.const[i] and op == "matmul":
                    A = coef[a] if self.const[a] else coef[a][0]
                    B = coef[b] if self.const[b] else coef[b][0]
                    m = int(np.size(A)) * int(np.shape(B)[-1])
                    flops += m
                    if self.const[a] or self.const[b]:
                        fixed += m
                    else:
                        series += m
            self._witness_flops = (flops, series, fixed)
        flops, series, fixed = self._witness_flops
        if not _LD_WIDER or WITNESS_FLOPS < 0:  # (a negative threshold turns the witness off: tests, benchmarks)
            return False
        return flops <= WITNESS_FLOPS or LD_COST * flops <= fixed * (p + 1) + series * (p + 1) * (p + 2) // 2

    def _witness(self, y0: list[np.ndarray], ys: list[np.ndarray], coef: list, need: list[bool]
                 ) -> tuple[float, float]:
        """The field's rounding, measured: the order-0 pass again in numpy's longdouble (the same
        operations on the same float inputs, constants and masks). Returns (w, R): w = ‖ĉ_1 − c_1^ld‖₂,
        whose distance from ĉ_1's own rounding is at most c_1^ld's, ≤ r·R with R the rigorous form of the
        float pass's bound (:meth:`_error0` with ``every_product``; every rule is first order in the unit)
        and r = u_ld/u the ratio of the units (``_LD_RATIO``, 2^-11 on x86) (module docstring of
        :mod:`numerics.float_rounding`, "The witness")."""
        val, errs = self._order0(y0, need, coef, np.longdouble)
        R = output_error(errs, self.outs, [Y.shape[1:] for Y in ys], len(self.ops))
        w2 = np.longdouble(0)
        for Y, o in zip(ys, self.outs):
            d = Y[1].astype(np.longdouble) - self.sign * val[o]
            w2 += np.sum(d * d)
        return math.sqrt(float(w2)), R

    def _order0(self, y0: list[np.ndarray], need: list[bool], coef: list | None, dtype: type
                ) -> tuple[list, list]:
        """The order-0 values of the needed nodes in ``dtype`` on the float inputs and masks, and beside each the
        rigorous bound (:meth:`_error0` with ``every_product``) on the rounding a float64 evaluation of it makes,
        read at the float64 rounding of the values: the float pass's R for the witness (``np.longdouble``), and
        for ``np.float64`` a float evaluation with its own error bound (the sliding weights' residual,
        :mod:`numerics.weights_error`). Constants: the pass's values ``coef`` where given, else evaluated here;
        exact floats, as in the pass's own bound."""
        n = len(self.ops)
        val: list[Any] = [None] * n
        fake: list[Any] = [None] * n  # float64 order-0 values in _error0's layout (stacks: index 0)
        errs: list[Any] = [0.0] * n
        for i, (op, a, b, payload) in enumerate(self.ops):
            if not need[i]:
                continue
            if self.const[i]:
                v = coef[i] if coef is not None else self._const(i, op, a, b, payload, fake)
                val[i], fake[i] = np.asarray(v, dtype=dtype), v
                continue
            if op == "input":
                val[i] = y0[payload].astype(dtype)
            elif op == "scale" and dtype is not np.float64:  # the exact constant, not its float64 rounding,
                val[i] = val[a] * _longdouble(payload)       # which the float pass alone makes
            else:  # the order-0 rule of every other node (_const's)
                val[i] = self._const(i, op, a, b, payload, val)
                S = self.slide.get(payload.layer) if op == "hadamard" else None
                if S:  # sliding entries: the weight μ₀ (0 on the kink's own products), as the pass used it
                    v = val[i] = np.array(np.broadcast_to(val[i], np.shape(val[a])), dtype=dtype)
                    zero = a in payload.zero_inputs
                    for (u, c), mus in S.items():
                        v[u, c] = 0 if zero else dtype(mus[0]) * val[a][u, c]
            vf = val[i].astype(np.float64)
            fake[i] = (vf,)
            if op == "T":
                errs[i] = errs[a].T if np.ndim(errs[a]) else errs[a]
            elif op != "input":
                errs[i] = self._error0(i, op, a, b, payload, vf, fake, errs, every_product=True)
        return val, errs
