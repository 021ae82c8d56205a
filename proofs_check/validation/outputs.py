"""Calling an implementation on copies of an instance, and normalising what it returns into one
flat float64 vector -- or naming precisely what is wrong with it (type, shape, NaN/inf, where)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


from .strategies import Instance
from .compare import _layer_labels

# ----------------------------------------------------------------------------------------- errors
class _ImplProblem(Exception):
    """The implementation's output is unusable (failure kind + message)."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


class _Failed(Exception):
    """Raised inside the Hypothesis test to mark a failing instance (so that it shrinks)."""


class _InternalError(Exception):
    """A reference computation failed: gfgd's problem, not the implementation's."""


# -------------------------------------------------------------------------- output normalisation
def _as_array(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - anything the user returns
        raise _ImplProblem("wrong_type", f"{what} is not array-like ({type(x).__name__}: {e})") from None
    if a.dtype == object:
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            entry = type(a.flat[0]).__name__ if a.size else "?"
            raise _ImplProblem("wrong_type", f"{what} is not a numeric array (got entries of type {entry}; "
                                             f"shape {a.shape})") from None
    if a.dtype.kind == "c":
        raise _ImplProblem("wrong_type", f"{what} is complex ({a.dtype}); expected real float64")
    if a.dtype.kind not in "fiub":
        raise _ImplProblem("wrong_type", f"{what} has dtype {a.dtype}; expected float64")
    return a


class _Out:
    """Normalises what an implementation returned into one flat float64 vector, or raises
    :class:`_ImplProblem` naming what is wrong (type, shape, NaN/inf) and where."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.shapes = [tuple(w.shape) for w in inst.weights]
        self.P = inst.num_params
        self.dtypes: set[str] = set()

    def _seq(self, x: Any, what: str) -> list:
        if isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "shape")):
            return None  # an array, not a list: caller decides
        if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__iter__"):
            raise _ImplProblem("wrong_type", f"{what} must be a list, got {type(x).__name__}")
        return list(x)

    def layers(self, x: Any, what: str) -> np.ndarray:
        seq = self._seq(x, what)
        N = len(self.shapes)
        if seq is None:
            a = _as_array(x, what)
            hint = " (a flat vector of all parameters: return a list shaped like weights, e.g. with " \
                   "Objective.unflatten)" if a.ndim == 1 and a.size == self.P else ""
            raise _ImplProblem("wrong_shape", f"{what} must be a list of {N} arrays shaped like weights, "
                                              f"got one array of shape {a.shape}{hint}")
        if len(seq) != N:
            raise _ImplProblem("wrong_shape", f"{what} must be a list of {N} arrays (one per layer), got {len(seq)}")
        out = []
        for j, (a, s) in enumerate(zip(seq, self.shapes)):
            arr = _as_array(a, f"{what}[{j}]")
            self.dtypes.add(str(arr.dtype))
            if arr.shape != s:
                hint = " (transposed?)" if arr.shape == s[::-1] and s[0] != s[1] else ""
                raise _ImplProblem("wrong_shape", f"{what}[{j}] (W_{j + 1}) must have shape {s}, got {arr.shape}{hint}")
            out.append(arr.astype(np.float64).reshape(-1))
        flat = np.concatenate(out)
        self._finite(flat, what, _layer_labels(self.shapes))
        return flat

    def matrix(self, x: Any, what: str) -> np.ndarray:
        a = _as_array(x, what)
        self.dtypes.add(str(a.dtype))
        if a.shape != (self.P, self.P):
            raise _ImplProblem("wrong_shape", f"{what} must have shape ({self.P}, {self.P}) (P = number of "
                                              f"parameters), got {a.shape}")
        flat = a.astype(np.float64).reshape(-1)
        labels = _layer_labels(self.shapes)
        self._finite(flat, what, [f"[{i},{k}] ({labels[i]}, {labels[k]})"
                                  for i in range(self.P) for k in range(self.P)])
        return flat

    def scalar(self, x: Any, what: str) -> np.ndarray:
        a = _as_array(x, what)
        self.dtypes.add(str(a.dtype))
        if a.ndim != 0:
            raise _ImplProblem("wrong_shape", f"{what} must be a scalar float, got an array of shape {a.shape}")
        flat = a.astype(np.float64).reshape(1)
        self._finite(flat, what, [""])
        return flat

    def sequence(self, x: Any, count: int, what: str, noun: str) -> np.ndarray:
        seq = self._seq(x, what)
        if seq is None:
            raise _ImplProblem("wrong_type", f"{what} must be a list of {count} {noun}s (each a list of arrays), "
                                             f"got an array of shape {np.shape(x)}")
        if len(seq) != count:
            hint = ""
            if noun == "iterate" and len(seq) == count - 1:
                hint = " (θ_0 = weights must come first: steps + 1 entries)"
            elif noun == "iterate" and len(seq) == count + 1:
                hint = " (one iterate too many: steps + 1 entries, θ_0 first)"
            raise _ImplProblem("wrong_shape", f"{what} must have {count} {noun}s, got {len(seq)}{hint}")
        return np.concatenate([self.layers(e, f"{noun} {k}") for k, e in enumerate(seq)])

    def _finite(self, flat: np.ndarray, what: str, labels: Sequence[str]) -> None:
        bad = ~np.isfinite(flat)
        if bad.any():
            i = int(np.argmax(bad))
            where = f" at {labels[i]}" if labels[i] else ""
            raise _ImplProblem("non_finite", f"{what} contains {int(bad.sum())} non-finite value(s) "
                                             f"({float(flat[i])!r}{where})")



# ------------------------------------------------------------------------------------- one instance
def _copy(ws: Sequence[np.ndarray] | None) -> list[np.ndarray] | None:
    return None if ws is None else [np.array(w, dtype=np.float64, copy=True) for w in ws]


def _call(kind: str, impl: Callable, inst: Instance) -> tuple[Any, bool]:
    """Call ``impl`` on copies of the instance's arrays; returns (output, modified_inputs)."""
    ws, Phi, v = _copy(inst.weights), np.array(inst.Phi, dtype=np.float64, copy=True), _copy(inst.v)
    if kind in ("gradient", "hessian", "lambda_min"):
        out = impl(ws, Phi)
    elif kind == "hvp":
        out = impl(ws, Phi, v)
    elif kind == "gd":
        out = impl(ws, Phi, float(inst.eta), int(inst.steps))
    elif kind in ("heavy_ball", "nesterov"):
        out = impl(ws, Phi, float(inst.eta), float(inst.beta), int(inst.steps))
    else:
        out = impl(ws, Phi, [float(t) for t in inst.times])
    modified = any(not np.array_equal(a, b) for a, b in zip(ws, inst.weights)) or not np.array_equal(Phi, inst.Phi) \
        or (v is not None and any(not np.array_equal(a, b) for a, b in zip(v, inst.v)))
    return out, modified


def _normalize(kind: str, out: Any, inst: Instance, norm: _Out) -> np.ndarray:
    if kind in ("gradient", "hvp"):
        return norm.layers(out, "the result")
    if kind == "hessian":
        return norm.matrix(out, "the Hessian")
    if kind == "lambda_min":
        return norm.scalar(out, "lambda_min")
    if kind == "gf":
        return norm.sequence(out, len(inst.times), "the result", "state")
    return norm.sequence(out, int(inst.steps) + 1, "the result", "iterate")
