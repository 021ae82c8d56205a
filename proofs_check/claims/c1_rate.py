"""C1's convergence-rate part (docs/theory.md#c1, part (iii)): the time for each 10× drop of the
part of w across Φ, against ln 10/p^{2−2/N}.

Why the rate is exact, and how fast the correction dies. Balanced, scalar output: ẇ = −r^{2−2/N}(∇φ
+ (N−1)⟨∇φ, ŵ⟩ŵ) (B5), ∇φ = w − Φ, r = ‖w‖, ψ the angle to Φ. Across Φ, with w_⊥ = w − ⟨w, Φ̂⟩Φ̂
and ŵ_⊥ = w_⊥/r:

    d ln‖w_⊥‖/dt = −r^{2−2/N}·(1 + (N−1)(r − p cos ψ)/r) = −p^{2−2/N}·(1 + c_r (r − p) + c_ψ ψ² + …).

At the minimum (r = p, ψ = 0) the rate is p^{2−2/N}, so in the linear regime each 10× drop of
‖w_⊥‖ takes d_∞ = ln 10/p^{2−2/N} = T_conv(10⁻²) exactly. The corrections decay: r − p along Φ at
rate N·p^{2−2/N} (B5 linearised at w = Φ), ψ² ≈ (‖w_⊥‖/p)² at 2p^{2−2/N}. One drop lasts
ln 10/p^{2−2/N}, so from one drop to the next the correction shrinks by 10^{−min(N, 2)} = 1/100
(for every N ≥ 2): d_j = d_∞ + C·100^{−j} + (faster terms). With two consecutive windows d_a, d_b,
d_b's remaining error is |d_b − d_∞| = |d_a − d_b|/99, doubled for the faster terms and their signs.

The old check's "+0.047% excess" (an N = 2, widths (2, 1, 1), anti-aligned instance) was (1) this
model with 1/10 in place of 1/100, and, decisively, (2) its first window was not a window: the levels
were √(2ε)·10^{−2..−4} and when w(T_ε) is already nearly aligned with Φ (‖w_⊥(T_ε)‖ below the first
level; anti-aligned inits escape mostly in the plane of w(0) and Φ with a small across part) the
first "crossing" fired at T_ε itself, so d₂ was a fragment and |d₃ − d₂| said nothing about d₃'s
error. Here the windows start at the first level that ‖w_⊥‖ crosses strictly after T_ε.
"""

from __future__ import annotations

import math

ACROSS_LEVELS = (2, 3, 4, 5, 6)  # ‖w_⊥‖ levels √(2ε)·10^{−k}
SHRINK = 1e-2  # the correction's factor per 10× drop (module docstring)


def across_horizon(N: int, p: float) -> float:
    """Time after T_ε within which the deepest level is reached: the 10^{6} drop of ‖w_⊥‖ takes
    6 ln 10/p^{2−2/N} in the linear regime; 1.5× for the nonlinear start."""
    return 1.5 * 6 * math.log(10) / p ** (2 - 2 / N)


def rate_parts(times: list, errs: list, levels: list, w_perp_T: float, N: int, p: float,
               factor: float = 1.0) -> tuple[list, dict]:
    """C1's rate parts from the crossing times of ``levels`` (decreasing) by ‖w_⊥‖ after T_ε.

    Returns (parts, details): parts are (name, lhs, rhs, err) for the two sides of
    d_b = ``factor``·ln 10/p^{2−2/N} ("rate upper": d_b ≤ t_conv, "rate lower": t_conv ≤ d_b), empty
    when fewer than three levels are crossed strictly after T_ε (reported, not decided)."""
    first = next((i for i, lev in enumerate(levels) if w_perp_T > lev * (1 + 1e-9)), None)
    t_conv = factor * math.log(10) / p ** (2 - 2 / N)
    details = {"w_perp_at_T_eps": w_perp_T, "T_conv_100": t_conv / factor}
    if first is None or first + 2 >= len(levels) or any(times[i] is None for i in range(first, first + 3)):
        details["rate_measured"] = False
        return [], details
    t0, t1, t2 = times[first:first + 3]
    d_a, d_b = t1 - t0, t2 - t1
    err = 2 * abs(d_a - d_b) * SHRINK / (1 - SHRINK) + sum(errs[first:first + 3])
    details.update(rate_measured=True, rate_window_levels=[levels[first + 1], levels[first + 2]],
                   across_drop_times=[d_a, d_b], convergence_ratio=d_b / t_conv, convergence_err=err)
    return [("rate upper", d_b, t_conv, err), ("rate lower", t_conv, d_b, err)], details
