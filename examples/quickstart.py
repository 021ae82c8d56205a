"""Quickstart: one deep linear net in three arithmetics, and B1's bound at a point.

Run: python examples/quickstart.py
"""

from itertools import combinations

import mpmath
import numpy as np

import numerics
import theory

Phi = np.array([[1.0, -0.5, 0.25]])
obj = theory.Objective(theory.DeepLinear((3, 4, 4, 1)), theory.WhitenedSquare(Phi))
theta = numerics.gaussian_init(obj, scale=0.3, seed=0)
print(obj, "with", obj.num_params, "parameters")

# float64, exact rationals (floats convert exactly) and 50-digit mp: the same formula
g64 = numerics.gradient(obj, theta)
exact = [theory.to_kind(w, "exact") for w in theta]
g_exact = numerics.gradient(obj, exact)
g_mp = numerics.gradient(obj, [theory.to_kind(w, "mp") for w in theta], dps=50)
err = max(float(abs(a - b)) for ga, gb in zip(g64, g_exact) for a, b in zip(ga.flat, gb.flat))
print(f"max |float64 - exact| over the gradient: {err:.2e}")
with mpmath.workdps(50):
    print("one gradient entry at 50 digits:", g_mp[0][0, 0])

# λ_min: float64 with its residual bound, and the certified exact interval
r = numerics.lambda_min(obj, theta, return_info=True)
print(f"lambda_min (float64) = {r.value:.15f} +- {r.error_bound:.1e} ({r.method})")
iv = theory.symbolic.lambda_min_interval(numerics.hessian(obj, exact))
print(f"lambda_min (certified) in [{float(iv.lo):.15f}, {float(iv.hi):.15f}]")

# docs/theory.md B1: lambda_min >= -(N-1) * ||grad phi||_2 * max_{j<j'} prod_{i not in {j,j'}} ||W_i||_2
norms = [np.linalg.norm(W, 2) for W in theta]
W = theta[2] @ theta[1] @ theta[0]
bound = theory.bounds.b1_rhs(norms, np.linalg.norm(W - Phi, 2))
print(f"B1: -lambda_min / bound = {-r.value / bound:.3f} (<= 1 if the bound holds)")
