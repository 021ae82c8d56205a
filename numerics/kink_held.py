"""The verdict on the entries of one unit held at their kink (pinned: the field with mask α does not move them),
shared by both tiers (docs/theory.md E1, "A field that does not move z", *Several pinned on one unit*): the split
of the pinned samples into kink surfaces (:func:`surface_blocks`), the decision from the blocks' rates under every
lift (:func:`held_verdict`), its use at a step's start (:func:`decide_held`) and by the bisections that locate a
lift inside a step (:func:`held_state`, :func:`lift_bracket`). The tiers compute the rates — the float tier with
bars (:mod:`numerics.float_pins`), the arb tier as balls (:mod:`numerics.kink_pins`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flint
import numpy as np

from .kink_events import NonUniqueFlowError, UnsupportedKinkError, coincident_group

__all__ = ["decide_held", "held_state", "held_verdict", "lift_bracket", "surface_blocks"]


def surface_blocks(where: str, inputs: np.ndarray, weights: list, biases: list | None, masks: list, layer: int,
                   samples: list[int]) -> list[list[tuple[int, float]]]:
    """The pinned ``samples`` of one unit of hidden layer ``layer`` (1-based) split by kink surface, for
    :func:`held_verdict`: blocks of (sample, κ) with z_{u,c} = κ·z_{u,c₀} for every θ nearby (c₀ the block's first,
    lowest, sample; :func:`coincident_group` on the float64 state, as at a group's pin) — a block stays or leaves
    as one. ``masks[l]``: layer l + 1's mask labels, with every entry sliding below marked 1 by the caller: a
    sliding entry has z = 0 but is no mask 0, since off the sliding manifold its unit feeds the layer (it breaks
    the "one unit on" rule of :func:`_one_surface`: square (3,5,5,5,2) seed 9, where a layer-2 unit sliding on
    sample 0 left it parallel to samples 1, 2, 4 at that point only). Refused, not guessed (UnsupportedKinkError):
    a surface with a member that is not pinned (at 0 there, held by nothing), a ratio κ < 0 (the pin rule's groups
    have κ > 0), or more than four blocks (2⁴ − 1 lifts). ``where``: "t = …: unit u of layer l" for the message."""
    blocks, rest = [], list(samples)
    while rest:
        i = rest[0]
        group, _ = coincident_group(inputs, weights, biases, masks, layer, i)
        if any(c not in rest or kap <= 0 for c, kap in group) or len(blocks) == 4:
            raise UnsupportedKinkError(
                f"{where} is pinned at its kink on samples {samples}; on the surface of sample {i} lie samples "
                f"{[c for c, _ in group]} (ratios {[round(k, 3) for _, k in group]}): a member not pinned, a negative "
                "ratio or more than four surfaces — which of them may leave is not decided by this method; the flow "
                "is known up to the step that ends here")
        blocks.append([(i, 1.0)] + list(group))
        rest = [c for c in rest if c != i and c not in [g for g, _ in group]]
    return blocks


def _ball(lo: float, hi: float) -> flint.arb:
    """An arb ball containing [lo, hi] (float64 ends)."""
    mid = 0.5 * lo + 0.5 * hi
    rad = max(hi - mid, mid - lo)
    return flint.arb(mid, math.nextafter(rad, math.inf) + math.ulp(max(abs(lo), abs(hi))))


def held_verdict(where: str, blocks: list, lifts: list, advice: str = "", since: float | None = None) -> None:
    """The verdict on the pinned entries of one unit (docs/theory.md E1, *Several pinned on one unit*), shared by
    both tiers. ``blocks``: the pinned entries split by kink surface (lists of (sample, κ), the first entry of a
    block standing for it). ``lifts``: per nonempty set T of blocks (bit q for block q), the rows
    (rate, bar, lo, hi, zero) of every block under mask 1 on T and mask α elsewhere — ``lo ≤ rate ≤ hi`` certain
    bounds (the float tier: the rate ± its bar; the arb tier: the ball's ends), ``zero``: exactly 0.

    Each block has one Filippov weight λ_q ∈ [0, 1] (mask α + (1 − α)λ_q on its entries). The blocks lie on
    distinct samples and z = 0 on each, so a block's mask enters the field linearly and the rates are linear in
    λ: w(λ) = Σ_p λ_p M[:, p], M[q, p] the rate of block q under the lift of block p alone (w(0) = 0: pinned, the
    mask-α field moves none of them). This model is checked, not assumed: every lift of several blocks must give
    the sum of their single lifts to within the rows' bars (it need not where a lift makes another entry leave
    sliding), else refused. Besides staying (λ = 0) the Filippov solutions leaving from here are the modes: each
    block stays (λ_q = 0, w_q ≤ 0), slides (0 < λ_q < 1, w_q = 0) or leaves (λ_q = 1, w_q ≥ 0), not all staying
    — a linear complementarity problem of at most 3⁴ − 1 = 80 modes, each solved for its sliding weights
    (M_SS λ_S = −Σ_{p∈L} M[S, p]) in ball arithmetic on the rates' bounds:

    * every mode certainly violates one of its conditions — staying is the only flow: held;
    * some mode certainly meets all of them, strictly — a second flow: NonUniqueFlowError;
    * anything else (a mode the bounds can neither exclude nor confirm, a singular M_SS): UnsupportedKinkError.

    (Checking each lift alone is not enough: M = [[−1, ½], [4, −1]] has every lift with a sinking block, yet the
    mode λ = (½, 1), block 0 sliding and block 1 leaving, solves it.) With one block these are the lone entry's
    rules (b < 0: held; b > 0: not unique). A block whose lift leaves every rate exactly 0 (its mask reaches no
    field: the pin rule's own case) does not move θ whatever λ it takes and is left out. ``since``: the last
    instant this unit's same pinned entries were checked and held (the previous step's start), named in the
    messages — the flow is known up to it."""
    known = (f"; staying was the only flow at the previous check, t = {since:.17g}, so the change lies in between"
             if since is not None else "")

    def who(qs: list[int]) -> str:
        names = [c for q in qs for c, _ in blocks[q]]
        return (f"on sample {names[0]}" if len(names) == 1
                else f"on samples {names}" + (" (one kink surface)" if len(qs) == 1 else ""))

    B = len(blocks)
    rows_of = dict(lifts)
    single = [rows_of[1 << p] for p in range(B)]
    for T, rows in lifts:  # the model: w(1_T) = Σ_{p∈T} w(e_p), to the rows' bars (and the sum's rounding)
        if T & (T - 1) == 0:
            continue
        parts = [single[p] for p in range(B) if T >> p & 1]
        for q, (r, bar, *_) in enumerate(rows):
            total = math.fsum(pr[q][0] for pr in parts)
            slack = bar + math.fsum(pr[q][1] for pr in parts) + 4 * 2.0**-53 * math.fsum(abs(pr[q][0]) for pr in parts)
            if abs(r - total) > slack * (1 + 2.0**-50):
                raise UnsupportedKinkError(
                    f"{where} is pinned at its kink on several surfaces {[[c for c, _ in blk] for blk in blocks]}, "
                    f"and their lifts do not add up (rate {r:.6g} lifting {who([p for p in range(B) if T >> p & 1])}, "
                    f"{total:.6g} as the sum of the single lifts): a lift changes which entries slide, and whether the "
                    f"flow may leave is not decided by this method{known}; {advice}integrate to a horizon before it")
    live = [p for p in range(B) if not all(row[4] for row in single[p])]  # (a mask that reaches no field: out)
    M = {(q, p): _ball(single[p][q][2], single[p][q][3]) for q in live for p in live}
    open_mode = None
    for code in range(1, 3 ** len(live)):
        mode = {q: code // 3 ** k % 3 for k, q in enumerate(live)}  # 0 stays, 1 slides, 2 leaves
        S = [q for q in live if mode[q] == 1]
        L = [q for q in live if mode[q] == 2]
        lam = {q: flint.arb(1) for q in L}
        solved = True
        if S:
            A = flint.arb_mat([[M[(q, p)] for p in S] for q in S])
            rhs = flint.arb_mat([[-sum((M[(q, p)] for p in L), flint.arb(0))] for q in S])
            try:
                x = A.solve(rhs)
                lam.update({q: x[k, 0] for k, q in enumerate(S)})
            except (ZeroDivisionError, ValueError):
                solved = False
        if solved:
            w = {q: sum((M[(q, p)] * lam[p] for p in S + L), flint.arb(0)) for q in live}
            need = [(lam[q] > 0, lam[q] <= 0) for q in S] + [(lam[q] < 1, lam[q] >= 1) for q in S]
            need += [(w[q] < 0, w[q] > 0) for q in live if mode[q] == 0]
            need += [(w[q] > 0, w[q] < 0) for q in L]
            if any(bad for _, bad in need):
                continue  # excluded: a condition certainly fails
            if all(good for good, _ in need):
                what = (f"{who(L)} leaving" if L else "") + (" and " if L and S else "") + (f"{who(S)} sliding" if S else "")
                r, bar = single[(L or S)[0]][(L or S)[0]][:2]
                raise NonUniqueFlowError(
                    f"{where} {who(L + S)} is pinned at its kink (the field with mask α does not move it) and the field "
                    f"with mask 1 now lifts it (rate {r:.3g}, its error bar {bar:.3g}; the mode: {what}): staying and "
                    f"leaving are both gradient flows θ' ∈ −∂f(θ); not unique from here (or from within the step that "
                    f"ends here){known}")
        open_mode = open_mode or (S, L)
    if open_mode is not None:
        S, L = open_mode
        q = (L or S)[0]
        r, bar = single[q][q][:2]
        raise UnsupportedKinkError(
            f"{where} {who(sorted(L + S))} is pinned at its kink, and the rate of the field with mask 1 ({r:.3g}, its "
            f"error bar {bar:.3g}) does not decide whether it may leave"
            + (f" (the mode with {who(L)} leaving" if L else " (the mode with") + (" and" if L and S else "")
            + (f" {who(S)} sliding" if S else "") + " is neither excluded nor confirmed by the rates' bounds)"
            + f": not decided by this run{known}; {advice}integrate to a horizon before it")


def decide_held(held_ok: dict, key: tuple, n_events: int, last_start: Any, where: str, blocks: list, lifts: list,
                advice: str, t: Any, locate: Callable[[], str]) -> None:
    """One unit's :func:`held_verdict` at a step's start t, for both tiers. ``held_ok[key]`` (key: layer, unit,
    pinned samples) remembers (t, n_events) of the last check that held them. A lift found where that check was
    the start of the last step (``last_start``) and no event came since happened inside that step: ``locate()``
    finds it there and its sentence joins the message."""
    since = held_ok.get(key)
    try:
        held_verdict(where, blocks, lifts, advice, float(since[0]) if since else None)
    except NonUniqueFlowError as e:
        if since is None or since[1] != n_events or last_start != since[0]:
            raise
        raise NonUniqueFlowError(f"{e}; {locate()}") from None
    held_ok[key] = (t, n_events)


def held_state(blocks: list, lifts: list | None) -> str:
    """:func:`held_verdict`'s outcome as a word, for the bisections that locate a lift inside a step: "held",
    "lifted" (not unique), or "undecided" (refused, or ``lifts`` None: the entries move)."""
    if lifts is None:
        return "undecided"
    try:
        held_verdict("", blocks, lifts)
    except NonUniqueFlowError:
        return "lifted"
    except UnsupportedKinkError:
        return "undecided"
    return "held"


def lift_bracket(lo: float, hi: float, stopped: float | None) -> str:
    """The sentence of a located lift: held at ``lo``, lifted at ``hi`` (both rounded outward to float64 by the
    caller), and where the bisection stopped undecided, if it did."""
    why = f" (not decided at t = {stopped:.17g}, where the bisection stopped)" if stopped is not None else ""
    return (f"the lift lies in [{lo:.17g}, {hi:.17g}]{why}: held at the left end and lifted at the right, on the "
            "step's dense output (the flow is known up to the left end)")
