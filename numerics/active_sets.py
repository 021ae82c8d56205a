"""Consistent active sets at simultaneous kinks, shared by the arb and float64 ReLU tiers.

docs/theory.md E1, "Consistent active sets". At an instant where several entries sit at their kinks
(the sliding ones, and one that has just met its kink), a *mode* gives each entry of K a status:
0 — it slides (its Filippov weight μ is solved from ż = 0), ±1 — it has left sliding to that side.
A mode is consistent when every sliding μ_0 lies in [α, 1] and every entry that left moves away to its
side (σż ≥ 0 under the resulting field).

:func:`settle` finds one by pivoting one violation at a time, least index first (Murty's rule; the
order of K, the joining entry last): an out-of-range μ_0 leaves to the side it points to (α or 1), a
left entry moving back slides again, starting from the weight at the side it had left to; a sliding
entry whose rate depends on no weight at all (its row of ∂ż/∂μ exactly 0: :class:`WeightlessSliding`, raised
by the tier's solve) leaves to the side of its rate, the only status the box inequality allows it. The
pivoting ends, at the unique consistent mode, when −∂ż/∂μ is a P-matrix; if it cycles,
:func:`enumerate_modes` tries all 3^|K| modes (|K| ≤ 6) and requires exactly one field among the consistent
ones. Where the pivoting ends, the mode found is the only one when :func:`p_certified` certifies that
M = −∂ż/∂μ over K is a P-matrix and the tier says ż is affine in the weights of K (all of K in one layer:
``Modes.jacobian``); else :func:`unique_field` tries the other modes (|K| ≤ ``VERIFY_MAX``): a second
consistent mode with another field means the Filippov continuation branches there: a NonUniqueFlowError where two
such modes are certified (``Modes.strict``: every condition met strictly, for certain — each is then a Filippov
solution from here), else refused (UnsupportedKinkError).

A tier supplies the state operations through a :class:`Modes` adapter (its own masks, weights and
arithmetic: arb balls compare as "certainly less", floats as usual).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Hashable, Protocol, Sequence

import numpy as np

from .kink_events import NonUniqueFlowError, UnsupportedKinkError


class WeightlessSliding(UnsupportedKinkError):
    """Raised by a tier's solve of the sliding weights when entry ``key`` (a group's representative) has a rate
    ż that no sliding weight moves, its own included (its row of A = ∂ż/∂μ is exactly 0: every path from
    the weights to it meets a zero mask, e.g. the sample's column above it switched off). ż_key = r then for
    every μ, so no weight holds it at 0; with r of certain sign (``side`` = sign r) the box inequality of
    docs/theory.md E1 ("Consistent active sets") has it at the bound of that side — it leaves sliding there —
    and :func:`settle` takes that as its pivot; ``side`` None (r not certainly ≠ 0) is refused as it stands."""

    def __init__(self, message: str, key: tuple, side: int | None) -> None:
        super().__init__(message)
        self.key, self.side = key, side


def weightless_side(rate: float, rho: float, exact: bool, m: int) -> int | None:
    """The side an entry that no weight holds leaves to (:class:`WeightlessSliding`): the sign of its computed rate
    ``rate`` when that sign is certain, else None. ``rho`` bounds the computed rate's error. With the row of
    ∂ż/∂μ known to be exactly 0 (``exact``) |rate| > ρ decides; with the row only computed as 0 (equal values for
    each weight and that weight + 1) the true slopes are bounded by 2ρ each, so over a unit move of each of the
    ``m`` weights ż stays within (2m + 1)ρ of the computed rate (first order in the weights' cross terms) and
    only a rate beyond that decides (docs/theory.md E1, "An entry no weight holds")."""
    margin = rho if exact else (2 * m + 1) * rho
    return None if abs(rate) <= margin else (1 if rate > 0 else -1)


class Modes(Protocol):
    """What :func:`settle` needs from a tier (keys k are the tier's entry keys, tuples)."""

    def snapshot(self) -> Any: ...
    def restore(self, snap: Any) -> None: ...
    def solve(self) -> None: ...  # μ_0 of the current sliding set (UnsupportedKinkError if undetermined,
    #                               WeightlessSliding for an entry no weight moves)
    def out_of_range(self, k: Hashable) -> int: ...  # −1 if μ_0 < α, +1 if μ_0 > 1, else 0
    def rates(self) -> Callable[[Hashable], Any]: ...  # k ↦ ż of entry k under the current field
    def leave(self, k: Hashable, side: int) -> None: ...
    def slide(self, k: Hashable, from_side: int) -> None: ...
    def describe(self, k: Hashable) -> str: ...  # "unit u of layer j on sample i"
    def field(self) -> Any: ...  # the field under the current mode (after solve)
    def same_field(self, a: Any, b: Any) -> bool: ...  # two fields equal within the tier's rounding
    def keep(self) -> Any: ...  # snapshot plus what solve() derives (weights' sensitivities, ...)
    def put_back(self, kept: Any) -> None: ...
    def unverified(self) -> None: ...  # a mode taken with |K| > VERIFY_MAX, its uniqueness not tried (counted)
    def watch_rate(self, k: Hashable, field: Any) -> Any: ...  # ż of entry k (not of K) under the current mode, whose
    #   field() is ``field``, as the tier's decision reads rates (float: (ż, ‖F‖, e_F); arb: a ball)
    def defer(self, message: str, rates: list, certified: bool) -> None: ...  # a candidate search's other modes
    #   (settle's ``watch``); ``certified``: two of the field's modes certainly strict with different fields
    def strict(self, K: Sequence[tuple], status: dict) -> bool: ...  # the current mode (applied, solved) meets
    #   every condition strictly and for certain at the computed state: the exact weights of the sliding entries
    #   inside (α, 1), the left entries' rates pointing to their sides — False where the tier cannot say so
    def jacobian(self, K: Sequence[tuple]) -> Any: ...  # M = −∂ż_K/∂μ_K at the current state (every entry of K
    #   sliding, solved) as a flint arb_mat whose balls hold the exact matrix, or None where ż_K is not known to be
    #   affine in μ_K (only then does M decide uniqueness for the whole box)


def settle(ops: Modes, K: Sequence[tuple], joining: tuple | None, t: float, what: str = "",
           watch: Hashable | None = None) -> list[tuple]:
    """Make the mode of K consistent (module docstring), starting from every entry sliding; returns the
    entries that left as k + (side,), in K's order. Raises UnsupportedKinkError if ``joining`` (entering
    sliding now, last in K) would have to leave, or if no unique consistent mode is found. ``what``: the field
    the search is for, named in a refusal (e.g. a kink's candidate). ``watch``: the entry whose kink the search
    is a candidate field of; then other consistent modes (:func:`unique_field`) are not refused here but handed
    to ``ops.defer`` with that entry's rate under each, for the kink's decision to judge (docs/theory.md E1,
    *Two ways to continue*, "Candidates")."""
    status = {k: 0 for k in K}
    snap = ops.snapshot()
    unique = None  # whether the box inequality is certified to have one solution (from the first solve's state)
    for _ in range(4 * len(K) ** 2 + 8):
        rate, viol = None, None
        try:
            ops.solve()
        except WeightlessSliding as e:
            if e.side is None or e.key not in status or status[e.key] != 0:
                raise UnsupportedKinkError(_when(t, e)) from None
            viol = (e.key, e.side)
        except UnsupportedKinkError as e:  # (the arb tier's solve does not know the instant)
            raise UnsupportedKinkError(_when(t, e)) from None
        if unique is None:  # every entry slides here; an entry no weight holds makes M singular (not P) anyway
            # (a joining entry alone has no other mode to try — it must slide — so it costs no matrix)
            unique = viol is None and len(K) >= 1 and K != [joining] and p_certified(ops.jacobian(K))
        for k in K if viol is None else ():
            if status[k] == 0:
                side = ops.out_of_range(k)
                if side:
                    viol = (k, side)
                    break
            else:
                rate = rate or ops.rates()
                if status[k] * rate(k) < 0:
                    viol = (k, 0)
                    break
        if viol is None:
            if not unique and 1 <= len(K) <= VERIFY_MAX:
                unique_field(ops, K, joining, t, status, snap, what, watch)
            elif not unique and len(K) > VERIFY_MAX:
                ops.unverified()
            return [k + (status[k],) for k in K if status[k] != 0]
        k, new = viol
        if k == joining:
            raise UnsupportedKinkError(
                f"t = {t:.17g}: {ops.describe(k)} cannot slide together with the entries already sliding (its "
                "Filippov weight leaves [α, 1] when it joins them): a simultaneous-kink configuration this "
                "integrator does not resolve")
        if new == 0:  # back to sliding, from the weight at the side it had left to
            ops.slide(k, status[k])
        else:
            ops.leave(k, new)
        status[k] = new
    ops.restore(snap)
    return enumerate_modes(ops, K, joining, t)


def _when(t: float, e: Exception) -> str:
    """The message of ``e`` with the instant t in front, unless it has one or t is not known (nan)."""
    return f"t = {t:.17g}: {e}" if math.isfinite(t) and not str(e).startswith("t = ") else str(e)


def consistent(ops: Modes, K: Sequence[tuple], status: dict) -> bool:
    """Whether the current mode (statuses of K, already applied) is consistent; solves μ_0 as it goes."""
    try:
        ops.solve()
    except UnsupportedKinkError:  # constraints not determined: not a usable mode
        return False
    if any(ops.out_of_range(k) for k in K if status[k] == 0):
        return False
    if any(status[k] for k in K):
        rate = ops.rates()
        return not any(status[k] * rate(k) < 0 for k in K if status[k])
    return True


def enumerate_modes(ops: Modes, K: Sequence[tuple], joining: tuple | None, t: float) -> list[tuple]:
    """Every mode of K (``joining`` sliding), from the state :func:`settle` started at: the consistent one
    when there is exactly one, applied and returned as :func:`settle` does; else UnsupportedKinkError
    (none, or several: the continuation is not determined by the rule), or NonUniqueFlowError where two of
    them are certified with different fields (:func:`_certified`). |K| ≤ 6."""
    if len(K) > 6:
        raise UnsupportedKinkError(f"t = {t:.17g}: no consistent set of sliding entries found (the pivoting "
                                   f"cycles among {len(K)} entries, too many to enumerate)")
    snap = ops.snapshot()
    found, fields, strict = [], [], []
    for combo in itertools.product((0, -1, 1), repeat=len(K)):
        if joining is not None and combo[-1] != 0:
            continue
        status = dict(zip(K, combo))
        _apply(ops, status)
        if consistent(ops, K, status):
            F = ops.field()
            if not any(ops.same_field(F, G) for G in fields):  # (modes with one field: a weight at its bound)
                fields.append(F)
            found.append(status)
            if ops.strict(K, status):
                strict.append(F)
        ops.restore(snap)
    if len(fields) != 1:
        message = (f"t = {t:.17g}: {len(found)} consistent sets of sliding entries among {list(K)} (statuses "
                   f"{[list(f.values()) for f in found]}) with {len(fields)} different fields")
        if _certified(ops, strict):
            raise NonUniqueFlowError(f"{message}; {_CERTIFIED}")
        raise UnsupportedKinkError(f"{message}: the continuation is not determined by the rule")
    _apply(ops, found[0])
    consistent(ops, K, found[0])
    return [k + (found[0][k],) for k in K if found[0][k] != 0]


# the sentence of a certified branch (docs/theory.md E1, *Two ways to continue*, "Certified branches")
_CERTIFIED = ("two of them meet every condition strictly, for certain (the exact weights inside (α, 1), the rates of "
              "the entries that left pointing to their sides), so each is a Filippov solution from here: the gradient "
              "flow θ' ∈ −∂f(θ) is not unique")


def _certified(ops: Modes, strict: Sequence[Any]) -> bool:
    """Whether two of the fields of certainly strict modes (``strict``) certainly differ (``same_field`` false: for
    the arb tier some entry's balls are disjoint)."""
    return any(not ops.same_field(a, b) for a, b in itertools.combinations(strict, 2))


# the most entries at their kinks whose modes unique_field tries: 3^|K| solves of the weights (3^(|K|−1) with one
# joining), each one to a few order-1 passes. Measured on the float tier, 64-50-50-10 on 20 sklearn digits images with
# cross-entropy to t = 0.4 (71 settles with |K| = 4, 40 with 5): 6.9 s without the check, 8.1 s up to |K| = 3, 18.9 s
# up to 4, 38.4 s up to 5 (docs/theory.md E1, *Two ways to continue*); the branches the soaks found had |K| ≤ 4
VERIFY_MAX = 4


# the most entries whose M is tested minor by minor (2^|K| − 1 determinants) when the scaled test of p_certified fails
MINORS_MAX = 8


def p_certified(M: Any) -> bool:
    """Whether the square arb_mat ``M`` (balls) is certainly a P-matrix — every principal minor of every matrix in
    the balls positive; False when that is not certain (or ``M`` is None or empty).

    Why it matters (docs/theory.md E1, *One mode for certain*): the consistent modes of K are the solutions of the
    box variational inequality for G(μ) = −ż_K(μ) on [α, 1]^K; where ż_K = c + Aμ is affine and M = −A is a
    P-matrix, G is a P-function on a box, and then it has at most one solution (Facchinei & Pang 2003,
    Prop. 3.5.10: two solutions μ ≠ ν give (μ_k − ν_k)(G_k(μ) − G_k(ν)) ≤ 0 for every k, while a P-matrix has,
    for every x ≠ 0, some k with x_k(Mx)_k > 0 — Fiedler & Pták 1962).

    Two tests, the first polynomial: (i) M D + (M D)ᵀ positive definite for a positive diagonal D (then
    xᵀMDx > 0 for x ≠ 0, so M D — and M, its columns rescaled by positive numbers — is a P-matrix). D is
    chosen to symmetrise M where M = G·diag(g) with G symmetric (entries in one layer: G the Gram matrix of
    their ∇z's, g_s their backpropagated signals; there D = diag(1/g) and M D = G): d_s/d_r = M_sr/M_rs along a
    spanning tree of the largest products M_rs·M_sr > 0 (each component its own scale); positive definiteness
    by Sylvester's criterion, every leading minor certainly > 0. (ii) where (i) fails and |K| ≤ ``MINORS_MAX``,
    every principal minor, after a cheap float rejection on the midpoints."""
    import flint

    if M is None or M.nrows() == 0:
        return False
    n = M.nrows()
    mid = np.array([[float(M[r, s].mid()) for s in range(n)] for r in range(n)])
    if np.any(np.diag(mid) <= 0):
        return False
    d = _symmetrising_scale(mid)
    if d is not None:
        # D exactly as floats: the test is of M·D for this D, whatever its rounding
        S = flint.arb_mat([[M[r, s] * d[s] + M[s, r] * d[r] for s in range(n)] for r in range(n)])
        if all(_leading(S, m).det() > 0 for m in range(1, n + 1)):
            return True
    if n > MINORS_MAX:
        return False
    subsets = [c for size in range(1, n + 1) for c in itertools.combinations(range(n), size)]
    if any(np.linalg.det(mid[np.ix_(c, c)]) <= 0 for c in subsets):
        return False
    return all(flint.arb_mat([[M[r, s] for s in c] for r in c]).det() > 0 for c in subsets)


def _leading(S: Any, m: int) -> Any:
    import flint

    return flint.arb_mat([[S[r, s] for s in range(m)] for r in range(m)])


def _symmetrising_scale(M: Any) -> list[float] | None:
    """Positive d with M_rs·d_s ≈ M_sr·d_r (d_s/d_r = M_sr/M_rs) along a maximum spanning tree of the weights
    M_rs·M_sr > 0 — exact where M = G·diag(g), G symmetric, g > 0 (then d ∝ 1/g) —, each component scaled to
    d = 1 at its first node; None where some pair has M_rs·M_sr < 0 (no positive D makes M D symmetric)."""
    n = len(M)
    w = M * M.T
    if np.any(w < 0):
        return None
    d = [0.0] * n
    for root in range(n):
        if d[root]:
            continue
        d[root], tree = 1.0, {root}
        while True:  # Prim's algorithm on the component of root
            best = max(((w[r, s], r, s) for r in tree for s in range(n) if not d[s] and w[r, s] > 0), default=None)
            if best is None:
                break
            _, r, s = best
            d[s] = d[r] * M[s, r] / M[r, s]
            tree.add(s)
    return d


def unique_field(ops: Modes, K: Sequence[tuple], joining: tuple | None, t: float, status: dict, start: Any,
                 what: str = "", watch: Hashable | None = None) -> None:
    """Check that no other mode of K than ``status`` (consistent, applied and solved) is consistent with another
    field: tries every mode from the state ``start`` (every entry sliding, as :func:`settle` began; ``joining``
    sliding) and raises if one is: NonUniqueFlowError where two modes with different fields are certified
    (``ops.strict``: each is then a Filippov solution from here), else UnsupportedKinkError. A consistent mode is
    necessary for a Filippov solution (docs/theory.md E1, "Consistent active sets"); two with different fields are
    two ways to continue — e.g. an entry whose surface the joining entry turns repelling, consistent sliding and
    consistent leaving to either side — so there is no one flow to return. Modes with one field (a weight exactly at
    its bound, sliding or left there) are the same continuation. The mode found is put back as it was (its weights
    and what their solve derived) after the trials. In a kink's candidate field (``watch``: the kinking entry) the
    other modes are handed to ``ops.defer`` instead, with the entry's rate under each (``ops.watch_rate``) and
    whether two are certified: they matter only where the decision's rate changes sign between modes or the outcome
    takes that field (docs/theory.md E1, *Two ways to continue*, "Candidates"), which the tier's decision checks."""
    found = ops.keep()
    F = None  # the found mode's field: one more pass, taken only once another mode is consistent (rare)
    branches, rates, strict = [], [], []
    for combo in itertools.product((0, -1, 1), repeat=len(K)):
        other = dict(zip(K, combo))
        if (joining is not None and combo[-1] != 0) or other == status:
            continue
        ops.restore(start)
        _apply(ops, other)
        if consistent(ops, K, other):  # (rare: the passes below only where another mode is consistent)
            G = ops.field()
            r = None if watch is None else ops.watch_rate(watch, G)
            certain = ops.strict(K, other)
            if F is None:
                ops.put_back(found)
                F = ops.field()
                if ops.strict(K, status):
                    strict.append(F)
            if not ops.same_field(F, G):
                branches.append(combo)
                rates.append(r)
                if certain:
                    strict.append(G)
    ops.put_back(found)
    if branches:
        def statuses(st: Sequence[int]) -> str:
            return "; ".join(f"{ops.describe(k)} {('slides', 'left to 1', 'left to α')[s]}" for k, s in zip(K, st))
        message = (
            f"t = {t:.17g}: {what + ', ' if what else ''}the entries at their kinks have {len(branches) + 1} "
            f"consistent modes with different fields — {statuses([status[k] for k in K])} (taken), and "
            f"{' | '.join(statuses(b) for b in branches)}")
        certified = _certified(ops, strict)
        if watch is not None:
            ops.defer(message, rates, certified)
        elif certified:
            raise NonUniqueFlowError(f"{message}; {_CERTIFIED}")
        else:
            raise UnsupportedKinkError(f"{message}: {_BRANCHES}")


# the refusal's sentence where the branches are not certified
_BRANCHES = ("the Filippov continuation branches here (the flow is not unique by the mode rule of docs/theory.md E1, "
             "\"Consistent active sets\"), so there is no one flow to return; not certified as NonUniqueFlowError, "
             "which needs two of the modes proved strict: the float tier proves none (run the arb tier, dps=...), the "
             "arb tier where the weights' enclosures and the rates' signs come out certain and no entry outside the "
             "search is pinned (raise dps, or integrate to a horizon before this instant)")


def candidate_branches(cands: Sequence[dict], post: int | None, sign: Callable[[Any], int | None]) -> None:
    """Refuse (UnsupportedKinkError) where a kink's candidate fields have other consistent modes that matter
    (docs/theory.md E1, *Two ways to continue*, "Candidates"). ``cands``: the two candidates (mask α, mask 1), each
    with ``side``, ``rate`` (the kinking entry's ż under the mode taken) and ``branches``: None, or (the message, the
    entry's rate under each other mode, whether two modes are certified) from :func:`unique_field`. They matter
    (i) where the entry's rate has another sign, or no certain one (``sign`` → None), under some other mode than
    under the one taken: the decision read from the signs depends on the mode; (ii) where the flow goes on in that
    candidate's field (``post``: its side; 0 for both — a decision from no side, whose bound reads both fields; None
    for neither, the entry entering sliding, whose own mode search is checked as every other). In (ii) with the
    entry's rate of one certain sign under every mode, the flow certainly enters that field, so certified modes
    there are a NonUniqueFlowError (a decision from no side is not: which field it enters is not decided)."""
    for c in cands:
        if not c.get("branches"):
            continue
        message, rates, certified = c["branches"]
        s0 = sign(c["rate"])
        signs = [sign(r) for r in rates]
        if s0 is None or any(x != s0 for x in signs):
            raise UnsupportedKinkError(
                f"{message}; the kinking entry's rate there has sign {_sign_name(s0)} under the mode taken and "
                f"{', '.join(_sign_name(x) for x in signs)} under the others, so the kink's decision depends on the mode")
        if post == c["side"] and certified:
            raise NonUniqueFlowError(f"{message}; the flow goes on in this field (the kinking entry's rate has sign "
                                     f"{_sign_name(s0)} under every mode), and {_CERTIFIED}")
        if post == 0 or post == c["side"]:
            raise UnsupportedKinkError(f"{message}: {_BRANCHES}")


def _sign_name(x: int | None) -> str:
    return {1: "+", -1: "−", 0: "0", None: "not certain"}[x]


def _apply(ops: Modes, status: dict) -> None:
    for k, st in status.items():
        if st != 0:
            ops.leave(k, st)
