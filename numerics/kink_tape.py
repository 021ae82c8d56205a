"""The tape of a (leaky) ReLU network's gradient flow with its activation pattern as power-series
masks, and the pre-activations z_j and their rates ż_j watched (docs/theory.md E1). Used by the arb
tier (:mod:`numerics.kink_flows`) and, on float arrays, by the float tier (:mod:`numerics.float_taylor`).
"""

from __future__ import annotations

import flint
import numpy as np

from theory import Objective

from .gradients import evaluate
from .series import SeriesMask, Tape, TracingBackend, to_arb


class LayerMask(SeriesMask):
    """The activation pattern of one hidden layer, as a (power-series) mask on the tape.

    ``side[idx]`` is +1 (z > 0, mask 1) or −1 (z < 0, mask α) for entry idx = u·n + i (unit u, sample
    i). An entry in ``sliding`` carries the series μ(t) of its Filippov mask value in ``mu[idx]``
    (μ_0 set before a pass; μ_k, k ≥ 1, enters as 0 and is solved after order k, module docstring).
    Products with the nodes in ``zero_inputs`` (z and ż: the forward pass and its tangent) are 0 at a
    sliding entry, since m·z = 0 and m·ż = 0 on the kink whatever m is.
    """

    def __init__(self, layer: int, rows: int, cols: int, alpha: flint.arb) -> None:
        self.layer, self.rows, self.cols = layer, rows, cols
        self.alpha = alpha
        self.one = flint.arb(1)
        self.zero = flint.arb(0)
        self.side = np.ones(rows * cols, dtype=np.int8)
        self.dead = np.zeros(rows * cols, dtype=bool)
        self.pinned: set[int] = set()  # at z = 0 under a field that does not move it (see _kink)
        self.sliding: set[int] = set()
        self.zero_inputs: set[int] = set()
        self.mu: dict[int, list] = {}
        self._refresh()

    def _refresh(self) -> None:
        self.base = [self.one if s > 0 else self.alpha for s in self.side]

    def set_side(self, idx: int, side: int) -> None:
        self.side[idx] = side
        self._refresh()

    def coefficient(self, k: int, A: list, a: int) -> flint.arb_mat:
        E = A[k].entries()
        out = [e * m for e, m in zip(E, self.base)]
        if self.sliding:
            if a in self.zero_inputs:
                for idx in self.sliding:
                    out[idx] = self.zero
            else:
                # the operand's earlier coefficients are read from its list A, not from entries kept
                # when this product saw them: _KinkFlow._after_order corrects a node's coefficient k in
                # place after order k, and the operand here (the back-propagated signal into this layer)
                # depends on the μ's of entries sliding in the layers above on the same sample. Until
                # 2026-12-04 a copy kept at order k−q was read, stale after that correction: with entries
                # of two layers sliding on one sample, μ_k (k ≥ 2) of the lower one came out wrong and its
                # leave time 1.3e-4 late at 30 and 40 digits alike (docs/theory.md E1, "Entries of two
                # layers sliding on one sample")
                for idx in self.sliding:
                    mus = self.mu[idx]
                    if len(mus) <= k:
                        mus.append(self.zero)  # tentative μ_k = 0; _KinkFlow._after_order solves it
                    r, c = divmod(idx, self.cols)
                    acc = mus[0] * E[idx]
                    for q in range(1, k + 1):
                        acc += mus[q] * A[k - q][r, c]
                    out[idx] = acc
        return flint.arb_mat(self.rows, self.cols, out)


def _relu_tape(obj: Objective, masks: list[LayerMask]) -> tuple[Tape, list[int], list[int], list[int]]:
    """The field's tape (θ blocks as inputs, biases as columns): outputs ∇f; watched z_1..z_{N−1}
    and their rates ż_j = Ẇ_j a_{j−1} + W_j ȧ_{j−1} + ḃ_j 1ᵀ along θ' = −∇f (ȧ_j = m_j ⊙ ż_j), the
    tangent of the forward pass, which the sliding constraint keeps at 0."""
    tape = Tape()
    b = TracingBackend(tape)
    ins = [tape.input(j) for j in range(len(obj.shapes))]
    watch: list = []
    _, g = evaluate(obj, ins, b, want_value=False, masks=masks if masks else None, watch=watch)
    zdots = []
    if masks:
        bias = obj.model.bias
        minus = to_arb(-1)
        F = [gi * minus for gi in g]
        Ws, Fw = (ins[0::2], F[0::2]) if bias else (ins, F)
        Fb = F[1::2] if bias else None
        loss = obj.loss
        a_prev = None if loss.inputs is None else b.matrix(loss.inputs)
        ones = b.matrix(np.ones((1, loss.num_samples), dtype=np.int64).astype(object)) if bias else None
        adot_prev = None
        for j, m in enumerate(masks):
            zd = Fw[j] if a_prev is None else Fw[j] @ a_prev
            if adot_prev is not None:
                zd = zd + Ws[j] @ adot_prev
            if bias:
                zd = zd + Fb[j] @ ones
            zdots.append(zd)
            m.zero_inputs = {watch[j].i, zd.i}
            a_prev = watch[j] * m
            adot_prev = zd * m
    return tape, [x.i for x in g], [w.i for w in watch], [z.i for z in zdots]
