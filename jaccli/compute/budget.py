"""The memory budget: what a result may take, how many directions a block, sizes like 4GB."""

from __future__ import annotations

import math
import os
import re

from ..errors import PointError, TooLargeError
from ..inputs.builders import format_bytes


def machine_memory() -> int | None:
    """The machine's RAM, or None when the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_max_memory() -> int:
    """A quarter of the machine's RAM (4 GiB when it is not known)."""
    ram = machine_memory()
    return ram // 4 if ram else 4 * 1024**3


def guard_size(what: str, shape: tuple[int, ...], itemsize: int, budget: int,
               alternative: str = "use a smaller problem") -> None:
    """Refuse, before any work, a result that would not fit in the memory budget."""
    size = math.prod(shape) * itemsize
    if size <= budget:
        return
    raise TooLargeError(
        f"the {what} result would take {format_bytes(size)} (shape {shape}), "
        f"more than the memory budget of {format_bytes(budget)}",
        hint=f"{alternative}, or raise --max-memory",
    )


def device_memory(device) -> int | None:
    """What `device` holds: an accelerator's own limit (None when it does not say), the CPU's the machine's RAM."""
    if device.platform == "cpu":
        return machine_memory()
    try:
        limit = (device.memory_stats() or {}).get("bytes_limit")
    except (RuntimeError, AttributeError, NotImplementedError):
        return None
    return int(limit) if limit else None


def guard_working_memory(compiled, setup, device, *, sparse: bool = False, copies: int = 1) -> None:
    """Refuse, before it runs, an executable whose memory (XLA's count: arguments, result and the intermediate
    arrays it keeps, times `copies` for CPU devices that share one RAM) is more than the device holds, or than
    an explicit --max-memory when that is larger: an intermediate array the result's size does not show
    (`sum(cumsum(outer(eye(3000), eye(3000))))` is a scalar through 1.3 PB). An intermediate that XLA fuses
    away costs nothing here. The default budget (a quarter of RAM) is for results: work beyond it that fits
    the device still runs."""
    try:
        stats = compiled.memory_analysis()
        size = copies * (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
                         - stats.alias_size_in_bytes)
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):  # a backend that does not say
        return
    held = device_memory(device)
    asked = setup.request.max_memory
    if held is None or size <= held or (asked is not None and size <= asked):
        return
    name = setup.command.name + (" --sparse" if sparse else "")
    limit = f"--max-memory {format_bytes(asked)}" if asked is not None and asked > held else \
        f"the {format_bytes(held)} of the {device.platform} device"
    without_forming = setup.command.without_forming
    if not without_forming:
        ways = "a smaller problem"
    elif sparse:
        ways = f"{without_forming}, or a smaller problem"
    else:
        ways = f"--chunk-size K (fewer directions at once), {without_forming}, or --sparse"
    raise TooLargeError(
        f"`{name}` would need {format_bytes(size)} of memory for its arguments, result and intermediate arrays, "
        f"more than {limit}",
        hint=f"an operation may build an array far larger than its inputs (outer, kron, broadcasting); try {ways}, "
             "or raise --max-memory to run it anyway",
    )


OPERATIONS = 12_000  # traced operations: XLA compiles 2,000–5,000 a second here, by structure (tracing adds a third)


def operations(command, size: int, order: int = 1) -> int:
    """About how many operations JAX traces for `command` of an expression of `size` nodes: what XLA's compile
    time follows (Command.operations, measured on expressions of scalar variables, the most per node; an array
    operation counts once whatever its size)."""
    return round(size * command.operations * command.growth ** (order - 1))


def guard_operations(command, size: int, order: int = 1) -> None:
    """Refuse, before tracing, a program that XLA would compile for more than a few seconds."""
    estimate = operations(command, size, order)
    if estimate <= OPERATIONS:
        return
    raise TooLargeError(
        f"the expression is too large to compile for `{command.name}`: {size:,} terms, about {estimate:,} "
        f"operations (the limit is {OPERATIONS:,}, a few seconds of XLA compile)",
        hint="write it with arrays and reductions: a vector x and sum(x**2) rather than x0**2 + x1**2 + …, x**k "
             "rather than x*x*…",
    )


def block_size(command: str, mode: str, requested: int | None, n: int, out_shape: tuple, itemsize: int,
               budget: int) -> int | None:
    """Basis directions a block for a jacobian or hessian; None: all at once (JAX's own jacfwd…).

    A block of K directions costs about K × (one column + the function's work on n
    inputs); the default keeps that within an eighth of the memory budget.
    """
    if command not in ("jacobian", "hessian"):
        return None
    count = math.prod(out_shape) if command == "jacobian" and mode == "rev" else n
    if requested:
        return min(requested, count) if min(requested, count) < count else None
    column = (math.prod(out_shape) * (n if command == "hessian" else 1)) * itemsize
    per_direction = max(column, 16 * n * itemsize)
    fits = max(1, (budget // 8) // per_direction)
    return None if fits >= count else int(fits)


_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]i?b?|b|bytes?)?\s*\Z", re.I)
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9,
          "gb": 1e9, "t": 1e12, "tb": 1e12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20,
          "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40}


def parse_size(text: str) -> int:
    """'4GB' → 4e9, '512MiB' → 536870912, '1000' → 1000."""
    match = _SIZE.match(text)
    if not match:
        raise PointError(f"cannot read the size {text!r}", hint="e.g. 4GB, 512MiB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])
