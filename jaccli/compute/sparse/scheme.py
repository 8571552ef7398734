"""Whether a jacobian or hessian goes sparse, and its scheme: the pattern and its colouring.

`--sparse` always; `--no-sparse` never; `auto` (the default) when the dense result would be refused by the
memory budget, or when it has more than AUTO_ENTRIES entries of which at most AUTO_DENSITY are in the
pattern and the colouring needs at most a third of the dense products. A scheme is kept in the cache beside
its compiled function, under the same key.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...errors import ComputeError, JaccliError, ShapeError, TooLargeError
from ...inputs.builders import format_bytes
from . import dense_entries, might_pay
from .colour import Colouring, colour_hessian, colour_jacobian
from .pattern import hessian_pattern, jacobian_pattern
from .sets import TooDense

AUTO_DENSITY = 0.1


@dataclass(frozen=True)
class Scheme:
    """The pattern (m × n boolean CSR), its colouring, and the seconds each took to find."""

    pattern: sp.csr_array
    colouring: Colouring
    detect_seconds: float = 0.0
    colour_seconds: float = 0.0

    @property
    def nnz(self) -> int:
        return int(self.pattern.nnz)

    @property
    def density(self) -> float:
        m, n = self.pattern.shape
        return self.nnz / (m * n) if m * n else 0.0

    def pays(self) -> bool:
        """auto: sparse when mostly zeros and the products are at most a third of the dense ones (min(m, n):
        jacobian --mode auto takes the smaller side; a Hessian n)."""
        m, n = self.pattern.shape
        return self.density <= AUTO_DENSITY and self.colouring.colours <= max(1, min(m, n) / 3)

    def to_buffers(self) -> list:
        """The scheme for the cache: a JSON line, then each array's bytes, unjoined (views, no copies)."""
        c = self.colouring
        arrays = {"indptr": self.pattern.indptr, "indices": self.pattern.indices, "forward": c.forward,
                  "reverse": c.reverse, "gather": _narrow(c.gather)}
        arrays = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
        header = {"shape": list(self.pattern.shape), "counts": [c.n_forward, c.n_reverse], "kind": c.kind,
                  "seconds": [self.detect_seconds, self.colour_seconds],
                  "arrays": [[name, a.dtype.str, len(a)] for name, a in arrays.items()]}
        return [json.dumps(header).encode() + b"\n", *(a.data for a in arrays.values())]

    @classmethod
    def from_bytes(cls, data) -> Scheme:
        """The scheme `to_buffers` wrote, its arrays read-only views of `data`; ValueError when it is not one."""
        data = memoryview(data)
        end = bytes(data[:4096]).index(b"\n")
        header = json.loads(bytes(data[:end]))
        arrays, offset = {}, end + 1
        for name, dtype, count in header["arrays"]:
            arrays[name] = np.frombuffer(data, np.dtype(dtype), count, offset)
            offset += arrays[name].nbytes
        if offset != len(data):
            raise ValueError("a scheme of another length")
        m, n = header["shape"]
        pattern = sp.csr_array((np.ones(len(arrays["indices"]), bool), arrays["indices"], arrays["indptr"]),
                               shape=(m, n))
        colouring = Colouring(arrays["forward"], header["counts"][0], arrays["reverse"], header["counts"][1],
                              arrays["gather"], header["kind"])
        return cls(pattern, colouring, *header["seconds"])


def _narrow(indices: np.ndarray) -> np.ndarray:
    """int32 when it holds them: half the bytes to keep and read."""
    return indices.astype(np.int32) if len(indices) == 0 or indices.max() < 2**31 else indices


def wanted(setup, out_shape: tuple) -> bool | None:
    """True: sparse; False: dense; None: auto has to look at the pattern. Refuses what sparse cannot do."""
    request, command = setup.request, setup.command
    if command.name not in ("jacobian", "hessian") or request.sparse == "off":
        if request.sparse == "on":
            raise JaccliError(f"`{command.name}` has no sparse form",
                              hint="--sparse goes with `jacobian` and `hessian`")
        return False
    if command.name == "hessian" and out_shape != ():
        if request.sparse == "on":
            raise ShapeError(f"a sparse Hessian needs a scalar expression, but got {math.prod(out_shape)} outputs "
                             f"(shape {out_shape})", hint="sum the outputs, or take the sparse `jacobian` of each")
        return False
    if np.issubdtype(setup.dtype, np.complexfloating) or getattr(request, "holomorphic", False):
        if request.sparse == "on":
            raise JaccliError("--sparse takes real variables and outputs", hint="use --no-sparse for complex ones")
        return False
    if request.with_value or request.chunk_size:
        if request.sparse == "on":
            option = "--with-value" if request.with_value else "--chunk-size"
            raise JaccliError(f"--sparse does not take {option}", hint=f"leave out {option}, or use --no-sparse")
        return False
    if request.sparse == "on":
        return True
    return None if might_pay(setup, out_shape) else False


def refused(setup, out_shape: tuple) -> bool:
    """Whether the dense result would exceed the memory budget."""
    return dense_entries(setup, out_shape) * setup.dtype.itemsize > setup.budget


def find_scheme(setup, out_shape: tuple, *, must: bool) -> Scheme | None:
    """Detect and colour; None when the pattern is too dense to be worth it (unless `must`: then an error)."""
    n, f = setup.layout.z_size, setup.function
    limit = max(10**6, setup.budget // 32)  # each nonzero of a set costs about 13 bytes, and a few sets live
    started = time.perf_counter()
    try:
        if setup.command.name == "hessian":
            pattern = hessian_pattern(f, n, setup.layout.c_size, setup.dtype, limit)
        else:
            pattern, _ = jacobian_pattern(f, n, setup.layout.c_size, setup.dtype, limit)
    except TooDense as why:
        if not must:
            return None
        instead = setup.command.without_forming if refused(setup, out_shape) else "--no-sparse"
        raise TooLargeError(f"the sparsity pattern of the {setup.command.name} has too many nonzeros ({why}) "
                            f"for the memory budget of {format_bytes(setup.budget)}",
                            hint=f"use {instead}, or raise --max-memory") from None
    except JaccliError:
        raise
    except MemoryError as error:  # an intermediate array whose position map alone would not fit
        if not must:
            return None
        raise TooLargeError(f"finding the sparsity pattern of the {setup.command.name} ran out of memory ({error})",
                            hint="an operation builds an array far larger than its inputs (outer, kron, "
                                 "broadcasting): use a smaller problem, or --no-sparse") from None
    except Exception as error:  # noqa: BLE001 - a jaxpr no rule foresaw: auto stays dense, --sparse says so
        if not must:
            return None
        raise ComputeError(f"could not find the sparsity pattern ({type(error).__name__}: {error})",
                           hint="use --no-sparse") from error
    detected = time.perf_counter()
    mode = setup.request.mode
    colouring = colour_hessian(pattern) if setup.command.name == "hessian" else \
        colour_jacobian(pattern, prefer=mode if mode in ("fwd", "rev") else None)
    return Scheme(pattern, colouring, detected - started, time.perf_counter() - detected)


def guard(setup, scheme: Scheme) -> None:
    """Refuse a sparse result (values, indices and the products) that would not fit in the budget."""
    m, n = scheme.pattern.shape
    c = scheme.colouring
    size = scheme.nnz * (setup.dtype.itemsize + 12) + (c.n_forward * m + c.n_reverse * n) * setup.dtype.itemsize
    if size > setup.budget:
        raise TooLargeError(f"the sparse {setup.command.name} would take {format_bytes(size)} ({scheme.nnz:,} "
                            f"nonzeros, {c.colours} products), more than the memory budget of "
                            f"{format_bytes(setup.budget)}",
                            hint=f"use {setup.command.without_forming}, or raise --max-memory")


def spy_lines(pattern, width: int = 60, height: int = 30) -> list[str]:
    """A terminal spy plot: the pattern pooled to at most width × height cells, █ where a cell holds a nonzero."""
    m, n = pattern.shape
    columns, lines = max(1, min(width, n)), max(1, min(height, m))
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(pattern.indptr))
    cells = np.zeros((lines, columns), bool)
    cells[rows * lines // max(m, 1), pattern.indices.astype(np.int64) * columns // max(n, 1)] = True
    border = "+" + "-" * columns + "+"
    return [border, *("|" + "".join("█" if c else " " for c in line) + "|" for line in cells), border]


def describe(scheme: Scheme) -> dict:
    """inspect --sparse: nnz, density, colours, the time each step took, the spy plot."""
    m, n = scheme.pattern.shape
    colouring = scheme.colouring
    how = {"columns": "JVPs of coloured columns", "rows": "VJPs of coloured rows",
           "symmetric": "HVPs of a symmetric colouring", "star": "HVPs of a star colouring"}[colouring.kind]
    extra = ""
    if colouring.kind == "columns" and colouring.n_reverse:
        extra = f" + {colouring.n_reverse} dense row{'s' * (colouring.n_reverse != 1)} by VJP"
    if colouring.kind == "rows" and colouring.n_forward:
        extra = f" + {colouring.n_forward} dense column{'s' * (colouring.n_forward != 1)} by JVP"
    return {"shape": f"{m}×{n}", "nnz": f"{scheme.nnz:,}", "density": f"{scheme.density:.4g}",
            "colours": f"{colouring.colours} ({how}{extra}; dense would take {n if colouring.kind != 'rows' else m})",
            "found in": f"{scheme.detect_seconds * 1000:.1f} ms (pattern), {scheme.colour_seconds * 1000:.1f} ms "
                        "(colouring)",
            "spy": spy_lines(scheme.pattern)}


def describe_patterns(f, layout, out_shape: tuple) -> dict:
    """inspect --sparse: the Jacobian's scheme, and the Hessian's for a scalar expression."""
    found = {}
    for name in ("jacobian", "hessian") if out_shape == () else ("jacobian",):
        started = time.perf_counter()
        try:
            if name == "hessian":
                pattern = hessian_pattern(f, layout.z_size, layout.c_size, np.float64)
            else:
                pattern, _ = jacobian_pattern(f, layout.z_size, layout.c_size, np.float64)
        except TooDense as why:
            found[f"sparse {name}"] = f"too dense to detect ({why})"
            continue
        detected = time.perf_counter()
        colouring = colour_hessian(pattern) if name == "hessian" else colour_jacobian(pattern)
        found[f"sparse {name}"] = describe(Scheme(pattern, colouring, detected - started,
                                                  time.perf_counter() - detected))
    return found
