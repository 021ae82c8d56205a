"""Taylor coefficients of ODE solutions from the generic formulas, order by order.

The gradient formula is run once on :class:`Tracer` matrices, which record every ``@``, ``+``,
``−``, transpose and scaling on a :class:`Tape`. The tape is then evaluated on truncated power
series: coefficient k of a product is the Cauchy sum Σ_{i≤k} A_i B_{k−i}, of a sum the sum of the
coefficients. For y' = F(y) with F on the tape, coefficient k of F(y(t)) needs only y_0..y_k, so
y_{k+1} = F_k/(k+1) follows order by order (the Taylor method; Jorba & Zou 2005). Each node keeps
its coefficients, so order k costs O(k) products per product node: O(p²) for p orders, not O(p³).
The O(k) products of a Cauchy sum are either one product of block stacks or, for a matrix times a
matrix or vector of ≥ 1.2·(order) entries, a loop of products on the coefficients as they are (:class:`_Cauchy`:
whichever copies fewer entries through Python).

Matrices on the tape are python-flint ``arb_mat`` (C multiprecision); the precision is
``flint.ctx.prec`` set by the caller through :func:`arb_precision`.
"""

from __future__ import annotations

import contextlib
import math
from itertools import chain
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence

import flint
import mpmath
import numpy as np

from .backends import Backend
from .duals import Dual


@contextlib.contextmanager
def arb_precision(dps: int, guard_bits: int = 32) -> Iterator[int]:
    """Set flint's working precision to ``dps`` digits plus guard bits, restoring it afterwards."""
    old = flint.ctx.prec
    bits = int(math.ceil(dps * math.log2(10))) + guard_bits
    flint.ctx.prec = bits
    try:
        yield bits
    finally:
        flint.ctx.prec = old


def to_arb(x: Any) -> flint.arb:
    """An exact arb for a float, int, Fraction or mpf (no decimal strings: they cost digits)."""
    if isinstance(x, flint.arb):
        return x
    if isinstance(x, Fraction):
        return flint.arb(flint.fmpq(x.numerator, x.denominator))
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return flint.arb((int(man) * (-1) ** sign, int(exp))) if man else flint.arb(0)
    if isinstance(x, (int, np.integer)):
        return flint.arb(int(x))
    return flint.arb(float(x))


def to_arb_mat(a: Any) -> flint.arb_mat:
    a = np.asarray(a)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    r, c = a.shape
    return flint.arb_mat(r, c, [to_arb(x) for x in a.flat])


class LazyConst:
    """A tape constant recorded from an array (:class:`TracingBackend`): its arb_mat is built on first use,
    exactly (:func:`to_arb_mat`) and at the precision current when it was recorded, so the float tier,
    which reads the values as float64, does not pay for an entry-by-entry conversion it never uses (the
    data of a 784-50-50-10 net on 500 samples: 1.2M entries, ~4 s, most of a short float run)."""

    __slots__ = ("array", "_arb", "_prec")

    def __init__(self, a: Any) -> None:
        a = np.asarray(a)
        self.array = a.reshape(-1, 1) if a.ndim == 1 else a
        self._arb: flint.arb_mat | None = None
        self._prec = flint.ctx.prec

    @property
    def arb(self) -> flint.arb_mat:
        if self._arb is None:
            old = flint.ctx.prec
            flint.ctx.prec = self._prec
            try:
                self._arb = to_arb_mat(self.array)
            finally:
                flint.ctx.prec = old
        return self._arb

    def floats(self) -> np.ndarray:
        """The values in float64: as they are for float and integer arrays (exact), else rounded from
        the exact arb midpoints (Fractions, mpf)."""
        if self.array.dtype.kind in "fiub":
            return np.asarray(self.array, dtype=np.float64)
        m = self.arb
        return np.array([float(x.mid()) for x in m.entries()]).reshape(m.nrows(), m.ncols())

    def nrows(self) -> int:
        return int(self.array.shape[0])

    def ncols(self) -> int:
        return int(self.array.shape[1])


def arb_to_mpf(x: flint.arb) -> mpmath.mpf:
    """The midpoint of ``x`` as an exact mpf (rounded to the caller's mpmath precision)."""
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


def arb_mat_to_mpf(m: flint.arb_mat) -> np.ndarray:
    out = np.empty((m.nrows(), m.ncols()), dtype=object)
    for k, x in enumerate(m.entries()):
        out.flat[k] = arb_to_mpf(x)
    return out


def max_abs(m: flint.arb_mat) -> float:
    """max |entry| of the midpoints, as a float (for step-size heuristics only)."""
    return max(map(abs, map(float, m.entries())), default=0.0)  # float(arb) is its midpoint


def max_rad(m: flint.arb_mat) -> float:
    """max radius of the entries (rigorous rounding error of an arb computation), as a float upper bound."""
    return max(map(float, map(flint.arb.rad, m.entries())), default=0.0)


# ---------------------------------------------------------------------------------------- tape
# Coefficient rules of further (entrywise) tape operations, registered by their own modules (e.g.
# numerics.series_elementwise: exp, ⊙, ÷). rule(k, coef, ent, i, a, b, payload) returns coefficient k
# of node i from the coefficients of its operands a, b (coef[x][j], None = zero) and of node i below k.
EXTRA_OPS: dict[str, Callable] = {}


def _const_value(op: str, a: int | None, b: int | None, payload: Any, coef: list) -> Any:
    """Order-0 value of a node that depends on no input."""
    if op == "const":
        return payload.arb if isinstance(payload, LazyConst) else payload
    x = coef[a][0]
    if op == "matmul":
        return x * coef[b][0]
    if op == "add":
        return x + coef[b][0]
    if op == "sub":
        return x - coef[b][0]
    if op == "neg":
        return -x
    if op == "T":
        return x.transpose()
    if op == "scale":
        return x * payload
    if op in EXTRA_OPS:
        return EXTRA_OPS[op](0, coef, [[] for _ in coef], None, a, b, payload)
    if op == "hadamard":
        return payload.coefficient(0, coef[a], a)
    raise AssertionError(op)


class _Cauchy:
    """Σ_{j≤k} A_j B_{k−j} (A_j m×n, B_j n×q), order by order, in one of two ways chosen by shape.

    *Loop* (inner dimension n > 1 and m·n ≥ ``LOOP_ENTRIES_PER_ORDER``·p, i.e. a matrix of enough
    entries times a matrix or vector): k + 1 products and k additions of the coefficients as they are,
    no entry copied. Each arb_mat_mul / arb_mat_add bounds its result rigorously, so the sum's ball
    encloses the exact Cauchy sum of the coefficients' balls. The stack below copies entries from
    Python (an ``entries()`` list and one ``__setitem__`` per entry), which costs more than the
    product itself (one 8×8 by 8×1 product 0.8 µs, copying its 64 + 8 entries ~10 µs); the loop instead
    pays 2k + 1 C calls and k + 1 separate small products per order, which grows with the order p.
    Measured in-run, whole flows, loop vs stack: 8×8 blocks (200 parameters) 1.1× at p = 20, 1.07× at
    p = 37, 0.96× at p = 71; 26×26 blocks (2,054 parameters) 1.3× at p = 20 and at p = 71; 3×3 blocks
    (21 parameters) 0.93–1.04× at p = 20–37. Break-even near m·n ≈ 1.2·p.

    *Stack* (outer products n = 1, and small blocks or high orders): ONE product of zero-padded block stacks,
    [A_0 A_1 … A_{p−1}] · [B_k; B_{k−1}; …; B_0; 0; …] (or with the roles of A and B swapped).
    The operand with more entries is the *forward* stack: coefficient j is written into its block j
    once (m·n entry copies per order). The other is the *reversed* stack, rewritten every order (its
    block t holds coefficient k − t). Blocks beyond k are zero on both sides, so the product is the
    Cauchy sum exactly (arb's dot products skip exact zeros). Cost per order: one C product instead
    of k + 1 products and k additions, plus O((k+1)·min(m, q)·n) entry copies (for an outer product
    n = 1: vectors only, while the loop would add k m×q matrices). arb_mat_mul bounds the result
    rigorously (each entry one ball dot product), so the enclosure stays certified.

    ``left``/``right`` are the operand nodes, read through the entry cache ``ent`` (lists of arb).
    The shapes are given, not read, so a transposed outer product bᵀ·aᵀ can reuse the entry lists of
    the vectors a and b (a vector's entries read the same either way).
    """

    __slots__ = ("left", "right", "fwd", "rev", "F", "Rv", "fwd_pos", "rev_pos", "written", "L", "R", "loop")
    _positions: dict = {}  # (layout, shape, p) → index tuples, shared across calls (same tape shapes)
    LOOP_ENTRIES_PER_ORDER = 1.2

    def __init__(self, left: int, right: int, m: int, n: int, q: int, p: int) -> None:
        self.left, self.right = left, right
        self.written = 0
        # n > 1 only: the transposed outer products (series_coefficients) pass shapes that are not
        # their operands' own, which only the stack reads correctly
        self.loop = n > 1 and m * n >= self.LOOP_ENTRIES_PER_ORDER * p
        if self.loop:
            self.fwd = left  # for invalidate's callers; the loop reads coef afresh every order
            return
        self.L = flint.arb_mat(m, n * p)
        self.R = flint.arb_mat(n * p, q)
        self.written = 0
        if m >= q:  # A forward: L = [A_0 … A_{p−1}], R = [B_k; …; B_0]
            self.fwd, self.rev, self.F, self.Rv = left, right, self.L, self.R
            self.fwd_pos = self._pos("hfwd", m, n, p)
            self.rev_pos = self._pos("vrev", n, q, p)
        else:  # B forward: R = [B_0; …; B_{p−1}], L = [A_k … A_0]
            self.fwd, self.rev, self.F, self.Rv = right, left, self.R, self.L
            self.fwd_pos = self._pos("vfwd", n, q, p)
            self.rev_pos = self._pos("hrev", m, n, p)

    @classmethod
    def _pos(cls, layout: str, r: int, c: int, p: int) -> list:
        key = (layout, r, c, p)
        if key not in cls._positions:
            if layout == "hfwd":  # block j of a horizontal stack, per block: entries in row-major order
                v = [[(i, j * c + l) for i in range(r) for l in range(c)] for j in range(p)]
            elif layout == "vfwd":
                v = [[(j * r + i, l) for i in range(r) for l in range(c)] for j in range(p)]
            elif layout == "vrev":  # a vertical stack in row-major order = the blocks' entries concatenated
                v = [(t // c, t % c) for t in range(p * r * c)]
            else:  # "hrev": concatenated blocks' entries → (row, block·c + col)
                v = [(i, j * c + l) for j in range(p) for i in range(r) for l in range(c)]
            cls._positions[key] = v
        return cls._positions[key]

    def invalidate(self, k: int) -> None:
        """The forward operand's coefficient k was corrected in place: rewrite it at the next use."""
        self.written = min(self.written, k)

    def __call__(self, k: int, coef: list, ent: list) -> flint.arb_mat:
        if self.loop:
            A, B = coef[self.left], coef[self.right]
            acc = A[0] * B[k]
            for j in range(1, k + 1):
                acc = acc + A[j] * B[k - j]
            return acc
        F = self.F
        while self.written <= k:
            j = self.written
            for ij, x in zip(self.fwd_pos[j], _entries(coef, ent, self.fwd, j)):
                F[ij] = x
            self.written = j + 1
        Rv = self.Rv
        _entries(coef, ent, self.rev, k)  # fills the cache up to k
        for ij, x in zip(self.rev_pos, chain.from_iterable(ent[self.rev][k::-1])):
            Rv[ij] = x
        return self.L * self.R


_ONES: dict[tuple[int, int], flint.arb_mat] = {}


def _radius_sum(d: flint.arb_mat) -> flint.arb:
    """1ᵀ d 1 as an arb: for d with zero midpoints its radius is ≥ the sum of d's radii."""
    r, c = d.nrows(), d.ncols()
    if (r, c) not in _ONES:
        _ONES[(r, c)] = (flint.arb_mat(1, r, [1] * r), flint.arb_mat(c, 1, [1] * c))
    left, right = _ONES[(r, c)]
    return (left * d * right)[0, 0] if c > 1 else (left * d)[0, 0]


def _entries(coef: list, ent: list, x: int, j: int) -> Any:
    """Entries of coefficient j of node x (cached in ``ent``; a list or object array of arb)."""
    cache = ent[x]
    while len(cache) <= j:
        cache.append(coef[x][len(cache)].entries())
    return cache[j]


class Tape:
    """A straight-line program of matrix operations, in creation (= topological) order."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []
        self._transposes: dict[int, int] = {}

    def add(self, op: str, a: int | None = None, b: int | None = None, payload: Any = None) -> "Tracer":
        if op == "T":
            # (Xᵀ)ᵀ = X, and one transpose node per source: both save a matrix transpose per order
            if self.ops[a][0] == "T":
                return Tracer(self, self.ops[a][1])
            if a in self._transposes:
                return Tracer(self, self._transposes[a])
        self.ops.append((op, a, b, payload))
        i = len(self.ops) - 1
        if op == "T":
            self._transposes[a] = i
        return Tracer(self, i)

    def input(self, j: int) -> "Tracer":
        return self.add("input", payload=j)

    def const(self, value: Any) -> "Tracer":
        return self.add("const", payload=value)


class Tracer:
    """A node of a :class:`Tape` with numpy-like operators (see module docstring)."""

    __slots__ = ("tape", "i")
    __array_priority__ = 300

    def __init__(self, tape: Tape, i: int) -> None:
        self.tape, self.i = tape, i

    def _node(self, o: Any) -> int:
        if isinstance(o, Tracer):
            return o.i
        return self.tape.const(o).i

    def __matmul__(self, o):
        if isinstance(o, Dual):
            return NotImplemented  # Dual(Tracer) @ ...: let the dual rule split value and tangent
        return self.tape.add("matmul", self.i, self._node(o))

    def __rmatmul__(self, o):
        return self.tape.add("matmul", self._node(o), self.i)

    def __add__(self, o):
        if isinstance(o, Dual):
            return NotImplemented
        return self.tape.add("add", self.i, self._node(o))

    def __radd__(self, o):
        return self.tape.add("add", self._node(o), self.i)

    def __sub__(self, o):
        if isinstance(o, Dual):
            return NotImplemented
        return self.tape.add("sub", self.i, self._node(o))

    def __rsub__(self, o):
        return self.tape.add("sub", self._node(o), self.i)

    def __neg__(self):
        return self.tape.add("neg", self.i)

    def __mul__(self, s):
        if hasattr(s, "coefficient"):
            # an entrywise product with a mask series (activation pattern; see SeriesMask)
            return self.tape.add("hadamard", self.i, payload=s)
        if isinstance(s, (Tracer, np.ndarray)):
            raise TypeError("entrywise products on the Taylor tape need a SeriesMask (activation patterns)")
        return self.tape.add("scale", self.i, payload=to_arb(s))

    __rmul__ = __mul__

    @property
    def T(self):
        return self.tape.add("T", self.i)


class SeriesMask:
    """Protocol of the payload of a ``hadamard`` tape node: the entrywise product M ⊙ A of a node A
    with a mask M that may itself be a power series (a Filippov weight while a unit slides).

    ``coefficient(k, A, a)`` returns [M ⊙ A]_k = Σ_{p≤k} M_p ⊙ A_{k−p} given A's coefficients
    ``A[0..k]`` (``a`` is A's node index, so one mask can serve the forward and the backward pass).
    """

    def coefficient(self, k: int, A: list, a: int) -> flint.arb_mat:  # pragma: no cover - protocol
        raise NotImplementedError


class TracingBackend(Backend):
    """Backend whose "matrices" are tape constants: runs the generic formula to record it.
    ``end_to_end``: whether a narrow-output linear net's gradient may be recorded through its end-to-end
    matrix (:func:`numerics.gradients.evaluate`; not on the float tier's tape)."""

    kind = "trace"
    batched = False

    def __init__(self, tape: Tape, end_to_end: bool = True) -> None:
        self.tape = tape
        self.end_to_end = end_to_end

    def matrix(self, a: Any) -> Tracer:
        return self.tape.const(LazyConst(a))

    def output(self, m: Any) -> Any:
        return m

    def scalar(self, x: Any) -> flint.arb:
        return to_arb(x)


def series_coefficients(tape: Tape, outputs: Sequence[int], y0: Sequence[flint.arb_mat], order: int,
                        combine: Callable[[int, list, list], list] | None = None,
                        sign: int = 1, watched: dict[int, list] | None = None,
                        after_order: Callable[[int, list], Sequence[int]] | None = None,
                        recentre: list[float] | None = None,
                        entries: list | None = None) -> list[list[flint.arb_mat]]:
    """Taylor coefficients y_0..y_order of y' = F(y), F the tape's ``outputs`` of its ``input`` nodes.

    ``combine(k, F_k, ys)`` may map the coefficient-k outputs (and the coefficients ``ys`` known so
    far) to the derivative coefficients of every state component (default: the outputs themselves,
    one per input); y_{k+1} = sign·combine(...)[j] / (k + 1). A ``None`` coefficient means zero.
    ``sign = −1`` integrates y' = −F without a negation node (one m×n operation less per order).
    ``watched``: a dict whose keys are node indices; it is filled with their coefficients 0..order−1
    (e.g. the pre-activations, whose roots are the kink events of a ReLU net).
    ``after_order(k, coef)`` runs after every node's coefficient k is known and before the outputs
    are read; it may correct ``coef[i][k]`` in place and returns the indices it changed (an unknown
    that enters order k linearly, e.g. a Filippov weight, is solved there).
    ``recentre``: a list; each new state coefficient y_{k+1} is then replaced by its ball's midpoint
    and the sum of the radii dropped (all components) is appended (index k: order k + 1). Without it the radii of high
    coefficients grow with the order (each Cauchy sum adds |A||B|-type radii: the wrapping effect
    inside the series) until arb rounds the midpoints themselves coarsely — measured on a 2,054-parameter
    net at 128 bits: radii 1e2 and midpoints off by 1e-21 at 30 digits; recentred, 2e-38.
    ``entries`` (without ``after_order``): a list; it receives, per state component, the entry lists
    (``arb_mat.entries()``) of its coefficients 0, 1, … that the Cauchy sums read anyway — a prefix of
    the orders, possibly empty — for callers that need the coefficients' entries too
    (:func:`numerics.error_growth.order_norms`).
    """
    ops = tape.ops
    n = len(ops)
    # A node is constant when it depends on no input: its coefficients beyond order 0 are zero,
    # so its products need one term, not a Cauchy sum. Input-dependent coefficients are never None.
    const = [False] * n
    for i, (op, a, b, _) in enumerate(ops):
        const[i] = op == "const" or (op != "input" and const[a] and (b is None or const[b]))
    coef: list[list[Any]] = [[] for _ in range(n)]
    ent: list[list[Any]] = [[] for _ in range(n)]  # cached entry lists of coefficients (stacks)
    cauchy: list[_Cauchy | None] = [None] * n  # Cauchy sums of products of two input-dependent nodes
    fused_t = [False] * n  # an outer product read only through its transpose: computed transposed
    uses = [0] * n  # how many nodes (or outputs) read each node
    for op, a, b, _ in ops:
        for x in (a, b):
            if x is not None and op not in ("input", "const"):
                uses[x] += 1
    for o in outputs:
        uses[o] += 1
    for o in watched or ():
        uses[o] += 1
    by_fwd: dict[int, list[_Cauchy]] = {}  # forward-stacked operand → its stacks (after_order)
    ys = [[m] for m in y0]
    for k in range(order):
        if k == 1:  # shapes are known now: one stack per product of two input-dependent nodes
            for i, (op, a, b, _) in enumerate(ops):
                if op == "matmul" and not const[i] and not const[a] and not const[b]:
                    A0, B0 = coef[a][0], coef[b][0]
                    cauchy[i] = _Cauchy(a, b, A0.nrows(), A0.ncols(), B0.ncols(), order)
            for i, (op, a, _, _) in enumerate(ops):
                if op == "T" and cauchy[a] is not None and uses[a] == 1 and coef[ops[a][1]][0].ncols() == 1:
                    # (Σ_j a_j b_{k−j}ᵀ)ᵀ = Σ_j b_{k−j}·a_jᵀ for columns a_j, rows b_j: no m×n transpose
                    sa, sb = ops[a][1], ops[a][2]
                    fused_t[a] = True
                    cauchy[i] = _Cauchy(sb, sa, coef[sb][0].ncols(), 1, coef[sa][0].nrows(), order)
            for c in cauchy:
                if c is not None:
                    by_fwd.setdefault(c.fwd, []).append(c)
        for i, (op, a, b, payload) in enumerate(ops):
            if const[i]:
                v = _const_value(op, a, b, payload, coef) if k == 0 else None
            elif op == "input":
                v = ys[payload][k]
            elif op == "matmul":
                A, B = coef[a], coef[b]
                if const[a]:
                    v = A[0] * B[k]
                elif const[b]:
                    v = A[k] * B[0]
                elif k == 0:
                    v = A[0] * B[0]
                else:
                    v = None if fused_t[i] else cauchy[i](k, coef, ent)
            elif op == "T":
                v = cauchy[i](k, coef, ent) if cauchy[i] is not None and k > 0 else coef[a][k].transpose()
            elif op == "add" or op == "sub":
                x, y = coef[a][k], coef[b][k]
                if y is None:
                    v = x
                elif x is None:
                    v = y if op == "add" else -y
                else:
                    v = x + y if op == "add" else x - y
            elif op == "neg":
                v = -coef[a][k]
            elif op == "scale":
                v = coef[a][k] * payload
            elif op in EXTRA_OPS:
                v = EXTRA_OPS[op](k, coef, ent, i, a, b, payload)
            elif op == "hadamard":
                v = payload.coefficient(k, coef[a], a)
            else:  # pragma: no cover - the tape only records the ops above
                raise AssertionError(op)
            coef[i].append(v)
        if after_order is not None:
            for i in after_order(k, coef):
                del ent[i][k:]  # cached entry lists of a corrected coefficient are stale
                for c in by_fwd.get(i, ()):
                    c.invalidate(k)
        F = [coef[o][k] for o in outputs]
        if combine is not None:
            F = combine(k, F, ys)
        inv = flint.arb(sign) / (k + 1)
        for j, f in enumerate(F):
            ys[j].append((f * inv) if f is not None else ys[j][0] * 0)
        if recentre is not None:
            # the ball of y_{k+1} encloses Φ_k(y_0..y_k) for the (exact) coefficients used; keep its
            # midpoint and record the radii dropped (docs/theory.md F, "Rounding"): Σ of all radii,
            # ≥ their Euclidean norm, read as the radius of 1ᵀ(y − mid y)1 (two products, not a loop)
            dropped = 0.0
            for j in range(len(F)):
                c = ys[j][-1]
                m = c.mid()
                ys[j][-1] = m
                dropped += float(_radius_sum(c - m).rad())
            recentre.append(dropped)
    if watched is not None:
        for o in watched:
            watched[o] = coef[o]
    if entries is not None and after_order is None:
        # an input node's coefficient k is ys[j][k] itself (recentred before it was first read)
        node = {payload: i for i, (op, _, _, payload) in enumerate(ops) if op == "input"}
        entries.extend(ent[node[j]] if j in node else [] for j in range(len(ys)))
    return ys
