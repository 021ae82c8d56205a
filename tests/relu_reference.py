"""An independent reference for (leaky) ReLU gradient flow, written for the tests only.

Nothing here uses numerics: the loss, its gradient for a *given* activation pattern, and the flow are
written from their definitions with plain mpmath numbers.

* inside a region the flow is integrated with ``mpmath.odefun`` (its own Taylor method);
* the region's end is found by scanning the pre-activations on a grid of the dense output and
  ``mpmath.findroot`` (Anderson's bracketing method) on the sign change, or on a minimum of σz inside
  a grid cell (located from the rates) that reaches 0 — a touch or a dip between grid points;
* at a kink of a first-layer pre-activation z the rates a = ż under the z < 0 field and b = ż under
  the z > 0 field decide (docs/theory.md E1): same sign -> cross; a > 0 > b -> slide: the Filippov field
  (1 − λ)F₋ + λF₊ with λ = a/(a − b) is integrated (pointwise formula, not series) until λ leaves
  [0, 1], then the flow leaves on that side. Several entries may slide at once (:func:`flow`).
* an entry at 0 that its z ≤ 0 field does not move (a = 0) is "frozen" at mask 0 and decided again
  when a later event's field moves it.

Parameters are a flat list in numerics' order: W_1 row-major, (b_1), W_2, (b_2), ...
"""

from __future__ import annotations

import mpmath


class Net:
    def __init__(self, widths, alpha, bias, X, Y):
        self.widths, self.alpha, self.bias = list(widths), mpmath.mpf(alpha), bias
        self.X = [[mpmath.mpf(v) for v in row] for row in X]  # n rows of d_0
        self.Y = [[mpmath.mpf(v) for v in (row if hasattr(row, "__len__") else [row])] for row in Y]
        self.n = len(self.X)

    def unpack(self, p):
        Ws, bs, k = [], [], 0
        for j in range(1, len(self.widths)):
            r, c = self.widths[j], self.widths[j - 1]
            Ws.append([[p[k + a * c + q] for q in range(c)] for a in range(r)])
            k += r * c
            if self.bias:
                bs.append([p[k + a] for a in range(r)])
                k += r
            else:
                bs.append([0] * r)
        return Ws, bs

    def preacts(self, p, pattern=None):
        """z[j][u][i] for hidden layers j = 0..N-2, and the outputs (activation by sign, or by
        ``pattern`` 1/0 when given)."""
        Ws, bs = self.unpack(p)
        acts = [[self.X[i][q] for i in range(self.n)] for q in range(self.widths[0])]  # d_0 x n
        zs = []
        for j, (W, b) in enumerate(zip(Ws, bs)):
            z = [[sum(W[u][q] * acts[q][i] for q in range(len(acts))) + b[u] for i in range(self.n)] for u in range(len(W))]
            if j < len(Ws) - 1:
                zs.append(z)
                if pattern is None:
                    acts = [[v if v > 0 else self.alpha * v for v in row] for row in z]
                else:
                    acts = [[v if pattern[j][u][i] == 1 else self.alpha * v for i, v in enumerate(row)]
                            for u, row in enumerate(z)]
            else:
                return zs, z
        return zs, None

    def pattern(self, p):
        zs, _ = self.preacts(p)
        return [[[1 if v > 0 else 0 for v in row] for row in z] for z in zs]

    def grad(self, p, masks):
        """∇f for f = (1/n) Σ_i ½‖h(x_i) − y_i‖², with σ'(z) = 1 or α given by ``masks`` (1 = positive
        side; a float in between is a Filippov mask value)."""
        Ws, bs = self.unpack(p)
        N = len(Ws)
        acts = [[[self.X[i][q] for i in range(self.n)] for q in range(self.widths[0])]]
        slopes = []
        for j in range(N):
            W, b, a = Ws[j], bs[j], acts[-1]
            z = [[sum(W[u][q] * a[q][i] for q in range(len(a))) + b[u] for i in range(self.n)] for u in range(len(W))]
            if j < N - 1:
                s = [[self._slope(masks[j][u][i]) for i in range(self.n)] for u in range(len(W))]
                slopes.append(s)
                acts.append([[s[u][i] * z[u][i] if not isinstance(masks[j][u][i], Slope) and masks[j][u][i] in (0, 1)
                              else 0 * z[u][i] for i in range(self.n)]
                             for u in range(len(W))])
            else:
                out = z
        c = mpmath.mpf(1) / self.n
        delta = [[c * (out[u][i] - self.Y[i][u]) for i in range(self.n)] for u in range(len(out))]
        gW, gb = [None] * N, [None] * N
        for j in range(N - 1, -1, -1):
            a = acts[j]
            gW[j] = [[sum(delta[u][i] * a[q][i] for i in range(self.n)) for q in range(len(a))] for u in range(len(delta))]
            gb[j] = [sum(delta[u]) for u in range(len(delta))]
            if j > 0:
                W = Ws[j]
                back = [[sum(W[u][q] * delta[u][i] for u in range(len(W))) for i in range(self.n)] for q in range(len(W[0]))]
                delta = [[slopes[j - 1][q][i] * back[q][i] for i in range(self.n)] for q in range(len(back))]
        flat = []
        for j in range(N):
            flat += [x for row in gW[j] for x in row]
            if self.bias:
                flat += gb[j]
        return flat

    def _slope(self, m):
        if isinstance(m, Slope):  # a Filippov mask value, whatever it is (0 included, where α < 0)
            return mpmath.mpf(m)
        if m == 1:
            return mpmath.mpf(1)
        if m == 0:
            return self.alpha
        return m  # a Filippov mask value, already in [α, 1]

    def zdot(self, p, masks, u, i, j=0):
        """Rate of the pre-activation z_{j+1}[u, i] under the field −∇f(p; masks): the derivative of
        e ↦ z(p − e∇f) at e = 0. z_{j+1} is a polynomial of degree j + 1 in θ, so the five-point
        stencil (exact for degree ≤ 4) with a binary step gives it up to rounding only."""
        if j + 1 > 4:
            raise ValueError("the reference's rate stencil is exact up to 4 hidden layers")
        g = self.grad(p, masks)
        pat = self.pattern_of(masks)

        def z(e):
            return self.preacts([x - e * gx for x, gx in zip(p, g)], pat)[0][j][u][i]
        h = mpmath.mpf(1) / 8
        return (z(-2 * h) - 8 * z(-h) + 8 * z(h) - z(2 * h)) / (12 * h)

    @staticmethod
    def pattern_of(masks):
        # a Filippov value is no side marker, even where it equals 1 (λ = 1, as the unit bumps of _affine_fit make
        # it): read as the marker 1 it gave that one evaluation the forward slope 1, not α, so the fit's columns
        # were off for an entry below another of S on one sample (second differences up to 0.96 on square 36 of
        # the α = −1/2 family, 2026-12-06) and only findroot's polish put the weights right
        return [[[1 if m == 1 and not isinstance(m, Slope) else 0 for m in row] for row in layer] for layer in masks]


class Slope(mpmath.mpf):
    """A Filippov mask value μ ∈ [α, 1], told apart from the pattern's side markers 1 and 0 (0 means slope α).
    Until 2026-12-04 the values were plain numbers, so a weight that came out exactly 0 on a leaky net with
    α < 0 (μ = α + (1 − α)λ, λ = 1/3 at α = −1/2) was read as the marker 0, slope α: on a twin with two
    entries of one layer sliding at μ = 0 (seed 160158 of the collinear generator) the reference then moved
    at speed 1.65 where the Filippov field is 0, and ended 0.63 from both tiers (found by the random-twin
    property)."""


def _copy(masks):
    return [[list(r) for r in m] for m in masks]


def _affine_fit(net, y, masks, S, extra=None, at=None):
    """(c, A, masks_at, zdots): ż_S at λ = ``at`` (default 0) and its slopes in λ there (A[r, q] = ż_r(at + e_q) −
    ż_r(at)); exact when S lies in one layer (ż_S is then affine in the λ's jointly: z_s does not see layer-j
    masks and the backward pass meets each layer-j mask once per path), and each column exact at ``at`` for any
    S, since ż is affine in each λ on its own (multi-affine: one mask per entry on each path)."""
    def masks_at(lams):
        mk = _copy(masks)
        if extra is not None:
            (j, u, i), v = extra
            mk[j][u][i] = v
        for (j, u, i), lam in zip(S, lams):
            mk[j][u][i] = Slope(net.alpha + lam * (1 - net.alpha))
        return mk

    def zdots(lams):
        mk = masks_at(lams)
        return [net.zdot(y, mk, u, i, j) for (j, u, i) in S]

    k = len(S)
    base = [mpmath.mpf(0)] * k if at is None else list(at)
    c = zdots(base)
    A = mpmath.matrix(k, k)
    for q in range(k):
        e = list(base)
        e[q] += 1
        col = zdots(e)
        for r in range(k):
            A[r, q] = col[r] - c[r]
    return c, A, masks_at, zdots


def _solve_sliding(net, y, masks, S, extra=None):
    """Filippov slopes on the sliding set S: the values μ_s ∈ [α, 1] (as λ_s = (μ_s − α)/(1 − α)) that
    hold every ż_s at 0 under −∇f(y; masks with μ_S). ``extra`` = ((j, u, i), value) fixes one more
    entry's mask. ż is affine in each slope; λ is found from ż at λ = 0 and the unit vectors (an affine
    solve; where that fit is singular, one Newton step from λ = ½ in every entry) and polished with mpmath.findroot on the system itself, so a non-affine coupling (entries of
    different layers on one sample) is still solved, not assumed away. Returns (λ list, masks)."""
    k = len(S)
    if k == 0:
        return [], _affine_fit(net, y, masks, S, extra)[2]([])
    c, A, masks_at, zdots = _affine_fit(net, y, masks, S, extra)
    try:
        sol = mpmath.lu_solve(A, mpmath.matrix([-x for x in c]))
        lam = [sol[q] for q in range(k)]
    except ZeroDivisionError:
        # singular at λ = 0 may be the coupling, not the system: entries of different layers on one sample make ż
        # bilinear (the lower entry's slope is the upper one's λ times a constant, 0 at λ = 0: square seed 233 of
        # (3,5,5,5,2), layer 1 and layer 3 of sample 1). One Newton step from the box's centre instead, polished
        # below; singular there too (e.g. a row that no λ moves) is not a usable mode, as before
        if k == 1:
            raise
        half = [mpmath.mpf(1) / 2] * k
        c, A, masks_at, zdots = _affine_fit(net, y, masks, S, extra, at=half)
        sol = mpmath.lu_solve(A, mpmath.matrix([-x for x in c]))
        lam = [h + sol[q] for q, h in enumerate(half)]
    # the residual of an affine solve is rounding times the terms it sums, |c| + ‖A‖·‖λ‖: near a pole of
    # λ (A nearly singular, seed 130) ‖λ‖ is large and a tolerance without it sent an exactly affine
    # system to findroot, which then failed on its own tolerance
    norm_a = max(abs(A[r, q]) for r in range(k) for q in range(k))
    scale = max(abs(x) for x in c) + norm_a * max(1, max(abs(x) for x in lam))
    tol = scale * mpmath.mpf(10) ** (-mpmath.mp.dps + 8)
    if max(abs(x) for x in zdots(lam)) > tol:  # not affine (coupled layers): solve the system itself
        f = [lambda *xs, r=r: zdots(list(xs))[r] for r in range(k)]
        lam = list(mpmath.findroot(f, lam)) if k > 1 else [mpmath.findroot(lambda x: zdots([x])[0], lam[0])]
    return lam, masks_at(lam)


def modes(net, y, masks, S, extra=None):
    """Every consistent mode of the entries S at their kinks (docs/theory.md E1, "Consistent active
    sets"), by trying all 3^|S| of them: each entry slides (weight λ ∈ [0, 1] from ż = 0 with the other
    sliding ones) or has left to mask 0 (then ż ≤ 0) or mask 1 (then ż ≥ 0). ``extra`` fixes one more
    entry's mask. Returns [(statuses, λ of the sliding ones, masks)]; more than one means the rule does
    not determine the continuation."""
    import itertools

    found = []
    for combo in itertools.product((0, -1, 1), repeat=len(S)):
        mk = _copy(masks)
        for (j, u, i), st in zip(S, combo):
            if st:
                mk[j][u][i] = 1 if st > 0 else 0
        Ss = [s for s, st in zip(S, combo) if st == 0]
        try:
            lam, full = _solve_sliding(net, y, mk, Ss, extra)
        except (ZeroDivisionError, ValueError):  # constraints not determined: not a usable mode
            continue
        if any(x < 0 or x > 1 for x in lam):
            continue
        if any(combo):
            zd = zrates(net, y, full)
            if any(st * zd[j][u][i] < 0 for (j, u, i), st in zip(S, combo) if st):
                continue
        found.append((combo, lam, full))
    return found


def _sliding_margins(net, y, masks, S):
    """Pole-free watched quantities of the sliding weights, for S in one layer: with D = det A and
    N_s = det(A with column s replaced by −c) (Cramer: λ_s = N_s/D), the pairs (N_s, D − N_s) and D.
    λ ∈ [0, 1] ⇔ σN_s ≥ 0 and σ(D − N_s) ≥ 0 with σ = sign D; unlike λ and 1 − λ these are polynomial
    in the state (no pole where A is singular), so a sign change on a grid cell is a root, never a pole
    (seed 130: λ of one entry runs 0.63 → +∞ → −0.78 across a grid cell, crossing 1 on the way)."""
    c, A, _, _ = _affine_fit(net, y, masks, S)
    k = len(S)
    D = mpmath.det(A)
    out = []
    for s in range(k):
        B = A.copy()
        for r in range(k):
            B[r, s] = -c[r]
        N = mpmath.det(B)
        out.append((N, D - N))
    return out, D


def _root(f, a, b):
    """The sign change of f on [a, b] (f(a) > 0 ≥ f(b)), to the working precision: Anderson's
    bracketing method for a first guess r, then bisection on a bracket around r whose ends have the
    right signs (or on [a, b] where Anderson fails or r is not bracketed). The bisection is not optional:
    findroot accepts r once |f(r)|² ≤ its tolerance, i.e. |f(r)| ≲ 10^(−dps/2), which for a slow
    crossing is far from the root in time (a near-grazing crossing with |ż| ≈ 3·10⁻⁸ came out 4·10⁻¹³
    early at 34 digits, with z(r) = 1.2·10⁻²⁰). Returns the end where f ≤ 0."""
    g = f
    f = lambda s: g(s)  # noqa: E731  (findroot probes f(a, b): keep callers' default arguments out of it)
    tol = (b - a) * mpmath.mpf(2) ** (-mpmath.mp.prec)
    try:
        r = mpmath.findroot(f, (a, b), solver="anderson", verify=False)
        d = (b - a) * mpmath.mpf(2) ** (-(mpmath.mp.prec // 2))
        lo, hi = max(a, r - d), min(b, r + d)
        if a <= r <= b and (lo == a or f(lo) > 0) and (hi == b or f(hi) <= 0):
            a, b = lo, hi
    except (ValueError, ZeroDivisionError):
        pass
    for _ in range(2 * mpmath.mp.prec):
        m = (a + b) / 2
        if b - a <= tol or not a < m < b:  # to the bracket's relative width, or to the last bit of t
            break
        if f(m) > 0:
            a = m
        else:
            b = m
    return b


def zrates(net, y, masks):
    """ż of every hidden pre-activation (z[j][u][i], as :meth:`Net.preacts`) under −∇f(y; masks): one
    five-point stencil on e ↦ z(y − e∇f) for all entries (exact: degree ≤ 4 in e, binary step)."""
    if len(net.widths) - 2 > 4:
        raise ValueError("the reference's rate stencil is exact up to 4 hidden layers")
    g = net.grad(y, masks)
    pat = net.pattern_of(masks)
    h = mpmath.mpf(1) / 8
    Z = [net.preacts([x - e * gx for x, gx in zip(y, g)], pat)[0] for e in (-2 * h, -h, h, 2 * h)]
    return [[[(Z[0][j][u][i] - 8 * Z[1][j][u][i] + 8 * Z[2][j][u][i] - Z[3][j][u][i]) / (12 * h)
              for i in range(len(Z[0][j][u]))] for u in range(len(Z[0][j]))] for j in range(len(Z[0]))]


def flow(net: Net, p0, t_end, dps=35, grid=mpmath.mpf(1) / 64, max_events=10, record=None):
    """Region-by-region reference; returns (pieces, events). pieces: list of (t0, t1, fun) with
    fun(t) -> flat state; events: (t, kind, layer, sample, unit) with layer 1-based.

    Several entries may slide at once: their Filippov weights solve ż_S = 0 pointwise
    (:func:`_solve_sliding`); an entry leaves when its weight reaches 0 or 1, and one whose weight
    is pushed out of [0, 1] by an event leaves at that event. For S in one layer the weights are
    watched through pole-free Cramer numerators (:func:`_sliding_margins`), and a grid cell over
    which det A changes sign (the field has a pole there, beyond the exit) is halved.

    Touches: on a grid cell where a watched σz stays positive at both ends but its rate σż turns
    from negative to positive, the minimum is located (root of σż) and recorded in
    ``record["touches"]`` as (t, layer, sample, unit, min σz); a minimum ≤ 0 is a root pair inside the
    cell and the first root is an event. One extremum per cell is assumed (grid 1/64 ≪ the flow's
    time scale on the test nets).

    The rates each kink reached from a side, or a frozen entry decided again, is decided by (under mask 0
    and under mask 1, at the event's state) are recorded in ``record["rates"]`` as (t, layer, sample, unit,
    a, b).

    Frozen entries (z = 0, the z ≤ 0 field does not move z) are decided again after every later
    event whose new field moves them (|ż| under mask 0 above the noise): as a kink reached from no
    side, recording "cross" only when the mask changes (0 → 1), "enter sliding" when it slides. In a
    region a frozen z must stay 0; if it moves by more than 10^(−dps/2) the reference raises."""
    mpmath.mp.dps = dps
    t0 = mpmath.mpf(0)
    p = [mpmath.mpf(x) for x in p0]
    masks = net.pattern(p)
    pieces, events = [], []
    touches = record.setdefault("touches", []) if record is not None else []
    kink_rates = record.setdefault("rates", []) if record is not None else []
    sliding = []  # (j, u, i) of the entries held at 0
    frozen = set()  # entries at 0 under a z ≤ 0 field that does not move them (a = 0)
    tiny = mpmath.mpf(10) ** (-dps + 5)

    def settle(ts, joining=None):
        """The entries at their kinks (the sliding ones) take their unique consistent mode (:func:`modes`);
        those that leave are recorded, in the order (layer, unit, sample)."""
        found = modes(net, p, masks, sliding)
        if len(found) != 1:
            raise RuntimeError(f"{len(found)} consistent modes of the sliding entries (reference)")
        combo, _, _ = found[0]
        if joining is not None and combo[sliding.index(joining)] != 0:
            raise RuntimeError("the joining entry cannot slide with the others (reference)")
        for (j, u, i), st in sorted(zip(list(sliding), combo)):
            if st:
                sliding.remove((j, u, i))
                masks[j][u][i] = 1 if st > 0 else 0
                events.append((ts, "leave sliding", j + 1, i, u))

    def rates(e):
        """ż of entry e under its two candidate fields (mask 0, mask 1), each with the sliding entries in a
        consistent mode (:func:`modes`; docs/theory.md E1, "Consistent active sets"), and per field whether it
        has more than one mode. A field's other modes change the decision only through e's rate: it must have one
        sign under all of them (else refused); whether the flow goes on in a field with several modes is for
        :func:`decide` to refuse (docs/theory.md E1, *Two ways to continue*, "Candidates")."""
        j, u, i = e
        out, several = [], []
        for v in (0, 1):
            found = modes(net, p, masks, sliding, (e, v))
            if not found:
                raise RuntimeError("no consistent mode for a candidate (reference)")
            zs = [net.zdot(p, f[2], u, i, j) for f in found]
            if len({0 if abs(z) <= tiny else mpmath.sign(z) for z in zs}) > 1:
                raise RuntimeError(f"{len(found)} consistent modes for a candidate, under which the entry's rate "
                                   "has different signs (reference)")
            out.append(zs[0])
            several.append(len(found) > 1)
        return out[0], out[1], several

    def decide(ts, e, a, b, from_side, several):
        j, u, i = e
        # the candidate field the flow goes on in (mask 0 or 1): pinned at 0, or a crossing / touch to a's side;
        # None where it slides (the joining entry's own modes are settle's) or the kink repels
        if abs(a) <= tiny and b < 0:
            goes_on = 0
        elif (a > 0) == (b > 0):
            goes_on = 1 if a > 0 else 0
        else:
            goes_on = None
        if goes_on is not None and several[goes_on]:
            raise RuntimeError("the flow goes on in a candidate field with several consistent modes (reference)")
        if from_side == 0 and any(several):
            raise RuntimeError("a decision from no side, a candidate field with several consistent modes (reference)")
        if abs(a) <= tiny and b < 0:  # Filippov λ = 0: F₋ keeps z at 0 (it does not move z at all)
            masks[j][u][i] = 0
            frozen.add(e)
            if from_side != 0:
                events.append((ts, "cross", j + 1, i, u))
        elif (a > 0) == (b > 0):
            new = 1 if a > 0 else 0
            if new != masks[j][u][i]:  # both fields take z back to its side: a touch, no switch
                events.append((ts, "cross", j + 1, i, u))
            masks[j][u][i] = new
            settle(ts)
        elif a > 0 > b:
            sliding.append(e)
            events.append((ts, "enter sliding", j + 1, i, u))
            settle(ts, joining=e)
        else:
            raise RuntimeError("repelling kink in the reference")

    def unfreeze(ts):
        """Frozen entries that the current field moves: decided again (from no side)."""
        for _ in range(len(frozen) + 1):
            moved = None
            for e in sorted(frozen):
                a, b, several = rates(e)
                if abs(a) > tiny:
                    moved = (e, a, b, several)
                    break
            if moved is None:
                return
            frozen.discard(moved[0])
            e, a, b, several = moved
            kink_rates.append((ts, e[0] + 1, e[2], e[1], a, b))
            decide(ts, e, a, b, 0, several)
        raise RuntimeError("frozen entries kept moving at one instant (reference)")

    while t0 < t_end and len(events) <= max_events:
        S = list(sliding)
        one_layer = len({s[0] for s in S}) == 1
        sigma = mpmath.sign(_sliding_margins(net, p, masks, S)[1]) if one_layer else 1
        if one_layer and sigma == 0:
            raise RuntimeError("the sliding constraints are singular at the entry (reference)")

        def F(t, y, S=S, base=_copy(masks)):
            _, mk = _solve_sliding(net, y, base, S)
            return [-v for v in net.grad(y, mk)]
        sol = mpmath.odefun(F, t0, p)

        def watch(t, S=S):
            y = sol(t)
            out = []
            if S and one_layer:
                margins, _ = _sliding_margins(net, y, masks, S)
                for s, (m0, m1) in zip(S, margins):
                    out += [("lam0", s, sigma * m0), ("lam1", s, sigma * m1)]
            elif S:
                lam, _ = _solve_sliding(net, y, masks, S)
                for s, x in zip(S, lam):
                    out += [("lam0", s, x), ("lam1", s, 1 - x)]
            zs, _ = net.preacts(y, masks)
            for j, z in enumerate(zs):
                for uu, row in enumerate(z):
                    for ii, v in enumerate(row):
                        if (j, uu, ii) in frozen:
                            if abs(v) > mpmath.mpf(10) ** (-dps // 2):
                                raise RuntimeError(f"frozen entry {(j + 1, uu, ii)} moved to z = {mpmath.nstr(v, 5)} "
                                                   "inside a region: a contact of higher order (reference)")
                            continue
                        if (j, uu, ii) in S:
                            continue
                        out.append(((j, uu, ii), masks[j][uu][ii], v if masks[j][uu][ii] == 1 else -v))
            return out

        def signed_rates(t, S=S):
            y = sol(t)
            zd = zrates(net, y, _solve_sliding(net, y, masks, S)[1])
            return {(j, u, i): (zd[j][u][i] if masks[j][u][i] == 1 else -zd[j][u][i])
                    for j in range(len(zd)) for u in range(len(zd[j])) for i in range(len(zd[j][u]))}

        # scan the grid for the first watched quantity that turns negative (or dips below 0 and back)
        t, step = t0, grid
        prev = {e[0]: e[-1] for e in watch(t) if isinstance(e[0], tuple)}
        prev_d = signed_rates(t)
        hit = None
        while t < t_end and hit is None:
            tn = min(t + step, t_end)
            if S and one_layer and sigma * _sliding_margins(net, sol(tn), masks, S)[1] <= 0:
                step /= 2  # det A changed sign on (t, tn]: a pole of the weights there; the exit is before it
                if step < mpmath.ldexp(grid, -80):
                    raise RuntimeError("the sliding constraints become singular without an exit (reference)")
                continue
            vals = watch(tn)
            for k, entry in enumerate(vals):
                if entry[-1] < 0:
                    f = lambda s, k=k: watch(s)[k][-1]  # noqa: E731
                    ts = _root(f, t, tn)
                    if hit is None or ts < hit[0]:
                        hit = (ts, entry)
            dn = signed_rates(tn)
            for k, entry in enumerate(vals):
                e = entry[0]
                if not isinstance(e, tuple) or entry[-1] < 0 or prev.get(e, -1) <= 0:
                    continue
                if prev_d[e] < 0 < dn[e]:  # σz has a minimum inside the cell
                    tm = _root(lambda s, e=e: -signed_rates(s)[e], t, tn)
                    vm = watch(tm)[k][-1]
                    touches.append((tm, e[0] + 1, e[2], e[1], vm))
                    if vm <= 0:
                        ts = _root(lambda s, k=k: watch(s)[k][-1], t, tm)
                        if hit is None or ts < hit[0]:
                            hit = (ts, entry)
            # the same for a sliding weight's margins (λ and 1 − λ, or their Cramer numerators): positive at
            # both ends of the cell but with a minimum inside (slope negative at t, positive at tn) that may be
            # ≤ 0 — a weight that leaves [0, 1] and comes back within one cell (seed 265156 of
            # test_relu_kink_paths: λ < 0 on [0.3162, 0.3208], inside the cell [0.3125, 0.3281], was missed
            # and the reference slid on with a weight outside [0, 1], not a Filippov solution)
            hd = mpmath.ldexp(step, -40)
            for k, entry in enumerate(vals):
                if entry[0] not in ("lam0", "lam1") or entry[-1] < 0:
                    continue
                g = lambda s, k=k: watch(s)[k][-1]  # noqa: E731
                d0, d1 = (g(t + hd) - g(t)) / hd, (g(tn) - g(tn - hd)) / hd
                if d0 < 0 < d1:
                    tm = _root(lambda s, g=g: -(g(s + hd) - g(s)) / hd, t, tn)  # the slope: − to +
                    if g(tm) <= 0:
                        ts = _root(g, t, tm)
                        if hit is None or ts < hit[0]:
                            hit = (ts, entry)
            prev = {e[0]: e[-1] for e in vals if isinstance(e[0], tuple)}
            prev_d = dn
            t = tn
        if hit is None:
            pieces.append((t0, t_end, sol))
            break
        ts, entry = hit
        pieces.append((t0, ts, sol))
        p = sol(ts)
        t0 = ts
        if entry[0] in ("lam0", "lam1"):
            js, u, i = entry[1]
            sliding.remove((js, u, i))
            masks[js][u][i] = 0 if entry[0] == "lam0" else 1
            events.append((ts, "leave sliding", js + 1, i, u))
            settle(ts)
        else:
            e = entry[0]
            a, b, several = rates(e)
            kink_rates.append((ts, e[0] + 1, e[2], e[1], a, b))
            decide(ts, e, a, b, 1 if masks[e[0]][e[1]][e[2]] == 1 else -1, several)
        unfreeze(ts)
    return pieces, events


def at(pieces, t):
    for t0, t1, sol in pieces:
        if t0 <= t <= t1:
            return sol(t)
    raise ValueError(t)
