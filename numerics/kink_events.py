"""Kink events of the ReLU integrator (numerics.kink_flows): the event record, the errors for kinks
that have no (unique or handled) continuation, and the event locator — the first root of a watched
Taylor polynomial on a step, located to the working precision.

Kept apart from the integrator loop so that a float64 tier (issue 11) can reuse the same logic: the
coefficients come in as arb balls here; only their midpoints are used (as floats for the screen and
the root finder's sample points, exactly as mpf for the sign decisions and the refinement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

import flint
import mpmath
import numpy as np

__all__ = ["KinkEvent", "NonUniqueFlowError", "UnsupportedKinkError", "coincident_group", "coincident_samples",
           "first_root", "group_verdict", "last_active_unit", "lifted_column_sides", "lone_input", "mark_immaterial",
           "sole_feeding_unit", "zero_column_sides"]


class NonUniqueFlowError(RuntimeError):
    """The flow reached a point from which θ' ∈ −∂f(θ) has more than one solution, so there is no ground truth to
    return: a repelling kink (both adjacent fields point away), a pinned entry that the other field lifts, or two
    modes of the entries at their kinks certified strict with different fields (docs/theory.md E1, "Certified
    branches")."""


class UnsupportedKinkError(RuntimeError):
    """A kink configuration this integrator does not handle exactly (it says which) — never a guess."""


@dataclass
class KinkEvent:
    """One switch of the activation pattern: at time ``t`` (exact binary fraction, located to the
    working precision), ``kind`` "cross", "enter sliding" or "leave sliding", of hidden unit
    ``unit`` (0-based) of hidden layer ``layer`` (1-based) on sample ``sample`` (0-based).
    ``t_uncertainty``: |t − t of the dps + 10 rerun| (nan until the estimator has run)."""

    t: Fraction
    kind: str
    layer: int
    sample: int
    unit: int
    t_uncertainty: float = math.nan
    # False for a switch that cannot change the flow (:func:`mark_immaterial`; set by the arb tier's rerun check)
    material: bool = True

    def key(self) -> tuple:
        return (self.kind, self.layer, self.sample, self.unit)


def last_active_unit(sides: Sequence[int], sliding: Iterable[int] = (), pinned: Iterable[int] = ()) -> int | None:
    """The unit of a sample's column of one hidden layer whose switch would zero the column (α = 0): the one
    unit with side +1 when every other unit has side −1, at most one of them ``sliding`` and any ``pinned``
    (z = 0 and mask 0: a = 0, and no signal passes back through it); else None. Both tiers' event search lets
    that unit's switch go before a switch of an entry above it on the sample at the same instant
    (docs/theory.md F, "Simultaneous immaterial switches"): the entries above then sit at 0, and their masks
    either do not enter the field (nothing slides in the column) or are the Filippov ones of the one sliding
    unit, which both tiers set (:func:`zero_column_sides`). Two units sliding in the column: None (the tiers
    refuse such a column)."""
    sl = set(sliding)
    on = [u for u, sd in enumerate(sides) if sd > 0 and u not in sl]
    if len(on) != 1 or len(sl) > 1 or any(sd == 0 for sd in sides):
        return None
    return on[0]


def sole_feeding_unit(sides: Sequence[int], row_zero: Sequence[bool], sliding: Iterable[int] = ()) -> int | None:
    """The unit of a sample's column of one hidden layer through which alone an entry of the layer above gets its
    value: the one unit on (side +1) whose weight into that entry is not exactly 0 (``row_zero[k]``: W[u, k] == 0
    exactly), with no sliding unit behind a weight that is not 0; else None. Its switch at the same instant takes
    the entry above to 0 with it (z = W[u, v]·a_v), as a sample's last active unit takes its whole column
    (:func:`last_active_unit`), so both tiers' event search lets it go first (docs/theory.md E1, "A weight that its
    kink sets to 0", *Held at 0 by it*). Such rows arise where a kink has set a weight to 0 exactly
    (:func:`lone_input`)."""
    sl = set(sliding)
    if any(not row_zero[k] for k in sl):
        return None
    on = [k for k, sd in enumerate(sides) if sd > 0 and k not in sl and not row_zero[k]]
    return on[0] if len(on) == 1 else None


def lone_input(layer: int, data: Sequence, sides: Sequence[int], sliding: Iterable[int], bias: bool,
               alpha) -> int | None:
    """The one entry k of a sample's input column into hidden layer ``layer`` (1-based) that is not exactly 0,
    or None: one nonzero feature of the sample's data x (layer 1; ``data`` its column, exact), or on a ReLU net
    (α = 0) the one unit of the layer below that is on (``sides`` its column, +1 on; ``sliding`` the units whose
    z is held at 0: their outputs are 0 too); without biases only.

    Then z[u] = W[u, k]·a_k with a_k ≠ 0, so at z[u] = 0 the weight W[u, k] is 0 in exact arithmetic, and both
    tiers set their computed weight, off by the location's rounding, to 0 there (docs/theory.md E1, "A weight
    that its kink sets to 0"): where the unit's row then freezes (its last active sample switched off), the exact
    z stays at 0 while the computed one would hover at that residue, and a later decision would read the
    residue's sign."""
    if bias or (layer > 1 and alpha != 0):
        return None
    if layer == 1:
        col = [k for k, x in enumerate(data) if x != 0]  # (data: exact values, an exact zero test)
    else:
        sl = set(sliding)
        col = [k for k, sd in enumerate(sides) if sd > 0 and k not in sl]
    return col[0] if len(col) == 1 else None


def zero_column_sides(columns: Sequence[tuple[Sequence[int], Iterable[int], Iterable[int]]],
                      weights: Sequence[np.ndarray], where: str = "") -> dict[int, np.ndarray]:
    """The sides the Filippov flow gives the entries above a column zeroed over one sliding unit, on one sample
    of a bias-free ReLU net (α = 0); docs/theory.md E1, "A column zeroed over a sliding unit".

    ``columns[l]`` = (sides, sliding units, pinned units) of hidden layer l + 1 on the sample (sides ±1, a sliding
    or pinned entry's −1); ``weights[l]`` = W_{l+2} in float64 (hidden layer l + 1 → l + 2), l = 0 … H − 2.

    Let l be the lowest hidden layer whose column is zero: every unit off (side −1, a = 0·z), pinned (z = 0, mask
    0) or sliding (z = 0). If none slides, no signal passes back through the column and the masks above do not
    enter the field: {} is returned. If one unit B slides, every pre-activation above it on the sample is 0 for
    as long as the column stays zero, and the masks m above enter the field only through B's weight μ, as the
    product μ·g(m) (g the signal back into B), which B's constraint ż_B = 0 fixes: the field is the same for every
    m, but whether μ ∈ [0, 1] — whether B keeps sliding — depends on m. Filippov's field there is the convex
    combination of the two regions that meet at z_B = 0: z_B < 0, where the column is zero and the masks above do
    not matter, and z_B > 0, where z_{l+2} = W_{l+2}[:, B]·z_B, so its masks are those of v = W_{l+2}[:, B], and
    upwards v ← W(m ⊙ v). Returns {layer index: sides} for the layers above l, these signs. The signs are decided
    in float64 against a bound on their rounding, c·2u·(|W|⋯|W[:, B]|) (c = 1 for the conversion of arb weights to
    float64, then n + 1 more per product of inner dimension n; u = 2^-53, doubled for safety); a sign within it, a
    second sliding unit in the column, or an entry above that slides or is pinned raise UnsupportedKinkError.
    ``where`` prefixes the messages (time, sample)."""
    H = len(columns)
    for l in range(H - 1):
        sides, sl, pn = columns[l]
        sl = set(sl)
        if any(sd > 0 and u not in sl for u, sd in enumerate(sides)):
            continue  # an active unit: the column carries a signal (a higher layer's column may still be zero)
        if not sl:
            return {}
        if len(sl) > 1:
            raise UnsupportedKinkError(
                f"{where}the column of layer {l + 1} is zero with units {sorted(sl)} sliding in it: the masks above "
                "them enter the field through several weights (not supported)")
        B = next(iter(sl))
        return _direction_sides(columns, weights, l, B, where, f"the column of layer {l + 1} is zero with unit {B} "
                                "sliding in it")
    return {}


def lifted_column_sides(columns: Sequence[tuple[Sequence[int], Iterable[int], Iterable[int]]],
                        weights: Sequence[np.ndarray], l: int, u: int, rad: float = 0.0,
                        where: str = "", hint: str = "") -> dict[int, np.ndarray] | None:
    """The sides the entries above take when unit ``u`` of hidden layer ``l`` (0-based) switches on over a column
    that is zero without it, on one sample of a bias-free ReLU net (α = 0); docs/theory.md E1, "A column lifted
    from zero". ``columns`` and ``weights`` as for :func:`zero_column_sides`.

    With every other unit of the column off or pinned (a = 0) and none sliding, z_{l+2}[:, i] = W_{l+2}[:, u]·z_u
    once u is on, and upwards v ← W(m ⊙ v): the entries above move with the signs of v, so for z_u > 0 their
    masks are those signs and nothing else — they are not kinks of their own (their gradients are multiples of
    z_u's at the instant), and deciding them one at a time by their rates under each mask reads fields of states
    that are not there (a "repelling" verdict on square seed 32 of the (3,5,5,5,2) soak). Returns {layer index:
    sides} for the layers above l, or None where this is not such a switch (another unit of the column active or
    sliding, or no hidden layer above). ``rad`` ≥ 0 bounds how far each weight's exact value may lie from the one
    given (the run's error where a tier has it, a ball's radius): it is carried up with the signs, and a sign
    within it or within the rounding bound raises UnsupportedKinkError, as does an entry above that slides or is
    pinned. ``hint``: what to try, appended to the message of a sign within its bound (the tier's remedy)."""
    sides, sl, _ = columns[l]
    if l >= len(columns) - 1 or set(sl) or any(sd > 0 for v, sd in enumerate(sides) if v != u):
        return None
    return _direction_sides(columns, weights, l, u, where, f"unit {u} of layer {l + 1} switches on over its "
                            "sample's zero column", rad, hint)


def _direction_sides(columns: Sequence[tuple[Sequence[int], Iterable[int], Iterable[int]]],
                     weights: Sequence[np.ndarray], l: int, B: int, where: str, what: str,
                     rad: float = 0.0, hint: str = "") -> dict[int, np.ndarray]:
    """The signs of v = W_{l+2}[:, B] and upwards v ← W(m ⊙ v) (m: mask 1 where v > 0), one array of sides per
    hidden layer above l, each decided against the rounding of v — c·2u·(|W|⋯|W[:, B]|), c = 1 for the
    conversion of arb weights to float64, then n + 1 more per product of inner dimension n, u = 2^-53 doubled
    for safety — plus ``rad`` carried up: |v̂ − v| ≤ e with e = rad on the first layer and
    e ← (|W| + rad)(m ⊙ e) + rad·Σ m ⊙ (|v̂| + e) (every weight within rad of its value; first order in the masks,
    which a sign beyond e keeps). :func:`zero_column_sides` and :func:`lifted_column_sides`."""
    H = len(columns)
    v = np.asarray(weights[l][:, B], dtype=float)
    mag = np.abs(v)
    err = np.full(v.shape, float(rad))
    c = 1.0  # |error of v| ≤ c·u·mag: the conversion to float64, then per product n + 1 more (n products, +1)
    out: dict[int, np.ndarray] = {}
    for k in range(l + 1, H):
        _, sl_k, pn_k = columns[k]
        if set(sl_k) or set(pn_k):
            raise UnsupportedKinkError(f"{where}{what}, and an entry of layer {k + 1} above it slides or is pinned "
                                       "(not supported)")
        if np.any(np.abs(v) <= c * 2.0**-52 * mag + err * (1 + 2.0**-40)):
            raise UnsupportedKinkError(f"{where}{what}, and its direction leaves an entry of layer {k + 1} above it "
                                       "at 0 within rounding" + (" and the run's error" if rad > 0 else "")
                                       + " (not supported" + (f"; {hint}" if hint and np.all(mag > 0) else "") + ")")
        out[k] = np.where(v > 0, 1, -1).astype(np.int8)
        if k + 1 < H:
            m = (v > 0).astype(float)
            W = np.asarray(weights[k], dtype=float)
            if rad > 0:
                err = (np.abs(W) + rad) @ (m * err) + rad * float(np.sum(m * (np.abs(v) + err)))
            v, mag = W @ (m * v), np.abs(W) @ (m * mag)
            c += W.shape[1] + 1
    return out


def mark_immaterial(obj, traj, tol: float) -> int:
    """Marks (``material = False``) the events of ``traj`` that cannot change the flow, and returns how many:
    on a bias-free net, an event of layer L ≥ 2 on sample i at an instant where some lower hidden layer's
    activations on that sample, a_{L'}[:, i] (L' < L; a = max(z, 0) + α·min(z, 0)), are all within ``tol`` of 0
    (max norm, evaluated from ``traj.at(t)`` at mpmath's working precision). A column that is 0 with a unit
    sliding in it counts too since 2026-12-05: the masks above it enter the field through that unit's weight,
    and both tiers set them to the Filippov flow's (:func:`zero_column_sides`), whatever a run switched at the
    instant (until then such switches were left material, and the rerun check refused sq seed 89 of the soak).

    Why these (docs/theory.md F, "Simultaneous immaterial switches"): without biases z_{L'+1}[:, i] =
    W_{L'+1}a_{L'}[:, i], so when a sample's last active unit of layer L' switches off (α = 0), every entry above
    it on that sample reaches 0 at that instant, and its forward and backward contributions vanish whatever the
    masks of those entries: which of them a run records first, before the column is exactly 0, is decided by
    rounding. When a unit of layer L' switches back on, the entries above start from 0 and take the masks their
    motion gives; the switches recorded then correct masks left by the history, not the flow. ``tol`` separates
    such instants (a column 0 to the working precision) from a genuine kink of a layer above, where the column
    is of the order of the state."""
    if obj.model.bias or not traj.events:
        return 0
    from theory import to_kind

    X = to_kind(obj.loss.inputs, "mp") if obj.loss.inputs is not None else None
    # exactly, from any Real (a Fraction α made mpmath.mpf raise TypeError on bias-free leaky nets: found by a soak,
    # 2026-12-05; a float converts exactly too)
    q = Fraction(obj.model.alpha)
    alpha = mpmath.mpf(q.numerator) / q.denominator
    n = 0
    for e in traj.events:
        if e.layer < 2 or not e.material:
            continue
        Ws = traj.at(e.t)
        a = [mpmath.mpf(x) for x in (X[:, e.sample] if X is not None else np.eye(obj.widths[0])[:, e.sample])]
        for W in Ws[: e.layer - 1]:
            W = np.asarray(W, dtype=object)
            z = [mpmath.fsum(mpmath.mpf(W[r, c]) * a[c] for c in range(W.shape[1])) for r in range(W.shape[0])]
            a = [x if x > 0 else alpha * x for x in z]
            # every unit off, at its kink (switching or pinned) or sliding: with one unit sliding the tiers give the
            # entries above the Filippov sides (zero_column_sides) whatever was switched at the instant, with two
            # they refuse, with none the masks above do not enter the field
            if max(abs(x) for x in a) <= tol:
                e.material = False
                n += 1
                break
    return n


# two entries of one unit whose inputs to the layer are parallel to within this angle (|cos| ≥ 1 − PARALLEL_TOL,
# ~4.5e-5 rad) are taken to share one kink surface (coincident_samples)
PARALLEL_TOL = 1e-9


def coincident_samples(inputs: np.ndarray, weights: list, biases: list | None, masks: list, layer: int,
                       sample: int) -> list[int]:
    """Every sample of :func:`coincident_group` (the group and the nearly parallel ones), without ratios."""
    group, near = coincident_group(inputs, weights, biases, masks, layer, sample)
    return sorted([c for c, _ in group] + near)


def coincident_group(inputs: np.ndarray, weights: list, biases: list | None, masks: list, layer: int,
                     sample: int) -> tuple[list[tuple[int, float]], list[int]]:
    """The samples i′ ≠ i whose entry of any unit of hidden layer ``layer`` (1-based) shares its kink
    surface with sample i's (docs/theory.md E1, "Entries that share one kink surface"): z_{u,i} = W[u]·ã_i
    (+ b[u]), so with ã_{i′} = κ·ã_i (ã the layer's input, with a 1 appended when the net has biases) the
    two entries vanish together and lie on one surface {W[u]·ã_i = 0}. Screened on the float64 values of the
    state (``weights``, ``biases`` per layer, ``masks[l]`` the mask values of hidden layer l + 1, units ×
    samples; ``inputs`` the data, d_0 × n) to |cos| ≥ 1 − PARALLEL_TOL; an input that is 0 (every unit
    below dead on the sample) is no partner (its entries are identically 0).

    Returns (group, near). ``group``: (i′, κ) for the partners whose inputs are parallel *for every θ
    nearby* (:func:`_one_surface`) — the surfaces are then one; ``near``: those parallel at this point to
    the threshold only (e.g. collinear up to rounding), whose surfaces are distinct but nearly coincident."""
    X = np.asarray(inputs, dtype=float)
    a = X
    for l in range(layer - 1):
        z = np.asarray(weights[l], dtype=float) @ a
        if biases is not None:
            z = z + np.asarray(biases[l], dtype=float).reshape(-1, 1)
        a = np.asarray(masks[l], dtype=float) * z
    hidden = a
    if biases is not None:
        a = np.vstack([a, np.ones((1, a.shape[1]))])
    norms = np.sqrt(np.sum(a * a, axis=0))
    if norms[sample] == 0:
        return [], []
    cos = (a[:, sample] @ a) / (norms[sample] * np.where(norms > 0, norms, np.inf))
    hits = [int(k) for k in np.flatnonzero(np.abs(cos) >= 1 - PARALLEL_TOL) if k != sample]
    if not hits:  # (the common case: no second pass)
        return [], []
    tiny = np.zeros(a.shape[1], dtype=bool)
    if biases is None and layer > 1:
        # an input at the level of its own rounding (a unit below at its kink at this instant: the sample's
        # last active unit switching off) has no direction to test: its entry reaches 0 because the input
        # does — a simultaneous switch of two layers, never a group. The rounding of the float pass is
        # ≤ γ_n·s, s the same pass on absolute values (Higham, per product; n the summed fan-ins and two
        # per layer below); an input within twice that is "tiny"
        s, n_ops = np.abs(X), 0
        for l in range(layer - 1):
            W = np.asarray(weights[l], dtype=float)
            s = np.abs(np.asarray(masks[l], dtype=float)) * (np.abs(W) @ s)
            n_ops += W.shape[1] + 2
        u = float(np.finfo(float).eps) / 2
        tiny = np.sqrt(np.sum(hidden * hidden, axis=0)) <= 2 * n_ops * u / (1 - n_ops * u) * np.sqrt(np.sum(s * s, axis=0))
        if tiny[sample]:
            return [], hits
    group, near = [], []
    for k in hits:
        if tiny[k]:
            near.append(k)
        elif _one_surface(inputs, biases is not None, masks, layer, sample, k):
            group.append((k, float(np.sign(cos[k]) * norms[k] / norms[sample])))
        else:
            near.append(k)
    return group, near


def _one_surface(inputs: np.ndarray, bias: bool, masks: list, layer: int, i: int, c: int) -> bool:
    """Whether samples i and c have inputs to hidden layer ``layer`` that are parallel for every θ near the
    state, so that their entries of a unit lie on one surface (not two that meet here). Exact, never a
    threshold, layer by layer from the data up: the inputs to layer 1 are parallel when the data columns (with
    the appended 1 when biased) are proportional in rational arithmetic, ã_c = r·ã_i; the inputs to layer l + 1
    are parallel when (a) those to layer l are and the mask columns of layer l are multiples, m_c = ρ_l·m_i exactly
    (as labels: 1, α or 0) — then h_c = D_c W h′_c = ρ_l κ′ D_i W h′_i; with biases r and every ρ_l must be 1
    (identical samples: the bias breaks any other multiple) — or (b) without biases, whatever lies below, when
    layer l has one and the same unit with a nonzero mask on both samples (every other unit's mask exactly 0), so
    both inputs are multiples of that unit's axis. (b) followed by (a) is the chain a soak found (cross-entropy
    (3,5,5,5,2) seed 40, 2026-12-05): one layer-1 unit alive on two samples, the same layer-2 pattern on both,
    so their layer-3 entries vanish together.)"""
    from fractions import Fraction

    X = np.asarray(inputs, dtype=float)
    xi = [Fraction(float(v)) for v in X[:, i]] + ([Fraction(1)] if bias else [])
    xc = [Fraction(float(v)) for v in X[:, c]] + ([Fraction(1)] if bias else [])
    piv = next((p for p, v in enumerate(xi) if v != 0), None)
    ratio = xc[piv] / xi[piv] if piv is not None else None
    parallel = ratio is not None and all(vc == ratio * vi for vi, vc in zip(xi, xc))
    for m in masks[: layer - 1]:
        mi = [Fraction(float(v)) for v in np.asarray(m)[:, i]]
        mc = [Fraction(float(v)) for v in np.asarray(m)[:, c]]
        on_i = [k for k, v in enumerate(mi) if v != 0]
        if not bias and len(on_i) == 1 and on_i == [k for k, v in enumerate(mc) if v != 0]:
            parallel = True  # (b)
            continue
        if parallel:  # (a)
            rho = mc[on_i[0]] / mi[on_i[0]] if on_i else None
            parallel = bool(rho) and all(b == rho * a for a, b in zip(mi, mc)) and not (bias and rho != 1)
    return parallel


def shared_surface_error(t: float, layer: int, unit: int, sample: int, others: list[int], why: str = "") -> "UnsupportedKinkError":
    """The refusal of a kink whose surface other entries of its unit share, or nearly share
    (:func:`coincident_group`), in a configuration the group's decision does not cover (``why``)."""
    return UnsupportedKinkError(
        f"t = {t:.17g}: unit {unit} of layer {layer} on sample {sample} meets its kink surface together with the same unit "
        f"on sample(s) {others[:8]}{' ...' if len(others) > 8 else ''} (their inputs to the layer are parallel: "
        f"collinear data without biases, identical samples, or one active unit below){why}. There the flow "
        "θ' ∈ −∂f(θ) sees two regions, not one per entry (docs/theory.md E1, \"Entries that share one kink "
        "surface\"); this configuration is not supported. What to do: drop repeated samples; for collinear data "
        "add biases (then only identical samples share a surface); integrate to a horizon before t")


def group_verdict(what: str, pre_across: bool, post_across: bool) -> str:
    """The decision at a shared kink surface from the two regions' rates (docs/theory.md E1, "Entries that
    share one kink surface"), each given as whether it points across the surface (from the side the flow
    came from to the other; neither rate 0 — the caller has refused that): "cross" when both do, "touch"
    when neither does (the flow came to the surface and its field takes it back), "slide" when only the
    arriving one does (into the surface from both sides: Filippov sliding with one weight for the group);
    a repelling surface (only the far region's rate points across: away from it on both sides) raises
    NonUniqueFlowError. ``what`` names the kink in the message."""
    if pre_across:
        return "cross" if post_across else "slide"
    if not post_across:
        return "touch"
    raise NonUniqueFlowError(f"{what} is at a repelling kink: both regions' fields point away from it; the "
                             "gradient flow θ' ∈ −∂f(θ) is not unique from here")


def _mpf(x: flint.arb) -> mpmath.mpf:
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


def _dip_bottom(cm: list, hm: Any, x: float, bits: int) -> Any:
    """The minimum of q(s) = Σ cm_k s^k near s = x·hm: Newton on q' from there in mp (≤ 12 steps, while q'' > 0
    and s stays in (0, hm)), or None where it does not settle."""
    d1 = [k * cm[k] for k in range(1, len(cm))]
    d2 = [k * d1[k] for k in range(1, len(d1))]
    s = hm * x
    tol = hm * mpmath.ldexp(1, -(bits + 4))
    for _ in range(12):
        g2 = mpmath.polyval(d2[::-1], s)
        if not g2 > 0:
            return None
        sn = s - mpmath.polyval(d1[::-1], s) / g2
        if not 0 < sn < hm:
            return None
        if abs(sn - s) <= tol:
            return sn
        s = sn
    return s


def first_root(coefs: list[flint.arb], sigma: int, h: Fraction, skip: int, bits: int) -> Fraction | None:
    """First s ∈ (0, h] with σ·q(s) ≤ 0, q(s) = Σ_{k≥skip} c_k s^{k−skip} (the watched series with
    its first ``skip`` coefficients known to vanish at the step start), or None.

    Screen: σq(0) > Σ_{k≥1}|q_k|h^k means no root. Otherwise the real parts of the float roots of the
    scaled polynomial in u = s/h (well conditioned on [0, 1]: h is e^{−2} of the coefficient-decay
    radius), each with its neighbours ± 1e-9 and the minimum of σq it lies at (Newton on q' in mp,
    :func:`_dip_bottom`), and u = 1 are sample points; their signs are evaluated in mp (never in
    float, whose noise near a root could fake a sign change); the first point where σq ≤ 0 is
    bracketed with the point before it and the bracket is refined in mp to the working precision
    (Illinois steps with a bisection every third step). A dip through 0 too narrow for the float roots
    to separate its two roots is found at its minimum; one whose float roots fall outside the sampled
    band (|Im u| > 0.25) is not, and the dip check of :mod:`numerics.kink_dips` then refuses the run.
    """
    hf = float(h)
    c = [float(x.mid()) for x in coefs[skip:]]
    b = [ck * hf**k for k, ck in enumerate(c)]
    if sigma * b[0] > sum(abs(x) for x in b[1:]) * (1 + 1e-9):
        return None
    nz = [k for k, x in enumerate(b) if x != 0]
    if not nz:
        return None
    top = nz[-1]
    near = []
    if top >= 1:
        for r in np.roots(b[: top + 1][::-1]):
            if -1e-6 < r.real < 1 and abs(r.imag) <= 0.25:
                near.append(min(max(float(r.real), 0.0), 1.0))
    with mpmath.workprec(bits + 20):
        cm = [_mpf(x) * sigma for x in coefs[skip:]]
        hm = mpmath.mpf(h.numerator) / h.denominator

        def q(s):
            return mpmath.polyval(cm[::-1], s)

        # Sample points (u = s/h): the step's end; both sides of each float root (its sign is then decided in
        # mp, away from float noise); and the float root itself refined in mp by Newton on q' toward the minimum
        # of σq it lies at. A dip through 0 narrower than the float roots' resolution (roots closer than ~1e-8·h,
        # which the float root finder returns as a complex pair or one rounded double root) has both ±1e-9
        # points outside it, but its minimum is at the refined point: until 2026-12-06 such a dip of −3e-28 of the
        # reference's grazing family (tests/test_relu_kink_paths.py) was passed as no event at every precision,
        # found by the dip check of numerics.kink_dips.
        lo, flo = mpmath.mpf(0), q(mpmath.mpf(0))
        if flo <= 0:  # σq(0) ≤ 0: a root at the step start
            return Fraction(0)
        vals = {}
        for x in [1.0] + near:
            around = [hm * y for y in ((x - 1e-9, x, x + 1e-9) if x < 1 else (x,)) if 0 < y <= 1]
            vals.update((s_u, q(s_u)) for s_u in around)
            if top >= 2 and x < 1 and all(vals[s_u] > 0 for s_u in around):  # (no sign change seen here yet)
                m = _dip_bottom(cm, hm, x, bits)
                if m is not None:
                    vals[m] = q(m)
        hi = None
        for s_u in sorted(vals):
            f_u = vals[s_u]
            if f_u <= 0:
                hi, fhi = s_u, f_u
                break
            lo, flo = s_u, f_u
        if hi is None:
            return None
        tol = hm * mpmath.ldexp(1, -(bits + 4))
        side = 0
        for it in range(4 * bits):
            if hi - lo <= tol:
                break
            if it % 3 == 2:
                m = (lo + hi) / 2
            else:
                m = (lo * fhi - hi * flo) / (fhi - flo)
                if not lo < m < hi:
                    m = (lo + hi) / 2
            fm = q(m)
            if fm > 0:
                lo, flo = m, fm
                if side == 1:
                    fhi /= 2
                side = 1
            else:
                hi, fhi = m, fm
                if side == -1:
                    flo /= 2
                side = -1
        if hi - lo > tol * 1024:
            raise UnsupportedKinkError(f"the event time did not converge (bracket width {float(hi - lo):.3g})")
        s = hi  # σq(hi) ≤ 0: the step ends on (or just past) the kink, never before it
        man, exp = s.man_exp
        return Fraction(int(man)) * (Fraction(2) ** int(exp)) if man else Fraction(0)
