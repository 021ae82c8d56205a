"""The carried error bound of the float tier, with windows through lone ReLU crossings.

Between events the bound grows by exp(∫μ⁺) (:mod:`numerics.error_growth`), and at a kink it was
multiplied by the saltation norm ‖S_j‖₂ of each event. Over thousands of small lone crossings that
product of norms treats rank-one stretches along different directions as if they all acted on one, and
drops the contractions (docs/theory.md F, "What the bound's growth is made of"). A *window* of
consecutive lone crossings and the steps between them is bounded as one linear map instead
(docs/theory.md F, "Windows through lone crossings"):

    Φ_w = Ψ_N S_m ⋯ Ψ_2 S_1 Ψ_1,   S_j = I + κ_j v̂_j v̂_jᵀ + N_j,   Ψ_i = I + E_i,

with S_j a lone crossing's saltation matrix (exactly symmetric rank-one up to the computed N_j, ‖N_j‖ ≤
η_j), Ψ_i a step's propagator (‖E_i‖ ≤ e^{h_iΛ_i} − 1, Λ_i ≥ sup‖∇²f‖ on the step). The events'
product is computed exactly in the span of the window's v̂_j, the terms with one E_i through exact
partial-product norms, the rest by norms: :func:`window_factor` returns F_w ≥ ‖Φ_w‖₂, and the bound
at the window's close is min(naive, F_w·e_start) + (the window's own local errors, carried naively).

:class:`CarriedError` keeps the bound as e_start·G + ℓ (G the naive growth since the window's start,
ℓ the local errors since then carried naively), which is an honest bound at every step inside a window
too, and closes a window when Σ h_iΛ_i reaches ``B_CLOSE`` or it holds ``M_MAX`` events, before any
event that is not a lone crossing, and at the end of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np

from .dense_propagation import _gamma, norm_upper
from .dense_spectra import psd_defect

EPS = float(np.finfo(float).eps)
# the one-E coefficients of window_factor (a ~1 % share of the bound): certified norms within CERT_TOL,
# from at most CERT_STEPS power steps
CERT_TOL = 0.01
CERT_STEPS = 12


def window_factor(kappas: Sequence[float], etas: Sequence[float], vhats: np.ndarray,
                  nbefore: Sequence[int], h: Sequence[float], lam: Sequence[float],
                  mu: Sequence[float], parts: dict | None = None) -> float:
    """F_w ≥ ‖Ψ_N S_m ⋯ S_1 Ψ_1‖₂ over a window (docs/theory.md F, "Windows through lone crossings").
    ``parts``, if a dict, receives the terms below (``events``: λ_max(sym(P_S − I)) ≥ 0 where the span
    is not the whole space; ``first``, ``mixed``, ``multi``, ``remainder``, ``with_n``) for diagnosis.

    Events j = 1..m: S_j = I + κ_j v̂_jv̂_jᵀ + N_j with ‖N_j‖₂ ≤ ``etas[j]`` and v̂_j the unit columns of
    ``vhats`` (P × m). Steps i: step i comes after ``nbefore[i]`` of the window's events; its propagator
    Ψ_i of e' = −H(t)e has ‖H‖₂ ≤ ``lam[i]`` and −λ_min(H) ≤ ``mu[i]`` (≥ 0) on the step, length
    ``h[i]``. Expanding the product by the number of E_i = Ψ_i − I factors (and of N_j):

    * no E: P_S = Π(I + A_j), A_j = κ_j v̂_jv̂_jᵀ, computed in the coordinates of the span of the v̂_j
      (a Householder QR: v̂_j = Q̂r_j up to γ̃ of the factorization, Q̂ orthonormal, so norms on the span
      are those of the m × m coordinate matrices, and S_j is the identity off it);
    * E_i = −∫_iH + R_i, ‖R_i‖ ≤ e^{h_iΛ_i} − 1 − h_iΛ_i (Dyson series); the first-order part P_S − ∫_wH =
      I + M has ‖I + M‖² ≤ 1 + 2λ_max(sym M) + ‖M‖², λ_max(sym M) ≤ λ_max(sym(P_S − I)) + Σh_iμ_i,
      ‖M‖ ≤ ‖P_S − I‖ + Σh_iΛ_i; and also ‖P_S − ∫_wH‖² ≤ ‖P_S‖² + 2Σh_iμ_i + 2‖P_S − I‖Σh_iΛ_i +
      (Σh_iΛ_i)² (expanding (P_S − A)ᵀ(P_S − A), A = ∫_wH); the smaller is used;
    * one E_i between P_<i (events before) and P_>i (after): P_>iE_iP_<i − E_i = (P_>i − I)E_iP_<i +
      E_i(P_<i − I), bounded with exact partial-product norms;
    * two or more E's: Π‖S_j‖·(e^b − 1 − b), b = Σ‖E_i‖; any N_j: [Π(‖S_j‖ + η_j) − Π‖S_j‖]·e^b.

    Every computed norm is raised by a bound of the float64 rounding of the m × m arithmetic."""
    kap = np.asarray(kappas, dtype=float)
    eta = np.asarray(etas, dtype=float)
    h = np.asarray(h, dtype=float)
    lam = np.asarray(lam, dtype=float)
    mu = np.asarray(mu, dtype=float)
    nb = np.asarray(nbefore, dtype=int)
    m = len(kap)
    if not (len(eta) == m and len(h) == len(lam) == len(mu) == len(nb)):
        raise ValueError("window_factor: inconsistent lengths")
    if np.any(h < 0) or np.any(lam < 0) or np.any(mu < 0) or np.any(eta < 0):
        raise ValueError("window_factor: h, lam, mu and etas must be >= 0")
    if len(nb) and (nb.min() < 0 or nb.max() > m):
        raise ValueError("window_factor: nbefore out of range")
    # every step quantity rounded upwards by a relative 4ε (a handful of operations each)
    up = 1 + 4 * EPS
    hl = h * lam
    with np.errstate(over="ignore"):  # e^{hΛ} past the float range is ∞: b below is then ∞, and so is F_w
        E = np.expm1(hl) * up  # ‖E_i‖ ≤ e^{hΛ} − 1
        R2 = np.maximum(0.0, np.expm1(hl) - hl) * up + 2 * EPS * hl  # e^{hΛ} − 1 − hΛ, cancellation bounded
    b = float(E.sum()) * (1 + _gamma(len(E) + 1))
    if not b <= 30:  # e^b ≥ 10¹³: the expansion cannot beat the naive bound (and would overflow)
        return math.inf
    HL = float(hl.sum()) * (1 + _gamma(len(hl) + 1))  # ≥ ‖∫_wH‖
    MU = float((h * mu).sum()) * (1 + _gamma(len(h) + 1))  # ≥ ∫_w μ⁺
    if m == 0:
        first = math.sqrt(1 + 2 * MU + HL * HL)
        x = 0.0
        mixed = 0.0
        big = 1.0
        sig = np.ones(0)
    else:
        V = np.asarray(vhats, dtype=float).reshape(-1, m)
        P = V.shape[0]
        R = np.linalg.qr(V, mode="r")  # Householder: V + ΔV = Q̂R, ‖Δv_j‖ ≤ γ̃_{P m}‖v_j‖ (Higham, Thm 19.4)
        k = R.shape[0]
        # v̂_j = Q̂r_j − Δv_j: the computed coordinates stand for S_j up to |κ_j|(2δ + δ²) more in N_j;
        # ‖v̂_j‖ = 1 within the rounding of its normalization, (P + 4)ε, folded into δ
        delta = 8 * _gamma(P * m) + (P + 4) * EPS
        eta = eta + np.abs(kap) * (2 * delta + delta * delta) * up
        # ‖S_j^sym‖₂ in the coordinates: max(1, |1 + κ_j‖r_j‖²|), ‖r_j‖ ≤ 1 + δ
        sig = np.maximum(1.0, np.abs(1 + kap) + np.abs(kap) * (2 * delta + delta * delta)) * up
        I = np.eye(k)
        pre = [I]
        for j in range(m):
            r = R[:, j]
            pre.append(pre[-1] + kap[j] * np.outer(r, r @ pre[-1]))
        suf = [I]
        for j in range(m - 1, -1, -1):
            r = R[:, j]
            suf.append(suf[-1] + kap[j] * np.outer(suf[-1] @ r, r))
        suf = suf[::-1]  # suf[n] = S_m ⋯ S_{n+1}
        # rounding of the coordinate products: each rank-one update errs by ≤ γ_{k+2}(1 + |κ_j|‖r_j‖²)‖·‖_F
        # ≤ √k γ_{k+2}(1 + |κ_j|(1 + δ)²)·‖product‖₂, and is carried by the later factors; every partial
        # product has norm ≤ Πσ_j, so ρ below bounds the 2-norm error of every computed partial product
        prod_sig = float(np.prod(sig))
        rho = math.sqrt(k) * _gamma(k + 2) * float(np.sum(1 + np.abs(kap) * (1 + delta) ** 2)) * prod_sig
        norm_err = _gamma(4 * k)  # a computed extreme eigenvalue: backward stable, ≤ γ_{4k} relative

        def norm(A: np.ndarray) -> float:
            # ‖A‖₂ of the computed partial product (numerics.dense_propagation.norm_upper: λ_max of fl(AᵀA) from
            # the symmetric eigensolver, ~1.5× faster than the SVD at k = 32…96, with the Gram's and the
            # eigensolver's rounding), plus ρ, the distance of the computed product to the exact one
            return (norm_upper(A) + rho) * (1 + 2 * EPS)

        warm: dict = {}

        def norm_cert(A: np.ndarray, kind: str) -> float:
            k = A.shape[0]  # (a prefix product's leading block: see the mixed terms below)
            # the one-E coefficients: an upper bound within CERT_TOL of ‖A‖₂ at ~1/3 of norm()'s cost (k ≈ 96):
            # power iteration on G = fl(AᵀA) (warm-started per kind: consecutive partial products differ by
            # one factor) gives ν² ≤ λ_max(G); β² = (1 + CERT_TOL)²ν² is certified by a Cholesky factorization
            # of fl(β²I − G), λ_min ≥ −e (numerics.dense_spectra.psd_defect), so λ_max(G) ≤ β² + e and
            # λ_max(AᵀA) ≤ β² + e + γ_k‖A‖_F² as in norm(); where the factorization fails, norm() instead
            G = A.T @ A
            x = warm.get(kind)
            if x is None:
                x = np.ones(k)
            elif len(x) < k:  # the block grew by a row: any start vector serves, the warm one converges sooner
                x = np.concatenate([x, np.full(k - len(x), float(np.abs(x).mean()))])
            nu2 = 0.0
            for _ in range(CERT_STEPS):
                y = G @ x
                ny = float(np.linalg.norm(y))
                if ny == 0.0:
                    break
                nu_new = float(x @ y) / float(x @ x)
                x = y / ny
                done = abs(nu_new - nu2) <= 0.1 * CERT_TOL * nu_new
                nu2 = nu_new
                if done:
                    break
            warm[kind] = x
            if nu2 > 0.0:
                beta2 = (1 + CERT_TOL) ** 2 * nu2
                C = -G
                C[np.diag_indices(k)] += beta2
                e = psd_defect(C, diagonal_shift=beta2, shifted=-G.diagonal())
                if e is not None:
                    fro2 = float(np.sum(A * A)) * (1 + _gamma(k * k + 1))
                    return (math.sqrt(beta2 + e + _gamma(k) * fro2) * (1 + 2 * EPS) + rho) * (1 + 2 * EPS)
            return norm(A)

        # off the span (k < P) every event product is the identity: P_S − I is 0 there, a partial
        # product has norm ≥ 1
        off = 1.0 if k < P else 0.0
        PS = pre[-1]
        D = PS - I
        x = float(np.linalg.eigvalsh((D + D.T) / 2)[-1]) + rho + norm_err * norm(D)
        if off:
            x = max(x, 0.0)
        nD = norm(D)
        # two bounds of ‖P_S − A‖², A = ∫_wH symmetric with ‖A‖ ≤ HL, −λ_min(A) ≤ MU; the smaller is kept:
        # (i) P_S − A = I + M, ‖I + M‖² ≤ 1 + 2λ_max(sym M) + ‖M‖²;
        # (ii) (P_S − A)ᵀ(P_S − A) = P_SᵀP_S − 2A − (DᵀA + AD) + A², so ‖P_S − A‖² ≤ ‖P_S‖² + 2MU + 2‖D‖HL + HL²
        #      with the exact ‖P_S‖ (≥ 1 off the span), which (i) overstates by up to ‖D‖²
        b1 = 1 + 2 * (x + MU) * up + (nD + HL) ** 2 * up
        b2 = max(off, norm(PS)) ** 2 * up + (2 * MU + 2 * nD * HL + HL * HL) * up
        first = math.sqrt(max(0.0, min(b1, b2)) * up)
        mixed = 0.0
        if len(E):
            Esum = np.bincount(nb, weights=E, minlength=m + 1)
            for n in np.nonzero(Esum)[0]:
                # R is upper triangular (exact zeros below the diagonal), so r_1..r_n lie in the first n
                # coordinates and pre[n] = diag(B_n, I) exactly, B_n its leading d × d block (d = min(n, k)):
                # ‖pre[n] − I‖ = ‖B_n − I‖ and ‖pre[n]‖ = max(‖B_n‖, 1 if d < k). The certificates run on the
                # block: n³ instead of k³ (half the window's cost on the research nets)
                d = min(int(n), k)
                if d == 0:
                    npre, npre_i = 1.0, 0.0
                else:
                    B = pre[n][:d, :d]
                    npre = max(norm_cert(B, "pre"), 1.0 if d < k else 0.0)
                    npre_i = norm_cert(B - I[:d, :d], "pre-I")
                coef = norm_cert(suf[n] - I, "suf") * max(off, npre) + npre_i
                mixed += float(Esum[n]) * coef * up * up
            mixed *= 1 + _gamma(m + 1)
        big = float(np.prod(sig))
    multi = big * math.expm1(b) * up - big * b if b > 0 else 0.0
    multi = max(0.0, multi) + 4 * EPS * big * (math.expm1(b) + b)  # cancellation in e^b − 1 − b bounded
    with_n = float(np.prod(sig + eta)) - float(np.prod(sig))
    with_n = max(0.0, with_n) * (1 + _gamma(2 * m + 2)) + _gamma(2 * m + 2) * float(np.prod(sig))
    rem = float(R2.sum()) * (1 + _gamma(len(R2) + 1))
    total = first + mixed + multi + rem + with_n * math.exp(b) * up
    if parts is not None:
        parts.update(events=x, first=first, mixed=mixed, multi=multi, remainder=rem, with_n=with_n * math.exp(b) * up)
    return total * (1 + 8 * EPS)


def lone_saltation(pre: float, dF: Sequence[np.ndarray], grad_z: Sequence[np.ndarray]) -> tuple[float, float, np.ndarray]:
    """(κ, η, v̂) of a lone crossing's saltation matrix S = I + u vᵀ, u = ΔF/ż_pre (ΔF = F_post − F_pre, in
    blocks), v = ∇_θz (the same blocks): S = I + κv̂v̂ᵀ + N with v̂ = v/‖v‖, κ = (ΔF·v)/ż_pre and N =
    ‖v‖·u_⊥v̂ᵀ, ‖N‖₂ ≤ η — the part of ΔF off ∇z (zero in exact arithmetic, docs/theory.md F, "At a lone
    kink the jump is exactly along ∇z"), as computed, plus the rounding of the inner product and of κ,
    γ_P‖ΔF‖ each (Higham's worst case)."""
    d = np.concatenate([np.ravel(x) for x in dF])
    v = np.concatenate([np.ravel(x) for x in grad_z])
    if pre == 0 or len(d) != len(v):
        raise ValueError("lone_saltation: pre must be nonzero and dF, grad_z of the same blocks")
    vn = float(np.linalg.norm(v))
    vhat = v / vn
    c = float(d @ vhat)
    dn = float(np.linalg.norm(d))
    perp = float(np.linalg.norm(d - c * vhat))
    eta = (perp + 3 * (len(d) + 4) * EPS * dn) * vn / abs(pre) * (1 + 4 * EPS)
    return c * vn / pre, eta, vhat


@dataclass
class WindowRecord:
    """One closed window: its close time, events, steps, and the log-growth of the bound over it, naive
    (ln G: Σ ln ‖S_j‖ + Σ h_iμ_i) and windowed (ln F_w); ``t_open`` the time it opened."""

    t: float
    events: int
    steps: int
    naive: float
    windowed: float
    parts: dict = field(default_factory=dict)  # window_factor's terms (diagnosis)
    t_open: float = math.nan


@dataclass
class CarriedError:
    """The float tier's running error bound e_start·G + ℓ with windows through lone crossings (module
    docstring). ``windows=False`` keeps the naive product of norms (no Λ needed)."""

    windows: bool = True
    # a window closes when Σh_iΛ_i reaches B_CLOSE or it holds M_MAX events (docs/theory.md F, "Windows
    # through lone crossings": the Λ terms grow with the window's span, the norms' cost as m³ per product)
    B_CLOSE: ClassVar[float] = 0.1
    M_MAX: ClassVar[int] = 96
    start: float = 0.0
    gain: float = 1.0
    local: float = 0.0
    log: list[WindowRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._clear()
        self._t_open = 0.0
        # the naive bound at the last step's end before a window closed there: it bounds the error inside that
        # step (dense output), where the windowed bound, which is for the close time's propagator, does not
        self.peak = 0.0

    def _clear(self) -> None:
        self._kap: list[float] = []
        self._eta: list[float] = []
        self._v: list[np.ndarray] = []
        self._nb: list[int] = []
        self._h: list[float] = []
        self._lam: list[float] = []
        self._mu: list[float] = []
        self._b = 0.0

    @property
    def value(self) -> float:
        """The bound on the error now (honest inside an open window: the naive growth since its start)."""
        return self.start * self.gain + self.local

    def add(self, x: float) -> None:
        """A local error (or a dropped low part) added now."""
        self.local += x

    def step(self, h: float, mu: float, local: float, lam: float | None = None, t: float = math.nan) -> None:
        """A step of length h with growth rate bound μ ≥ sup μ⁺ and local error ``local``; ``lam`` ≥
        sup‖∇²f‖ on it (needed while windows are on; a step without it ends the windows for the run).
        A window whose Σh_iΛ_i reaches ``B_CLOSE`` closes at the step's end."""
        g = math.exp(h * mu)
        self.gain *= g
        # the step's own local error grows by g too: its roundings act as a forcing over the step (a rounding δ of
        # c_1 = F(θ₀) makes the computed series that of ŷ' = F(ŷ) + δ, whose distance from the flow at the step's
        # end is ≤ ∫₀ʰ e^{μ(h−s)}‖δ‖ds ≤ h‖δ‖g; docs/theory.md F, "Propagation"); for the truncation, a
        # difference at the step's end, the factor only adds (≤ g)
        self.local = (self.local + local) * g
        self.peak = self.start * self.gain + self.local
        if self.windows:
            if lam is None or not math.isfinite(lam):  # no Λ for this step: windows end here
                self.close(t)
                self.windows = False
                return
            self._nb.append(len(self._kap))
            self._h.append(h)
            self._lam.append(lam)
            self._mu.append(mu)
            self._b += h * lam
            if self._b >= self.B_CLOSE:
                self.close(t)

    def event(self, t: float, factor: float, lone: tuple[float, float, np.ndarray] | None = None) -> None:
        """An event with saltation norm ``factor`` ≥ ‖S‖₂; ``lone`` = (κ, η, v̂) for a lone crossing."""
        if lone is None or not self.windows:
            self.close(t)
            self.start *= factor
            return
        kap, eta, vhat = lone
        self.gain *= factor
        self.local *= factor
        self._kap.append(kap)
        self._eta.append(eta)
        self._v.append(vhat)
        if self._b >= self.B_CLOSE or len(self._kap) >= self.M_MAX:
            self.close(t)

    def close(self, t: float) -> None:
        """Close the open window: the bound becomes min(naive, F_w·e_start) + ℓ."""
        naive = self.start * self.gain
        if self._kap:
            parts: dict = {}
            F = window_factor(self._kap, self._eta, np.array(self._v).T, self._nb, self._h, self._lam, self._mu,
                              parts)
            self.log.append(WindowRecord(t, len(self._kap), len(self._h), math.log(self.gain), math.log(F), parts,
                                         self._t_open))
            if self.start > 0 and F * self.start < naive:  # (False for F = ∞ or NaN: the naive bound stays)
                naive = F * self.start
        self.start = naive + self.local
        self.gain, self.local = 1.0, 0.0
        self._clear()
        self._t_open = t
