"""Validation of other implementations against gfgd's references.

:mod:`.protocols` (signatures of the kinds), :mod:`.strategies` (instance families), :mod:`.tolerance`
(the float64 rounding model), :mod:`.references`, :mod:`.outputs` and :mod:`.compare` (calling and
comparing), :mod:`.hints` (common mistakes), :mod:`.runner` (:func:`validate`), :mod:`.report`,
:mod:`.golden` (reference vectors as JSON), :mod:`.torch_adapter` (PyTorch; needs the ``torch``
extra, not imported here) and :mod:`.implementations` (gfgd's own float64 paths as templates).
"""

from .implementations import float64_implementation
from .report import Outcome, ValidationReport
from .runner import check_instance, default_strategy, validate
from .tolerance import KINDS

__all__ = ["KINDS", "Outcome", "ValidationReport", "check_instance", "default_strategy", "float64_implementation",
           "validate"]
