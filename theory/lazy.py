"""Deferred imports of heavy third-party modules (issue 9: ``import theory, numerics`` within budget).

``lazy_module("mpmath")`` returns the module if it is loaded, else a module object whose code runs on
first attribute access (the standard library's ``importlib.util.LazyLoader``), registered in
``sys.modules`` so every later ``import mpmath`` shares it. mpmath (~0.1 s) and python-flint
(~0.06 s) are needed only by mp and exact work, which then pays their import once.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` imported now if already loaded or not found, else on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return importlib.import_module(name)  # raises the ordinary ImportError
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
