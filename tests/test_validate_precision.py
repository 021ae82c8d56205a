"""validate(precision=..., flush_to_zero=..., timeout=...) and the degenerate explicit examples:
float32/bfloat16 arithmetic judged by its own rounding model on rounded inputs, flush-to-zero
clients (simulated in numpy), per-call timeouts, and the all-zero / rank-deficient instances
tried by every seed."""

import json
import threading
import time

import numpy as np
import pytest

from proofs_check import check_instance, float64_implementation, validate
from proofs_check.validation import KINDS
from proofs_check.validation.precision import PRECISIONS, round_to
from proofs_check.validation.references import REFERENCES
from proofs_check.validation.runner import round_instance
from proofs_check.validation.strategies import Instance, degenerate_instances

TINY = np.finfo(np.float64).tiny

# ------------------------------------------------------------------------------ rounding to a format


def test_round_to_float32_agrees_with_numpy_and_bfloat16_is_correctly_rounded():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20000) * 2.0 ** rng.integers(-160, 140, 20000)
    x = np.concatenate([x, [2.225e-309, 1e-45, 7e-46, 1.4e-45, 3.4028235e38, 3.5e38, 0.0, -0.0]])
    with np.errstate(over="ignore"):
        assert np.array_equal(round_to(x, PRECISIONS["float32"]), x.astype(np.float32).astype(np.float64))
    # bfloat16 by definition: 8 significant bits, float32's exponent range; check against the two
    # neighbours with exact rationals (torch's float64 -> bfloat16 cast double-rounds via float32)
    from fractions import Fraction

    b = round_to(x[np.abs(x) < 3e38], PRECISIONS["bfloat16"])
    for xi, bi in zip(x[np.abs(x) < 3e38][:3000], b[:3000]):
        m, e = np.frexp(bi)
        assert bi == 0 or np.ldexp(m, 8) == np.round(np.ldexp(m, 8)) or abs(bi) < 2.0**-126
        q = np.ldexp(1.0, max(int(np.frexp(xi)[1]) - 1, -126) - 7)
        assert abs(Fraction(xi) - Fraction(bi)) <= Fraction(q) / 2
    assert round_to(np.array([1e-40]), PRECISIONS["float32"], flush_to_zero=True)[0] == 0
    assert round_to(np.array([1e-40]), PRECISIONS["float32"])[0] != 0


def test_bad_precision_arguments_are_refused():
    g = float64_implementation("gradient")
    with pytest.raises(ValueError, match="precision"):
        validate("gradient", g, budget=2, precision="float16")
    with pytest.raises(TypeError, match="flush_to_zero"):
        validate("gradient", g, budget=2, flush_to_zero="yes")
    for bad in (0, -1, float("inf"), "10", True):
        with pytest.raises(ValueError, match="timeout"):
            validate("gradient", g, budget=2, timeout=bad)


# ---------------------------------------------------------------------- float32 / bfloat16 in numpy


def _gradient_in(dtype):
    """A correct gradient computed entirely in ``dtype`` (numpy backprop)."""
    def grad(weights, Phi):
        ws = [np.asarray(w, dtype=dtype) for w in weights]
        P = [np.eye(ws[0].shape[1], dtype=dtype)]
        for W in ws:
            P.append(W @ P[-1])
        delta = P[-1] - np.asarray(Phi, dtype=dtype)
        out = [None] * len(ws)
        for j in range(len(ws) - 1, -1, -1):
            out[j] = delta @ P[j].T
            delta = ws[j].T @ delta
        return out
    return grad


def test_float32_code_passes_at_float32_and_fails_at_float64():
    g32 = _gradient_in(np.float32)
    r = validate("gradient", g32, seed=0, precision="float32")
    assert r.passed, r.summary()
    assert r.precision == "float32" and "float32 (u = 2^-24)" in r.tolerance
    assert 1e-3 < r.worst_ratio <= 1  # the float32 model is not vacuous for float32 code
    r = validate("gradient", g32, seed=0)
    assert r.failure == "mismatch" and r.worst_ratio > 1e4
    assert "consistent with float32 arithmetic" in r.message and "precision='float32'" in r.message


def test_inputs_are_rounded_and_handed_over_in_float32():
    seen = []

    def spy(weights, Phi):
        seen.append((weights[0].dtype, Phi.dtype))
        return _gradient_in(np.float32)(weights, Phi)

    inst = Instance((1, 1), np.array([[0.1]]), [np.array([[1 / 3]])])
    o = check_instance("gradient", spy, inst, precision="float32")
    assert o.ok and seen == [(np.float32, np.float32)]
    # the reference is on the rounded inputs: float32(1/3) − float32(0.1), not 1/3 − 0.1
    r = round_instance(inst, PRECISIONS["float32"])
    assert r.weights[0][0, 0] == float(np.float32(1 / 3)) and r.Phi[0, 0] == float(np.float32(0.1))
    assert o.detail["expected"].startswith(repr(float(np.float32(1 / 3)) - float(np.float32(0.1)))[:10])
    # bfloat16 values travel in float32 arrays, exactly representable
    o = check_instance("gradient", spy, inst, precision="bfloat16")
    assert o.ok and seen[-1] == (np.float32, np.float32)


def test_float64_code_passes_at_lower_precisions_and_a_bug_still_fails():
    """Lower precision loosens the bound but never beyond what the format's rounding allows: a
    correct float64 implementation passes; at bfloat16 (u = 2^-8) the worst-case bound allows
    S·γ_K ≈ 6-27 % relative to g_abs, so a 2^-6 error passes there but fails at float32, and a
    missing ½ fails at bfloat16."""
    g = float64_implementation("gradient")
    assert validate("gradient", g, seed=0, precision="bfloat16").passed

    def off(factor):
        def impl(weights, Phi):
            out = g(weights, Phi)
            out[-1] = out[-1] * factor
            return out
        return impl

    assert validate("gradient", off(1 + 2.0**-6), seed=0, precision="float32").failure == "mismatch"
    assert validate("gradient", off(2.0), seed=0, precision="bfloat16").failure == "mismatch"


@pytest.mark.parametrize("kind", ["hessian", "lambda_min", "gd"])
def test_float32_versions_of_other_kinds(kind):
    f64 = float64_implementation(kind)

    def f32(*args):
        args = [[np.asarray(w, np.float32) for w in a] if isinstance(a, list) else
                (np.float32(a) if isinstance(a, float) else a) for a in args]
        if kind == "gd":
            ws, Phi, eta, steps = args
            Phi = np.asarray(Phi, np.float32)
            th, out = ws, [ws]
            for _ in range(steps):
                g = _gradient_in(np.float32)(th, Phi)
                th = [w - eta * gi for w, gi in zip(th, g)]
                out.append(th)
            return out
        H = np.asarray(float64_implementation("hessian")(*args), np.float32)  # not float32 arithmetic inside
        return H if kind == "hessian" else float(np.linalg.eigvalsh(H)[0])

    if kind == "gd":
        assert validate(kind, f32, seed=0, precision="float32").passed
        assert validate(kind, f32, seed=0).failure == "mismatch"
    else:
        assert validate(kind, f64, seed=0, precision="float32").passed
        assert validate(kind, f32, seed=0, precision="float32").passed


# ----------------------------------------------------------------------------------- flush to zero


def _flush(x):
    return np.where(np.abs(x) < TINY, 0.0, x)


def _mm(A, B):
    """A product in flush-to-zero arithmetic: inputs, every product and every partial sum flushed."""
    A, B = _flush(A), _flush(B)
    C = np.zeros((A.shape[0], B.shape[1]))
    for j in range(A.shape[1]):
        C = _flush(C + _flush(np.outer(A[:, j], B[j, :])))
    return C


def ftz_gradient(weights, Phi, transpose=True):
    """Backprop in simulated FTZ/DAZ arithmetic (what XLA on CPU does). ``transpose=False`` is a
    genuine bug (W_j instead of W_jᵀ on square layers)."""
    ws, Phi = [_flush(w) for w in weights], _flush(Phi)
    P = [np.eye(ws[0].shape[1])]
    for W in ws:
        P.append(_mm(W, P[-1]))
    delta = _flush(P[-1] - Phi)
    out = [None] * len(ws)
    for j in range(len(ws) - 1, -1, -1):
        out[j] = _mm(delta, P[j].T)
        W = ws[j]
        delta = _mm(W.T if transpose or W.shape[0] != W.shape[1] else W, delta)
    return out


def ftz_hvp(weights, Phi, v):
    """Forward-over-reverse HVP in simulated FTZ arithmetic."""
    ws, vs, Phi = [_flush(w) for w in weights], [_flush(x) for x in v], _flush(Phi)
    P, dP = [np.eye(ws[0].shape[1])], [np.zeros((ws[0].shape[1],) * 2)]
    for W, V in zip(ws, vs):
        dP.append(_flush(_mm(V, P[-1]) + _mm(W, dP[-1])))
        P.append(_mm(W, P[-1]))
    delta, dd = _flush(P[-1] - Phi), dP[-1]
    out = [None] * len(ws)
    for j in range(len(ws) - 1, -1, -1):
        out[j] = _flush(_mm(dd, P[j].T) + _mm(delta, dP[j].T))
        delta, dd = _mm(ws[j].T, delta), _flush(_mm(vs[j].T, delta) + _mm(ws[j].T, dd))
    return out


def test_flush_to_zero_client_on_the_jax_instance():
    """JAX's case: v = 2.225e-309 (subnormal), H = 1, expected Hv = v, an FTZ client returns 0.
    The float64 model alone puts the tolerance at ~3.5e-322 (6.4e12× too small); a subnormal-vs-zero
    difference below the smallest normal is accepted by default, and with flush_to_zero=True."""
    inst = Instance((1, 1), np.array([[0.0]]), [np.array([[1.0]])], v=[np.array([[2.225e-309]])])
    model_only = REFERENCES["hvp"](inst, "linear", {}).tol[0]
    assert 2.225e-309 / model_only > 1e12
    for ftz in (False, True):
        o = check_instance("hvp", ftz_hvp, inst, flush_to_zero=ftz)
        assert o.ok and o.detail["got"] == "0.0", o.detail


def test_flush_to_zero_needs_the_flag_when_a_flushed_intermediate_is_amplified():
    """v_1 subnormal times w_2² = 2^40 gives a normal Hv entry (2.4e-297); an FTZ client returns 0.
    That is not a subnormal-vs-zero difference: it fails by default and passes with
    flush_to_zero=True, whose bound (each operation may err by the smallest normal, propagated)
    covers it."""
    inst = Instance((1, 1, 1), np.array([[0.0]]), [np.array([[0.0]]), np.array([[2.0**20]])],
                    v=[np.array([[2.225e-309]]), np.array([[0.0]])])
    assert not check_instance("hvp", ftz_hvp, inst).ok
    o = check_instance("hvp", ftz_hvp, inst, flush_to_zero=True)
    assert o.ok and o.ratio > 1e-6  # the FTZ term is what accepts it, and not by a vast margin
    assert check_instance("hvp", float64_implementation("hvp"), inst, flush_to_zero=True).ok


@pytest.mark.parametrize("kind,impl", [("gradient", ftz_gradient), ("hvp", ftz_hvp)])
def test_flush_to_zero_clients_pass_with_the_flag(kind, impl):
    r = validate(kind, impl, seed=1, budget=60, flush_to_zero=True)
    assert r.passed and r.flush_to_zero, r.summary()
    assert "flush-to-zero allowed" in r.tolerance


def test_a_wrong_flush_to_zero_client_still_fails():
    r = validate("gradient", lambda w, P: ftz_gradient(w, P, transpose=False), seed=0, flush_to_zero=True,
                 shrink_limit=50)
    assert r.failure == "mismatch" and r.worst_ratio > 1e6


# -------------------------------------------------------------------------------------- timeouts


def test_a_call_that_never_returns_is_a_timeout_failure_not_a_hang():
    release = threading.Event()

    def hangs(weights, Phi):
        release.wait()  # "forever" (released at the end so that the test leaves no thread behind)
        return float64_implementation("gradient")(weights, Phi)

    t0 = time.perf_counter()
    try:
        r = validate("gradient", hangs, budget=50, timeout=0.3)
    finally:
        release.set()
    assert time.perf_counter() - t0 < 10
    assert r.verdict == "fail" and r.failure == "timeout" and r.timeout == 0.3
    assert "did not return within the timeout of 0.3 s" in r.message and "daemon thread" in r.message
    assert r.instances == 1 and r.shrink_evaluations == 0  # the run stopped at the first timeout
    assert r.counterexample["failure"] == "timeout"
    json.dumps(r.to_json())


def test_timeout_keeps_results_exceptions_and_none_disables_it():
    g = float64_implementation("gradient")
    assert validate("gradient", g, budget=5, timeout=30).passed
    assert validate("gradient", g, budget=5, timeout=None).passed
    r = validate("gradient", lambda w, P: 1 / 0, budget=5, timeout=30)
    assert r.failure == "raised" and "ZeroDivisionError" in r.message


# ------------------------------------------------------------- degenerate instances for every seed


@pytest.mark.parametrize("kind", KINDS)
def test_degenerate_instances_are_tried_by_every_seed_and_gfgd_passes_them(kind):
    cases = degenerate_instances(kind)
    assert any(all(not w.any() for w in c.weights) and not c.Phi.any() for c in cases)  # all zero
    for c in cases:
        o = check_instance(kind, float64_implementation(kind), c)
        assert o is not None and o.ok, (c, o and o.message)
    seen = []

    def spy(*args):
        seen.append(json.dumps([np.asarray(w).tolist() for w in args[0]] + [np.asarray(args[1]).tolist()]))
        return float64_implementation(kind)(*args)

    r = validate(kind, spy, budget=1, seed=0)
    assert r.passed, r.summary()
    for c in cases:
        assert json.dumps([w.tolist() for w in c.weights] + [c.Phi.tolist()]) in seen


def test_eigsh_on_the_zero_hessian_is_caught_at_seed_0():
    """scipy's eigsh with a start vector built from the Hessian (here: H·1) fails on the zero
    Hessian ("starting vector is zero"); the all-zero explicit example finds it at any seed."""
    import scipy.sparse.linalg as sla

    def lanczos(weights, Phi):
        H = float64_implementation("hessian")(weights, Phi)
        P = H.shape[0]
        if P < 3:
            return float(np.linalg.eigvalsh(H)[0])
        return float(sla.eigsh(H, k=1, which="SA", v0=H @ np.ones(P))[0][0])

    for seed in (0, 1):
        r = validate("lambda_min", lanczos, budget=5, seed=seed)
        assert r.failure == "raised" and "zero" in r.message, r.summary()
