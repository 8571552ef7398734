"""jaccli: exact Jacobians, Hessians and HVPs of math expressions, from the command line and from Python.

    >>> import jaccli
    >>> jaccli.hessian("x**2*y + y**3", at=[1, 2]).value
    array([[ 4.,  2.],
           [ 2., 12.]])

The functions load NumPy and JAX when first called: `import jaccli` itself is light.
"""

import os as _os

from .errors import ComputeError, JaccliError, JaccliWarning, ParseError, PointError, ShapeError, TooLargeError


def _source_stats() -> str:
    """jaccli's modules as they are when the process starts (names, sizes, times), before any of them can change
    under it: the compilation cache keys on this, so an executable is never stored under newer code's key."""
    here, parts = _os.path.dirname(__file__), []
    for folder, _, names in sorted(_os.walk(here)):
        for name in sorted(n for n in names if n.endswith(".py")):
            info = _os.stat(_os.path.join(folder, name))
            parts.append(f"{_os.path.relpath(_os.path.join(folder, name), here)}:{info.st_size}:{info.st_mtime_ns};")
    return "".join(parts)


SOURCE_STATS = _source_stats()

_API = ("eval", "grad", "jacobian", "hessian", "jvp", "vjp", "hvp", "derivative", "check", "Result", "CheckResult",
        "analyze", "Analysis")

__all__ = [*_API, "ComputeError", "JaccliError", "JaccliWarning", "ParseError", "PointError", "ShapeError",
           "TooLargeError"]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'jaccli' has no attribute {name!r}")
