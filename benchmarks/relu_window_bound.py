"""A windowed bound through lone ReLU crossings, measured on the research-scale run (the measurement that
led to numerics.error_windows, which the tier now uses; kept as a separately written cross-check with a
fixed Λ, corrected for the identity off the span of the v̂'s as the built bound is).

Instruments ``numerics.float_taylor`` on the 64-50-50-10 digits net of ``bench_float_taylor.py`` (bias-free)
up to ``--t-end``: at every kink decision it records κ = ż_post/ż_pre − 1 (from the arguments of
``saltation_norm``) and v = ∇_θz of the crossing entry (a per-sample backward pass written here), and per
step h and the growth rate μ the tier used. Then, for windows of m consecutive crossings, it evaluates the
bound of docs/theory.md F ("A windowed bound"): the events' product P_S exactly in the span of the
window's v̂'s, the steps' E_i = Ψ_i − I to first order with their partial products, the rest by norms,
with Λ = ``--lam`` standing for sup‖H‖ on the window (NOT certified here: an assumption of the
measurement), and prints Σ ln over the windows next to the present bound's Σ ln max(1, 1 + κ) + ∫μ⁺.

Instrumentation replaces methods of the tier for the run (monkeypatching); the tier's results are
unchanged. Lone crossings only: the script stops with a message if a kink decision made no single
saltation call (sliding, pinned, t = 0). ~1 min of CPU to t = 0.02.

    python benchmarks/relu_window_bound.py [--t-end 0.02] [--lam 76] [--windows 16,64,128,256]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_float_taylor import _relu_big  # noqa: E402
from numerics import error_growth, float_taylor  # noqa: E402


def _grad_z(flow, j: int, u: int, i: int) -> np.ndarray:
    """∇_θ z_j[u, i] (j 1-based, bias-free net) as a flat vector in numerics' order."""
    Ws = flow.y
    a = [flow.obj.loss.inputs[:, i].astype(float)]
    for l in range(j - 1):
        a.append((Ws[l] @ a[-1]) * flow.maskv[l + 1][:, i])
    g = np.zeros(Ws[j - 1].shape[0])
    g[u] = 1.0
    parts = [np.zeros(W.size) for W in Ws]
    for l in range(j - 1, -1, -1):
        parts[l] = np.outer(g, a[l]).ravel()
        if l > 0:
            g = (Ws[l].T @ g) * flow.maskv[l][:, i]
    return np.concatenate(parts)


def record(t_end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    obj, th = _relu_big(False)
    events, calls, steps = [], [], []
    kink, sn, step = float_taylor._FloatFlow._kink, float_taylor.saltation_norm, error_growth.MeasuredGrowth.step

    def kink_rec(self, j, u, i, t, from_side, unpinned=False):
        v = _grad_z(self, j + 1, u, i)
        n0 = len(calls)
        f = kink(self, j, u, i, t, from_side, unpinned)
        if len(calls) != n0 + 1:
            raise SystemExit(f"t = {t}: a kink decision without one saltation (sliding/pinned): not a lone crossing")
        pre, post = calls[-1][:2]
        events.append((t, post / pre - 1.0, v / np.linalg.norm(v)))
        return f

    def sn_rec(pre, post, dF, gz):
        calls.append((pre, post))
        return sn(pre, post, dF, gz)

    def step_rec(self, y0, ym, y1, h, coeffs=None, lipschitz=None):
        mu = step(self, y0, ym, y1, h, coeffs, lipschitz)
        steps.append((h, mu))
        return mu

    float_taylor._FloatFlow._kink, float_taylor.saltation_norm = kink_rec, sn_rec
    error_growth.MeasuredGrowth.step = step_rec
    try:
        float_taylor.float_gradient_flow(obj, th, t_end)
    finally:
        float_taylor._FloatFlow._kink, float_taylor.saltation_norm = kink, sn
        error_growth.MeasuredGrowth.step = step
    te = np.array([e[0] for e in events])
    kap = np.array([e[1] for e in events])
    V = np.array([e[2] for e in events])
    h = np.array([s[0] for s in steps])
    mu = np.array([s[1] for s in steps])
    return te, kap, V, h, mu


def window_sum(te, kap, V, h, mu, lam: float, m: int) -> float:
    """Σ over windows of ln F_w (docs/theory.md F, "A windowed bound")."""
    tend = np.cumsum(h)
    sidx = np.searchsorted(tend, te - 1e-15)  # the step each event ends
    total, s_prev = 0.0, 0
    for w0 in range(0, len(te), m):
        w1 = min(len(te), w0 + m)
        s_end = sidx[w1 - 1] + 1 if w1 < len(te) else len(h)
        hs, ms = h[s_prev:s_end], mu[s_prev:s_end]
        before = np.searchsorted(sidx[w0:w1], np.arange(s_prev, s_end), side="left")  # events before each step
        s_prev = s_end
        K = kap[w0:w1]
        _, Rm = np.linalg.qr(V[w0:w1].T)  # v̂_j = Q·Rm[:, j]: the events act in the span Q
        k = Rm.shape[0]
        pref = [np.eye(k)]
        for j in range(w1 - w0):
            q = Rm[:, j]
            pref.append(pref[-1] + K[j] * np.outer(q, q @ pref[-1]))
        P = pref[-1]
        E = np.expm1(hs * lam)
        mixed = 0.0
        for e, nb in zip(E, before):
            Pb = pref[nb]
            Pa = P @ np.linalg.inv(Pb)
            # off the span of the v̂'s the events act as the identity (k < P): partial products have norm ≥ 1
            mixed += e * (np.linalg.norm(Pa - np.eye(k), 2) * max(1.0, np.linalg.norm(Pb, 2))
                          + np.linalg.norm(Pb - np.eye(k), 2))
        b = float(E.sum())
        multi = math.exp(float(np.abs(K).sum())) * (math.expm1(b) - b)
        r2 = float((E - hs * lam).sum())
        D = P - np.eye(k)
        x = max(0.0, float(np.linalg.eigvalsh((D + D.T) / 2).max())) + float(ms @ hs)  # ≥ 0 off the span
        y = float(np.linalg.norm(D, 2)) + lam * float(hs.sum())
        F = math.sqrt(max(0.0, 1 + 2 * x + y * y)) + mixed + multi + r2
        total += math.log(max(F, 1.0))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=0.02)
    ap.add_argument("--lam", type=float, default=76.0, help="Λ standing for sup‖H‖ (λ_max(θ0) = 68.9)")
    ap.add_argument("--windows", default="16,64,128,256")
    a = ap.parse_args()
    ms = [int(x) for x in a.windows.split(",")]
    if not (a.t_end > 0 and a.lam > 0 and all(m >= 1 for m in ms)):
        ap.error("--t-end, --lam and the window sizes must be positive")
    te, kap, V, h, mu = record(a.t_end)
    now = float(np.log(np.maximum(1.0, 1.0 + kap)).sum() + mu @ h)
    print(f"to t = {a.t_end}: {len(te)} lone crossings, {len(h)} steps; κ quantiles (0, 1, 10, 50, 90, 99, 100 %): "
          + ", ".join(f"{q:.3g}" for q in np.quantile(kap, [0, .01, .1, .5, .9, .99, 1])))
    print(f"present bound: Σ ln max(1, 1 + κ) + ∫μ⁺ = {now:.3f}")
    for m in ms:
        print(f"windows of {m:4d}: Σ ln F_w = {window_sum(te, kap, V, h, mu, a.lam, m):.3f}")


if __name__ == "__main__":
    main()
