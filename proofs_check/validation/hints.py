"""Hints for a mismatch on the minimal instance: the common mistakes, recognised by recomputing
the reference under each mistaken convention."""

from __future__ import annotations

from typing import Callable

import mpmath
import numpy as np

import numerics
import theory

from .strategies import Instance
from .tolerance import MP_DPS
from .compare import _compare
from .references import _Ref, _mp, _run_method
from .report import Outcome

# --------------------------------------------------------------------------------- diagnosis hints
def _diagnose(kind: str, impl: Callable, inst: Instance, model: str, o: Outcome) -> list[str]:
    """Hints for a mismatch on the minimal instance: shifted iterates, wrong sign, asymmetry, the
    EMA momentum convention."""
    hints: list[str] = []
    ref: _Ref | None = getattr(o, "_ref", None)
    got = getattr(o, "_got", None)
    if ref is None or got is None:
        return hints
    P = inst.num_params
    if kind == "hessian":
        G = got.reshape(P, P)
        asym = np.abs(G - G.T)
        tolm = ref.extra["tol_matrix"]
        if np.any(asym > tolm + tolm.T):
            i, k = np.unravel_index(int(np.argmax(asym - (tolm + tolm.T))), asym.shape)
            hints.append(f"the returned Hessian is not symmetric: |H[{i},{k}] − H[{k},{i}]| = {asym[i, k]:.3g} "
                         "(the exact Hessian is symmetric; did you fill only one triangle or forget to symmetrise?)")
    if kind in ("gd", "heavy_ball", "nesterov"):
        steps = int(inst.steps)
        xs = ref.extra["xs"]
        nxt = ref.extra["next"]
        with mpmath.workdps(MP_DPS):
            # shifted by one: got[k] ≈ ref[k+1]
            if nxt is not None:
                shifted = np.concatenate(xs[1: steps + 2])
                c = _compare(got, shifted, np.concatenate([ref.tol[P:], 2 * ref.tol[-P:]]) * 4 + 1e-300, ref.label)
                if c.ratio <= 1:
                    hints.append("the iterates are shifted by one: entry k matches θ_{k+1} (return θ_0 = weights "
                                 "first, then θ_1..θ_steps)")
            obj = inst.objective(model)
            alts: list[tuple[str, Callable[[], list]]] = []
            if kind == "gd":
                alts.append(("a step with the wrong sign (θ + η∇f, gradient ascent)",
                             lambda: _ascent(obj, inst, steps)))
            if kind == "heavy_ball" and inst.beta:
                eta_ema = mpmath.mpf(inst.eta) * (1 - mpmath.mpf(inst.beta))
                alts.append(("the EMA convention v ← βv + (1−β)∇f, θ ← θ − ηv (= heavy ball with η(1−β); "
                             "THEORY's heavy ball is v ← βv + ∇f, θ ← θ − ηv, which is torch.optim.SGD(momentum=β))",
                             lambda: _run_method(kind, obj, inst, steps, eta=eta_ema).thetas))
            for text, make in alts:
                try:
                    thetas = make()
                except Exception:  # noqa: BLE001 - a hint is optional
                    continue
                if len(thetas) == steps + 1:
                    alt = np.concatenate([np.concatenate([np.asarray(w).reshape(-1) for w in th]) for th in thetas])
                    if _compare(got, alt, ref.tol * 4 + 1e-300, ref.label).ratio <= 1:
                        hints.append(f"the iterates match {text}")
    return hints


def _ascent(obj: theory.Objective, inst: Instance, steps: int) -> list:
    """θ_{k+1} = θ_k + η∇f(θ_k) at MP_DPS digits (the wrong-sign GD, for the hint)."""
    th, eta, out = _mp(inst.weights), mpmath.mpf(inst.eta), []
    out.append(th)
    for _ in range(steps):
        th = [w + g * eta for w, g in zip(th, numerics.gradient(obj, th))]
        out.append(th)
    return out
