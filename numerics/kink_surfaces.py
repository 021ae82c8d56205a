"""Where the shared kink surfaces of :mod:`numerics.kink_events` begin or end at an instant (docs/theory.md E1,
"Entries that share one kink surface", *A group whose surface ends*, *Parallel within the rounding*): a sliding
group whose structure a switch below has ended (:func:`split_groups`), and a partner whose input is parallel only
within the rounding while a switch below is pending (:func:`parallel_by_rounding`). Both tiers refuse there; the
tests are tests/test_group_surface_ends.py.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from .kink_events import UnsupportedKinkError, _one_surface

__all__ = ["NEAR_BY_ROUNDING", "parallel_by_rounding", "split_groups", "split_surface_error"]


# the refusal's reason where a partner's input is parallel within the state's rounding only (:func:`parallel_by_rounding`)
NEAR_BY_ROUNDING = (", parallel to within the rounding of the state for sample(s) {} only: a unit below is at its kink at "
                    "this instant, and whether the entries share one surface depends on that switch")


def parallel_by_rounding(inputs: np.ndarray, weights: list, biases: list | None, masks: list, layer: int,
                         sample: int, others: Sequence[int], settled: Iterable[tuple[int, int, int]] = ()) -> list[int]:
    """Of the samples ``others`` whose inputs to hidden layer ``layer`` :func:`numerics.kink_events.coincident_group` found parallel to
    sample i's at the point only ("near"), those whose departure from parallel is within the float64 rounding of
    the pass — ‖r‖ ≤ 2(γ_n‖s_c‖ + (‖ã_c‖/‖ã_i‖)γ_n‖s_i‖) (+ the rounding of r itself), r = ã_c − (ã_c·ã_i/‖ã_i‖²)ã_i, s the pass on absolute
    values and γ_n its bound as in :func:`numerics.kink_events.coincident_group`'s "tiny" test — *and* on whose sample or sample i a
    unit below is at its kink (|z| within the same bound for its layer) without being ``settled`` (the entries
    (hidden layer index, unit, sample) sliding or pinned): a switch at this very instant, decided before or after
    this one (the tiers may take simultaneous switches in different orders; either order is caught). The inputs
    are then parallel by structure on one side of that switch and not on the other, so whether the entries share
    one surface depends on a switch decided at the same instant, and neither the group's decision nor the per-entry
    one is founded (found by a soak on a (2,4,4,4,4,2) net, 2026-12-06: a layer-1 unit switching off on sample 3
    while sample 2's layer-2 entry reached the kink that sample 3's entry slid on; the tiers took the switches in
    different orders, the arb tier seeing a group and refusing, the float tier crossing per entry).

    Without a pending switch below, inputs parallel within the rounding are no sign of one surface: with two units
    alive below, an entry reaching the kink that another sample's entry of the unit slides on makes the two inputs
    parallel at that point (both orthogonal to the unit's row in a plane), while the surfaces stay transversal
    through the weights below (repeated-sample cross-entropy seed 6 of the soaks, t = 0.548: the per-entry rules
    decide it). Data only nearly collinear (10⁻⁸, the case the per-entry rules are kept for) lie far outside the
    bound; at layer 1 no unit lies below, so nothing is returned. The pass repeats
    :func:`numerics.kink_events.coincident_group`'s: it runs only for near partners, a rare path."""
    X = np.asarray(inputs, dtype=float)
    a, s, n_ops = X, np.abs(X), 0
    u = float(np.finfo(float).eps) / 2
    settled = set(settled)
    pending: set = set()
    for l in range(layer - 1):
        W = np.asarray(weights[l], dtype=float)
        z = W @ a
        pre = np.abs(W) @ s
        if biases is not None:
            bl = np.asarray(biases[l], dtype=float).reshape(-1, 1)
            z = z + bl
            pre = pre + np.abs(bl)
        n_ops += W.shape[1] + 2
        gam = n_ops * u / (1 - n_ops * u)
        # (an entry whose inputs are all 0 is identically 0: no switch there)
        for unit, x in zip(*np.nonzero((np.abs(z) <= 2 * gam * pre) & (pre > 0))):
            if (l, int(unit), int(x)) not in settled:
                pending.add(int(x))
        s = np.abs(np.asarray(masks[l], dtype=float)) * pre
        a = np.asarray(masks[l], dtype=float) * z
    if biases is not None:
        a = np.vstack([a, np.ones((1, a.shape[1]))])
        s = np.vstack([s, np.zeros((1, s.shape[1]))])
    gam = n_ops * u / (1 - n_ops * u) if n_ops else 0.0
    ai = a[:, sample]
    ni2 = float(ai @ ai)
    if not ni2 > 0:
        return []
    out = []
    for c in others:
        if sample not in pending and c not in pending:
            continue
        ac = a[:, c]
        r = ac - (float(ac @ ai) / ni2) * ai
        bound = 2 * (gam * float(np.linalg.norm(s[:, c])) + float(np.linalg.norm(ac)) / math.sqrt(ni2) * gam *
                     float(np.linalg.norm(s[:, sample])))
        # the computed r itself: the projection's dot products and the subtraction (k entries) err by at most
        # γ_{2k+3}(‖ã_c‖ + |α|‖ã_i‖) ≤ 2γ_{2k+3}‖ã_c‖ (|α|‖ã_i‖ ≤ ‖ã_c‖ by Cauchy–Schwarz), Higham's dot-product bound
        k = a.shape[0]
        g_r = (2 * k + 3) * u / (1 - (2 * k + 3) * u)
        if float(np.linalg.norm(r)) <= bound + 2 * g_r * float(np.linalg.norm(ac)):
            out.append(int(c))
    return out


def split_groups(ties: Iterable[tuple[int, int, int, int]], inputs: np.ndarray, bias: bool,
                 masks_below: Any) -> list[tuple[int, int, list[int], int, list[int]]]:
    """The sliding groups whose shared surface has ended: ``ties`` holds (layer (1-based), unit, representative's
    sample, member's sample) for every member of a group tied to one Filippov weight (docs/theory.md E1, "Entries
    that share one kink surface"), ``masks_below(layer)`` the mask columns of the hidden layers below it, in the
    convention the tier formed its groups with (:func:`numerics.kink_events.coincident_group`). A group was formed because its
    members' inputs to the layer are parallel for every θ nearby (:func:`numerics.kink_events._one_surface`: the data proportional and
    the masks below multiples, or one and the same unit alive below); a switch below on one member's sample (a unit
    turning on beside the one alive) ends that structure, and the members' surfaces, one up to that instant,
    separate from it on (found by a soak on a (2,4,4,4,4,2) net, 2026-12-06: layer 3's unit 0 crossing on one of two
    samples whose layer-4 entries slid as a group; the float tier went on with the tied weight, the member's z
    drifting to 5e-2 under a mask of neither side). Returns (layer, unit, the group's samples, the representative's
    sample, the samples no longer parallel to it) per such group, lists sorted; the tiers refuse there
    (:func:`split_surface_error`)."""
    groups: dict = {}
    for layer, unit, i, c in ties:
        g = groups.setdefault((layer, unit, i), ({i}, set()))
        g[0].add(c)
        if not _one_surface(inputs, bias, masks_below(layer), layer, i, c):
            g[1].add(c)
    return [(layer, unit, sorted(members), i, sorted(split)) for (layer, unit, i), (members, split) in sorted(groups.items())
            if split]


def split_surface_error(t: float, layer: int, unit: int, samples: list[int], rep: int,
                        split: list[int]) -> "UnsupportedKinkError":
    """The refusal where a sliding group's shared kink surface ends (:func:`split_groups`)."""
    return UnsupportedKinkError(
        f"t = {t:.17g}: the entries of unit {unit} of layer {layer} on samples {samples} slide on one shared kink "
        "surface (their inputs to the layer parallel through the masks below), and a switch below at this instant "
        f"ends that (samples {split} no longer parallel to sample {rep}): from here their surfaces separate, tangent to "
        "each other at the state, and the group's one Filippov weight no longer gives a Filippov field "
        "(docs/theory.md E1, \"Entries that share one kink surface\", *A group whose surface ends*). This "
        "configuration is not supported. What to do: integrate to a horizon before t")
