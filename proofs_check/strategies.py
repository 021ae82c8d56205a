"""Hypothesis strategies for property tests of your own code (the public home of
:mod:`proofs_check.engine.strategies`; validation instance families are in
:mod:`proofs_check.validation.strategies`)."""

from .engine.strategies import *  # noqa: F401,F403
from .engine.strategies import __all__  # noqa: F401
