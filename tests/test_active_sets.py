"""The consistent mode of entries at their kinks (numerics.active_sets; docs/theory.md E1, "Consistent active sets"
and "An entry no weight holds"), on affine systems ż = c + Aμ where the answer is known independently: every one
of the 3^n statuses is tried here and the box variational inequality checked directly (μ_k ∈ [0, 1] where k
slides with ż_k = 0, σ_k·ż_k ≥ 0 where k left to side σ_k, μ_k = 0 or 1 there; α = 0).

The systems are −A = a P-matrix (diagonally dominant, positive diagonal: the unique solution exists) with one
row set to zero — an entry that no weight holds, whose rate c_k + (its row)·μ = c_k then has one sign for every
μ: the inequality puts it at that side's bound, and the pivoting must take it there (before the rule its solve
raised "not determined"). The brute force needs no P-property: it checks every mode it finds."""

from __future__ import annotations

import itertools

import flint
import numpy as np
import pytest
from hypothesis import assume, given, target
from hypothesis import strategies as st

from numerics.active_sets import WeightlessSliding, settle
from numerics.kink_events import NonUniqueFlowError, UnsupportedKinkError


class AffineModes:
    """ż = c + Aμ for n entries (keys (k,)); μ of a left entry at its bound (0 for side −1, 1 for +1). ``certain``:
    whether the adapter says which modes are strict (as the arb tier; the float tier never does)."""

    def __init__(self, A: np.ndarray, c: np.ndarray, certify: bool = True, certain: bool = True) -> None:
        self.A, self.c, self.certify, self.certain = A, c, certify, certain
        self.n = len(c)
        self.status = {(k,): 0 for k in range(self.n)}
        self.mu = np.full(self.n, 0.5)
        self.solves = 0

    def snapshot(self):
        return dict(self.status), self.mu.copy()

    def restore(self, snap) -> None:
        self.status, self.mu = dict(snap[0]), snap[1].copy()

    def solve(self) -> None:
        self.solves += 1
        S = [k for k in range(self.n) if self.status[(k,)] == 0]
        for k in range(self.n):
            if self.status[(k,)]:
                self.mu[k] = 1.0 if self.status[(k,)] > 0 else 0.0
        if not S:
            return
        L = [k for k in range(self.n) if k not in S]
        r = self.c[S] + self.A[np.ix_(S, L)] @ self.mu[L]
        A_SS = self.A[np.ix_(S, S)]
        for q, k in enumerate(S):
            if not np.any(A_SS[q]):
                raise WeightlessSliding(f"entry {k}", (k,), int(np.sign(r[q])) or None)
        self.mu[S] = np.linalg.solve(A_SS, -r)

    def out_of_range(self, k) -> int:
        m = self.mu[k[0]]
        return -1 if m < 0 else 1 if m > 1 else 0

    def rates(self):
        z = self.c + self.A @ self.mu
        return lambda k: z[k[0]]

    def leave(self, k, side: int) -> None:
        self.status[k] = side

    def slide(self, k, from_side: int) -> None:
        self.status[k] = 0
        self.mu[k[0]] = 1.0 if from_side > 0 else 0.0

    def describe(self, k) -> str:
        return f"entry {k[0]}"

    def field(self):  # the weights decide the field here (A generic): two modes with one μ are one continuation
        return self.mu.copy()

    def same_field(self, a, b) -> bool:
        return bool(np.all(np.abs(a - b) <= 1e-9))

    def keep(self):
        return self.snapshot()

    def put_back(self, kept) -> None:
        self.restore(kept)

    def unverified(self) -> None:
        self.skipped = getattr(self, "skipped", 0) + 1

    def strict(self, K, status) -> bool:
        # the mode's margins in the box inequality (weights inside (0, 1), rates of the left entries to their sides),
        # strict by more than this model's float rounding (its systems are drawn with margins beyond 1e-6)
        if not self.certain:
            return False
        z = self.c + self.A @ self.mu
        return all(1e-9 < self.mu[k[0]] < 1 - 1e-9 if status[k] == 0 else status[k] * z[k[0]] > 1e-9 for k in K)

    def jacobian(self, K):  # −A exactly (float entries are exact balls); None: as a tier that cannot say it is affine
        if not self.certify:
            return None
        return flint.arb_mat([[-float(self.A[r[0], s[0]]) for s in K] for r in K])


def brute_force(A: np.ndarray, c: np.ndarray) -> list[tuple[int, ...]]:
    """Every status vector (0 slides, ±1 left to that side) that satisfies the box inequality."""
    n, tol = len(c), 1e-9
    found = []
    for combo in itertools.product((0, -1, 1), repeat=n):
        S = [k for k in range(n) if combo[k] == 0]
        mu = np.array([0.0 if s < 0 else 1.0 for s in combo])
        if S:
            L = [k for k in range(n) if combo[k] != 0]
            A_SS = A[np.ix_(S, S)]
            with np.errstate(divide="ignore"):  # (a zero row: LAPACK's det of a singular matrix divides by 0)
                singular = abs(np.linalg.det(A_SS)) < 1e-12
            if singular:
                continue
            mu[S] = np.linalg.solve(A_SS, -(c[S] + A[np.ix_(S, L)] @ mu[L]))
        z = c + A @ mu
        if all(-tol <= mu[k] <= 1 + tol for k in S) and all(combo[k] * z[k] >= -tol for k in range(n) if combo[k]):
            found.append(combo)
    return found


@st.composite
def weightless_systems(draw):
    """(A, c, k): −A diagonally dominant with a positive diagonal, except row k, which is 0; c_k not 0."""
    n = draw(st.integers(1, 5))
    off = np.array(draw(st.lists(st.floats(-1, 1), min_size=n * n, max_size=n * n))).reshape(n, n)
    np.fill_diagonal(off, 0.0)
    diag = np.abs(off).sum(axis=1) + np.array(draw(st.lists(st.floats(0.1, 2), min_size=n, max_size=n)))
    A = -(off + np.diag(diag))
    k = draw(st.integers(0, n - 1))
    A[k] = 0.0
    c = np.array(draw(st.lists(st.floats(-2, 2).filter(lambda x: abs(x) > 1e-3), min_size=n, max_size=n)))
    return A, c, k


@given(weightless_systems())
def test_settle_takes_an_entry_no_weight_holds_to_its_rates_side(system):
    A, c, k = system
    expected = brute_force(A, c)
    # one consistent mode, up to ties at a bound (a weight exactly at 0 or 1 is both "sliding" and "left" there,
    # the same field: Hypothesis finds such round numbers), and every one has k at its rate's side
    assert expected
    assert all(e[k] == (1 if c[k] > 0 else -1) for e in expected)
    ops = AffineModes(A, c)
    left = settle(ops, [(q,) for q in range(len(c))], None, 0.0)
    target(float(ops.solves), label="solves")  # (steer to systems that need many pivots)
    got = tuple(ops.status[(q,)] for q in range(len(c)))
    assert got in expected
    assert [x[:1] for x in left] == [(q,) for q in range(len(c)) if got[q] != 0]


def test_a_weightless_entry_of_undecided_sign_and_a_weightless_joining_entry_are_refused():
    A = np.array([[0.0, 0.0], [0.3, -1.0]])
    with pytest.raises(UnsupportedKinkError):  # rate exactly 0: side None
        settle(AffineModes(A, np.array([0.0, 0.4])), [(0,), (1,)], None, 0.0)
    with pytest.raises(UnsupportedKinkError, match="cannot slide together"):  # the joining entry would have to leave
        settle(AffineModes(A, np.array([-0.2, 0.4])), [(1,), (0,)], (0,), 0.0)


def test_weightless_side_margins():
    """The side rule's margins (numerics.active_sets.weightless_side): an exact zero row needs |r| > ρ; a row only
    computed as 0 needs |r| > (2m + 1)ρ, since each true slope may be up to 2ρ (the two evaluations that agreed
    are each within ρ of the truth) and the weights move by up to 1 each."""
    from numerics.active_sets import weightless_side

    assert weightless_side(-0.5, 0.1, True, 3) == -1 and weightless_side(0.11, 0.1, True, 3) == 1
    assert weightless_side(0.1, 0.1, True, 1) is None
    assert weightless_side(0.31, 0.1, False, 1) == 1 and weightless_side(0.29, 0.1, False, 1) is None
    assert weightless_side(-0.69, 0.1, False, 3) is None and weightless_side(-0.71, 0.1, False, 3) == -1
    # the margin is what a slope of 2ρ per weight can do: r + Σ_q A_q·Δμ_q over |Δμ_q| ≤ 1 can reach 0 just inside it
    r, rho, m = 0.69, 0.1, 3
    assert weightless_side(r, rho, False, m) is None and r - m * 2 * rho - rho < 0


def mode_margins(A: np.ndarray, c: np.ndarray) -> list[tuple[tuple[int, ...], float, np.ndarray]]:
    """Every status vector with its margin in the box inequality (the smallest of μ_k and 1 − μ_k over the sliding
    entries and of σ_k·ż_k over the left ones: consistent iff ≥ 0) and its weights μ; written apart from the code
    under test (no pivoting, no tier)."""
    n = len(c)
    out = []
    for combo in itertools.product((0, -1, 1), repeat=n):
        S = [k for k in range(n) if combo[k] == 0]
        L = [k for k in range(n) if combo[k] != 0]
        mu = np.array([0.0 if s < 0 else 1.0 for s in combo])
        if S:
            mu[S] = np.linalg.solve(A[np.ix_(S, S)], -(c[S] + A[np.ix_(S, L)] @ mu[L]))
        z = c + A @ mu
        margin = min([min(mu[k], 1 - mu[k]) for k in S] + [combo[k] * z[k] for k in L])
        out.append((combo, float(margin), mu))
    return out


@st.composite
def general_systems(draw):
    """(A, c) with A any matrix (no P-property: the box inequality may have several solutions), n = 2 … 4 (all of
    them within numerics.active_sets.VERIFY_MAX), every principal submatrix clearly invertible."""
    n = draw(st.integers(2, 4))
    # entries k/97 and k/89 (odd denominators: weights and rates rarely land exactly on 0 or 1, which the margin
    # filter below would drop), a diagonal of either sign and of size ≥ 1/2 (−A then a P-matrix or not)
    off = np.array(draw(st.lists(st.integers(-97, 97), min_size=n * n, max_size=n * n)), dtype=float).reshape(n, n) / 97
    diag = [s * m / 97 for s, m in zip(draw(st.lists(st.sampled_from((-1, 1)), min_size=n, max_size=n)),
                                         draw(st.lists(st.integers(49, 194), min_size=n, max_size=n)))]
    A = off - np.diag(np.diag(off)) + np.diag(diag)
    c = np.array(draw(st.lists(st.integers(-178, 178), min_size=n, max_size=n)), dtype=float) / 89
    for size in range(2, n + 1):
        for S in itertools.combinations(range(n), size):
            assume(abs(np.linalg.det(A[np.ix_(S, S)])) > 1e-3)
    return A, c


@given(general_systems(), st.booleans(), st.booleans())
def test_settle_refuses_where_the_box_inequality_has_several_solutions(system, certify, certain):
    """Where the box inequality has solutions with different weights (two ways to continue: the flow branches),
    settle raises — NonUniqueFlowError where the adapter says the modes are strict (``certain``; every consistent
    mode here is strict, by the margin filter below), else UnsupportedKinkError; where it has one, settle returns it
    — whether −A is certified a P-matrix (``certify``: the adapter gives settle the matrix; then nothing is tried),
    its pivoting ended (then unique_field tries the other modes) or cycled (then enumerate_modes does). Instances
    with a mode within 10⁻⁶ of the inequality's edge are left out: there the brute force's and the code's roundings
    may decide differently."""
    from numerics.active_sets import VERIFY_MAX, p_certified

    A, c = system
    assert len(c) <= VERIFY_MAX
    modes = mode_margins(A, c)
    assume(all(abs(m) > 1e-6 for _, m, _ in modes))
    consistent = [(combo, mu) for combo, m, mu in modes if m >= 0]
    fields = []
    for _, mu in consistent:
        if not any(np.all(np.abs(mu - f) <= 1e-9) for f in fields):
            fields.append(mu)
    assert fields  # (an affine box inequality always has a solution: Hartman–Stampacchia)
    target(float(len(fields)), label="distinct solutions")
    if p_certified(flint.arb_mat((-A).tolist())):  # the theorem the certificate rests on, on this instance
        assert len(fields) == 1
    ops = AffineModes(A, c, certify, certain)
    K = [(q,) for q in range(len(c))]
    if len(fields) > 1:
        with pytest.raises(NonUniqueFlowError if certain else UnsupportedKinkError, match="consistent") as e:
            settle(ops, K, None, 0.0)
        assert certain == ("for certain" in str(e.value))
    else:
        settle(ops, K, None, 0.0)
        got = tuple(ops.status[k] for k in K)
        assert got in [combo for combo, _ in consistent]
        assert np.all(np.abs(ops.mu - fields[0]) <= 1e-9)  # the weights of the mode found are put back


def test_two_ways_to_continue_are_refused():
    """A 2 × 2 instance worked by hand: ż₀ = −0.1 + 2μ₀ + 0μ₁, ż₁ = 0.5 − μ₁ (entry 0 repelling: its rate rises
    with its weight). Entry 1 slides at μ₁ = 0.5 in every consistent mode; entry 0 can slide at μ₀ = 0.05, or leave
    to α (ż₀ = −0.1 < 0 there) or to 1 (ż₀ = 1.9 > 0): three consistent modes with different weights, all strict —
    a certified NonUniqueFlowError where the adapter can say so, a refusal where it cannot."""
    A = np.array([[2.0, 0.0], [0.0, -1.0]])
    c = np.array([-0.1, 0.5])
    with pytest.raises(NonUniqueFlowError, match="3 consistent modes with different fields.*not unique"):
        settle(AffineModes(A, c), [(0,), (1,)], None, 0.0)
    with pytest.raises(UnsupportedKinkError, match="3 consistent modes with different fields"):
        settle(AffineModes(A, c, certain=False), [(0,), (1,)], None, 0.0)


def test_branches_are_certified_only_where_two_strict_modes_differ():
    """Worked by hand: ż₀ = −0.1 + 0.1μ₀, ż₁ = 0.5 − μ₁ (entry 1 slides at 0.5 in every mode). Entry 0's rate is 0
    at μ₀ = 1 exactly, the box's edge: sliding there and leaving to 1 (rate 0) are one field and neither is strict;
    leaving to α (rate −0.1) is strict. Two fields, one strict mode — refused, not certified. With ż₀ = −0.05 + 0.1μ₀
    the zero is inside (μ₀ = 1/2) and all three modes are strict: certified."""
    A = np.array([[0.1, 0.0], [0.0, -1.0]])
    with pytest.raises(UnsupportedKinkError, match="consistent modes with different fields"):
        settle(AffineModes(A, np.array([-0.1, 0.5])), [(0,), (1,)], None, 0.0)
    with pytest.raises(NonUniqueFlowError):
        settle(AffineModes(A, np.array([-0.05, 0.5])), [(0,), (1,)], None, 0.0)


def test_a_mode_among_more_entries_than_verify_max_is_counted_not_tried():
    """Above VERIFY_MAX the pivoting's result is taken untried, and the adapter is told (the tiers count it in
    ``modes_unverified``): the 2 × 2 branching instance above, padded with decoupled attracting entries."""
    from numerics.active_sets import VERIFY_MAX

    n = VERIFY_MAX + 1
    A = -np.eye(n)
    A[0, 0] = 2.0  # entry 0 repelling, as above; the others slide at μ = 0.5, each on its own
    c = np.full(n, 0.5)
    c[0] = -0.1
    ops = AffineModes(A, c)
    settle(ops, [(q,) for q in range(n)], None, 0.0)
    assert ops.skipped == 1


def exact_minors(M: np.ndarray) -> list:
    """Every principal minor of M (float entries, taken as the binary rationals they are) in exact rational
    arithmetic, by Laplace expansion along the first row — apart from numerics.active_sets' balls and dets."""
    from fractions import Fraction

    def det(rows: list) -> Fraction:
        if len(rows) == 1:
            return rows[0][0]
        return sum((-1) ** j * rows[0][j] * det([r[:j] + r[j + 1:] for r in rows[1:]]) for j in range(len(rows))
                   if rows[0][j])

    n = len(M)
    F = [[Fraction(float(x)) for x in row] for row in M]
    return [det([[F[r][s] for s in c] for r in c]) for size in range(1, n + 1)
            for c in itertools.combinations(range(n), size)]


@given(st.integers(1, 6).flatmap(lambda n: st.lists(st.integers(-97, 97), min_size=n * n, max_size=n * n)))
def test_p_certified_agrees_with_the_exact_principal_minors(entries):
    """numerics.active_sets.p_certified against the definition, computed exactly: certified ⇒ every principal minor
    positive; every minor positive by a margin the 53-bit balls resolve (≥ 10⁻⁹ of the matrix's scale to the
    minor's order) and |K| ≤ MINORS_MAX ⇒ certified. Entries k/97 plus a diagonal shift steered (target) to
    matrices whose smallest minor is near 0."""
    from numerics.active_sets import MINORS_MAX, p_certified

    n = int(round(len(entries) ** 0.5))
    M = np.array(entries, dtype=float).reshape(n, n) / 97
    M += np.eye(n) * 0.5
    minors = exact_minors(M)
    certified = p_certified(flint.arb_mat(M.tolist()))
    smallest = min(minors)
    target(-abs(float(smallest)), label="closeness of the smallest minor to 0")
    if certified:
        assert smallest > 0
    assert n <= MINORS_MAX
    if smallest > 1e-9:
        assert certified


@given(st.integers(9, 24), st.integers(0, 2**32 - 1))
def test_the_scaled_test_certifies_gram_times_a_positive_diagonal(n, seed):
    """Entries in one layer have M = G·diag(g), G the Gram matrix of their ∇z's, g their backpropagated signals
    (docs/theory.md E1, *One mode for certain*): a P-matrix iff G is positive definite and g > 0. Above
    MINORS_MAX only the scaled test (i) can certify it — it must; with one g_s < 0 (a 1 × 1 minor < 0) it must
    not; nor with G singular (two equal ∇z's: a 2 × 2 minor exactly 0)."""
    from numerics.active_sets import MINORS_MAX, p_certified

    assert n > MINORS_MAX
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n + 3, n))
    G = B.T @ B
    g = rng.uniform(0.05, 3.0, n)
    assert p_certified(flint.arb_mat((G * g[None, :]).tolist()))
    g[rng.integers(n)] *= -1
    assert not p_certified(flint.arb_mat((G * g[None, :]).tolist()))
    B[:, 1] = B[:, 0]
    G = B.T @ B
    g = np.abs(g)
    assert not p_certified(flint.arb_mat((G * g[None, :]).tolist()))


def test_a_certified_mode_above_verify_max_is_taken_untried_and_is_the_only_one():
    """A P-matrix system with more entries than VERIFY_MAX: the certificate replaces the trials (no solves beyond
    the pivoting's, nothing counted unverified), and the mode settle returns is the brute force's only one."""
    from numerics.active_sets import VERIFY_MAX

    n = VERIFY_MAX + 3
    rng = np.random.default_rng(7)
    B = rng.standard_normal((n + 2, n))
    A = -(B.T @ B) * rng.uniform(0.2, 2.0, n)[None, :]
    c = rng.uniform(-2.0, 2.0, n)
    expected = brute_force(A, c)
    assert len(expected) == 1
    for certify in (True, False):
        ops = AffineModes(A, c, certify)
        settle(ops, [(q,) for q in range(n)], None, 0.0)
        assert tuple(ops.status[(q,)] for q in range(n)) == expected[0]
        assert getattr(ops, "skipped", 0) == (0 if certify else 1)  # without the matrix: taken untried, counted


def test_one_entry_on_a_repelling_surface_is_refused_and_an_attracting_one_certified():
    """One entry (|K| = 1; e.g. in a kink's candidate field, where the other entry's mask turns the sliding entry's
    surface repelling): ż = c + aμ. With a > 0 and the zero of ż inside the box, sliding, leaving to 0 and leaving
    to 1 are all consistent — refused, as among more entries; with a < 0 the 1 × 1 matrix −a > 0 is a P-matrix,
    certified, and no other mode is tried (the solves are the pivoting's only)."""
    with pytest.raises(NonUniqueFlowError, match="3 consistent modes with different fields"):
        settle(AffineModes(np.array([[0.066]]), np.array([-0.03])), [(0,)], None, 0.0)
    ops = AffineModes(np.array([[0.066]]), np.array([-0.1]))  # zero of ż above 1: ż < 0 on the box, one mode (to 0)
    settle(ops, [(0,)], None, 0.0)
    assert ops.status[(0,)] == -1
    ops = AffineModes(np.array([[-0.066]]), np.array([0.03]))
    settle(ops, [(0,)], None, 0.0)
    assert ops.status[(0,)] == 0 and ops.solves == 1


class WatchedModes(AffineModes):
    """AffineModes with an entry outside K watched (a kinking entry whose candidate field K is): its rate
    c_w + a_w·μ under each mode; the other modes a candidate search finds are kept, not refused."""

    def __init__(self, A, c, a_w, c_w) -> None:
        super().__init__(A, c)
        self.a_w, self.c_w, self.deferred = np.asarray(a_w, float), float(c_w), None

    def watch_rate(self, k, field):
        assert k == ("w",)
        return float(self.c_w + self.a_w @ self.mu)

    def defer(self, message, rates, certified) -> None:
        self.deferred = (message, rates, certified)


def test_a_candidates_other_modes_are_deferred_with_the_watched_rate_and_judged_by_the_decision():
    """The 1 × 1 repelling instance above (ż = −0.03 + 0.066μ: slide at μ = 0.4545, leave to 0 or to 1) as a kink's
    candidate field, the kinking entry's rate w = c_w + a_w·μ watched. settle returns the mode taken (sliding) and
    hands over the two other modes with w under each (μ = 0 and μ = 1, computed here apart); then
    candidate_branches refuses exactly where they matter: w's sign differs between modes, or the flow goes on in
    that field (post = its side, or 0 for both)."""
    from numerics.active_sets import candidate_branches

    def run(a_w, c_w):
        ops = WatchedModes(np.array([[0.066]]), np.array([-0.03]), [a_w], c_w)
        settle(ops, [(0,)], None, 0.0, "in the candidate field of entry w", ("w",))
        assert ops.status[(0,)] == 0 and abs(ops.mu[0] - 0.03 / 0.066) <= 1e-12
        message, rates, certified = ops.deferred
        assert certified  # the three modes are strict (μ = 0.4545 inside, ż = −0.03 and 0.036 at the bounds)
        assert "3 consistent modes" in message and "candidate field of entry w" in message
        taken = c_w + a_w * 0.03 / 0.066
        # the other modes in settle's order (left to α = 0 first, then to 1): w at μ = 0 and μ = 1
        assert np.allclose(rates, [c_w, c_w + a_w], rtol=0, atol=1e-15)
        return dict(side=-1, rate=taken, branches=ops.deferred)

    sign = lambda r: (r > 0) - (r < 0)  # noqa: E731
    other = dict(side=1, rate=-1.0, branches=None)
    same = run(2.0, 0.5)  # w = 0.5 … 2.5 > 0 under every mode
    candidate_branches((same, other), None, sign)  # sliding outcome: its own search decides
    candidate_branches((same, other), 1, sign)  # crossing to the other side's (unambiguous) field
    with pytest.raises(NonUniqueFlowError, match="3 consistent modes.*goes on in this field"):
        candidate_branches((same, other), -1, sign)  # the flow certainly enters the field: certified branches
    with pytest.raises(UnsupportedKinkError, match="3 consistent modes"):
        candidate_branches((same, other), 0, sign)  # from no side: which field it enters is not decided
    uncertified = dict(same, branches=same["branches"][:2] + (False,))
    with pytest.raises(UnsupportedKinkError, match="3 consistent modes"):
        candidate_branches((uncertified, other), -1, sign)
    flips = run(2.0, -0.5)  # w = −0.5 at μ = 0, +1.5 at μ = 1: the decision depends on the mode
    with pytest.raises(UnsupportedKinkError, match="depends on the mode"):
        candidate_branches((flips, other), None, sign)
    with pytest.raises(NonUniqueFlowError, match="3 consistent modes with different fields"):  # no watch: raised
        settle(WatchedModes(np.array([[0.066]]), np.array([-0.03]), [2.0], 0.5), [(0,)], None, 0.0)
