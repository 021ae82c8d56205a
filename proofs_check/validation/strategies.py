"""Hypothesis strategies for validating implementations: plain-numpy instances, including hard ones.

An :class:`Instance` is what an implementation under validation receives (``weights``, ``Phi`` and,
per kind, ``v``, ``eta``, ``beta``, ``steps`` or ``times``), plus the family it was drawn from. It
serialises to JSON exactly (floats as ``repr`` strings) and back.

Families (all float64, deep networks with the whitened square loss):

* ``generic``       -- :func:`proofs_check.strategies.deep_linear_instances` (``kind="float"``):
  entries anywhere in [−1, 1], zeros and subnormals included.
* ``scaled``        -- generic with each layer and Φ multiplied by its own power of two in
  [2^−12, 2^12]: gradient and Hessian entries spread over many orders of magnitude, so a tolerance
  relative to the largest entry would miss bugs in the small ones and one relative to each entry
  would fail correct code.
* ``near_optimum``  -- Φ set to the float64 end-to-end product (optionally perturbed by 2^−30
  relative): the residual W_N⋯W_1 − Φ is pure rounding, the gradient is tiny next to the products
  it is made of, and its relative error is O(1) even for a correct float64 implementation.
* ``near_singular`` -- rank-one layers and Φ plus a 2^−20..2^−50 perturbation: near-singular
  Hessians with eigenvalues near 0, where relative error of λ_min is meaningless.

The instances are small (depth ≤ ``max_depth``, widths ≤ ``max_width``) so that the exact and mp
references stay fast; Hypothesis shrinks failures towards the first family and the smallest widths.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

import theory

from ..engine.strategies import deep_linear_instances, matrices, widths as widths_strategy

FAMILIES = ("generic", "scaled", "near_optimum", "near_singular")
MODELS = ("linear", "relu")


def _arr_json(a: np.ndarray) -> list:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return [repr(float(x)) for x in a]
    return [[repr(float(x)) for x in row] for row in a]


def _arr_load(x: Any) -> np.ndarray:
    return np.array([[float(y) for y in row] for row in x], dtype=np.float64)


@dataclass(eq=False)
class Instance:
    """One validation instance in plain numpy (see :mod:`proofs_check.validation.protocols`)."""

    widths: tuple[int, ...]
    Phi: np.ndarray
    weights: list[np.ndarray]
    family: str = "generic"
    v: list[np.ndarray] | None = None
    eta: float | None = None
    beta: float | None = None
    steps: int | None = None
    times: tuple[float, ...] | None = None
    extra: dict = field(default_factory=dict)

    def objective(self, model: str = "linear") -> theory.Objective:
        """The :class:`theory.Objective` of this instance (ReLU with α = 0 for ``model="relu"``)."""
        net = theory.DeepLinear(self.widths) if model == "linear" else theory.ReLUNet(self.widths, 0)
        return theory.Objective(net, theory.WhitenedSquare(self.Phi))

    @property
    def num_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def to_json(self) -> dict:
        """Exact JSON: every float as its shortest round-trip ``repr`` string."""
        d: dict[str, Any] = {"family": self.family, "widths": list(self.widths), "Phi": _arr_json(self.Phi),
                             "weights": [_arr_json(w) for w in self.weights]}
        if self.v is not None:
            d["v"] = [_arr_json(w) for w in self.v]
        for name in ("eta", "beta"):
            if getattr(self, name) is not None:
                d[name] = repr(float(getattr(self, name)))
        if self.steps is not None:
            d["steps"] = int(self.steps)
        if self.times is not None:
            d["times"] = [repr(float(t)) for t in self.times]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Instance":
        """Inverse of :meth:`to_json` (also accepts plain JSON numbers instead of strings)."""
        inst = cls(tuple(int(x) for x in d["widths"]), _arr_load(d["Phi"]), [_arr_load(w) for w in d["weights"]],
                   d.get("family", "generic"))
        if "v" in d:
            inst.v = [_arr_load(w) for w in d["v"]]
        if "eta" in d:
            inst.eta = float(d["eta"])
        if "beta" in d:
            inst.beta = float(d["beta"])
        if "steps" in d:
            inst.steps = int(d["steps"])
        if "times" in d:
            inst.times = tuple(float(t) for t in d["times"])
        inst.objective()  # validates shapes against widths
        return inst

    def __repr__(self) -> str:
        extras = {k: getattr(self, k) for k in ("eta", "beta", "steps", "times") if getattr(self, k) is not None}
        return f"Instance(widths={self.widths}, family={self.family!r}, P={self.num_params}, {extras})"


def _from_pair(pair: tuple, family: str) -> Instance:
    obj, theta = pair
    return Instance(tuple(obj.widths), np.asarray(obj.loss.Phi, dtype=np.float64),
                    [np.asarray(w, dtype=np.float64) for w in theta], family)


@st.composite
def _fixed_width_instances(draw, widths: tuple[int, ...], scale: float = 1.0) -> Instance:
    Phi = draw(matrices((widths[-1], widths[0]), "float", scale))
    ws = [draw(matrices((widths[j], widths[j - 1]), "float", scale)) for j in range(1, len(widths))]
    return Instance(tuple(widths), Phi, ws, "generic")


def generic(max_depth: int = 3, max_width: int = 3, widths: Sequence[int] | None = None,
            scale: float = 1.0) -> st.SearchStrategy[Instance]:
    """The exported deep-linear strategy (float entries in [−scale, scale]) as :class:`Instance`."""
    if widths is not None:
        return _fixed_width_instances(tuple(int(w) for w in widths), scale)
    return deep_linear_instances(kind="float", max_depth=max_depth, max_width=max_width,
                                 scale=scale).map(lambda p: _from_pair(p, "generic"))


@st.composite
def scaled(draw, max_depth: int = 3, max_width: int = 3, widths: Sequence[int] | None = None,
           max_exponent: int = 12) -> Instance:
    """Generic instances with per-layer and per-Φ power-of-two scales 2^s, |s| ≤ max_exponent."""
    base = draw(generic(max_depth, max_width, widths))
    exps = draw(st.lists(st.integers(-max_exponent, max_exponent), min_size=len(base.weights) + 1,
                         max_size=len(base.weights) + 1))
    return replace(base, family="scaled", Phi=base.Phi * 2.0 ** exps[-1],
                   weights=[w * 2.0 ** s for w, s in zip(base.weights, exps)])


def forward_float(weights: Sequence[np.ndarray], model: str = "linear") -> np.ndarray:
    """The network output on the identity input, h(I) = W_N σ(⋯σ(W_1)), in float64."""
    z = np.asarray(weights[0], dtype=np.float64)
    for W in weights[1:]:
        if model == "relu":
            z = np.maximum(z, 0.0)
        z = W @ z
    return z


@st.composite
def near_optimum(draw, max_depth: int = 3, max_width: int = 3, widths: Sequence[int] | None = None,
                 model: str = "linear") -> Instance:
    """Φ = fl(h(I)) (the float64 network output), optionally perturbed by 2^−30 relative."""
    base = draw(generic(max_depth, max_width, widths))
    Phi = forward_float(base.weights, model)
    if draw(st.booleans()):
        signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=Phi.size, max_size=Phi.size)))
        Phi = Phi * (1.0 + 2.0**-30 * signs.reshape(Phi.shape))
    return replace(base, family="near_optimum", Phi=Phi)


@st.composite
def near_singular(draw, max_depth: int = 3, max_width: int = 3, widths: Sequence[int] | None = None) -> Instance:
    """Rank-one layers and Φ, each plus 2^−e times a generic matrix, e ∈ [20, 50]."""
    ws = tuple(widths) if widths is not None else draw(widths_strategy(1, max_depth, 1, max_width))
    e = draw(st.integers(20, 50))

    def rank_one(shape):
        u = draw(matrices((shape[0], 1), "float", 1.0))
        v = draw(matrices((1, shape[1]), "float", 1.0))
        E = draw(matrices(shape, "float", 1.0))
        return u @ v + 2.0**-e * E

    Phi = rank_one((ws[-1], ws[0]))
    weights = [rank_one((ws[j], ws[j - 1])) for j in range(1, len(ws))]
    return Instance(ws, Phi, weights, "near_singular")


def instances(families: Sequence[str] = FAMILIES, max_depth: int = 3, max_width: int = 3,
              widths: Sequence[int] | None = None, model: str = "linear") -> st.SearchStrategy[Instance]:
    """One of ``families`` (shrinking prefers the first). ``widths`` fixes the architecture."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {list(families)}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    build = {"generic": lambda: generic(max_depth, max_width, widths),
             "scaled": lambda: scaled(max_depth, max_width, widths),
             "near_optimum": lambda: near_optimum(max_depth, max_width, widths, model),
             "near_singular": lambda: near_singular(max_depth, max_width, widths)}
    return st.one_of([build[f]() for f in families])


def _floored(a: np.ndarray, floor: float) -> np.ndarray:
    return np.where(np.abs(a) < floor, 0.0, a)


@st.composite
def flow_instances(draw, max_depth: int = 3, max_width: int = 3, widths: Sequence[int] | None = None,
                   model: str = "linear", max_time: float = 4.0) -> Instance:
    """Instances for ``gf``: entries with |x| ≥ 2^−10 or 0 (so ‖θ(t)‖ is not pathologically tiny),
    Φ generic or at the float optimum, and 1–3 output times in [0, t_end], t_end ≤ ``max_time``."""
    base = draw(generic(max_depth, max_width, widths))
    weights = [_floored(w, 2.0**-10) for w in base.weights]
    if draw(st.booleans()):
        Phi, fam = _floored(base.Phi, 2.0**-10), "generic"
    else:
        Phi, fam = forward_float(weights, model), "near_optimum"
    t_end = draw(st.floats(1 / 16, max_time))
    fracs = draw(st.lists(st.floats(0.0, 1.0), max_size=2))
    times = tuple(sorted({t_end * u for u in fracs} | {t_end}))
    return replace(base, family=fam, Phi=Phi, weights=weights, times=times)


def abs_hessian_norm(inst: Instance) -> float:
    """‖H_abs(|θ|)‖_F: the Hessian of the absolute-value formula (an upper bound on ‖∇²f‖₂ in the
    box |θ'| ≤ |θ|), used to scale step sizes."""
    import numerics

    obj = theory.Objective(theory.DeepLinear(inst.widths), theory.WhitenedSquare(-np.abs(inst.Phi)))
    H = numerics.hessian(obj, [np.abs(w) for w in inst.weights])
    m = float(np.abs(H).max())
    return m * float(np.linalg.norm(H / m)) if m > 0 else 0.0


@st.composite
def with_direction(draw, base: st.SearchStrategy[Instance], max_exponent: int = 8) -> Instance:
    """Adds ``v`` (for hvp): a direction shaped like the weights, scaled by 2^s, |s| ≤ max_exponent."""
    inst = draw(base)
    s = draw(st.integers(-max_exponent, max_exponent))
    v = [draw(matrices(w.shape, "float", 1.0)) * 2.0**s for w in inst.weights]
    return replace(inst, v=v)


@st.composite
def with_steps(draw, base: st.SearchStrategy[Instance], momentum: bool = False, max_steps: int = 6,
               max_beta: float = 0.9) -> Instance:
    """Adds ``eta`` = u / max(1, ‖H_abs‖_F) with u ∈ [1/64, 1], ``steps`` ∈ [1, max_steps] and, with
    ``momentum``, ``beta`` ∈ [0, max_beta]."""
    inst = draw(base)
    u = draw(st.floats(1 / 64, 1.0))
    L = abs_hessian_norm(inst)
    eta = u / max(1.0, L)
    steps = draw(st.integers(1, max_steps))
    beta = draw(st.floats(0.0, max_beta)) if momentum else None
    return replace(inst, eta=eta, steps=steps, beta=beta)
