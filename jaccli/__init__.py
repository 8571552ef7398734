"""jaccli: exact Jacobians, Hessians and HVPs of math expressions, from the command line and from Python.

    >>> import jaccli
    >>> jaccli.hessian("x**2*y + y**3", at=[1, 2]).value
    array([[ 4.,  2.],
           [ 2., 12.]])

The functions load NumPy and JAX when first called: `import jaccli` itself is light.
"""

from .errors import ComputeError, JaccliError, JaccliWarning, ParseError, PointError, ShapeError, TooLargeError

_API = ("eval", "grad", "jacobian", "hessian", "jvp", "vjp", "hvp", "derivative", "check", "Result", "CheckResult")

__all__ = [*_API, "ComputeError", "JaccliError", "JaccliWarning", "ParseError", "PointError", "ShapeError",
           "TooLargeError"]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'jaccli' has no attribute {name!r}")
