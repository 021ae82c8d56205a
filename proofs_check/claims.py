"""Claims of THEORY.md as objects the engine runs: label, source, status, relation, tolerance.

A claim's runner draws seeded instances from its default families (chosen to include the regimes
where the bound is tight), measures both sides with :mod:`numerics` / :mod:`theory`, and returns a
:class:`ClaimResult`: worst observed ratio lhs/rhs (for an inequality lhs ≤ rhs), the instance that
attained it (replayable from the seed and its JSON description), and a verdict:

* ``holds``        -- every instance satisfies the relation within its derived tolerance;
* ``violated``     -- some instance breaks it by more than the tolerance (the counterexample is kept);
* ``inconclusive`` -- some instance could not be decided (e.g. an error bound wider than the margin).

The registry holds the claims built so far; the full engine (Hypothesis-driven worst-case search,
every A/B/C/D claim) extends it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator

import mpmath
import numpy as np

import numerics
import theory
from theory.bounds import b1_rhs, spectral_norm_mp

VERDICTS = ("holds", "violated", "inconclusive")


@dataclass
class ClaimResult:
    claim: str
    name: str
    source: str
    status: str
    constant: str
    relation: str
    verdict: str
    worst_ratio: float | None
    instances: int
    seed: int
    seconds: float
    tolerance: str
    worst_instance: dict | None = None
    counterexample: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def margin(self) -> float | None:
        """1 − worst ratio: how much room the stated constant leaves (negative = violated)."""
        return None if self.worst_ratio is None else 1.0 - self.worst_ratio

    def to_json(self) -> dict:
        d = asdict(self)
        d["margin"] = self.margin
        d["version"] = 1
        return d


@dataclass
class Claim:
    label: str
    name: str
    source: str
    status: str  # "paper" | "derived" | "conjecture"
    relation: str
    constant: str
    tolerance: str
    families: str
    runner: Callable[..., tuple[str, float | None, int, dict | None, dict | None, list[str]]]
    default_budget: int = 20

    def check(self, budget: int | None = None, seed: int = 0, progress: Callable[[int, int], None] | None = None,
              **options: Any) -> ClaimResult:
        """Run the claim on ``budget`` seeded instances (default: its own); options go to the runner."""
        budget = self.default_budget if budget is None else int(budget)
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        t0 = time.perf_counter()
        verdict, worst, n, worst_inst, cex, notes = self.runner(budget, seed, progress, **options)
        return ClaimResult(self.label, self.name, self.source, self.status, self.constant, self.relation,
                           verdict, worst, n, seed, time.perf_counter() - t0, self.tolerance,
                           worst_inst, cex, notes)


def _fr(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}"


def _mat_json(M: Any) -> list:
    M = np.asarray(M)
    if M.dtype == object:
        return [[_fr(Fraction(x)) for x in row] for row in M]
    return [[repr(float(x)) for x in row] for row in M]


def _rand_rational_matrix(rng: np.random.Generator, shape, num: int, den: int) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = Fraction(int(rng.integers(-num, num + 1)), int(rng.integers(1, den + 1)))
    return out


# ------------------------------------------------------------------------------------------- B1
def _b1_instances(budget: int, rng: np.random.Generator) -> Iterator[tuple[str, theory.Objective, list]]:
    """B1 families, tight regime first: N = 2 at θ = 0 (equality), θ near 0, then generic points."""
    k = 0
    while k < budget:
        fam = k % 4
        if fam == 0:  # equality case of B1: N = 2, θ = 0, λ_min = −‖Φ‖₂
            d = tuple(int(x) for x in rng.integers(1, 4, size=3))
            Phi = _rand_rational_matrix(rng, (d[2], d[0]), 5, 3)
            obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi))
            theta = [_rand_rational_matrix(rng, s, 0, 1) for s in obj.shapes]
            yield "N=2 at theta=0 (exact)", obj, theta
        elif fam in (1, 2):  # small exact nets, entries small relative to Phi: near the tight regime
            N = int(rng.integers(2, 5))
            d = tuple(int(x) for x in rng.integers(1, 4, size=N + 1))
            Phi = _rand_rational_matrix(rng, (d[-1], d[0]), 5, 2)
            obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi))
            scale_den = 4 if fam == 1 else 1
            theta = [_rand_rational_matrix(rng, s, 2, 2 * scale_den) for s in obj.shapes]
            yield f"N={N} exact, entries <= {Fraction(2, scale_den)}", obj, theta
        else:  # float64, wider nets, Gaussian init at a random scale
            N = int(rng.integers(2, 5))
            w = int(rng.integers(2, 13))
            d = (w,) * N + (int(rng.integers(1, 4)),)
            Phi = rng.standard_normal((d[-1], d[0]))
            obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
            scale = float(10 ** rng.uniform(-2, 0))
            theta = numerics.gaussian_init(obj, scale, seed=int(rng.integers(2**31)))
            yield f"N={N} w={w} float64, Gaussian scale {scale:.3g}", obj, theta
        k += 1


def _run_b1(budget: int, seed: int, progress=None, constant: Any = None):
    """Measure −λ_min(∇²f) against b1_rhs on every instance; see the B1 tolerance text."""
    from theory import symbolic  # SymPy is only needed for the exact branch

    rng = np.random.default_rng(seed)
    worst, worst_inst, cex, n, undecided = -np.inf, None, None, 0, 0
    notes: list[str] = []
    for label, obj, theta in _b1_instances(budget, rng):
        n += 1
        kind = obj.kind(theta)
        with mpmath.workdps(50):
            norms = [spectral_norm_mp(W) for W in theta]
            end_to_end = theta[0]
            for W in theta[1:]:
                end_to_end = W @ end_to_end
            gphi = spectral_norm_mp(end_to_end - obj.loss.Phi)
            rhs = b1_rhs(norms, gphi, constant)
            if kind == "exact":
                H = numerics.hessian(obj, theta)
                # certified: λ_min ∈ [lo, hi], hi − lo ≤ 1e-45 < tol, so an instance on the
                # equality case (−λ_min = rhs exactly) is decided "holds within tol", not undecided
                iv = symbolic.lambda_min_interval(H, eps=Fraction(1, 10**45))
                lhs_lo, lhs_hi = -mpmath.mpf(iv.hi.numerator) / iv.hi.denominator, \
                    -mpmath.mpf(iv.lo.numerator) / iv.lo.denominator
                tol = mpmath.mpf(10) ** -40  # mp norms at 50 digits: relative error < 1e-45 each
            else:
                r = numerics.lambda_min(obj, theta, return_info=True)
                H = numerics.hessian(obj, theta)
                # float64 eigh/Rayleigh quotient: |λ̂ − λ| ≤ residual + P·ε·‖H‖_F (backward stability)
                err = r.residual + obj.num_params * np.finfo(float).eps * float(np.linalg.norm(H))
                lhs_lo, lhs_hi = mpmath.mpf(-r.value - err), mpmath.mpf(-r.value + err)
                tol = mpmath.mpf(err)
            if rhs == 0:
                violated = lhs_lo > tol
                ratio = None
            else:
                ratio = float((lhs_lo + lhs_hi) / 2 / rhs)
                violated = lhs_lo > rhs + tol
                if lhs_hi > rhs + tol and not violated:
                    undecided += 1
        desc = {"family": label, "widths": list(obj.widths), "Phi": _mat_json(obj.loss.Phi),
                "theta": [_mat_json(W) for W in theta], "lambda_min": float(-(lhs_lo + lhs_hi) / 2),
                "rhs": float(rhs), "ratio": ratio}
        if ratio is not None and ratio > worst:
            worst, worst_inst = ratio, desc
        if violated and cex is None:
            cex = desc
        if progress:
            progress(n, budget)
    verdict = "violated" if cex else ("inconclusive" if undecided else "holds")
    if undecided:
        notes.append(f"{undecided} instance(s) within error bars of the bound")
    return verdict, (None if worst == -np.inf else worst), n, worst_inst, cex, notes


# ------------------------------------------------------------------------------------------- B4
def _run_b4(budget: int, seed: int, progress=None, exponent: int = 2):
    """One exact GD step: D_j changes by η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ) (linear nets); per-neuron norm
    gaps change by η²·gaps(G) (leaky ReLU nets). Checked with == in exact rationals."""
    rng = np.random.default_rng(seed)
    cex, n = None, 0
    for k in range(budget):
        N = int(rng.integers(2, 5))
        d = tuple(int(x) for x in rng.integers(1, 4, size=N + 1))
        eta = Fraction(int(rng.integers(1, 10)), int(rng.integers(1, 50)))
        if k % 2 == 0:
            Phi = _rand_rational_matrix(rng, (d[-1], d[0]), 5, 3)
            obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi))
        else:
            n_s = int(rng.integers(1, 4))
            alpha = [Fraction(0), Fraction(1, 5), Fraction(-1, 3)][k % 3]
            obj = theory.Objective(theory.ReLUNet(d, alpha),
                                   theory.SquareLoss(_rand_rational_matrix(rng, (n_s, d[0]), 4, 2),
                                                     _rand_rational_matrix(rng, (n_s, d[-1]), 4, 2)))
        theta = [_rand_rational_matrix(rng, s, 4, 3) for s in obj.shapes]
        G = numerics.gradient(obj, theta)
        step = [W - eta * g for W, g in zip(theta, G)]
        if obj.model.is_linear:
            before, after = numerics.balancedness(theta), numerics.balancedness(step)
            pred = [eta**exponent * D for D in numerics.balancedness(G)]
        else:
            before, after = numerics.neuron_norm_gaps(theta), numerics.neuron_norm_gaps(step)
            pred = [eta**exponent * g for g in numerics.neuron_norm_gaps(G)]
        ok = all(np.array_equal(a - b_, p) for a, b_, p in zip(after, before, pred))
        n += 1
        if not ok and cex is None:
            cex = {"model": repr(obj.model), "eta": _fr(eta), "theta": [_mat_json(W) for W in theta]}
        if progress:
            progress(n, budget)
    return ("violated" if cex else "holds"), None, n, None, cex, []


# ------------------------------------------------------------------------------------------- B3
def _run_b3(budget: int, seed: int, progress=None):
    """d/dt D_j along GF is identically zero as a polynomial in the weights and Φ (SymPy, exact)."""
    from theory import symbolic

    rng = np.random.default_rng(seed)
    cex, n = None, 0
    for _ in range(budget):
        N = int(rng.integers(1, 5))
        d = tuple(int(x) for x in rng.integers(1, 4, size=N + 1))
        ders = symbolic.conservation_derivatives(d)
        ok = all(e.expand() == 0 for M in ders for e in M)
        n += 1
        if not ok and cex is None:
            cex = {"widths": list(d)}
        if progress:
            progress(n, budget)
    return ("violated" if cex else "holds"), None, n, None, cex, []


_REGISTRY: dict[str, Claim] = {}


def _register(c: Claim) -> None:
    _REGISTRY[c.label] = c


_register(Claim(
    "B1", "lambda_min lower bound, deep linear", "EC21 §4 (THEORY.md B1)", "derived",
    "-lambda_min(Hess f) <= rhs", "(N-1)*||grad phi||_2*max_{j<j'} prod_{i not in {j,j'}} ||W_i||_2",
    "exact instances: lambda_min certified by an isolating interval, norms at 50 digits (tol 1e-40); "
    "float64 instances: residual bound + P*eps*||H||_F",
    "N=2 at theta=0 (equality), small exact nets near 0, float64 nets w<=12 at Gaussian scales 1e-2..1",
    _run_b1, default_budget=16))
_register(Claim(
    "B3", "conservation of D_j along GF (deep linear)", "EC21 §4; Arora et al. 2018 (THEORY.md B3)", "paper",
    "d/dt D_j == 0", "identity", "exact polynomial identity (SymPy expand), no tolerance",
    "widths N=1..4, d_j in 1..3, weights and Phi symbolic", _run_b3, default_budget=4))
_register(Claim(
    "B4", "exact GD drift of D_j / neuron norm gaps", "THEORY.md B4", "derived",
    "Delta D_j == eta^2 (G_{j+1}^T G_{j+1} - G_j G_j^T)", "identity", "exact rationals, compared with ==",
    "deep linear (whitened) and leaky ReLU (square loss) nets, N=2..4, d_j in 1..3", _run_b4,
    default_budget=12))


def claims() -> dict[str, Claim]:
    """The registry: THEORY.md label -> :class:`Claim`."""
    return dict(_REGISTRY)
