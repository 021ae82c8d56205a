"""numerics: how it is computed -- one generic formula per quantity, run in exact, mp and float64.

The entry type of θ decides the arithmetic: float64 arrays, object arrays of ``mpmath.mpf`` (at the
caller's mpmath precision, or ``dps=``), object arrays of ``fractions.Fraction`` (exact).
"""

from .backends import QMat
from .discrete import Iterates, gradient_descent, heavy_ball, nesterov
from .distances import gf_gd_distance, trajectory_distances
from .duals import Dual
from .float_flows import FloatTrajectory, gradient_flow_float
from .flows import Trajectory, gradient_flow, heavy_ball_flow, modified_flow, nesterov_flow
from .generic_flow import GenericTrajectory, gradient_flow_generic
from .gradients import gradient, value, value_and_gradient
from .hessians import hessian, hvp
from .inits import balanced_init, gaussian_init
from .kink_events import KinkEvent, NonUniqueFlowError, UnsupportedKinkError
from .invariants import balancedness, gd_drift, layer_norm_gaps, neuron_norm_gaps
from .spectra import ConvergenceError, EigenResult, hvp_operator, lambda_min
from . import ntk_training
from .ntk_training import (NetworkFlow, TrainingRun, network_gradient_flow, train, train_gd, train_heavy_ball,
                           train_nesterov)

__all__ = [
    "ConvergenceError",
    "Dual",
    "EigenResult",
    "FloatTrajectory",
    "GenericTrajectory",
    "Iterates",
    "KinkEvent",
    "NonUniqueFlowError",
    "UnsupportedKinkError",
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
    "gd_drift",
    "gradient",
    "hessian",
    "hvp",
    "hvp_operator",
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
