"""Array builders for --at/--v/--u values: zeros ones full linspace arange eye random."""

from __future__ import annotations

import math

import numpy as np

from ..errors import PointError, TooLargeError


def builders(max_bytes: int) -> dict:
    """The builder functions for --at values, each refusing an array above `max_bytes` before making it."""
    def shape_of(value) -> tuple[int, ...]:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (OverflowError, TypeError, ValueError):  # an integer beyond float64: no shape
            array = np.asarray(np.inf)
        if array.ndim > 1 or not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or np.any(array < 0) \
                or np.any(array > 2**62):
            raise PointError(f"a shape is a whole number or a list of them, not {array.tolist()}",
                             hint="e.g. zeros(3) or zeros((30, 40))")
        shape = tuple(int(v) for v in np.atleast_1d(array))
        if math.prod(shape) * 8 > max_bytes:
            raise TooLargeError(
                f"an array of shape {shape} would take {format_bytes(math.prod(shape) * 8)}",
                hint="raise --max-memory, or use a smaller size",
            )
        return shape

    def arity(name, args, low, high, keywords=(), allowed=()):
        if not low <= len(args) <= high or set(keywords) - set(allowed):
            count = f"{low}{f' to {high}' if high != low else ''} argument{'s' if high != 1 else ''}"
            extra = [k for k in keywords if k not in allowed]
            raise PointError(f"{name}() takes {count}" + (f" and {', '.join(allowed)}=" if allowed else "")
                             + (f", not {extra[0]}=" if extra else f", but got {len(args)}"),
                             hint=f"e.g. {name}(3)" if low == 1 else None)

    def zeros(args, kw):
        arity("zeros", args, 1, 1, kw)
        return np.zeros(shape_of(args[0]))

    def ones(args, kw):
        arity("ones", args, 1, 1, kw)
        return np.ones(shape_of(args[0]))

    def number(value, name: str):
        """A builder's value: a float, or a complex number when it has an imaginary part (then 16 bytes an
        entry); a list or array is not one value."""
        if np.ndim(value) != 0:
            raise PointError(f"{name}() takes one number here, not {np.asarray(value).tolist()}")
        if np.iscomplexobj(value) and np.imag(value) != 0:
            return complex(value)
        return float(np.real(value))

    def complex_sized(shape: tuple[int, ...], *values) -> tuple[int, ...]:
        if any(isinstance(v, complex) for v in values) and math.prod(shape) * 16 > max_bytes:
            raise TooLargeError(f"a complex array of shape {shape} would take {format_bytes(math.prod(shape) * 16)}",
                                hint="raise --max-memory, or use a smaller size")
        return shape

    def real(value, name: str) -> float:
        found = number(value, name)
        if isinstance(found, complex):
            raise PointError(f"{name}() takes real numbers, not {found}")
        return found

    def full(args, kw):
        arity("full", args, 2, 2, kw)
        value = number(args[1], "full")
        return np.full(complex_sized(shape_of(args[0]), value), value)

    def linspace(args, kw):
        arity("linspace", args, 3, 3, kw)
        start, stop = number(args[0], "linspace"), number(args[1], "linspace")
        return np.linspace(start, stop, complex_sized(shape_of(args[2]), start, stop)[0])

    def arange(args, kw):
        arity("arange", args, 1, 3, kw)
        start, stop, step = ([0.0] + [real(a, "arange") for a in args] + [1.0])[-3:] if len(args) == 1 else \
            ([real(a, "arange") for a in args] + [1.0])[:3]
        if step == 0 or not all(map(math.isfinite, (start, stop, step))):
            raise PointError("arange() needs finite bounds and a nonzero step")
        shape_of(max(0, math.ceil((stop - start) / step)))  # refuse before allocating
        return np.arange(start, stop, step, dtype=np.float64)

    def eye(args, kw):
        arity("eye", args, 1, 1, kw)
        (n,) = shape_of(args[0])[:1]
        shape_of((n, n))
        return np.eye(n)

    def random(args, kw):
        """Uniform on [0, 1), reproducible: seed 0 unless seed= is given."""
        arity("random", args, 1, 1, kw, ("seed",))
        seed = kw.get("seed", 0)
        if not (np.ndim(seed) == 0 and np.isfinite(seed) and float(seed).is_integer() and 0 <= seed < 2**63):
            raise PointError(f"random()'s seed is a whole number ≥ 0, not {np.asarray(seed).tolist()}")
        seed = int(seed)
        return np.random.default_rng(seed).random(shape_of(args[0]))

    return {"zeros": zeros, "ones": ones, "full": full, "linspace": linspace,
            "arange": arange, "eye": eye, "random": random}




def format_bytes(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size} bytes"
