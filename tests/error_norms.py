"""The true error of a float-tier run in the norm its estimate bounds.

The float Taylor tier's ``error_estimate`` bounds the Euclidean norm of the error of the whole parameter vector
(docs/theory.md F), so a test of its honesty compares it with ‖θ̂(t) − θ(t)‖₂, not with the largest entry's error:
the max norm is up to √P smaller, and an estimate between the two would pass a max-norm check while below the
error it claims to bound. Tightness (estimate ≤ 1000 × true) is read in the same norm. (The arb tier's estimate
is a max-norm bound: its tests keep the max norm.)"""

import mpmath
import numpy as np


def error2(xs, ys, dps: int = 40) -> float:
    """‖x − y‖₂ over two flat sequences of entries (floats taken exactly, mp values as they are), at ``dps``
    digits; returned as a float rounded up (the float tests compare it with float bounds)."""
    with mpmath.workdps(dps):
        s = mpmath.fsum((mpmath.mpf(x) - mpmath.mpf(y)) ** 2 for x, y in zip(xs, ys))
        return float(mpmath.sqrt(s)) * (1 + 2.0**-50)


def diff2(a, b, dps: int = 40) -> float:
    """:func:`error2` over two lists of blocks (arrays of floats or of mp values)."""
    return error2((x for A in a for x in np.asarray(A).flat), (y for B in b for y in np.asarray(B).flat), dps)
