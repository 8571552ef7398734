"""--at / --v / --u strings and files → arrays bound to the expression's variables.

    --at 1,2,pi/2              flat: fills the variables in order
    --at x=1,y=2 --at z=0      named (repeatable); values may be constant expressions
    --at "x=[1,2,3]"           a bracketed list
    --at X=@x.npy              a file (.npy, .csv, .txt, .json)
    --at "x=full(1000, 0.5)"   an array builder: zeros ones full linspace arange eye random
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..language import parse
from . import files
from .builders import builders
from ..errors import JaccliError, PointError, ShapeError
from ..language.functions import closest_names
from .layout import Layout, concat_flat

_NAMED = re.compile(r"\s*([^\W\d]\w*)\s*=(?!=)(.*)\Z", re.S)  # name=value, names as in Python


@dataclass(frozen=True)
class PointSpec:
    """What the --at (or --v) options say: values by name, and flat values in order."""

    named: dict[str, np.ndarray]
    flat: list[np.ndarray]


@dataclass(frozen=True)
class Point:
    layout: Layout
    z: np.ndarray  # the differentiated variables, flattened and concatenated
    c: np.ndarray  # the held variables
    values: dict[str, np.ndarray]  # name → value, in variable order


def read_spec(texts, *, max_bytes: int, option: str = "--at") -> PointSpec:
    """Parse the texts of a repeatable point option into named and flat values."""
    named: dict[str, np.ndarray] = {}
    flat: list[np.ndarray] = []
    for text in texts:
        items = split_items(text)
        named_here = [bool(_NAMED.match(item)) for item in items]
        if any(named_here) and not all(named_here):
            raise PointError(
                f"{option} {text!r} mixes named and unnamed values",
                hint="name every value (x=1,y=2) or none (1,2); a list is x=[1,2,3]",
            )
        for item in items:
            match = _NAMED.match(item)
            if match:
                name, value = match.group(1), match.group(2)
                if name in named:
                    raise PointError(f"{option} gives {name!r} twice")
                named[name] = read_value(value, max_bytes=max_bytes, option=option)
            else:
                flat.append(read_value(item, max_bytes=max_bytes, option=option))
    return PointSpec(named, flat)


def split_items(text: str) -> list[str]:
    """Split at commas outside brackets: '1,[2,3],f(4,5)' → ['1', '[2,3]', 'f(4,5)']."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    if any(not item.strip() for item in items):
        raise PointError(f"empty value in {text!r}", hint="values are separated by single commas: 1,2,3")
    return [item.strip() for item in items]


def read_value(text: str, *, max_bytes: int, option: str = "--at") -> np.ndarray:
    """One value: a number, a constant expression, a list, a builder call or @file."""
    text = text.strip()
    if text.startswith("@"):
        return load_array(text[1:], max_bytes=max_bytes, option=option)
    from .constants import constant_value

    root = parse.parse_text(text, allow_keywords=frozenset(builders(max_bytes)))
    try:
        value = constant_value(root, text, builders(max_bytes))
    except ShapeError as error:
        raise PointError(f"{option}: {error.message}", error.hint, text=text, position=error.position) from None
    return files.number_array(value, f"{option} {text[:40]!r}")


def load_array(path: str, *, max_bytes: int = 2**31, option: str = "--at") -> np.ndarray:
    """A file as a float64 array: .npy, .json, or text (.csv comma-separated, else whitespace).

    Every read is capped by `max_bytes` before it happens and checked for real numbers (`files`).
    """
    suffix = Path(path).suffix.lower()
    what = f"{option} file"
    if suffix == ".npy":
        return files.number_array(files.load_npy(path, max_bytes=max_bytes, what=what), f"{what} {path!r}")
    text = files.read_text(path, cap=max_bytes, what=what)
    if suffix in (".json", ".jsonl"):
        try:
            document = json.loads(text) if suffix == ".json" and text.strip() else None
        except json.JSONDecodeError:  # JSON lines in a .json file: one row a line
            document = None
        if document is None:
            try:
                document = [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError as error:
                raise PointError(f"cannot read {what} {path!r}: not valid JSON: {error}") from None
            if not document:
                raise PointError(f"no numbers in {what} {path!r}")
        return files.json_numbers(document, f"{what} {path!r}")
    return files.text_numbers(text, delimiter="," if suffix == ".csv" else None, what=what, path=path)


def bind_point(expression: parse.Expression, spec: PointSpec, *, variable_order=None, wrt=None,
               wrt_option: str = "--wrt") -> Point:
    """Give every variable its value and shape, in variable order (--vars, else as --at names them all, else
    natural order). `order` elsewhere is always a derivative's order."""
    variables = expression.variables
    for name in spec.named:
        if name not in variables:
            raise unknown_variable(name, variables, "--at")
    order = _variable_order(variables, spec, variable_order)
    values = dict(spec.named)
    missing = [name for name in order if name not in values]
    values.update(_fill_flat(expression, missing, spec))
    if wrt is not None:
        for name in wrt:
            if name not in variables:
                raise unknown_variable(name, variables, wrt_option)
    shapes = {name: values[name].shape for name in order}
    layout = Layout.build(order, shapes, wrt)
    z, c = layout.flatten(values)
    return Point(layout, z, c, {name: values[name] for name in order})


def read_vector(texts, layout: Layout, shape: tuple[int, ...], *, option: str, max_bytes: int) -> np.ndarray:
    """--v (shape in_shape, names the wrt variables) or --u (shape out_shape) as a flat array."""
    spec = texts if isinstance(texts, PointSpec) else read_spec(texts, max_bytes=max_bytes, option=option)
    if not spec.named and not spec.flat:
        raise PointError(f"this command needs {option}", hint=f"e.g. {option} 1,0,0 or {option} @v.npy")
    size = math.prod(shape)
    if spec.named:
        names = [s.name for s in layout.wrt]
        if option != "--v":
            raise PointError(f"{option} takes values in order, not by name")
        for name in spec.named:
            if name not in names:
                raise unknown_variable(name, names, option)
        parts = []
        for slot in layout.wrt:
            if slot.name not in spec.named:
                raise ShapeError(f"{option} gives no value for {slot.name!r}", hint=f"name all of {', '.join(names)}")
            value = spec.named[slot.name]
            parts.append(_fit(value, slot.shape, f"{option} {slot.name}"))
        return concat_flat(parts)
    values = concat_flat(spec.flat)
    if values.size != size:
        raise ShapeError(
            f"{option} needs {size} value{'s' if size != 1 else ''} (shape {shape}), but got {values.size}",
            hint="--v has the shape of the input (in_shape), --u the shape of the output (out_shape)",
        )
    return values


def _fit(value: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    if value.size != math.prod(shape):
        raise ShapeError(f"{what} needs shape {shape}, but got {value.shape}")
    return value.reshape(-1)


def _variable_order(variables, spec: PointSpec, given) -> list[str]:
    if given:
        order = list(given)
        unknown = [n for n in order if n not in variables]
        if unknown:
            raise unknown_variable(unknown[0], variables, "--vars")
        missing = [n for n in variables if n not in order]
        if missing or len(set(order)) != len(order):
            raise ShapeError(
                f"--vars must name every variable once: {', '.join(variables)}",
                hint=f"missing: {', '.join(missing)}" if missing else "a name is repeated",
            )
        return order
    if spec.named and set(spec.named) == set(variables):
        return list(spec.named)
    return list(variables)


def _fill_flat(expression: parse.Expression, names: list[str], spec: PointSpec) -> dict[str, np.ndarray]:
    """Share the flat values out to `names`, in order; each needs a size known from the expression."""
    flat = concat_flat(spec.flat)
    if len(spec.flat) == 1 and spec.flat[0].ndim > 1 and len(names) == 1:
        return {names[0]: spec.flat[0]}  # one unnamed array for one variable keeps its shape
    sizes = {}
    unknown = []
    for name in names:
        use = expression.uses[name]
        if use.rank == 0:
            sizes[name] = 1
        elif use.size_known:
            sizes[name] = use.min_size
        else:
            unknown.append(name)
    if len(unknown) > 1:
        raise ShapeError(
            f"the sizes of {', '.join(unknown)} are not known from the expression",
            hint=f"name them: --at {unknown[0]}=[…] or {unknown[0]}=@file.npy",
        )
    known = sum(sizes.values())
    if unknown:
        name = unknown[0]
        rest = flat.size - known
        need = expression.uses[name].min_size
        if rest < max(need, 1):
            raise _count_error(names, sizes, flat.size, unknown=name, need=need)
        sizes[name] = rest
    elif flat.size != known:
        raise _count_error(names, sizes, flat.size)
    values, at = {}, 0
    for name in names:
        size = sizes[name]
        chunk = flat[at : at + size]
        values[name] = chunk.reshape(()) if expression.uses[name].rank == 0 else chunk
        at += size
    return values


def _count_error(names, sizes, got: int, unknown: str | None = None, need: int = 0) -> ShapeError:
    if not names:  # every variable was named: the unnamed values have no variable left
        return ShapeError(f"every variable already has a value, but {got} more unnamed value"
                          f"{'s were' if got != 1 else ' was'} given",
                          hint="give each value once, by name (x=1) or in order (1,2), not both")
    described = ", ".join(n if sizes.get(n, 1) == 1 else f"{n}[{sizes[n]}]" for n in names if n != unknown)
    expected = sum(sizes.get(n, 0) for n in names if n != unknown)
    if unknown:
        what = f"at least {expected + max(need, 1)} values ({described + ', then ' if described else ''}"
        what += f"{unknown} takes the rest)"
    else:
        what = f"{expected} value{'s' if expected != 1 else ''} ({described})"
    example = ",".join(f"{n}=…" for n in names[:3])
    return ShapeError(f"expected {what}, but got {got}",
                      hint=f"give the values in order {', '.join(names)}, or name them: --at {example}")


def unknown_variable(name: str, variables, option: str) -> JaccliError:
    close = closest_names(name, variables)
    known = ", ".join(variables) if variables else "none"
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return ShapeError(f"{option} names {name!r}, which is not a variable of the expression",
                      hint=f"{hint}the variables are: {known}")
