"""Golden reference vectors for other projects' test suites: ``gfgd golden --out FILE``.

:func:`generate` builds a small set of deep linear instances from a seed (entries are dyadic
rationals m/16 and m/8, exact in binary and in decimal), computes their references exactly (loss,
gradient, Hessian, an HVP, GD and heavy-ball iterates in rationals; λ_min/λ_max as certified
intervals) or at 60 digits (gradient flow by the Taylor method), and writes every number as a
decimal string: inputs exactly, outputs rounded (half-even) to 40 significant digits. :func:`load`
reads a file back into numpy objects. The schema (``"schema": "gfgd.golden"``, ``"version": 1``) is
documented in docs/validation.md; files for one seed are byte-identical across runs.
"""

from __future__ import annotations

import decimal
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import mpmath
import numpy as np

import numerics
import theory

SCHEMA = "gfgd.golden"
VERSION = 1
DIGITS = 40
GF_DPS = 60
CASE_WIDTHS: tuple[tuple[int, ...], ...] = ((2, 1), (2, 2, 1), (3, 2, 2), (2, 3, 3, 2))
GD_ETA = Fraction(1, 16)
GD_STEPS = 5
HB_BETA = Fraction(1, 2)
GF_TIMES = (Fraction(0), Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(2))

CONVENTIONS = {
    "loss": "f(W_1..W_N) = 1/2 ||W_N ... W_1 - Phi||_F^2 (DeepLinear, WhitenedSquare)",
    "weights": "list of N matrices; W_j has shape (d_j, d_{j-1}); W_1 first; matrices as lists of rows",
    "Phi": "shape (d_N, d_0)",
    "flatten": "Hessian rows/columns: W_1 row-major, then W_2, ... (theory.Objective.flatten)",
    "hvp": "hessian @ flatten(v), reshaped like the weights",
    "gd": "theta_{k+1} = theta_k - eta grad f(theta_k); iterates theta_0..theta_steps",
    "heavy_ball": "theta_{k+1} = theta_k - eta grad f(theta_k) + beta (theta_k - theta_{k-1}), theta_{-1} = theta_0",
    "gf": "theta'(t) = -grad f(theta(t)), theta(0) = weights; states at the listed times",
    "numbers": "decimal strings; inputs exact, outputs rounded half-even to `digits` significant digits",
}


# ----------------------------------------------------------------------------------- formatting
def _decimal_of(x: Fraction, digits: int = DIGITS) -> str:
    """x rounded half-even to ``digits`` significant digits, as ``d.ddd…e±XX`` (``"0"`` for zero)."""
    if x == 0:
        return "0"
    ctx = decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emin=-10**6, Emax=10**6)
    d = ctx.divide(decimal.Decimal(x.numerator), decimal.Decimal(x.denominator))
    return f"{d:.{digits - 1}e}"


def _exact_decimal(x: Fraction) -> str:
    """The exact decimal expansion of a dyadic rational (inputs)."""
    if x.denominator & (x.denominator - 1):
        raise ValueError(f"{x} is not dyadic")
    ctx = decimal.Context(prec=10_000)
    d = ctx.divide(decimal.Decimal(x.numerator), decimal.Decimal(x.denominator))
    s = format(d.normalize(ctx), "f")
    return s


def _frac(x: Any) -> Fraction:
    if isinstance(x, Fraction):
        return x
    return theory.to_kind(np.array([x], dtype=object), "exact")[0]


def _mat_out(a: np.ndarray) -> list:
    a = np.asarray(a, dtype=object)
    if a.ndim == 1:
        return [_decimal_of(_frac(x)) for x in a]
    return [[_decimal_of(_frac(x)) for x in row] for row in a]


def _mat_in(a: np.ndarray) -> list:
    return [[_exact_decimal(_frac(x)) for x in row] for row in np.asarray(a, dtype=object)]


# ------------------------------------------------------------------------------------ generation
def _dyadic(rng: np.random.Generator, shape: tuple[int, ...], num: int, den: int) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = Fraction(int(rng.integers(-num, num + 1)), den)
    return out


def _certified(H: np.ndarray, sign: int) -> Fraction:
    from theory import symbolic

    m = max([abs(x) for x in H.flat] + [Fraction(1)])
    iv = symbolic.lambda_min_interval(H * sign, eps=m * Fraction(1, 10**(DIGITS + 8)))
    return sign * iv.midpoint


def _case(rng: np.random.Generator, index: int, widths: tuple[int, ...]) -> dict:
    Phi = _dyadic(rng, (widths[-1], widths[0]), 16, 8)
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    theta = [_dyadic(rng, s, 16, 16) for s in obj.shapes]
    v = [_dyadic(rng, s, 16, 16) for s in obj.shapes]
    loss, grad = numerics.value_and_gradient(obj, theta)
    H = numerics.hessian(obj, theta)
    hv = numerics.hvp(obj, theta, v)
    gd = numerics.gradient_descent(obj, theta, GD_ETA, GD_STEPS)
    hb = numerics.heavy_ball(obj, theta, GD_ETA, HB_BETA, GD_STEPS)
    if gd.diverged or hb.diverged:  # pragma: no cover - the dyadic instances are tame
        raise RuntimeError(f"golden case {index}: a discrete method diverged")
    traj = numerics.gradient_flow(obj, theta, GF_TIMES[-1], dps=GF_DPS)
    if traj.error_estimate > 1e-50:  # pragma: no cover
        raise RuntimeError(f"golden case {index}: GF error estimate {traj.error_estimate:.2e} exceeds 1e-50")
    with mpmath.workdps(GF_DPS + 10):
        states = [traj.at(t) if t > 0 else [theory.to_kind(w, "mp") for w in theta] for t in GF_TIMES]
        gf_states = [[_mat_out(theory.to_kind(w, "exact")) for w in st] for st in states]
        gf_losses = [_decimal_of(_frac(numerics.value(obj, st))) for st in states]
    return {
        "name": f"case{index}_N{len(widths) - 1}_" + "-".join(map(str, widths)),
        "model": "DeepLinear",
        "loss": "WhitenedSquare",
        "widths": list(widths),
        "Phi": _mat_in(Phi),
        "weights": [_mat_in(w) for w in theta],
        "loss_value": _decimal_of(loss),
        "gradient": [_mat_out(g) for g in grad],
        "hvp": {"v": [_mat_in(w) for w in v], "value": [_mat_out(x) for x in hv]},
        "hessian": _mat_out(H),
        "hessian_lambda_min": _decimal_of(_certified(H, 1)),
        "hessian_lambda_max": _decimal_of(_certified(H, -1)),
        "gd": {"eta": _exact_decimal(GD_ETA), "steps": GD_STEPS,
               "iterates": [[_mat_out(w) for w in th] for th in gd.thetas],
               "losses": [_decimal_of(x) for x in gd.losses]},
        "heavy_ball": {"eta": _exact_decimal(GD_ETA), "beta": _exact_decimal(HB_BETA), "steps": GD_STEPS,
                       "iterates": [[_mat_out(w) for w in th] for th in hb.thetas],
                       "losses": [_decimal_of(x) for x in hb.losses]},
        "gf": {"times": [_exact_decimal(t) for t in GF_TIMES], "dps": GF_DPS,
               "error_estimate": f"{traj.error_estimate:.2e}",
               "states": gf_states, "losses": gf_losses},
    }


def generate(seed: int = 0) -> dict:
    """The golden reference document for ``seed`` (a JSON-ready dict; see the module docstring)."""
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        gen = f"gfgd {version('gfgd')}"
    except PackageNotFoundError:  # pragma: no cover
        gen = "gfgd"
    rng = np.random.default_rng(int(seed))
    return {"schema": SCHEMA, "version": VERSION, "seed": int(seed), "digits": DIGITS, "generator": gen,
            "conventions": dict(CONVENTIONS),
            "cases": [_case(rng, i, w) for i, w in enumerate(CASE_WIDTHS)]}


def dumps(doc: dict) -> str:
    """The canonical text of a golden document (what :func:`write` writes): indented JSON with every
    matrix row on one line. Deterministic: the same document always gives the same bytes."""
    return _dump(doc, 0) + "\n"


def _dump(x: Any, level: int) -> str:
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(x, dict):
        if not x:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, level + 1)}" for k, v in x.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(x, list) and any(isinstance(v, (list, dict)) for v in x):
        return "[\n" + ",\n".join(inner + _dump(v, level + 1) for v in x) + "\n" + pad + "]"
    return json.dumps(x, ensure_ascii=True)


def write(path: str, seed: int = 0) -> dict:
    """Generate for ``seed`` and write ``path`` whole (temporary file, then rename). Returns the doc."""
    doc = generate(seed)
    _write_whole(path, dumps(doc))
    return doc


def _write_whole(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------------------- loading
def _dec_array(x: Any, what: str) -> np.ndarray:
    try:
        arr = np.array(x, dtype=object)
        out = np.vectorize(lambda s: decimal.Decimal(s) if isinstance(s, str) else _bad(s), otypes=[object])(arr) \
            if arr.size else arr
    except (decimal.InvalidOperation, TypeError, ValueError) as e:
        raise ValueError(f"golden file: {what} must hold decimal strings ({e})") from None
    return out


def _bad(s: Any) -> Any:
    raise TypeError(f"expected a decimal string, got {s!r}")


def _float_array(x: Any, what: str) -> np.ndarray:
    return np.vectorize(float, otypes=[np.float64])(_dec_array(x, what))


def _dec(x: Any, what: str) -> decimal.Decimal:
    if not isinstance(x, str):
        raise ValueError(f"golden file: {what} must be a decimal string, got {x!r}")
    try:
        return decimal.Decimal(x)
    except decimal.InvalidOperation:
        raise ValueError(f"golden file: {what} is not a decimal number: {x!r}") from None


@dataclass
class GoldenRun:
    """A discrete method's reference: ``iterates[k][j]`` is W_{j+1} at step k (Decimal arrays)."""

    eta: float
    steps: int
    iterates: list[list[np.ndarray]]
    losses: list[decimal.Decimal]
    beta: float | None = None


@dataclass
class GoldenFlow:
    """Gradient-flow reference: ``states[i][j]`` is W_{j+1}(times[i]) (Decimal arrays), within
    ``error_estimate`` (max norm) of the true flow."""

    times: list[float]
    states: list[list[np.ndarray]]
    losses: list[decimal.Decimal]
    dps: int
    error_estimate: float


@dataclass
class GoldenCase:
    """One instance and its references. Inputs (``Phi``, ``weights``, ``hvp_v``) are float64 arrays
    (exact: the entries are dyadic); references are numpy object arrays of ``decimal.Decimal`` at the
    file's digits; :func:`as_float` and :func:`as_mp` convert them."""

    name: str
    widths: tuple[int, ...]
    Phi: np.ndarray
    weights: list[np.ndarray]
    loss: decimal.Decimal
    gradient: list[np.ndarray]
    hvp_v: list[np.ndarray]
    hvp: list[np.ndarray]
    hessian: np.ndarray
    lambda_min: decimal.Decimal
    lambda_max: decimal.Decimal
    gd: GoldenRun
    heavy_ball: GoldenRun
    gf: GoldenFlow

    def objective(self) -> theory.Objective:
        return theory.Objective(theory.DeepLinear(self.widths), theory.WhitenedSquare(self.Phi))


@dataclass
class GoldenSet:
    """A loaded golden file: ``cases`` plus the header (``seed``, ``digits``, ``version``)."""

    version: int
    seed: int
    digits: int
    generator: str
    conventions: dict
    cases: list[GoldenCase] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    def __iter__(self):
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def to_json(self) -> dict:
        """The document as loaded (``dumps(set.to_json())`` reproduces the file byte for byte)."""
        return self.raw


def as_float(x: Any) -> Any:
    """Decimal references (a Decimal, an object array, or lists of them) as float64 (round to nearest)."""
    if isinstance(x, decimal.Decimal):
        return float(x)
    if isinstance(x, np.ndarray):
        return np.vectorize(float, otypes=[np.float64])(x) if x.size else x.astype(np.float64)
    return [as_float(y) for y in x]


def as_mp(x: Any, dps: int = DIGITS + 5) -> Any:
    """Decimal references as ``mpmath.mpf`` (object arrays) at ``dps`` digits."""
    with mpmath.workdps(dps):
        if isinstance(x, decimal.Decimal):
            return mpmath.mpf(str(x))
        if isinstance(x, np.ndarray):
            out = np.empty(x.shape, dtype=object)
            for idx, v in np.ndenumerate(x):
                out[idx] = mpmath.mpf(str(v))
            return out
        return [as_mp(y, dps) for y in x]


def _layers(x: Any, shapes: Sequence[tuple[int, int]], what: str, conv) -> list[np.ndarray]:
    if not isinstance(x, list) or len(x) != len(shapes):
        raise ValueError(f"golden file: {what} must be a list of {len(shapes)} matrices")
    out = []
    for j, (m, s) in enumerate(zip(x, shapes)):
        a = conv(m, f"{what}[{j}]")
        if a.shape != tuple(s):
            raise ValueError(f"golden file: {what}[{j}] must have shape {tuple(s)}, got {a.shape}")
        out.append(a)
    return out


def _case_from(d: dict, i: int) -> GoldenCase:
    try:
        widths = tuple(int(w) for w in d["widths"])
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(np.zeros((widths[-1], widths[0]))))
        shapes = [tuple(s) for s in obj.shapes]
        P = obj.num_params
        Phi = _float_array(d["Phi"], "Phi")
        if Phi.shape != (widths[-1], widths[0]):
            raise ValueError(f"golden file: case {i} Phi must have shape {(widths[-1], widths[0])}, got {Phi.shape}")
        H = _dec_array(d["hessian"], "hessian")
        if H.shape != (P, P):
            raise ValueError(f"golden file: case {i} hessian must have shape {(P, P)}, got {H.shape}")

        def run(r: dict, name: str) -> GoldenRun:
            its = [_layers(th, shapes, f"{name}.iterates[{k}]", _dec_array) for k, th in enumerate(r["iterates"])]
            if len(its) != int(r["steps"]) + 1:
                raise ValueError(f"golden file: case {i} {name} must have steps + 1 iterates")
            return GoldenRun(float(_dec(r["eta"], "eta")), int(r["steps"]), its,
                             [_dec(x, f"{name}.losses") for x in r["losses"]],
                             float(_dec(r["beta"], "beta")) if "beta" in r else None)

        g = d["gf"]
        times = [float(_dec(t, "gf.times")) for t in g["times"]]
        states = [_layers(st, shapes, f"gf.states[{k}]", _dec_array) for k, st in enumerate(g["states"])]
        if len(states) != len(times):
            raise ValueError(f"golden file: case {i} gf must have one state per time")
        return GoldenCase(
            name=str(d["name"]), widths=widths, Phi=Phi,
            weights=_layers(d["weights"], shapes, "weights", _float_array),
            loss=_dec(d["loss_value"], "loss_value"),
            gradient=_layers(d["gradient"], shapes, "gradient", _dec_array),
            hvp_v=_layers(d["hvp"]["v"], shapes, "hvp.v", _float_array),
            hvp=_layers(d["hvp"]["value"], shapes, "hvp.value", _dec_array),
            hessian=H,
            lambda_min=_dec(d["hessian_lambda_min"], "hessian_lambda_min"),
            lambda_max=_dec(d["hessian_lambda_max"], "hessian_lambda_max"),
            gd=run(d["gd"], "gd"), heavy_ball=run(d["heavy_ball"], "heavy_ball"),
            gf=GoldenFlow(times, states, [_dec(x, "gf.losses") for x in g["losses"]], int(g["dps"]),
                          float(g["error_estimate"])))
    except KeyError as e:
        raise ValueError(f"golden file: case {i} lacks the field {e.args[0]!r}") from None


def from_json(doc: dict) -> GoldenSet:
    """A :class:`GoldenSet` from a parsed golden document (checks schema, version and shapes)."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"not a golden file: expected \"schema\": {SCHEMA!r}")
    if doc.get("version") != VERSION:
        raise ValueError(f"golden file version {doc.get('version')!r} is not supported "
                         f"(this gfgd reads version {VERSION})")
    cases = [_case_from(c, i) for i, c in enumerate(doc.get("cases", []))]
    return GoldenSet(int(doc["version"]), int(doc["seed"]), int(doc["digits"]), str(doc.get("generator", "")),
                     dict(doc.get("conventions", {})), cases, doc)


def load(path: str) -> GoldenSet:
    """Read a golden file written by ``gfgd golden`` (or :func:`write`)."""
    with open(path, encoding="utf-8") as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
    return from_json(doc)
