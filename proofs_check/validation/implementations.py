"""gfgd's own float64 implementations with the protocols' signatures (templates and controls)."""

from __future__ import annotations

from typing import Callable


import numerics
import theory

from .runner import _check_kind

# --------------------------------------------------------------------- gfgd's own float64 path
def float64_implementation(kind: str, model: str = "linear") -> Callable:
    """gfgd's own float64 implementation of ``kind`` with the protocol's signature (numerics on
    float64 arrays; ``gf`` via scipy DOP853 at rtol = atol = 1e-13). Useful as a template and as the
    'correct' control in tests: ``validate(kind, float64_implementation(kind))`` passes."""
    _check_kind(kind)

    def objective(weights, Phi):
        ws = tuple([weights[0].shape[1]] + [w.shape[0] for w in weights])
        net = theory.DeepLinear(ws) if model == "linear" else theory.ReLUNet(ws, 0)
        return theory.Objective(net, theory.WhitenedSquare(Phi))

    def gradient(weights, Phi):
        return numerics.gradient(objective(weights, Phi), weights)

    def hvp(weights, Phi, v):
        return numerics.hvp(objective(weights, Phi), weights, v)

    def hessian(weights, Phi):
        return numerics.hessian(objective(weights, Phi), weights)

    def lambda_min(weights, Phi):
        return numerics.lambda_min(objective(weights, Phi), weights)

    def gd(weights, Phi, eta, steps):
        return numerics.gradient_descent(objective(weights, Phi), weights, eta, steps).thetas

    def heavy_ball(weights, Phi, eta, beta, steps):
        return numerics.heavy_ball(objective(weights, Phi), weights, eta, beta, steps).thetas

    def nesterov(weights, Phi, eta, beta, steps):
        return numerics.nesterov(objective(weights, Phi), weights, eta, steps, beta=beta).thetas

    def gf(weights, Phi, times):
        t_end = max(times) if len(times) else 0.0
        if t_end == 0:
            return [[w.copy() for w in weights] for _ in times]
        traj = numerics.gradient_flow_float(objective(weights, Phi), weights, t_end, rtol=1e-13, atol=1e-13,
                                            estimate_error=False)
        return [traj.at(t) for t in times]

    impls = {"gradient": gradient, "hvp": hvp, "hessian": hessian, "lambda_min": lambda_min, "gd": gd,
             "heavy_ball": heavy_ball, "nesterov": nesterov, "gf": gf}
    f = impls[kind]
    f.__qualname__ = f"float64_implementation({kind!r})"
    f.__module__ = __name__
    return f
