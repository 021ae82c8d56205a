"""mp GD on arb's C kernels (backends.AMat) against the generic formula on mpf object arrays.

Tolerance: the float test's derivation (tests/test_float_gd.py) with the unit roundoff of the mp
precision, u = 2^−prec: per step both paths are within u·(|θ| + η|g|) + γ_M·η·G_abs of the exact
step; over K steps the gap grows at most by (1 + η·max‖∇²f‖₂) per step.
"""

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.backends import BACKENDS
from numerics.gradients import evaluate
from test_float_gd import KINDS, _abs_objective, _objective


def _generic_mp(obj, theta, eta, K):
    b = BACKENDS["mp"]
    Ws, out = list(theta), [list(theta)]
    e = mpmath.mpf(eta)
    for _ in range(K):
        _, g = evaluate(obj, Ws, b, want_value=False)
        Ws = [w - gi * e for w, gi in zip(Ws, g)]
        out.append(Ws)
    return out


def _flat(t):
    return np.concatenate([np.asarray(w, dtype=float).ravel() for w in t])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dps", [30, 60])
def test_mp_gd_equals_generic_mp_formula(kind, dps):
    obj, th = _objective(kind, 5)
    eta, K = 0.05, 12
    with mpmath.workdps(dps):
        u = 2.0 ** -mpmath.mp.prec
        thm = [theory.to_kind(w, "mp") for w in th]
        fast = numerics.gradient_descent(obj, thm, eta, K)
        generic = _generic_mp(obj, thm, eta, K)
        assert isinstance(fast.losses[-1], mpmath.mpf) and fast.thetas[-1][0].dtype == object
        gaps = [float(mpmath.sqrt(sum(mpmath.fsum((x - y) ** 2 for x, y in zip(a.flat, b.flat))
                                      for a, b in zip(fast.thetas[k], generic[k])))) for k in range(K + 1)]
        values = [float(abs(fast.losses[k] - numerics.value(obj, generic[k]))) for k in range(K + 1)]
    gen_f = [[np.asarray(w, dtype=float) for w in t] for t in generic]
    L = max(np.linalg.norm(numerics.hessian(obj, t), 2) for t in gen_f)
    n = 1 if obj.loss.inputs is None and obj.widths[-1] < obj.widths[0] else obj.loss.target.shape[1]
    M = sum(obj.widths) + n + obj.depth + 4
    gam = M * u / (1 - M * u)
    e = 0.0
    for k in range(K + 1):
        assert gaps[k] <= e * 1.01 + 1e-300
        g_abs = numerics.gradient(_abs_objective(obj), [np.abs(w) for w in gen_f[k]])
        g = numerics.gradient(obj, gen_f[k])
        f_abs = float(numerics.value(_abs_objective(obj), [np.abs(w) for w in gen_f[k]]))
        assert values[k] <= float(np.linalg.norm(_flat(g))) * gaps[k] * 1.01 + 2 * gam * f_abs * 1.01
        if k < K:
            b = np.linalg.norm(np.concatenate([(u * (np.abs(w) + eta * np.abs(gi)) + gam * eta * ga).ravel()
                                               for w, gi, ga in zip(gen_f[k], g, g_abs)]))
            e = (1 + eta * L) * e + 2 * b * 1.01  # 1.01: the float64 evaluation of the bound itself


def test_mp_gd_keeps_callers_precision_and_flint_precision():
    import flint

    obj, th = _objective("whitened-scalar", 1)
    old = flint.ctx.prec
    with mpmath.workdps(25):
        thm = [theory.to_kind(w, "mp") for w in th]
        r = numerics.gradient_descent(obj, thm, 0.1, 3, dps=40, keep=2)
        assert mpmath.mp.dps == 25
    assert flint.ctx.prec == old and r.kept == [0, 2, 3]


def test_mp_gd_reports_divergence():
    obj, th = _objective("whitened-scalar", 1)
    with mpmath.workdps(30):
        r = numerics.gradient_descent(obj, [theory.to_kind(5 * w, "mp") for w in th], 10.0, 100)
    assert r.diverged and "gd diverged at step" in r.message
    assert all(mpmath.isfinite(x) for x in r.losses)
