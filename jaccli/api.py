"""The Python API: the same preparation and run as the command line, results as objects.

    >>> import jaccli
    >>> h = jaccli.hessian("x**2*y + y**3", at=[1, 2])
    >>> h.value
    array([[ 4.,  2.],
           [ 2., 12.]])
    >>> h.variables, h.shape, h.mode
    (('x', 'y'), (2, 2), 'fwd-rev')

`at`, `v` and `u` take a list or array (values in variable order), a dict of
name → value (numbers, arrays, or the CLI's strings such as "full(3, 0.5)"), or a
CLI string ("x=1,y=2"); complex values make a complex point (`holomorphic=True` for the complex derivative,
SPEC §8). Errors raise `jaccli.JaccliError` subclasses; warnings
are `jaccli.JaccliWarning`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compute.analyze import Analysis
from .compute.budget import default_max_memory
from .compute.prepare import Request
from .compute.run import Result, run
from .errors import PointError
from .inputs import points
from .inputs.points import PointSpec

__all__ = ["Analysis", "CheckResult", "Result", "analyze", "check", "derivative", "eval", "grad", "hessian", "hvp",
           "jacobian", "jvp", "vjp"]


def _inputs(value, option: str):
    """A Python value for --at/--v/--u as the Request takes it: CLI texts, or a PointSpec."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, PointSpec):
        return value
    if isinstance(value, dict):
        return PointSpec({str(name): _array(item, option) for name, item in value.items()}, [])
    return PointSpec({}, [_array(value, option)])


def _array(value, option: str) -> np.ndarray:
    if isinstance(value, str):
        return points.read_value(value, max_bytes=default_max_memory(), option=option)
    try:
        array = np.asarray(value)
        return array.astype(np.complex128 if array.dtype.kind == "c" else np.float64)  # 3+4j: complex128
    except (TypeError, ValueError):
        raise PointError(f"{option} takes numbers, arrays of numbers or strings, not {type(value).__name__}") from None


def _names(value) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(n.strip() for n in value.split(",") if n.strip())
    return tuple(value)


def _request(command: str, expr: str, at, *, v=None, u=None, vars=None, wrt=None, partial=None,
             devices=None, **options) -> Request:
    """The Request the CLI would make: point and vectors read from Python values, names from lists or strings,
    devices a number or "all", sparse True, False or "auto" (a sparse result has `.matrix`, a SciPy CSR array);
    every other option (mode, dtype, holomorphic, device, order, with_value, max_memory, chunk_size, no_cache) as
    it is."""
    from .compute.devices import parse_devices

    if "sparse" in options:
        options["sparse"] = {True: "on", False: "off"}.get(options["sparse"], options["sparse"])
    return Request(command, expr, at=_inputs(at, "at"), v=_inputs(v, "v"), u=_inputs(u, "u"), vars=_names(vars),
                   wrt=_names(wrt), partial=_names(partial), devices=parse_devices(devices), **options)


def eval(expr: str, at=None, **options) -> Result:  # noqa: A001 - the command's name
    """f(x).  jaccli.eval("[x**2*y, sin(z)]", at=[1, 2, np.pi / 2]).value → [2., 1.]"""
    return run(_request("eval", expr, at, **options))


def grad(expr: str, at=None, **options) -> Result:
    """∇f of a scalar f.  jaccli.grad("x**2*y", at=[1, 2]).value → [4., 1.]; with_value=True adds f."""
    return run(_request("grad", expr, at, **options))


def jacobian(expr: str, at=None, *, mode: str | None = None, **options) -> Result:
    """∂f/∂x, shape out_shape + in_shape; mode 'auto', 'fwd' or 'rev'.

    jaccli.jacobian("[x**2*y, sin(z)]", at=[1, 2, np.pi / 2]).value → [[4., 1., 0.], [0., 0., 6.1e-17]]
    """
    return run(_request("jacobian", expr, at, mode=mode, **options))


def hessian(expr: str, at=None, *, mode: str | None = None, **options) -> Result:
    """∂²f/∂x², shape out_shape + in_shape + in_shape; mode 'fwd-rev', 'rev-fwd' or 'rev-rev'.

    jaccli.hessian("x**2*y + y**3", at=[1, 2]).value → [[4., 2.], [2., 12.]]
    """
    return run(_request("hessian", expr, at, mode=mode, **options))


def jvp(expr: str, at=None, v=None, **options) -> Result:
    """J·v.  jaccli.jvp("[x**2*y, sin(z)]", at=[1, 2, 0], v=[1, 0, 0]).value → [4., 0.]"""
    return run(_request("jvp", expr, at, v=v, **options))


def vjp(expr: str, at=None, u=None, **options) -> Result:
    """uᵀ·J.  jaccli.vjp("[x**2*y, sin(z)]", at=[1, 2, 0], u=[1, 1]).value → [4., 1., 1.]"""
    return run(_request("vjp", expr, at, u=u, **options))


def hvp(expr: str, at=None, v=None, *, mode: str | None = None, **options) -> Result:
    """H·v without forming H.  jaccli.hvp("x**2*y + y**3", at=[1, 2], v=[1, 0]).value → [4., 2.]"""
    return run(_request("hvp", expr, at, v=v, mode=mode, **options))


def derivative(expr: str, at=None, *, order: int | None = None, partial=None, **options) -> Result:
    """The order-th derivative tensor, or one mixed partial (partial="x,x,y": ∂³f/∂x²∂y).

    jaccli.derivative("x**3*y**2", at=[1, 2], partial="x,x,y").value → 24.0
    """
    return run(_request("derivative", expr, at, order=order, partial=partial, **options))


@dataclass
class CheckResult:
    """What `check` found: `ok`, and one summary per derivative checked (the CLI's JSON objects)."""

    ok: bool
    reports: list[dict]

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        from .output.report import summary_line

        return "\n".join(summary_line(report) for report in self.reports)


def check(expr: str, at=None, *, of: str = "jacobian", expect=None, rtol: float = 1e-5, atol: float = 1e-8,
          order: int | None = None, **options) -> CheckResult:
    """AD against `expect` (an array, a file name or a literal), or against finite differences and SymPy.

    jaccli.check("x**2*y + y**3", at=[1, 2], of="hessian").ok → True
    """
    from .compute.check import check as run_check
    from .output.report import summarize

    command = "derivative" if (order or options.get("partial")) and of in ("grad", "jacobian", "derivative") else of
    request = _request(command, expr, at, order=order if command == "derivative" else None, **options)
    reports = run_check(request, expect=expect, rtol=rtol, atol=atol)
    summaries = [summarize(report) for report in reports]
    return CheckResult(all(s["ok"] for s in summaries), summaries)


def analyze(expr: str, at=None, *, lanczos: bool = False, trace: bool = False, probes: int = 100, seed: int = 0,
            tol: float | None = None, gtol: float | None = None, **options):
    """What kind of point this is: f, ∇f, the Hessian's eigenvalues, definiteness and verdict (scalar f), or
    the Jacobian's singular values, rank and condition number (vector f).

    jaccli.analyze("100*(y - x**2)**2 + (1 - x)**2", at=[1, 1]).verdict → 'minimum'
    """
    from .compute.analyze import Options
    from .compute.analyze import analyze as run_analysis

    request = _request("analyze", expr, at, **options)
    return run_analysis(request, Options(lanczos=lanczos, trace=trace, probes=probes, seed=seed, tol=tol, gtol=gtol))
