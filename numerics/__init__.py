"""numerics: how it is computed -- one generic formula per quantity, run in exact, mp and float64.

The entry type of θ decides the arithmetic: float64 arrays, object arrays of ``mpmath.mpf`` (at the
caller's mpmath precision, or ``dps=``), object arrays of ``fractions.Fraction`` (exact).

Modules that pull scipy.integrate / scipy.sparse / the Taylor machinery (flows, float_flows,
generic_flow, spectra, ntk_training) load on first use through the module ``__getattr__`` below
(issue 9: import budget).
"""

from __future__ import annotations

import importlib
from typing import Any

from .backends import QMat
from .discrete import Iterates, gradient_descent, heavy_ball, nesterov
from .distances import gf_gd_distance, trajectory_distances
from .duals import Dual
from .gradients import gradient, sample_gradient, value, value_and_gradient
from .hessians import hessian, hvp
from .inits import balanced_init, gaussian_init, xavier_init
from .invariants import balancedness, gd_drift, layer_norm_gaps, neuron_norm_gaps

# name -> submodule that defines it (imported on first access)
_LAZY_ATTRS = {
    "FloatTrajectory": "float_flows", "gradient_flow_float": "float_flows",
    "Trajectory": "flows", "gradient_flow": "flows", "heavy_ball_flow": "flows", "modified_flow": "flows",
    "nesterov_flow": "flows",
    "GenericTrajectory": "generic_flow", "gradient_flow_generic": "generic_flow",
    "ConvergenceError": "spectra", "EigenResult": "spectra", "hvp_operator": "spectra",
    "lambda_min": "spectra", "lambda_max": "spectra",
    "NetworkFlow": "ntk_training", "TrainingRun": "ntk_training", "network_gradient_flow": "ntk_training",
    "train": "ntk_training", "train_gd": "ntk_training", "train_heavy_ball": "ntk_training",
    "train_nesterov": "ntk_training",
    "A1Bound": "curvature", "CurvatureAlong": "curvature", "a1_bound": "curvature",
    "curvature_along": "curvature", "negativity_integral": "curvature",
    "KinkEvent": "kink_events", "NonUniqueFlowError": "kink_events", "UnsupportedKinkError": "kink_events",
}
_LAZY_MODULES = ("ntk_training", "flows", "float_flows", "generic_flow", "spectra", "series", "curvature")

__all__ = [
    "A1Bound",
    "CurvatureAlong",
    "a1_bound",
    "curvature_along",
    "negativity_integral",
    "ConvergenceError",
    "Dual",
    "EigenResult",
    "KinkEvent",
    "NonUniqueFlowError",
    "UnsupportedKinkError",
    "FloatTrajectory",
    "GenericTrajectory",
    "Iterates",
    "QMat",
    "Trajectory",
    "gf_gd_distance",
    "gradient_descent",
    "gradient_flow",
    "gradient_flow_float",
    "gradient_flow_generic",
    "heavy_ball",
    "heavy_ball_flow",
    "modified_flow",
    "nesterov",
    "nesterov_flow",
    "trajectory_distances",
    "balanced_init",
    "balancedness",
    "gaussian_init",
    "xavier_init",
    "gd_drift",
    "gradient",
    "sample_gradient",
    "hessian",
    "hvp",
    "hvp_operator",
    "lambda_max",
    "lambda_min",
    "layer_norm_gaps",
    "neuron_norm_gaps",
    "value",
    "value_and_gradient",
    "ntk_training",
    "NetworkFlow",
    "TrainingRun",
    "network_gradient_flow",
    "train",
    "train_gd",
    "train_heavy_ball",
    "train_nesterov",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRS:
        value = getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
