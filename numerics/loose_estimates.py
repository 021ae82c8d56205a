"""The warning the float tier gives where its error bound is honest but likely far above the true error, and a
tighter propagation of it exists (docs/theory.md G2, "The size of the ReLU row").

Above ``DENSE_MAX`` (1,024) parameters the float tier's default (``propagation='auto'``) carries its error bound
by norms (windows through lone crossings, :mod:`numerics.error_windows`); each kink that no window holds multiplies
the bound by its saltation matrix's norm. On kink-rich runs the product of norms far exceeds the error's actual
growth, whose stretches and contractions cancel: on the ec21 row (64-16-16-10 on 5 digits, 1,440 parameters) the
bound was 1.8e4–1.1e5× the true error against an arb run at 20 digits, where ``propagation='set'`` gave 60–93×.

The true error is unknown in a run, so the warning is raised on what the run knows: the ratio g of its bound to
the sum Σ ℓ_k of its steps' local errors. Without growth the bound would be about Σ ℓ_k, so g ≥ ``LOOSE_GROWTH``
says that the kinks' norms and the measured growth multiplied the bound by that much; the set keeps of that factor
only what the error's stretches and contractions leave after cancelling (on the ec21 row g was 1.2e3 with the
windows, and the set's bound ~300× below theirs). A large g does not prove the bound loose (the error can grow
that much, and then the set's bound grows too), and a small g does not prove it tight; the warning says "may".
"""

from __future__ import annotations

import warnings
from typing import Any

# g = bound / Σ local errors above which the warning is raised: 100, two decades above a bound that only adds local
# errors, well below the 1.2e3 of the ec21 row's windows (where the set was ~300× tighter)
LOOSE_GROWTH = 100.0


class LooseEstimateWarning(UserWarning):
    """The float tier's error bound grew ≥ ``LOOSE_GROWTH`` times over the sum of its steps' local errors where
    ``propagation='set'`` could carry it (module docstring)."""


def growth_over_local(traj: Any) -> float:
    """g = ``traj.error_estimate`` / Σ ``traj.local_errors`` (0 where no local error was recorded)."""
    local = float(sum(getattr(traj, "local_errors", ()) or ()))
    return float(traj.error_estimate) / local if local > 0 else 0.0


def warn_if_loose(traj: Any, num_params: int, propagation: str, dense_max: int, set_max: int) -> float | None:
    """Warn (:class:`LooseEstimateWarning`) when the windows carried a run with kinks on a net the set could take
    (``dense_max`` < P ≤ ``set_max``, ``propagation='auto'``) and g ≥ ``LOOSE_GROWTH``; return g where it was
    measured, else None. A propagation asked by name is the caller's choice: no warning."""
    if propagation != "auto" or not dense_max < num_params <= set_max or not getattr(traj, "events", None):
        return None
    g = growth_over_local(traj)
    if g >= LOOSE_GROWTH:
        warnings.warn(f"the error estimate {float(traj.error_estimate):.3g} is {g:.3g}x the sum of the steps' local "
                      f"errors: kinks' norms and the growth multiplied it (carried by windows above {dense_max} "
                      "parameters). The bound holds but may be far above the true error; propagation='set' (gfgd flow "
                      "--propagation set) carries it as a set, often 10-1000x tighter at ~10-60x the time "
                      "(docs/theory.md F, G2)", LooseEstimateWarning, stacklevel=3)
    return g
