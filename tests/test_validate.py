"""proofs_check.validate: correct float64 implementations pass, buggy ones fail with a minimal
counterexample, the tolerance model holds both ways on ill-conditioned instances, and unusable
outputs (exceptions, shapes, types, NaN) are reported as such. Also the ``gfgd validate`` CLI."""

import json
import sys
import textwrap

import numpy as np
import pytest

import numerics
import theory
from proofs_check import check_instance, float64_implementation, validate
from proofs_check.cli import main
from proofs_check.validation import KINDS
from proofs_check.validation.strategies import Instance

# ------------------------------------------------------------------ hand-written implementations


def _prefixes(weights):
    """P_0 = I, P_j = W_j ⋯ W_1."""
    P = [np.eye(weights[0].shape[1])]
    for W in weights:
        P.append(W @ P[-1])
    return P


def backprop_gradient(weights, Phi, transpose=True):
    """Plain numpy backprop (a different evaluation order from numerics'). ``transpose=False`` is the
    classic bug: W_j instead of W_jᵀ in the backward pass (visible on square layers)."""
    P = _prefixes(weights)
    delta = P[-1] - Phi
    grads = [None] * len(weights)
    for j in range(len(weights) - 1, -1, -1):
        grads[j] = delta @ P[j].T
        if j > 0:
            W = weights[j]
            delta = (W.T if transpose or W.shape[0] != W.shape[1] else W) @ delta
    return grads


def expanded_gradient(weights, Phi):
    """∇_{W_j} f = SᵀS P Pᵀ − SᵀΦPᵀ (S = W_N⋯W_{j+1}, P = W_{j−1}⋯W_1): algebraically exact, a
    different rounding pattern; correct float64 code the model must accept."""
    N = len(weights)
    P = _prefixes(weights)
    out = []
    for j in range(N):
        S = np.eye(weights[j].shape[0])
        for W in weights[j + 1:]:
            S = W @ S
        out.append(S.T @ S @ weights[j] @ P[j] @ P[j].T - S.T @ Phi @ P[j].T)
    return out


def _gd_loop(weights, Phi, eta, steps, sign=-1.0, shift=False):
    th = [w.copy() for w in weights]
    out = [] if shift else [[w.copy() for w in th]]
    for _ in range(steps + (1 if shift else 0)):
        g = backprop_gradient(th, Phi)
        th = [w + sign * eta * gi for w, gi in zip(th, g)]
        out.append([w.copy() for w in th])
    return out


def gd_wrong_sign(weights, Phi, eta, steps):
    return _gd_loop(weights, Phi, eta, steps, sign=+1.0)


def gd_off_by_one(weights, Phi, eta, steps):
    """Appends after updating: returns θ_1..θ_{steps+1} (the right length, shifted by one)."""
    return _gd_loop(weights, Phi, eta, steps, shift=True)


def heavy_ball_ema(weights, Phi, eta, beta, steps):
    """Momentum as an exponential moving average: v ← βv + (1−β)g, θ ← θ − ηv (the wrong convention)."""
    th = [w.copy() for w in weights]
    v = [np.zeros_like(w) for w in weights]
    out = [[w.copy() for w in th]]
    for _ in range(steps):
        g = backprop_gradient(th, Phi)
        v = [beta * vi + (1 - beta) * gi for vi, gi in zip(v, g)]
        th = [w - eta * vi for w, vi in zip(th, v)]
        out.append([w.copy() for w in th])
    return out


def gf_euler(weights, Phi, times, h=1 / 32):
    """Explicit Euler with a large step: first-order error O(h)."""
    th, t, out = [w.copy() for w in weights], 0.0, []
    for T in times:
        while t < T:
            dt = min(h, T - t)
            th = [w - dt * g for w, g in zip(th, backprop_gradient(th, Phi))]
            t += dt
        out.append([w.copy() for w in th])
    return out


def hessian_one_triangle(weights, Phi):
    """Fills the upper triangle and adds it again instead of its transpose (not symmetrised)."""
    H = float64_implementation("hessian")(weights, Phi)
    return np.triu(H) + np.triu(H, 1)


# ------------------------------------------------------------------------------- correct passes


@pytest.mark.parametrize("kind", KINDS)
def test_gfgd_float64_path_passes(kind):
    r = validate(kind, float64_implementation(kind), seed=0)
    assert r.passed, r.summary()
    assert r.verdict == "pass" and r.failure is None and r.counterexample is None
    assert r.instances >= 20 and r.worst_ratio <= 1
    json.dumps(r.to_json())  # JSON-safe
    if kind == "gf":
        assert r.rtol == 1e-8 and r.worst_relative_error <= 1e-8
        assert "Achieved accuracy" in r.message and "achieved" in r.summary()


def test_other_correct_evaluation_orders_pass_on_ill_conditioned_families():
    """Correct float64 code with other rounding patterns passes on the hard families, although its
    relative error there is O(1) (near the optimum the gradient is pure rounding noise): a
    relative tolerance would have failed it."""
    hard = ("scaled", "near_optimum", "near_singular")
    for impl in (backprop_gradient, expanded_gradient):
        r = validate("gradient", impl, budget=80, seed=3, families=hard)
        assert r.passed, r.summary()
        assert r.worst_relative_error > 1e-3  # genuinely ill-conditioned instances were drawn


@pytest.mark.parametrize("kind", ["lambda_min", "hessian", "gd", "heavy_ball"])
def test_float64_passes_on_each_hard_family(kind):
    for fam in ("scaled", "near_optimum", "near_singular"):
        r = validate(kind, float64_implementation(kind), budget=15, seed=1, families=(fam,))
        assert r.passed, (fam, r.summary())


# ------------------------------------------------------------------ real bugs on hard instances


def test_tolerance_catches_a_small_bug_in_a_small_layer():
    """On power-of-two scaled instances the layers' gradients differ by many orders of magnitude.
    A 1e-7 relative error in one layer only is a real bug; the entrywise model catches it where a
    tolerance relative to the largest entry would not."""

    def one_layer_off(weights, Phi):
        g = backprop_gradient(weights, Phi)
        g[0] = g[0] * (1 + 1e-7)
        return g

    r = validate("gradient", one_layer_off, budget=40, seed=0, families=("scaled",))
    assert not r.passed and r.failure == "mismatch"
    assert r.counterexample["detail"]["where"].startswith("W_1")


def test_tolerance_catches_float32_lambda_min_on_near_singular_instances():
    """A λ_min computed in float32 (a precision bug) fails; the float64 one passes (above)."""

    def lambda_min_f32(weights, Phi):
        H = float64_implementation("hessian")(weights, Phi).astype(np.float32)
        return float(np.linalg.eigvalsh(H)[0])

    r = validate("lambda_min", lambda_min_f32, budget=40, seed=0, families=("near_singular",))
    assert not r.passed and r.failure == "mismatch"


def test_tolerance_catches_a_step_size_rounded_to_float32_on_scaled_instances():
    def gd_eta32(weights, Phi, eta, steps):
        return float64_implementation("gd")(weights, Phi, float(np.float32(eta)), steps)

    r = validate("gd", gd_eta32, budget=40, seed=0, families=("scaled",))
    assert not r.passed and r.failure == "mismatch"


# ------------------------------------------------------------------ bugs with minimal examples


def _replays(kind, bug, good, report, **kw):
    """The counterexample replays from its JSON: the bug fails there, the correct code passes."""
    cex = json.loads(json.dumps(report.counterexample))
    assert not check_instance(kind, bug, cex, **kw).ok
    assert check_instance(kind, good, cex, **kw).ok
    return Instance.from_json(cex["instance"])


def test_gradient_missing_a_transpose_fails_minimally():
    r = validate("gradient", lambda w, P: backprop_gradient(w, P, transpose=False), seed=0)
    assert r.verdict == "fail" and r.failure == "mismatch"
    inst = _replays("gradient", lambda w, P: backprop_gradient(w, P, transpose=False), backprop_gradient, r)
    # the bug needs a square layer W_j (j ≥ 2) of size ≥ 2; the shrunk instance is small
    assert any(w.shape[0] == w.shape[1] >= 2 for w in inst.weights[1:])
    assert inst.num_params <= 12 and len(inst.widths) <= 4


def test_gd_with_the_wrong_sign_fails_minimally():
    r = validate("gd", gd_wrong_sign, seed=0)
    assert r.failure == "mismatch"
    inst = _replays("gd", gd_wrong_sign, float64_implementation("gd"), r)
    assert inst.widths == (1, 1) and inst.steps == 1
    assert "wrong sign" in r.message


def test_gd_off_by_one_iterate_fails_minimally():
    r = validate("gd", gd_off_by_one, seed=0)
    assert r.failure == "mismatch"
    inst = _replays("gd", gd_off_by_one, float64_implementation("gd"), r)
    assert inst.widths == (1, 1) and inst.steps == 1
    assert "iterate 0" in r.counterexample["detail"]["where"] and "shifted by one" in r.message


def test_momentum_with_the_wrong_convention_fails_minimally():
    r = validate("heavy_ball", heavy_ball_ema, seed=0)
    assert r.failure == "mismatch"
    inst = _replays("heavy_ball", heavy_ball_ema, float64_implementation("heavy_ball"), r)
    assert inst.widths == (1, 1) and inst.steps == 1 and 0 < inst.beta < 1
    assert "EMA convention" in r.message


def test_gf_solver_with_first_order_error_fails():
    r = validate("gf", gf_euler, seed=0)
    assert r.failure == "mismatch" and r.rtol == 1e-8
    assert r.worst_relative_error > 1e-6  # the accuracy achieved is reported
    inst = _replays("gf", gf_euler, float64_implementation("gf"), r)
    assert inst.num_params <= 12
    # the same Euler solver meets a loose enough accuracy request
    assert validate("gf", gf_euler, budget=5, seed=0, rtol=0.5).passed


def test_hessian_not_symmetrised_fails_minimally():
    r = validate("hessian", hessian_one_triangle, seed=0)
    assert r.failure == "mismatch"
    inst = _replays("hessian", hessian_one_triangle, float64_implementation("hessian"), r)
    assert inst.num_params == 2
    assert "not symmetric" in r.message


def test_relu_model_passes_correct_code_and_catches_a_missing_mask():
    for kind in ("gradient", "hessian", "gd"):
        r = validate(kind, float64_implementation(kind, model="relu"), model="relu", seed=0)
        assert r.passed, r.summary()
    # the linear-net gradient ignores the ReLU masks: wrong for a ReLU net
    r = validate("gradient", float64_implementation("gradient"), model="relu", seed=0)
    assert r.failure == "mismatch" and len(r.counterexample["instance"]["widths"]) >= 3


# ------------------------------------------------------------- unusable outputs, reported clearly

GOOD = float64_implementation("gradient")


@pytest.mark.parametrize("impl,failure,text", [
    (lambda w, P: 1 / 0, "raised", "ZeroDivisionError"),
    (lambda w, P: [g * np.nan for g in GOOD(w, P)], "non_finite", "non-finite"),
    (lambda w, P: np.concatenate([g.ravel() for g in GOOD(w, P)]), "wrong_shape", "flat vector"),
    (lambda w, P: [g.T for g in GOOD(w, P)], "wrong_shape", "transposed?"),
    (lambda w, P: GOOD(w, P)[:-1] if len(w) > 1 else [], "wrong_shape", "arrays"),
    (lambda w, P: None, "wrong_type", "must be a list"),
    (lambda w, P: ["x" for _ in w], "wrong_type", "dtype"),
])
def test_unusable_gradient_outputs_are_reported(impl, failure, text):
    r = validate("gradient", impl, budget=10, seed=0)
    assert r.verdict == "fail" and r.failure == failure, r.summary()
    assert text in r.message and "FAILED" in r.summary()
    assert r.counterexample["failure"] == failure


def test_unusable_outputs_of_other_kinds():
    lm = float64_implementation("lambda_min")
    r = validate("lambda_min", lambda w, P: np.array([lm(w, P)]), budget=5)
    assert r.failure == "wrong_shape" and "scalar" in r.message
    r = validate("lambda_min", lambda w, P: float("nan"), budget=5)
    assert r.failure == "non_finite"
    gd = float64_implementation("gd")
    r = validate("gd", lambda w, P, e, s: gd(w, P, e, s)[1:], budget=5)
    assert r.failure == "wrong_shape" and "θ_0 = weights must come first" in r.message
    H = float64_implementation("hessian")
    r = validate("hessian", lambda w, P: H(w, P)[:, :-1], budget=5)
    assert r.failure == "wrong_shape"
    r = validate("hvp", lambda w, P, v: (_ for _ in ()).throw(RuntimeError("boom")), budget=5)
    assert r.failure == "raised" and "RuntimeError: boom" in r.message


def test_nondeterministic_implementation_is_reported():
    calls = {"n": 0}

    def flaky(weights, Phi):
        calls["n"] += 1
        g = GOOD(weights, Phi)
        if calls["n"] == 5:
            g[0] = g[0] + 1.0
        return g

    r = validate("gradient", flaky, budget=20, seed=0)
    assert r.verdict == "fail" and r.failure == "nondeterministic"
    assert "did not reproduce" in r.message


def test_in_place_modification_is_noted_not_failed():
    def gd_in_place(weights, Phi, eta, steps):
        out = [[w.copy() for w in weights]]
        for _ in range(steps):
            g = backprop_gradient(weights, Phi)
            for w, gi in zip(weights, g):
                w -= eta * gi
            out.append([w.copy() for w in weights])
        return out

    r = validate("gd", gd_in_place, budget=10)
    assert r.passed and any("in place" in n for n in r.notes)


# -------------------------------------------------------------------------- API and determinism


def test_same_seed_same_counterexample_and_different_seed_different_draw():
    a = validate("gd", gd_wrong_sign, seed=4).to_json()
    b = validate("gd", gd_wrong_sign, seed=4).to_json()
    assert a["counterexample"] == b["counterexample"]
    p = validate("gradient", GOOD, budget=10, seed=1)
    q = validate("gradient", GOOD, budget=10, seed=1)
    s = validate("gradient", GOOD, budget=10, seed=2)
    assert p.worst_instance == q.worst_instance and p.worst_ratio == q.worst_ratio
    assert s.worst_instance != p.worst_instance


def test_instance_json_round_trips_exactly():
    r = validate("hvp", lambda w, P, v: 1 / 0, budget=3, seed=0)
    inst = Instance.from_json(json.loads(json.dumps(r.counterexample["instance"])))
    assert inst.to_json() == r.counterexample["instance"]


@pytest.mark.parametrize("kw,err", [
    (dict(kind="gradient_descent"), ValueError),
    (dict(impl=3), TypeError),
    (dict(rtol=1e-3), ValueError),
    (dict(kind="gf", model="relu"), ValueError),
    (dict(kind="gf", rtol=0.0), ValueError),
    (dict(budget=0), ValueError),
    (dict(slack=-1), ValueError),
    (dict(model="tanh"), ValueError),
    (dict(families=("easy",)), ValueError),
])
def test_bad_arguments_are_refused(kw, err):
    args = dict(kind="gradient", impl=GOOD)
    args.update(kw)
    with pytest.raises(err):
        validate(args.pop("kind"), args.pop("impl"), budget=args.pop("budget", 2), **args)


def test_fixed_widths_and_lambda_min_rtol():
    r = validate("gradient", GOOD, budget=5, widths=(3, 4, 2))
    assert r.passed and json.loads(json.dumps(r.worst_instance))["widths"] == [3, 4, 2]

    def lanczos_like(weights, Phi):  # a λ_min accurate to 1e-9·‖H‖ only
        H = float64_implementation("hessian")(weights, Phi)
        return float(np.linalg.eigvalsh(H)[0]) + 1e-9 * float(np.linalg.norm(H, 2))

    assert not validate("lambda_min", lanczos_like, budget=20, seed=0).passed
    assert validate("lambda_min", lanczos_like, budget=20, seed=0, rtol=1e-8).passed


def test_tolerance_formula_matches_a_direct_computation():
    """The gradient tolerance on one instance is 2·γ_K·g_abs (+ an underflow term)."""
    from proofs_check.validation.references import REFERENCES
    from proofs_check.validation.tolerance import chain_length, gamma

    Phi = np.array([[0.5, -1.0]])
    inst = Instance((2, 3, 1), Phi, [np.arange(6.0).reshape(3, 2) / 7, np.array([[1.0, -2.0, 0.25]])])
    ref = REFERENCES["gradient"](inst, "linear", {})
    lin_abs = theory.Objective(theory.DeepLinear((2, 3, 1)), theory.WhitenedSquare(-np.abs(Phi)))
    g_abs = np.concatenate([g.ravel() for g in numerics.gradient(lin_abs, [np.abs(w) for w in inst.weights])])
    K = chain_length((2, 3, 1))
    assert K == 2 * 6 + 2 + 3
    assert np.allclose(ref.tol, 2 * gamma(K) * g_abs * (1 + 4 * 2.0**-53), rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------------------------------- CLI

CORRECT = """
import numpy as np

def gradient(weights, Phi):
    P = [np.eye(weights[0].shape[1])]
    for W in weights:
        P.append(W @ P[-1])
    delta = P[-1] - Phi
    out = [None] * len(weights)
    for j in range(len(weights) - 1, -1, -1):
        out[j] = delta @ P[j].T
        delta = weights[j].T @ delta
    return out

def wrong(weights, Phi):
    return [2 * g for g in gradient(weights, Phi)]

not_callable = 3
"""


@pytest.fixture
def clean_imports(monkeypatch):
    """TARGET loading adds folders to sys.path and modules to sys.modules: undo it after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name in ("mygrad", "fac") or name.startswith("_gfgd_target_"):
            del sys.modules[name]


def test_cli_validate_file_and_module_targets(tmp_path, monkeypatch, capsys, clean_imports):
    (tmp_path / "mygrad.py").write_text(textwrap.dedent(CORRECT))
    assert main(["validate", "gradient", f"{tmp_path / 'mygrad.py'}:gradient", "--budget", "5"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "worst error/tolerance" in out
    monkeypatch.chdir(tmp_path)  # module:function importable from the current directory
    report = tmp_path / "r.json"
    assert main(["validate", "gradient", "mygrad:wrong", "--budget", "5", "--json", str(report)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "minimal failing instance" in out
    rec = json.loads(report.read_text())
    assert rec["version"] == 1 and rec["verdict"] == "fail" and rec["counterexample"]["instance"]["widths"]


@pytest.mark.parametrize("argv", [
    ["validate", "nosuchkind", "mygrad:gradient"],
    ["validate", "gradient", "mygrad"],
    ["validate", "gradient", "no_such_module_xyz:f"],
    ["validate", "gradient", "mygrad:missing"],
    ["validate", "gradient", "mygrad:not_callable"],
    ["validate", "gradient", "missing/file.py:f"],
    ["validate", "gradient", "mygrad:gradient", "--rtol", "1e-3"],
    ["validate", "gradient", "mygrad:gradient", "--budget", "0"],
    ["validate", "gradient", "mygrad:gradient", "--widths", "3,x"],
    ["validate"],
])
def test_cli_validate_usage_errors_exit_2(argv, tmp_path, monkeypatch, capsys, clean_imports):
    (tmp_path / "mygrad.py").write_text(textwrap.dedent(CORRECT))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip()


def test_cli_validate_factory_target(tmp_path, capsys, clean_imports):
    code = "from proofs_check import float64_implementation\n\ndef make():\n    return float64_implementation('gd')\n"
    (tmp_path / "fac.py").write_text(code)
    assert main(["validate", "gd", f"{tmp_path / 'fac.py'}:make", "--factory", "--budget", "4"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_custom_strategy_and_an_unsatisfiable_draw():
    from hypothesis import strategies as st

    inst = Instance((2, 2, 1), np.array([[1.0, -1.0]]), [np.eye(2), np.array([[0.5, 2.0]])])
    r = validate("gradient", GOOD, budget=3, strategy=st.just(inst))
    assert r.passed and r.worst_instance == inst.to_json()
    at_kink = Instance((2, 2, 1), np.array([[1.0, -1.0]]), [np.zeros((2, 2)), np.ones((1, 2))])
    r = validate("gradient", GOOD, budget=3, model="relu", strategy=st.just(at_kink))
    assert r.verdict == "error" and "no valid instance" in r.message and not r.passed
