"""The deep-linear ground truth's error estimate with measured growth (numerics.error_growth,
docs/theory.md F): honest (≥ the true error, measured against a run at 20 more digits) and tight
(≤ 1000× it) on 21- and 55-parameter cases; the tightness ratio before (global B1 growth) and after
is printed for every case (run with -s to see it)."""

import math

import mpmath
import numpy as np
import pytest

import numerics
import theory


def maxdiff(a, b):
    return max(abs(x - y) for A, B in zip(a, b) for x, y in zip(np.asarray(A).flat, np.asarray(B).flat))


def ratios(widths, scale, t_end, seed, dps=30):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, scale, seed=seed)
    run = numerics.gradient_flow(obj, th, t_end, dps=dps)
    old = numerics.gradient_flow(obj, th, t_end, dps=dps, error_growth="b1")
    ref = numerics.gradient_flow(obj, th, t_end, dps=dps + 20)
    with mpmath.workdps(dps + 20):
        true = max(float(maxdiff(run.at(t), ref.at(t))) for t in run.times)
    print(f"{widths} P={obj.num_params} T={t_end}: true {true:.3g}, estimate {run.error_estimate:.3g} "
          f"(ratio {run.error_estimate / true:.3g}; B1 growth: {old.error_estimate / true:.3g}), "
          f"∫max(0,−λ_min) = {run.growth_integral:.3g}")
    return run, true


# (widths, init scale, horizon, seed); the last one has long steps where the arb radius is 1e12×
# the actual rounding (the estimate measures the rounding against the step at +32 bits there)
# the 78-parameter case (≥ MeasuredGrowth.CERTIFY_MIN) takes λ_min and the norms from Cholesky certificates
CASES = [((3, 3, 3, 1), 0.1, 9.5, 11), ((3, 3, 3, 1), 0.5, 3.0, 0), ((5, 5, 5, 1), 0.3, 4.0, 1),
         ((6, 6, 6, 1), 0.3, 3.0, 2), pytest.param((5, 5, 5, 1), 1.0, 5.0, 4, marks=pytest.mark.thorough)]


@pytest.mark.parametrize("widths,scale,t_end,seed", CASES)
def test_measured_growth_estimate_is_honest_and_tight(widths, scale, t_end, seed, record_property):
    run, true = ratios(widths, scale, t_end, seed)
    record_property("tightness", float(run.error_estimate / true))
    assert run.error_estimate >= true
    assert run.error_estimate <= 1000 * true
    assert run.growth_integral >= 0


def test_growth_bound_covers_lambda_min_between_samples():
    """The per-step bound of max(0, −λ_min) is ≥ the value at points between the three samples
    (dense λ_min at 9 points of each step of a 21-parameter run)."""
    rng = np.random.default_rng(2)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.5, seed=2)
    from numerics.error_growth import MeasuredGrowth

    run = numerics.gradient_flow(obj, th, 3.0, dps=20)
    g = MeasuredGrowth(obj)
    for i, (a, b) in enumerate(zip(run.times[:-1], run.times[1:])):
        ys = [[np.asarray(W, dtype=float) for W in run.at(a + (b - a) * k / 8)] for k in range(9)]
        mu = g.step(ys[0], ys[4], ys[8], float(b - a), run.coeffs[i])
        worst = max(max(0.0, -numerics.lambda_min(obj, y)) for y in ys)
        assert mu >= worst - 1e-12


def test_saltation_norm_is_the_exact_2norm_of_the_saltation_matrix():
    """saltation.saltation_norm (closed form on span{u, v}) against numpy's SVD of
    S = I + (F_post − F_pre)∇zᵀ/ż_pre, for crossings (post = ∇z·F₊) and sliding entries (F_s, ż = 0)."""
    from numerics.saltation import saltation_norm

    rng = np.random.default_rng(7)
    for trial in range(200):
        P = int(rng.integers(2, 9))
        g, Fm, Fp = rng.standard_normal(P), rng.standard_normal(P), rng.standard_normal(P)
        if trial % 3 == 0:  # field jump along ∇z (as measured on ReLU kinks)
            Fp = Fm + rng.standard_normal() * g
        a, b = g @ Fm, g @ Fp
        if min(abs(a), abs(b)) < 1e-3:
            continue
        if a > 0 > b:  # sliding entry from either side: the post field is F_s with ∇z·F_s = 0
            lam = a / (a - b)
            Fs = (1 - lam) * Fm + lam * Fp
            for pre, Fpre in ((a, Fm), (b, Fp)):
                S = np.eye(P) + np.outer(Fs - Fpre, g) / pre
                got = saltation_norm(pre, 0.0, float(np.linalg.norm(Fs - Fpre)), float(np.linalg.norm(g)))
                exact = max(1.0, np.linalg.norm(S, 2))
                assert exact * (1 - 1e-12) <= got <= exact * (1 + 1e-12)  # numpy's SVD: a few ulps
        elif a * b > 0:  # crossing: from below (a > 0) with F₋ before, from above (b < 0) with F₊ before
            pre, post, Fpre, Fpost = (a, b, Fm, Fp) if a > 0 else (b, a, Fp, Fm)
            S = np.eye(P) + np.outer(Fpost - Fpre, g) / pre
            got = saltation_norm(pre, post, float(np.linalg.norm(Fpost - Fpre)), float(np.linalg.norm(g)))
            exact = max(1.0, np.linalg.norm(S, 2))
            assert exact * (1 - 1e-12) <= got <= exact * (1 + 1e-12)


def test_curvature_factor_bounds_the_hessians_second_derivative_on_every_step():
    """docs/theory.md F: sup_step ‖d²/dt² ∇²f(θ(t))‖₂ ≤ K (MeasuredGrowth.curvature_bound: κ(r₂)‖Δ²H‖₂
    or φ(r₁)‖H(h) − H(0)‖₂/h², r from the step's coefficient envelope). Checked on every step of two
    21-parameter runs (the second with steps whose order-2 coefficient dips, r₂ up to 0.78) against
    central second differences of dense Hessians (spacing h/64: their own error is O((h/64)²·‖H''''‖),
    far below the margin) at 9 points per step."""
    from numerics.error_growth import MeasuredGrowth

    worst = 0.0
    for seed, scale, t_end in ((0, 0.5, 3.0), (11, 0.1, 9.5)):
        rng = np.random.default_rng(seed)
        Phi = rng.standard_normal((1, 3))
        obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
        th = numerics.gaussian_init(obj, scale, seed=seed)
        run = numerics.gradient_flow(obj, th, t_end, dps=20)
        g = MeasuredGrowth(obj)

        def H(t):
            return numerics.hessian(obj, [np.asarray(W, dtype=float) for W in run.at(t)])

        for i, (a, b) in enumerate(zip(run.times[:-1], run.times[1:])):
            h = b - a
            bound = g.curvature_bound(H(a), H(a + h / 2), H(b), float(h), run.coeffs[i])
            d = h / 64
            for k in range(9):
                t = a + d + (h - 2 * d) * k / 8
                Hpp = (H(t - d) - 2 * H(t) + H(t + d)) / float(d) ** 2
                sup = np.abs(np.linalg.eigvalsh(Hpp)).max()
                worst = max(worst, sup / bound)
                assert sup <= bound
        assert g.beyond_assumption == 0
    print(f"\nmax over steps of sup‖H''‖ / K = {worst:.3g}")


def test_lanczos_path_agrees_with_the_dense_path(monkeypatch):
    """Above dense_max parameters the growth bound uses Lanczos (λ_min; ‖H(h) − H(0)‖ and ‖Δ²H‖ on HVP
    operators, plus residuals); forced here on a 55-parameter run, it agrees with dense eigenvalues."""
    from numerics.error_growth import MeasuredGrowth

    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((1, 5))
    obj = theory.Objective(theory.DeepLinear((5, 5, 5, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.3, seed=1)
    run = numerics.gradient_flow(obj, th, 2.0, dps=20)
    # the Lanczos basis kept at its start size: the default one shrinks after first-cycle convergences
    # (a cost setting), and ARPACK then stops elsewhere within its tol·|λ| — 3.2e-5 relative on this run,
    # within that rule but above the 1e-5 this test holds the paths to
    monkeypatch.setattr(MeasuredGrowth, "NCV_MIN", MeasuredGrowth.NCV)
    dense, lanczos = MeasuredGrowth(obj), MeasuredGrowth(obj, dense_max=5)
    for i, (a, b) in enumerate(zip(run.times[:-1], run.times[1:])):
        ys = [[np.asarray(W, dtype=float) for W in run.at(t)] for t in (a, a + (b - a) / 2, b)]
        md = dense.step(*ys, float(b - a), run.coeffs[i])
        ml = lanczos.step(*ys, float(b - a), run.coeffs[i])
        assert abs(md - ml) <= 1e-5 * max(md, 1e-12)


def _small_run(dps=20):
    rng = np.random.default_rng(5)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return numerics.gradient_flow(obj, numerics.gaussian_init(obj, 0.5, seed=5), 1.0, dps=dps)


def test_order_norms_are_the_frobenius_norms_of_the_midpoints():
    """error_growth.order_norms (computed once per step, shared by the envelopes, the truncation tail and
    local_error_2norm) against n_k = √(Σ_blocks Σ_entries mid²) in mpmath at 60 digits from the exact
    arb midpoints, and against the per-use formula it replaced.

    Tolerance, derived (u = 2⁻⁵³): float(arb) rounds a midpoint with relative error ≤ 2u, the square
    (pow) adds ≤ 2u, so each term is off by ≤ 6u; summing m positive terms adds ≤ (m − 1)u; each block's
    √ adds u and its square again 2u; summing the b blocks adds ≤ (b − 1)u, and the final √ halves the
    accumulated relative error and adds u: in all ≤ ((n + b + 10)/2 + 1)u, n the entries over all blocks.
    We allow (n + b + 12)u, about twice that."""
    from numerics.error_growth import OrderNorms, coefficient_envelope, order_norms
    from numerics.local_errors import local_error_2norm

    run = _small_run()
    u = 2.0**-53
    for cs in run.coeffs[:2]:
        norms = order_norms(cs)
        assert isinstance(norms, OrderNorms) and len(norms) == run.order + 1
        n = sum(m.nrows() * m.ncols() for m in (C[0] for C in cs))
        with mpmath.workdps(60):
            for k, got in enumerate(norms):
                exact = mpmath.sqrt(sum(mpmath.mpf(x.mid()._mpf_) ** 2 for C in cs for x in C[k].entries()))
                assert abs(got - exact) <= (n + len(cs) + 12) * u * exact, (k, got, exact)
        # the formula as coefficient_envelope and local_error_2norm wrote it per use before: the same float
        # operations in the same order, hence the same bits (what keeps whole runs bit-identical)
        old = [math.sqrt(sum(math.sqrt(sum(float(x) ** 2 for x in C[k].entries())) ** 2 for C in cs))
               for k in range(run.order + 1)]
        assert [x.hex() for x in norms] == [x.hex() for x in old]
        # the shared norms stand in for the coefficients wherever these are accepted
        h = float(run.steps[0])
        for base in (1, 2):
            assert coefficient_envelope(norms, h, base).hex() == coefficient_envelope(cs, h, base).hex()
        new = [C[-1] for C in cs]  # any state-shaped arb_mats: only their radii and sizes enter
        a = local_error_2norm(norms, run.order, run.steps[0], new)
        b = local_error_2norm(cs, run.order, run.steps[0], new)
        assert a.hex() == b.hex()


def test_coefficient_envelope_against_mpmath():
    """r = max_{k>base} (a_k/a_base)^{1/(k−base)}, a_k = n_k h^k, recomputed in mpmath from the exact
    midpoints (h is an exact binary fraction, so float(h) is exact).

    Tolerance, derived (u = 2⁻⁵³, e_n = (n + b + 12)u the norms' bound above): a_k is off by ≤ e_n + 3u
    (h**k ≤ 2u, the product u), the ratio by ≤ 2e_n + 7u; the root scales that by 1/(k − base) ≤ 1 and
    adds 2u (pow) plus |ln ratio|·u for the rounded exponent, |ln ratio| ≤ 2(k − base)·|ln r| ≤ 30 here
    (r ≥ e^{−15}, checked). We allow 2e_n + 40u."""
    from numerics.error_growth import coefficient_envelope

    run = _small_run()
    cs, h = run.coeffs[0], run.steps[0]
    n = sum(m.nrows() * m.ncols() for m in (C[0] for C in cs))
    tol = (2 * (n + len(cs) + 12) + 40) * 2.0**-53
    with mpmath.workdps(60):
        hq = mpmath.mpf(h.numerator) / h.denominator
        a = [mpmath.sqrt(sum(mpmath.mpf(x.mid()._mpf_) ** 2 for C in cs for x in C[k].entries())) * hq**k
             for k in range(run.order + 1)]
        for base in (1, 2):
            exact = max((a[k] / a[base]) ** (mpmath.mpf(1) / (k - base)) for k in range(base + 1, run.order + 1))
            got = coefficient_envelope(cs, float(h), base)
            assert exact >= mpmath.exp(-15)
            assert abs(got - exact) <= tol * exact, (base, got, exact)


def test_symmetric_eig_is_scipys_eigh_call():
    """dense_spectra.symmetric_eig makes scipy.linalg.eigh's LAPACK call itself: the same eigenpairs bit for
    bit (on dense Hessians of the 21- and 200-parameter nets, at a random θ), and eigenvalues within the
    backward-error bound 8·P·ε·‖A‖_F of mpmath's at 40 digits on a small matrix (independent reference)."""
    import scipy.linalg

    from numerics.dense_spectra import symmetric_eig
    from numerics.hessians import hessian

    rng = np.random.default_rng(7)
    for widths in ((3, 3, 3, 1), (8, 8, 8, 8, 1)):
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(rng.standard_normal((1, widths[0]))))
        H = hessian(obj, numerics.gaussian_init(obj, 0.5, seed=7))
        w, V = symmetric_eig(H, lowest=True)
        w0, V0 = scipy.linalg.eigh(H, subset_by_index=[0, 0])
        assert np.array_equal(w, w0) and np.array_equal(V, V0)
        D = H[::-1, ::-1] - 2 * H  # exactly symmetric, like the Hessian differences it is used on
        ref = scipy.linalg.eigvalsh(D)
        assert np.array_equal(symmetric_eig(D.copy(), lowest=False, scratch=True), ref)
    A = rng.standard_normal((6, 6))
    A = A + A.T
    with mpmath.workdps(40):
        exact = sorted(mpmath.eigsy(mpmath.matrix(A.tolist()), eigvals_only=True))
    bound = 8 * 6 * np.finfo(float).eps * np.linalg.norm(A)
    got = symmetric_eig(A.copy(), lowest=False, scratch=True)
    assert all(abs(g - e) <= bound for g, e in zip(got, exact))
    assert abs(symmetric_eig(A, lowest=True)[0][0] - exact[0]) <= bound
    with pytest.raises(ValueError, match="infs or NaNs"):
        symmetric_eig(np.array([[1.0, np.nan], [np.nan, 1.0]]), lowest=True)


def test_order_norms_read_the_entries_the_series_extracted():
    """series_coefficients(..., entries=...) hands out the entry lists its Cauchy sums read (a prefix of
    the orders per block, possibly none); they are the returned coefficients' entries (midpoint and radius, entry by entry), and order_norms gives the same
    bits with them as when it extracts every coefficient's entries itself."""
    from numerics.error_growth import order_norms
    from numerics.flows import _gradient_tape, _to_state
    from numerics.series import arb_precision, series_coefficients

    rng = np.random.default_rng(6)
    obj = theory.Objective(theory.DeepLinear((3, 4, 2)), theory.SquareLoss(rng.standard_normal((5, 3)),
                                                                          rng.standard_normal((5, 2))))
    th = numerics.gaussian_init(obj, 0.7, seed=6)
    with arb_precision(20, 32):
        tape, outs, sign = _gradient_tape(obj)
        ents: list = []
        cs = series_coefficients(tape, outs, _to_state(obj, th), 12, None, sign, recentre=[], entries=ents)
    # a block the products read only through a transpose or against data has none (read from cs then)
    assert len(ents) == len(cs) and any(len(E) >= 1 for E in ents)

    def key(x):
        return x.mid()._mpf_, x.rad()._mpf_

    for C, E in zip(cs, ents):
        for k, e in enumerate(E):
            assert [key(x) for x in e] == [key(x) for x in C[k].entries()]
    assert [x.hex() for x in order_norms(cs, ents)] == [x.hex() for x in order_norms(cs)]


def test_coefficient_floats_give_the_same_norms_and_step():
    """error_growth.coefficient_floats (one float conversion per step, flows._integrate): order_norms and
    flows.taylor_step read from it give the same bits as from the arb coefficients, and its rows are the
    float midpoints entry by entry (a 200-parameter net, 4 blocks, and a 2-block one)."""
    from fractions import Fraction

    from numerics.error_growth import coefficient_floats, order_norms
    from numerics.flows import _gradient_tape, _to_state, taylor_step
    from numerics.series import arb_precision, series_coefficients

    rng = np.random.default_rng(8)
    for widths in ((8, 8, 8, 8, 1), (3, 4, 2)):
        Phi = rng.standard_normal((widths[-1], widths[0]))
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
        th = numerics.gaussian_init(obj, 0.4, seed=8)
        with arb_precision(30, 32):
            tape, outs, sign = _gradient_tape(obj)
            ents: list = []
            cs = series_coefficients(tape, outs, _to_state(obj, th), 20, None, sign, recentre=[], entries=ents)
        fl = coefficient_floats(cs, ents)
        for C, F in zip(cs, fl):
            assert F.shape == (len(C), C[0].nrows() * C[0].ncols())
            assert all(F[k].tolist() == [float(x.mid()) for x in C[k].entries()] for k in range(len(C)))
        assert [x.hex() for x in order_norms(cs, floats=fl)] == [x.hex() for x in order_norms(cs)]
        for remaining in (Fraction(10), Fraction(1, 1000)):
            assert taylor_step(cs, 20, remaining, Fraction(0), floats=fl) == taylor_step(cs, 20, remaining, Fraction(0))


def _near_singular(rng, n):
    """A float symmetric matrix with one eigenvalue of either sign within 1e-18..1e-15 of zero (the
    others in [0.5, 2]): where a float Cholesky run may succeed on a matrix that is not ⪰ 0."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = rng.uniform(0.5, 2, n)
    lam[0] = rng.choice([-1, 1]) * 10.0 ** rng.uniform(-18, -15)
    A = (Q * lam) @ Q.T
    return (A + A.T) / 2


def test_psd_defect_bounds_lambda_min_whenever_cholesky_succeeds():
    """docs/theory.md F, "Certificates": when dpotrf factors the float matrix A, λ_min(A) ≥ −psd_defect(A)
    (Higham's backward error), checked against mpmath's eigenvalues of the same float entries at 40
    digits on near-singular matrices. Some factorizations succeed on matrices whose exact λ_min is
    negative: there a defect of 0 (no margin) would be wrong, and the test requires one such case. With a
    shifted diagonal the rounding of the shift is covered too."""
    from numerics.dense_spectra import psd_defect

    rng = np.random.default_rng(20261203)
    margin_needed = factored = 0
    for _ in range(80):
        n = int(rng.integers(4, 25))
        A = _near_singular(rng, n)
        e = psd_defect(A.copy())
        if e is None:
            continue
        factored += 1
        with mpmath.workdps(40):
            lmin = min(mpmath.eigsy(mpmath.matrix(A.tolist()), eigvals_only=True))
        assert lmin >= -e
        margin_needed += lmin < 0
    assert factored >= 20 and margin_needed >= 1
    # fl(cI + X): the certificate is about the exact cI + X, whose diagonal the float one rounded
    X = _near_singular(rng, 12) - 0.3 * np.eye(12)
    c = 0.3 + 1e-15
    A = X.copy()
    A[np.diag_indices(12)] += c
    e = psd_defect(A, diagonal_shift=c, shifted=X.diagonal())
    if e is not None:
        with mpmath.workdps(40):
            M = mpmath.matrix(X.tolist()) + mpmath.mpf(c) * mpmath.eye(12)
            assert min(mpmath.eigsy(M, eigvals_only=True)) >= -e
    assert psd_defect(-np.eye(3)) is None


def test_certified_lambda_min_and_norm_against_mpmath():
    """MeasuredGrowth's certificates on dense Hessians (and their differences) of a 36-parameter net at
    points of a run: ℓ ≤ λ_min ≤ θ with θ − ℓ within the stated tolerance, and ‖D‖₂ ≤ bound ≤
    (1 + NORM_TOL)‖D‖₂ (+ rounding), against mpmath's eigenvalues at 30 digits."""
    from numerics.error_growth import MeasuredGrowth

    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((1, 4))
    obj = theory.Objective(theory.DeepLinear((4, 4, 4, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    run = numerics.gradient_flow(obj, numerics.gaussian_init(obj, 0.4, seed=3), 3.0, dps=15)
    g = MeasuredGrowth(obj)
    Hs = [numerics.hessian(obj, [np.asarray(W, dtype=float) for W in run.at(t)]) for t in run.times[:4]]

    def eig(M):
        with mpmath.workdps(30):
            return [float(x) for x in sorted(mpmath.eigsy(mpmath.matrix(M.tolist()), eigvals_only=True))]

    P = obj.num_params
    for H in Hs:
        got = g._certified_lambda_min(H)
        assert got is not None
        lower, ritz, vec = got
        lmin = eig(H)[0]
        assert lower <= lmin <= ritz + 1e-13 * abs(ritz)
        assert ritz - lower <= 1.01 * g.LAMBDA_TOL * abs(ritz) + 16 * P * np.finfo(float).eps * np.linalg.norm(H)
    for D in (Hs[1] - Hs[0], Hs[0] - 2 * Hs[1] + Hs[2], Hs[3] - Hs[0]):
        bound = g._certified_norm(D, len(D))
        ev = eig(D)
        exact = max(abs(ev[0]), abs(ev[-1]))
        assert bound is not None and exact <= bound <= (1 + g.NORM_TOL) * exact * (1 + 1e-10)


def test_certified_growth_covers_lambda_min_and_stays_close_to_the_eigenvalue_path():
    """Forced below its size threshold on a 21-parameter run, the certified path's per-step rate covers
    max(0, −λ_min) at 9 points of every step (dense eigenvalues) and exceeds the eigenvalue path's rate by
    at most the norm tolerance on the curvature term plus the λ_min tolerance."""
    from numerics.error_growth import MeasuredGrowth

    rng = np.random.default_rng(2)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    run = numerics.gradient_flow(obj, numerics.gaussian_init(obj, 0.5, seed=2), 3.0, dps=20)
    cert, eigen = MeasuredGrowth(obj), MeasuredGrowth(obj)
    cert.CERTIFY_MIN = 1
    eigen.CERTIFY_MIN = 10**9
    for i, (a, b) in enumerate(zip(run.times[:-1], run.times[1:])):
        ys = [[np.asarray(W, dtype=float) for W in run.at(a + (b - a) * k / 8)] for k in range(9)]
        mc = cert.step(ys[0], ys[4], ys[8], float(b - a), run.coeffs[i])
        me = eigen.step(ys[0], ys[4], ys[8], float(b - a), run.coeffs[i])
        worst = max(max(0.0, -numerics.lambda_min(obj, y)) for y in ys)
        assert mc >= worst - 1e-12
        lam = max(abs(x) for x in eigen.samples[-3:])
        assert mc <= (1 + cert.NORM_TOL) * me + 2 * cert.LAMBDA_TOL * lam + 1e-12
    assert cert.lambda_fallbacks + cert.norm_fallbacks < len(run.steps)  # the certificates were used
