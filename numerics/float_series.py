"""Float64 power-series evaluation of a :class:`numerics.series.Tape` (the float Taylor tier's series).

For the field θ' = sign·G(θ) recorded on a tape, one pass computes the Taylor coefficients y_0 … y_p of
every state block and the coefficients of the watched nodes (pre-activations z_j, rates ż_j), order by
order: node values of order k need only coefficients of order ≤ k, and y_{k+1} = sign·G_k/(k + 1).

Layout (why it is fast). Every non-constant node holds its coefficients as one C-contiguous stack
(p+1, rows, cols). The order-k coefficient of a product of two series is the Cauchy sum

    (AB)_k = Σ_{i=0}^{k} A_{k−i} B_i = [A_k A_{k−1} … A_0] · [B_0; B_1; …; B_k],

one BLAS call of an m×(k+1)r by (k+1)r×c product. The right factor is a view of B's stack (its first
k+1 coefficients, rows stacked); the left factor is a view of a per-product buffer of shape (m, p+1, r)
into which A_k is written at slot p − k, so that slots p−k … p hold A_k … A_0 side by side — a matrix
with leading dimension (p+1)r that BLAS reads in place. No coefficient is copied more than once per
order, and a pass costs Σ_k (k+1) = (p+1)(p+2)/2 products' worth of flops, vectorised over samples and
units.

In place. An elementwise node (hadamard, add, sub, neg, scale) writes into an operand's stack when
nothing else reads that operand and it is neither an output nor watched (not while entries slide): its
order-k coefficient is dead once the node has read it. The values are the same operations on the same
numbers (bit-identical passes); two to four stacks of the pass's size fewer on the research nets.

Transposes. A ``T`` node is a view of its operand's stack (its coefficient matrices transposed in place),
never a copy: the backward products Σ_i D_{k−i} H_iᵀ (the gradients' D·Hᵀ over the samples) are the k + 1
products D_{k−i}H_iᵀ batched over i — the left operand read in reverse order as a view, the right one
as a transposed view, which BLAS reads with its transpose flag — summed. Copying the transposed
stacks and the reversed left operand (a stack of the pass's size each) had cost ~10 % of a research-size
run in memory traffic (64-50-50-10 ReLU net, 500 samples: 18.2 → 15.7 s to t = 0.01, 2026-12-03). The
elementwise nodes (add, sub, neg, scale) write into their stacks (``out=``) instead of a temporary.

Bias columns. The tape writes a layer's bias term as the outer product b·1ᵀ with a constant row of ones;
where only the sum W·h + b·1ᵀ reads it, its stack is the bias's own (p+1, d, 1) column stack, which the sum
broadcasts — no gemm per order (~29 µs for a (50 × 1)·(1 × 500) product) and no (d, n) stack; the values are
the same (a product by 1 is exact). Not while entries slide (the after-order hook corrects nodes in place).

Cross-entropy (docs/theory.md F, "Float tier: cross-entropy"): the softmax head P = e^{Z} ÷ 1·(1ᵀe^{Z})
is recorded by :mod:`numerics.series_elementwise` as ``exp``, ``emul`` (⊙) and ``div`` (÷) nodes; they are
evaluated here with the same recurrences as the arb rules there, each order one numpy reduction over the
stacked coefficients (vectorised over entries):

    [a ⊙ b]_k = Σ_{j≤k} a_j ⊙ b_{k−j},   u_0 = e^{v_0}, k·u_k = Σ_{j=1}^{k} j·v_j ⊙ u_{k−j},
    q_k = (a_k − Σ_{j=1}^{k} s_j ⊙ q_{k−j}) ÷ s_0.

No column maximum is subtracted before exp (the tape's exp is a general node, and the shift would buy
range, not accuracy); exponents above ``EXP_MAX`` and divisors below ``TINY`` are refused with a clear
error instead (docs/theory.md F).

Sliding entries (Filippov weights μ(t) as mask series, :mod:`numerics.kink_flows`) enter the masked
products entry by entry; the ``after_order(k, coef)`` hook may change the order-k coefficients of any
node after order k is done (the μ_k correction), so the left buffers re-read slot k on the next order.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .float_rounding import OUT_NORM_FLOPS, node_error, output_error, output_product_norm, softmax_error
from .float_steps import EPS
from .float_witness import FieldWitness
from .softmax_radius import exp_inputs

# e^{v_0} ≤ e^{300} ≈ 2e130 leaves a factor 1e178 of float64's range for the column sums and for the raw
# series coefficients, which grow like ρ^{−k} (ρ ≥ 1e-8 at p = 20); a divisor below 2^{−1022}·2^{52}
# would be near the subnormal range (fewer than 53 significant bits after a few operations)
EXP_MAX = 300.0
TINY = float(np.finfo(float).tiny) * 2.0**52


# nodes whose stacks an elementwise reader may take over: none of them reads its own earlier orders
_TAKEABLE = frozenset({"matmul", "add", "sub", "neg", "scale", "hadamard", "emul"})


class FloatSeries(FieldWitness):
    """Evaluates a tape on float64 coefficient stacks (module docstring).

    ``maskv`` maps a hidden layer (1-based) to its float mask array (1 or α per entry), shared with the
    caller, who flips entries at events; ``slide`` maps a layer to {(unit, sample): [μ_0, μ_1, …]}.
    ``dmax`` is the longest inner product met (for the rounding bound of the error estimate)."""

    def __init__(self, tape: Any, outs: list[int], sign: int, maskv: dict[int, np.ndarray]) -> None:
        import flint

        from .series import LazyConst

        self.ops, self.outs, self.sign, self.maskv = tape.ops, outs, sign, maskv
        self.slide: dict[int, dict] = {}
        self.after_order: Callable | None = None
        n = len(self.ops)
        self.const = [False] * n
        self.cval: list[Any] = [None] * n
        for i, (op, a, b, payload) in enumerate(self.ops):
            self.const[i] = op == "const" or (op != "input" and self.const[a] and (b is None or self.const[b]))
            if op == "const":
                m = payload
                self.cval[i] = m.floats() if isinstance(m, LazyConst) else \
                    np.array([float(x.mid()) for x in m.entries()]).reshape(m.nrows(), m.ncols())
            elif op == "scale":
                self.cval[i] = float(payload.mid()) if isinstance(payload, flint.arb) else float(payload)
        self.dmax = 1
        self.field_error = math.nan  # set by run(..., field_error=True)
        self.field_credit = 0.0  # (the same; FieldWitness._witness_bound)
        # while entries slide: the bound on what the weights' error at Newton's floor puts into F (set by the
        # weights' solve, numerics.weights_error), part of every field_error
        self.weights_error = 0.0
        self._witness_flops: tuple[int, int, int] | None = None  # (float_witness._witnessed)
        self._outset = set(outs)
        self.exact_masks = False  # every mask entry in {0, 1} (ReLU, linear): set by the caller
        # readers of every node: an elementwise node may take over an operand's stack that nothing else reads
        self._readers = [0] * n
        for op, a, b, _ in self.ops:
            if op not in ("input", "const"):
                self._readers[a] += 1
                if b is not None:
                    self._readers[b] += 1
        # a bias's outer product b·1ᵀ with the constant row of ones, read only by the sum W·h + b·1ᵀ: its stack is
        # the bias's own column stack, which the sum broadcasts (a product by 1 is exact; the gemm of a
        # (d × 1)·(1 × n) outer product cost ~29 µs per order and node on the research nets, the broadcast ~4 µs)
        self._col: dict[int, int] = {}
        for i, (op, a, b, _) in enumerate(self.ops):
            if op == "matmul" and not self.const[a] and self.ops[b][0] == "const" and i not in self._outset:
                B = self.cval[b]
                if np.ndim(B) == 2 and B.shape[0] == 1 and np.all(B == 1.0) and self._readers[i] == 1 \
                        and all(op2 in ("add", "sub") for op2, a2, b2, _ in self.ops if i in (a2, b2)):
                    self._col[i] = a
        # the products the loss head reads (f of f − y, the logits of e^z): their own rounding enters
        # the field-rounding bound (numerics.float_rounding)
        self._heads: set[int] = set()
        todo = [x for op, a, b, _ in self.ops if op in ("add", "sub", "exp")
                and (op == "exp" or self.const[a] or self.const[b]) for x in (a, b) if x is not None]
        while todo:  # through the bias sums W·h + b down to the products
            x = todo.pop()
            if not self.const[x] and self.ops[x][0] == "matmul":
                self._heads.add(x)
            elif not self.const[x] and self.ops[x][0] in ("add", "sub"):
                todo += [self.ops[x][1], self.ops[x][2]]
        # the column-wise softmaxes Ê ÷ 1·(1ᵀÊ), Ê = e^{z} (numerics.series_elementwise.softmax): div node →
        # (exp node, logits node); their bound is taken as one node's (float_rounding.softmax_error)
        self._softmax: dict[int, tuple[int, int]] = {}
        for i, (op, a, b, _) in enumerate(self.ops):
            if op == "div" and self.ops[a][0] == "exp" and self._column_sums(b, a):
                self._softmax[i] = (a, self.ops[a][1])
        # the exp nodes' operands (the softmax logits): every pass returns their series, whose excursion
        # caps the step's radius (numerics.softmax_radius; docs/theory.md F, "A softmax saturated far from
        # its target")
        self.exp_inputs = exp_inputs(self.ops)
        self._need_cache: dict[tuple, list[bool]] = {}
        self._take_cache: dict[tuple, dict[int, int]] = {}
        self._cconst: dict[int, Any] = {}

    def _column_sums(self, b: int, a: int) -> bool:
        """Whether node b is 1·(1ᵀA) of node a: two products with constant all-ones factors."""
        def ones(c: int, shape: Callable[[tuple], bool]) -> bool:
            v = self.cval[c]
            return self.const[c] and self.ops[c][0] == "const" and v is not None and shape(np.shape(v)) \
                and bool(np.all(np.asarray(v) == 1.0))
        op, c1, x, _ = self.ops[b]
        if op != "matmul" or self.ops[x][0] != "matmul" or self.ops[x][2] != a:
            return False
        c0 = self.ops[x][1]
        return ones(c1, lambda s: len(s) == 2 and s[1] == 1) and ones(c0, lambda s: len(s) == 2 and s[0] == 1)

    def _need(self, watched: Sequence[int]) -> list[bool]:
        """The nodes the outputs and the watched nodes read (e.g. not the rates ż in a step pass)."""
        key = tuple(watched)
        got = self._need_cache.get(key)
        if got is not None:
            return got
        ops = self.ops
        need = [False] * len(ops)
        for o in list(self.outs) + list(watched):
            need[o] = True
        for i in range(len(ops) - 1, -1, -1):
            if need[i]:
                op, a, b, _ = ops[i]
                if op not in ("input", "const"):
                    need[a] = True
                    if b is not None:
                        need[b] = True
        self._need_cache[key] = need
        return need

    def run(self, y0: list[np.ndarray], p: int, watched: Sequence[int] = (),
            field_error: bool = False) -> tuple[list[np.ndarray], dict]:
        """State coefficients (p+1, ...) per block and the watched nodes' coefficients (p, ...). With
        ``field_error``, also ``self.field_error``: a bound on what the roundings the local error's
        relative term misses (elementwise ones, the loss head's products) put into c_1 = F(y0)
        (:mod:`numerics.float_rounding`), carried beside the order-0 values."""
        ops, const = self.ops, self.const
        n = len(ops)
        if self.exp_inputs:
            watched = list(watched) + [z for z, _ in self.exp_inputs if z not in watched]
        need = self._need(watched)
        coef: list[Any] = [None] * n
        errs: list[Any] | None = [0.0] * n if field_error else None  # (constants: exact floats)
        lbuf: dict[int, np.ndarray] = {}
        hook = self.after_order
        takes = {} if self.slide or hook is not None else self._takeovers(need, watched)  # (cached per watched set)
        ys = []
        for y in y0:
            Y = np.empty((p + 1,) + y.shape)
            Y[0] = y
            ys.append(Y)
        # constants (the data, mask-only products): once per pass; the masks may have changed
        for i, (op, a, b, payload) in enumerate(ops):
            if need[i] and const[i]:
                coef[i] = self._const(i, op, a, b, payload, coef)
        for k in range(p):
            for i, (op, a, b, payload) in enumerate(ops):
                if not need[i] or const[i]:
                    continue
                if op == "input":
                    if k == 0:
                        coef[i] = ys[payload]
                    continue
                # b·1ᵀ: the column stack itself (see __init__); not while entries slide, where the after-order hook
                # corrects every node's coefficients in place (it would write into the bias's own stack)
                if i in self._col and hook is None and i not in watched:
                    if k == 0:
                        coef[i] = coef[a]
                        if errs is not None:
                            errs[i] = errs[a]
                    continue
                if op == "T":  # a view of the operand's stack, never copied (module docstring, "Transposes")
                    if k == 0:
                        coef[i] = coef[a].transpose(0, 2, 1)
                        if errs is not None and np.ndim(errs[a]):
                            errs[i] = errs[a].T
                    continue
                # from order 1 on the node's stack exists: products write into it (out=), saving a
                # temporary and its copy per node and order (the same BLAS calls: bit-identical passes)
                out = coef[i][k] if k > 0 else None
                if k == 0 and i in takes:  # an elementwise node in its operand's stack (module docstring)
                    src = coef[takes[i]]
                    shapes = [np.shape(coef[x]) if const[x] else coef[x].shape[1:] for x in (a, b)
                              if x is not None and op != "hadamard"]
                    if not shapes or np.broadcast_shapes(*shapes) == src.shape[1:]:  # (no broadcast into it)
                        coef[i] = src
                        out = src[0]
                if k == 0 and op == "matmul" and out is None:  # its stack first: order 0 written in place too
                    rows = (coef[a] if const[a] else coef[a][0]).shape[0]
                    coef[i] = np.empty((p + 1, rows, (coef[b] if const[b] else coef[b][0]).shape[-1]))
                    out = coef[i][0]
                if op == "matmul":
                    A, B = coef[a], coef[b]
                    if const[a]:
                        v = np.matmul(A, B[k], out=out)
                    elif const[b]:
                        v = np.matmul(A[k], B, out=out)
                    elif not B.flags.c_contiguous:  # B a transposed stack (a view): k + 1 products in place
                        v = np.matmul(A[k::-1], B[: k + 1]).sum(axis=0, out=out)
                    else:
                        m, r = A.shape[1], A.shape[2]
                        L = lbuf.get(i)
                        if L is None:
                            L = lbuf[i] = np.empty((m, p + 1, r))
                        L[:, p - k, :] = A[k]
                        if hook is not None and k > 0:
                            L[:, p - k + 1, :] = A[k - 1]  # the hook may have changed order k − 1
                        v = np.matmul(L[:, p - k:, :].reshape(m, (k + 1) * r), B[: k + 1].reshape((k + 1) * r, B.shape[2]),
                                      out=out)
                    if k == 0:
                        self.dmax = max(self.dmax, A.shape[-1] if not const[a] else A.shape[1])
                elif op in ("add", "sub"):
                    x = (coef[a] if k == 0 else 0.0) if const[a] else coef[a][k]
                    z = (coef[b] if k == 0 else 0.0) if const[b] else coef[b][k]
                    v = np.add(x, z, out=out) if op == "add" else np.subtract(x, z, out=out)
                elif op == "neg":
                    v = np.negative(coef[a][k], out=out)
                elif op == "scale":
                    v = np.multiply(coef[a][k], self.cval[i], out=out)
                elif op == "hadamard":
                    v = np.multiply(coef[a][k], self.maskv[payload.layer], out=out)
                    S = self.slide.get(payload.layer)
                    if S:
                        zero = a in payload.zero_inputs  # m·z = 0 and m·ż = 0 on the kink
                        A = coef[a]
                        for (u, c), mus in S.items():
                            if zero:
                                v[u, c] = 0.0
                            else:
                                v[u, c] = sum(mus[q] * A[k - q][u, c] for q in range(min(k + 1, len(mus))))
                elif op == "emul":
                    v = self._emul(k, coef[a], coef[b], const[a], const[b])
                elif op == "exp":
                    v = self._exp(k, coef[a], coef[i])
                elif op == "div":
                    v = self._div(k, coef[a], coef[b], coef[i], const[a], const[b])
                else:  # pragma: no cover
                    raise AssertionError(op)
                if k == 0 and errs is not None:  # (read before the node's value lands in a taken-over stack:
                    errs[i] = self._error0(i, op, a, b, payload, v, coef, errs)  # no rule reads it)
                if k == 0 and out is None:
                    coef[i] = np.empty((p + 1,) + np.shape(v))
                    coef[i][0] = v
                elif v is not out:
                    coef[i][k] = v
            if hook is not None and k > 0:
                hook(k, coef)
            inv = self.sign / (k + 1)
            for Y, o in zip(ys, self.outs):
                np.multiply(coef[o][k], inv, out=Y[k + 1])
            if k == 0 and errs is not None:  # c_1 = ±G_0: an exact scaling
                self.field_error = output_error(errs, self.outs, [Y.shape[1:] for Y in ys], n)
                self.field_credit = 0.0
                if self._witnessed(coef, need, p):  # the field measured (numerics.float_witness)
                    self.field_error, self.field_credit = self._witness_bound(y0, ys, coef, need)
                if self.slide:  # F(θ, μ̂) against the Filippov field F(θ, μ*) (numerics.weights_error)
                    self.field_error += self.weights_error
        return ys, {w: (coef[w] if const[w] else coef[w][:p]) for w in watched if coef[w] is not None}

    @property
    def local_field(self) -> float:
        """The field's term of the last pass in the local error (``field`` of :func:`numerics.float_steps._local_error`,
        times h there): ``field_error``, less ``field_credit`` where the witness measured the field's rounding below the
        relative term's share of it (≥ −share, so the local error keeps its other parts). ``field_error`` itself
        (≥ 0) is the field's error bar where a rate's sign is read."""
        return self.field_error - self.field_credit

    def _error0(self, i: int, op: str, a: int, b: int | None, payload: Any, v: np.ndarray, coef: list,
                errs: list, every_product: bool = False) -> Any:
        """Node i's elementwise-rounding bound at order 0 (:func:`numerics.float_rounding.node_error`)
        from its operands' order-0 values and bounds. Called before v is stored: where v goes into an
        operand's stack (a takeover) the rule does not read that operand's value. ``every_product``: the
        rigorous form, Higham's γ_m|Â||B̂| at every product and entrywise throughout (the witness's own
        error, :meth:`_witness`)."""
        const = self.const

        def val(x):
            return coef[x] if const[x] else coef[x][0]

        ea = errs[a]
        eb = errs[b] if b is not None else 0.0
        if op == "matmul":
            A, B = val(a), val(b)
            if i in self._outset and i not in self._heads and A.size * B.shape[-1] > OUT_NORM_FLOPS \
                    and not every_product:
                return output_product_norm(A, B, ea, eb)
            return node_error(op, v, A, B, ea, eb, seed=every_product or i in self._heads)
        if op == "emul":
            return node_error(op, v, val(a), val(b), ea, eb)
        if op == "div":
            if i in self._softmax:
                E, z = self._softmax[i]
                return softmax_error(v, val(E), val(b), errs[z])
            return node_error(op, v, None, val(b), ea, eb)
        if op == "scale":
            return node_error(op, v, None, None, ea, 0.0, self.cval[i])
        if op == "hadamard":
            mask = self.maskv[payload.layer]
            S = self.slide.get(payload.layer)
            if S:  # sliding entries: the weight μ₀ (0 on the kink's own products), as the pass used it
                mask = np.array(np.broadcast_to(mask, np.shape(v)), dtype=float)
                zero = a in payload.zero_inputs
                for (u, c), mus in S.items():
                    mask[u, c] = 0.0 if zero else mus[0]
            return node_error(op, v, None, None, ea, 0.0, mask, exact_mask=self.exact_masks and not S)
        return node_error(op, v, None, None, ea, eb)

    def _takeovers(self, need: list[bool], watched: Sequence[int]) -> dict[int, int]:
        """{node: operand} for the elementwise nodes (hadamard, add, sub, neg, scale) of a pass that write
        into an operand's stack: the operand is a computed stack (not an input, a transposed view or a
        constant) of a node that does not read its own earlier orders (not exp or div), read by this node
        only, and neither an output nor watched — so its coefficient k is dead once the node has read it
        (module docstring, "In place"). Not while entries slide: the sliding rule reads the operand's
        earlier orders, and the after-order hook rewrites them."""
        key = tuple(watched)
        got = self._take_cache.get(key)
        if got is not None:
            return got
        ops, const = self.ops, self.const
        keep = set(self.outs) | set(watched)
        out: dict[int, int] = {}
        for i, (op, a, b, _) in enumerate(ops):
            if not need[i] or const[i] or op not in ("hadamard", "add", "sub", "neg", "scale"):
                continue
            for c in (a, b):
                # (exp and div read their own earlier orders: their stacks are never taken over)
                if (c is not None and not const[c] and ops[c][0] in _TAKEABLE and c not in self._col
                        and self._readers[c] == 1 and c not in keep):
                    out[i] = c
                    break
        self._take_cache[key] = out
        return out

    # -- entrywise series (numerics.series_elementwise's rules in float64; docs/theory.md F, "Cross-entropy")
    @staticmethod
    def _emul(k: int, A: np.ndarray, B: np.ndarray, ca: bool, cb: bool) -> np.ndarray:
        """[a ⊙ b]_k = Σ_{j≤k} a_j ⊙ b_{k−j}: one vectorised sum over the k + 1 products."""
        if ca:
            return A * B[k]
        if cb:
            return A[k] * B
        return np.einsum("kij,kij->ij", A[: k + 1], B[k::-1])

    @staticmethod
    def _exp(k: int, V: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        """[e^v]_k: u_0 = e^{v_0}, k·u_k = Σ_{j=1}^{k} j·v_j ⊙ u_{k−j} (from u' = v'u). No shift by a
        column maximum (the tape's exp is a general node): a clear error instead where e^{v_0} could
        leave the float range (module docstring of numerics.series_elementwise; docs/theory.md F)."""
        if k == 0:
            top = float(V[0].max(initial=-math.inf))
            if not top <= EXP_MAX:
                raise FloatingPointError(
                    f"an exponent of the tape (a logit of the softmax head) is {top:.4g}; e^{{z}} > e^{EXP_MAX:g} "
                    "could overflow float64 (with its column sums and series): use the arb tier (dps=...)")
            return np.exp(V[0])
        w = np.arange(1, k + 1, dtype=np.float64)
        return np.einsum("k,kij,kij->ij", w, V[1: k + 1], U[k - 1:: -1]) / k

    @staticmethod
    def _div(k: int, A: Any, S: Any, Q: np.ndarray | None, ca: bool, cs: bool) -> np.ndarray:
        """[a ÷ s]_k: q_k = (a_k − Σ_{j=1}^{k} s_j ⊙ q_{k−j}) ÷ s_0 (from q·s = a)."""
        num = (A if k == 0 else np.zeros(np.shape(A))) if ca else A[k]
        if cs:
            return num / S
        s0 = S[0]
        if k == 0:
            small = float(np.abs(s0).min(initial=math.inf))
            if not small >= TINY:
                raise FloatingPointError(
                    f"a divisor of the tape (a softmax column sum) is {small:.3g}, below {TINY:.3g}: its quotient "
                    "series would lose precision in float64 (every logit of a column below ≈ −700); use the arb "
                    "tier (dps=...)")
        else:
            num = num - np.einsum("kij,kij->ij", S[1: k + 1], Q[k - 1:: -1])
        return num / s0

    def _const(self, i: int, op: str, a: int, b: int | None, payload: Any, coef: list) -> Any:
        """Node i's order-0 value from its operands' values in ``coef`` (plain arrays): the constant nodes
        once per pass, and every node of the witness's longdouble pass (:meth:`_witness`, where sliding
        weights are applied after it)."""
        if op == "const":
            return self.cval[i]
        x = coef[a]
        if op == "matmul":
            return x @ coef[b]
        if op == "add":
            return x + coef[b]
        if op == "sub":
            return x - coef[b]
        if op == "neg":
            return -x
        if op == "T":
            return x.T
        if op == "scale":
            return x * self.cval[i]
        if op == "hadamard":
            return x * self.maskv[payload.layer]
        if op == "emul":
            return x * coef[b]
        if op == "exp":
            return self._exp(0, x[None], None)
        if op == "div":
            return self._div(0, x, coef[b], None, True, True)
        raise AssertionError(op)
