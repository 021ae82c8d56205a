"""Instances as JSON: exact encodings of (objective, θ) so a worst case or counterexample replays.

Numbers are strings: ``"p/q"`` for exact rationals, ``repr`` of the float64 value for floats (which
``float()`` reads back bit for bit), decimal strings for mpf. Decoding restores the entry kind.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

import theory


def encode_number(x: Any) -> str:
    if isinstance(x, Fraction):
        return f"{x.numerator}/{x.denominator}"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return f"{int(x)}/1"
    if isinstance(x, mpmath.mpf):
        return "mp:" + mpmath.nstr(x, int(mpmath.mp.dps) + 5, strip_zeros=False)
    return repr(float(x))


def decode_number(s: str) -> Any:
    if s.startswith("mp:"):
        return mpmath.mpf(s[3:])
    if "/" in s:
        return Fraction(s)
    return float(s)


def encode_array(a: Any) -> dict:
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [encode_number(x) for x in a.flat]}


def decode_array(d: dict) -> np.ndarray:
    vals = [decode_number(s) for s in d["data"]]
    if all(isinstance(v, float) for v in vals):
        return np.array(vals, dtype=np.float64).reshape(d["shape"])
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out.reshape(d["shape"])


def encode_objective(obj: Any) -> dict:
    """JSON description of a theory.Objective or theory.Quadratic."""
    if isinstance(obj, theory.Quadratic):
        return {"type": "Quadratic", "A": encode_array(obj.A), "b": encode_array(obj.b)}
    m, loss = obj.model, obj.loss
    d = {"type": "Objective", "model": type(m).__name__, "widths": list(m.widths),
         "alpha": encode_number(Fraction(m.alpha) if not isinstance(m.alpha, float) else m.alpha)}
    if isinstance(loss, theory.WhitenedSquare):
        d["loss"] = {"type": "WhitenedSquare", "Phi": encode_array(loss.Phi)}
    else:
        d["loss"] = {"type": "SquareLoss", "X": encode_array(loss.X), "Y": encode_array(loss.Y)}
    return d


def decode_objective(d: dict) -> Any:
    if d["type"] == "Quadratic":
        return theory.Quadratic(decode_array(d["A"]), decode_array(d["b"]))
    if d["type"] != "Objective":
        raise ValueError(f"unknown objective type {d['type']!r}")
    alpha = decode_number(d["alpha"])
    model = theory.DeepLinear(tuple(d["widths"])) if d["model"] == "DeepLinear" else \
        theory.ReLUNet(tuple(d["widths"]), alpha)
    loss = d["loss"]
    if loss["type"] == "WhitenedSquare":
        return theory.Objective(model, theory.WhitenedSquare(decode_array(loss["Phi"])))
    return theory.Objective(model, theory.SquareLoss(decode_array(loss["X"]), decode_array(loss["Y"])))


def encode_instance(obj: Any, theta: Any, **extra: Any) -> dict:
    """{"objective": ..., "theta": [...], **extra} with extra values encoded as numbers if numeric."""
    d = {"objective": encode_objective(obj), "theta": [encode_array(w) for w in theta]}
    for k, v in extra.items():
        d[k] = encode_number(v) if isinstance(v, (Fraction, float, int, mpmath.mpf, np.floating)) else v
    return d


def decode_instance(d: dict) -> tuple[Any, list[np.ndarray], dict]:
    extra = {k: (decode_number(v) if isinstance(v, str) and k not in ("family",) else v)
             for k, v in d.items() if k not in ("objective", "theta")}
    return decode_objective(d["objective"]), [decode_array(w) for w in d["theta"]], extra


def codec(*names: str, casts: dict | None = None):
    """(encode, decode) for instances ``(obj, θ, *extras)`` whose extras are named ``names``;
    ``casts`` maps a name to a function applied after decoding (e.g. ``int`` for a step count)."""
    casts = casts or {}

    def encode(inst: tuple) -> dict:
        obj, theta, *extra = inst
        return encode_instance(obj, theta, **dict(zip(names, extra)))

    def decode(d: dict) -> tuple:
        obj, theta, extra = decode_instance(d)
        return (obj, theta, *(casts.get(k, lambda x: x)(extra[k]) for k in names))

    return encode, decode
