"""The claims engine: claim and verdict machinery (:mod:`.claim`), instances and their JSON codec
(:mod:`.instances`), Hypothesis strategies (:mod:`.strategies`) and profiles (:mod:`.profiles`), and
the registry (:mod:`.registry`)."""

from .claim import VERDICTS, Claim, ClaimResult, Measurement, NotApplicable, require
from .registry import claims, register

__all__ = ["VERDICTS", "Claim", "ClaimResult", "Measurement", "NotApplicable", "claims", "register", "require"]
