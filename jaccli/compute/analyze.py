"""`analyze`: what kind of point this is, from the registry's own derivatives.

Scalar f (n differentiated entries): f and ∇f (`grad --with-value`), then the Hessian's
eigenvalues, either all of them (`hessian`, then a symmetric solver) or, for n above
DENSE_LIMIT or with `lanczos`, the two extreme ones by Lanczos on the jitted `hvp`
(H is never formed). `trace`: Hutchinson's estimate, vᵀHv averaged over Rademacher probes v
batched with vmap (both in `spectrum.py`). Vector f: the Jacobian's singular values, rank and condition number.

The rule for zero (README "Analysis and pictures"), with ε the dtype's machine epsilon:

    |λ| ≤ tolerance = n · ε · max|λ|         (NumPy's matrix_rank rule; singular values: max(m, n) · ε · σmax)
    critical when ‖∇f‖ ≤ √ε · max|λ| · max(1, ‖x‖∞)

    >>> analyze(Request("analyze", "100*(y - x**2)**2 + (1 - x)**2", at=("1,1",))).verdict
    'minimum'
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import PointError, ShapeError
from ..inputs import points
from ..inputs.points import PointSpec
from . import complexes
from .prepare import Request, bind, output_shape
from .run import Result, run
from .spectrum import hutchinson, lanczos_extremes

DENSE_LIMIT = 2000  # above this n, the extreme eigenvalues by Lanczos (H would take 32 MB and a slow eigvalsh)


@dataclass
class Analysis:
    """One point's analysis; the fields a scalar f does not have (or a vector f) are None."""

    result: Result  # the run that gave f and ∇f (scalar) or J (vector): plan, point, device
    value: float | np.ndarray  # f(x)
    tolerance: float  # what counts as a zero eigenvalue (singular value)
    condition_number: float | None  # None: not known (Lanczos on an indefinite H)
    gradient: np.ndarray | None = None
    gradient_norm: float | None = None
    gradient_tolerance: float | None = None
    rule: str = ""  # how the tolerance was chosen: "n·ε·max|λ|", or "--tol"
    gradient_rule: str = ""
    method: str = "dense"  # 'dense' (every eigenvalue) or 'lanczos' (the extreme ones)
    eigenvalues: np.ndarray | None = None  # all, ascending (dense)
    extreme_eigenvalues: tuple[float, float] | None = None  # (smallest, largest)
    hvps: int | None = None  # Lanczos: how many H·v products it took
    definiteness: str | None = None
    verdict: str | None = None  # minimum, maximum, saddle, degenerate, or not critical
    trace: float | None = None  # Hutchinson's estimate
    trace_stderr: float | None = None
    probes: int | None = None
    seed: int | None = None
    singular_values: np.ndarray | None = None  # vector f: of the Jacobian, descending
    rank: int | None = None

    plan = property(lambda self: self.result.plan)
    point = property(lambda self: self.result.point)
    variables = property(lambda self: self.result.plan.layout.names)
    wrt = property(lambda self: tuple(s.name for s in self.result.plan.layout.wrt))
    expr = property(lambda self: self.result.plan.expression.text)
    command = "analyze"
    device = property(lambda self: self.result.device)
    dtype = property(lambda self: self.result.plan.dtype.name)
    scalar = property(lambda self: self.singular_values is None)

    def __repr__(self) -> str:
        if not self.scalar:
            return (f"<analysis of {self.plan.expression.text!r}: rank {self.rank}, condition number "
                    f"{self.condition_number:.6g}, singular values {np.array2string(self.singular_values)}>")
        spectrum = self.eigenvalues if self.eigenvalues is not None else np.array(self.extreme_eigenvalues)
        return (f"<analysis of {self.plan.expression.text!r}: {self.verdict} ({self.definiteness}), "
                f"‖∇f‖ = {self.gradient_norm:.6g}, eigenvalues {np.array2string(spectrum)}>")


@dataclass(frozen=True)
class Options:
    lanczos: bool = False  # the extreme eigenvalues by Lanczos even at small n
    trace: bool = False  # Hutchinson's trace estimate
    probes: int = 100
    seed: int = 0
    tol: float | None = None  # |λ| ≤ tol is zero [default: the rule above]
    gtol: float | None = None  # ‖∇f‖ ≤ gtol is critical [default: the rule above]


def analyze(request: Request, options: Options = Options(), spec: PointSpec | None = None) -> Analysis:
    """The analysis of f at one point (`spec`, else request.at)."""
    if spec is None and not isinstance(request.at, PointSpec):
        from .budget import default_max_memory

        budget = default_max_memory() if request.max_memory is None else request.max_memory
        spec = points.read_spec(request.at, max_bytes=budget)
    setup = bind(replace(request, command="eval"), spec)
    if setup.dtype.kind == "c" or complexes.may_be_complex(setup.expression, setup.z, setup.c):
        raise ShapeError("`analyze` takes real functions of real points",
                         hint="write the real and imaginary parts as two real variables, or use `hessian` and "
                              "`jacobian` (of the real map ℝ²ⁿ → ℝ²ᵐ)")
    if output_shape(setup.function, setup.z, setup.c) == ():
        return _scalar(request, options, spec)
    if options.lanczos or options.trace:
        flag = "--lanczos" if options.lanczos else "--trace"
        raise ShapeError(f"{flag} is about the Hessian of a scalar expression, and this one is a vector",
                         hint="for a vector f, analyze gives the Jacobian's singular values, rank and condition "
                              "number; sum the outputs for a scalar")
    return _vector(request, options, spec)


def analyze_points(request: Request, options: Options = Options(), stdin=None):
    """One Analysis per point: request.at, or each record of --at @points.csv (.npy, .jsonl) or '-'."""
    from ..inputs.sources import is_batch
    from .check import point_specs

    if is_batch(request):
        held = _held(request)
        for spec in point_specs(request, stdin):
            clash = [name for name in spec.named if name in held.named]
            if clash:
                raise PointError(f"the record gives {clash[0]!r}, which --at holds for every point",
                                 hint=f"give {clash[0]!r} in the records or in --at, not in both")
            yield analyze(request, options, PointSpec({**spec.named, **held.named}, spec.flat))
    else:
        yield analyze(request, options)


def _held(request: Request) -> PointSpec:
    """--at NAME=value beside a file or stream of points: the same for every point (README "Models")."""
    from ..inputs.sources import held_texts
    from .budget import default_max_memory

    budget = default_max_memory() if request.max_memory is None else request.max_memory
    held = points.read_spec(held_texts(request.at), max_bytes=budget)
    if held.flat:
        raise PointError("beside a file or stream of points, --at values are named: they hold a variable "
                         "for every point", hint="e.g. --at A=[[1,2],[3,4]] --at @points.jsonl")
    return held


def _scalar(request: Request, options: Options, spec) -> Analysis:
    start = run(replace(request, command="grad", with_value=True), spec)
    n, eps = start.layout.z_size, float(np.finfo(start.plan.dtype).eps)
    gradient = start.value
    analysis = Analysis(start, start.function_value, 0.0, None, gradient, _norm(gradient))
    if options.lanczos or n > DENSE_LIMIT:
        setup = bind(replace(request, command="hvp"), spec)
        lowest, highest, count = lanczos_extremes(setup, options.seed)
        analysis.method, analysis.extreme_eigenvalues, analysis.hvps = "lanczos", (lowest, highest), count
        extremes = np.array([lowest, highest])
    else:
        with _warned_once():
            hessian = run(replace(request, command="hessian"), spec).value.reshape(n, n)
        if not np.isfinite(hessian).all():
            raise ShapeError("the Hessian has non-finite entries (nan or inf) at this point: it has no eigenvalues",
                             hint="analyze a point where f is finite and smooth")
        extremes = analysis.eigenvalues = np.linalg.eigvalsh(hessian)  # ascending
    largest = float(np.abs(extremes).max())
    analysis.tolerance = n * eps * largest if options.tol is None else options.tol
    analysis.rule = "n·ε·max|λ|" if options.tol is None else "--tol"
    z = start.plan.setup.z
    analysis.gradient_tolerance = (math.sqrt(eps) * largest * max(1.0, float(np.abs(z).max(initial=0)))
                                   if options.gtol is None else options.gtol)
    analysis.gradient_rule = "√ε·max|λ|·max(1, ‖x‖∞)" if options.gtol is None else "--gtol"
    analysis.definiteness = definiteness(extremes, analysis.tolerance)
    critical = analysis.gradient_norm <= analysis.gradient_tolerance
    analysis.verdict = VERDICTS[analysis.definiteness] if critical else "not critical"
    analysis.condition_number = condition_number(extremes, analysis.method, analysis.definiteness)
    if options.trace:
        setup = bind(replace(request, command="hvp"), spec)
        analysis.trace, analysis.trace_stderr = hutchinson(setup, options.probes, options.seed)
        analysis.probes, analysis.seed = options.probes, options.seed
    return analysis


def _vector(request: Request, options: Options, spec) -> Analysis:
    value = run(replace(request, command="eval"), spec).value
    with _warned_once():
        result = run(replace(request, command="jacobian"), spec)
    m, n = math.prod(result.out_shape), result.layout.z_size
    jacobian = result.value.reshape(m, n)
    if not np.isfinite(jacobian).all():
        raise ShapeError("the Jacobian has non-finite entries (nan or inf) at this point: it has no singular values",
                         hint="analyze a point where f is finite and smooth")
    singular = np.linalg.svd(jacobian, compute_uv=False)  # descending, min(m, n) of them
    eps = float(np.finfo(result.plan.dtype).eps)
    largest = float(singular[0]) if singular.size else 0.0
    tolerance = max(m, n) * eps * largest if options.tol is None else options.tol
    smallest = float(singular[-1]) if singular.size else 0.0
    condition = largest / smallest if smallest > 0 else math.inf
    return Analysis(result, value, tolerance, condition, singular_values=singular,
                    rank=int((singular > tolerance).sum()), rule="max(m, n)·ε·σmax" if options.tol is None else "--tol")


VERDICTS = {"positive definite": "minimum", "negative definite": "maximum", "indefinite": "saddle",
            "positive semidefinite": "degenerate", "negative semidefinite": "degenerate", "zero": "degenerate"}


def definiteness(eigenvalues: np.ndarray, tolerance: float) -> str:
    """From all the eigenvalues, or the extreme two: an eigenvalue within ±tolerance counts as zero."""
    positive, negative = bool((eigenvalues > tolerance).any()), bool((eigenvalues < -tolerance).any())
    zero = bool((np.abs(eigenvalues) <= tolerance).any())
    if positive and negative:
        return "indefinite"
    if positive:
        return "positive semidefinite" if zero else "positive definite"
    if negative:
        return "negative semidefinite" if zero else "negative definite"
    return "zero"


def condition_number(eigenvalues: np.ndarray, method: str, kind: str) -> float | None:
    """max|λ| / min|λ| (inf when an eigenvalue is 0); Lanczos knows min|λ| only for a definite H."""
    magnitude = np.abs(eigenvalues)
    if method == "lanczos" and kind == "indefinite":
        return None  # the eigenvalue nearest 0 lies inside the spectrum: the two extremes do not tell it
    smallest = float(magnitude.min())
    return float(magnitude.max()) / smallest if smallest > 0 else math.inf


@contextlib.contextmanager
def _warned_once():
    """The second run at a point warns nothing the first has not (f is not finite, the cache is off)."""
    import warnings

    from ..errors import JaccliWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JaccliWarning)
        yield


def _norm(vector: np.ndarray) -> float:
    return float(np.linalg.norm(vector.reshape(-1)))
