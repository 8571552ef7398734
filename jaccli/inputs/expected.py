"""`check --expect`: what the derivative should be, from a file, standard input or a literal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import PointError, ShapeError
from . import points


def read_expected(text: str, shape: tuple, stdin=None) -> np.ndarray:
    """A .npy, a .json (an array, or an object with "value"), .csv/.txt numbers, '-' (stdin), or a literal."""
    if text == "-":
        import sys

        raw = (stdin if stdin is not None else sys.stdin.buffer).read()
        values = _parse_text(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
    elif text.startswith("@") or Path(text).suffix.lower() in (".npy", ".json", ".csv", ".txt"):
        path = Path(text.removeprefix("@"))
        if not path.is_file():
            raise PointError(f"--expect {str(path)!r}: no such file", hint="give a file of numbers, '-' or a literal")
        try:
            values = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else \
                _parse_text(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raise PointError(f"cannot read --expect {str(path)!r}: {error}") from None
    else:
        values = points.read_value(text, max_bytes=2**31, option="--expect")
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise PointError("--expect holds something other than numbers") from None
    if values.size != math.prod(shape):
        raise ShapeError(f"--expect has {values.size} numbers, but the result has {math.prod(shape)} (shape {shape})",
                         hint="give the entries in C order (row by row)")
    return values.reshape(shape)


def _parse_text(raw: str) -> np.ndarray:
    stripped = raw.strip()
    if stripped.startswith(("[", "{")):
        try:
            document = json.loads(stripped.splitlines()[0] if stripped.startswith("{") else stripped)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        if isinstance(document, dict) and "value" not in document:
            raise ValueError('a JSON object needs a "value" key (jaccli\'s own JSON has one)')
        return np.asarray(document["value"] if isinstance(document, dict) else document, dtype=np.float64)
    numbers = []
    for line in stripped.splitlines():
        if line.lstrip().startswith("#"):
            continue
        fields = [f for f in line.replace(",", " ").split() if f]
        try:
            numbers.extend(float(f) for f in fields)
        except ValueError:
            if numbers:  # a header is only allowed first
                raise ValueError(f"not a number in {line[:40]!r}") from None
    return np.asarray(numbers, dtype=np.float64)
