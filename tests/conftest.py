"""Shared helpers: the installed `jaccli` in a subprocess, in-process runs, and a SymPy oracle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# the tests never touch the user's own cache
os.environ.setdefault("JACCLI_CACHE_DIR", tempfile.mkdtemp(prefix="jaccli-test-cache-"))
JACCLI = shutil.which("jaccli", path=str(Path(sys.executable).parent)) or shutil.which("jaccli")


def jaccli(*args: str, input: str | bytes | None = None, env: dict | None = None, timeout: float = 120):
    """Run the installed command; returns the CompletedProcess (text unless input is bytes)."""
    assert JACCLI, "the jaccli command is not installed (pip install -e .)"
    full_env = {**os.environ, **(env or {})}
    full_env.pop("JACCLI_DEBUG", None)
    return subprocess.run([JACCLI, *args], input=input, capture_output=True, timeout=timeout, env=full_env,
                          text=not isinstance(input, bytes))


def compute(command: str, expr: str, at=(), **options) -> np.ndarray:
    """The result array of one in-process run."""
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    at = (at,) if isinstance(at, str) else tuple(at)
    for key in ("v", "u"):
        if isinstance(options.get(key), str):
            options[key] = (options[key],)
    return run(Request(command, expr, at, **options)).value


SYMPY_NAMES = {
    "expm1": lambda x: __import__("sympy").exp(x) - 1,
    "log1p": lambda x: __import__("sympy").log(1 + x),
    "log10": lambda x: __import__("sympy").log(x, 10),
    "log2": lambda x: __import__("sympy").log(x, 2),
    "exp2": lambda x: 2**x,
    "cbrt": lambda x: x ** __import__("sympy").Rational(1, 3),  # the tests use x > 0
    "square": lambda x: x**2,
    "hypot": lambda x, y: __import__("sympy").sqrt(x**2 + y**2),
    "sigmoid": lambda x: 1 / (1 + __import__("sympy").exp(-x)),
    "softplus": lambda x: __import__("sympy").log(1 + __import__("sympy").exp(x)),
    "lgamma": lambda x: __import__("sympy").loggamma(x),
    "abs": lambda x: __import__("sympy").Abs(x),
    "pow": lambda x, y: x**y,
}


def sympy_derivative(expr: str, names: list[str], point: list[float], order: int) -> np.ndarray:
    """The order-th derivative tensor (JAX's axis order) of a SymPy-syntax expression, at 30 digits."""
    import sympy

    symbols = sympy.symbols(names, real=True)
    f = sympy.sympify(expr.replace("^", "**"), locals={**SYMPY_NAMES, **dict(zip(names, symbols))})
    result = sympy.Array(f) if isinstance(f, (list, tuple)) else f
    for _ in range(order):
        result = sympy.derive_by_array(result, symbols)  # the new axis comes first: move it last
        rank = len(result.shape)
        result = sympy.permutedims(result, list(range(1, rank)) + [0])
    values = dict(zip(symbols, [sympy.Float(float(p), 30) for p in point]))  # the exact binary values
    entries = sympy.flatten(result) if hasattr(result, "shape") else [result]
    numbers = [float(sympy.re(sympy.N(sympy.sympify(e).subs(values), 30))) for e in entries]
    shape = tuple(result.shape) if hasattr(result, "shape") else ()
    return np.array(numbers, dtype=float).reshape(shape)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
