"""`check --expect`: what the derivative should be, from a file, standard input or a literal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import PointError, ShapeError, TooLargeError
from . import files, points
from .builders import format_bytes


def read_expected(text: str, shape: tuple, stdin=None) -> np.ndarray:
    """A .npy, a .json (an array, or an object with "value"), .csv/.txt numbers, '-' (stdin), or a literal.

    Reads are capped (the result's size in text, plus 1 MB) and checked for real numbers (`files`).
    """
    size = math.prod(shape)
    cap = 2**20 + 64 * size
    if text == "-":
        import sys

        stream = stdin if stdin is not None else sys.stdin.buffer
        raw = stream.read(cap + 1)
        if len(raw) > cap:
            raise TooLargeError(f"--expect - (standard input) is larger than the cap of {format_bytes(cap)}",
                                hint=f"the result has {size} numbers")
        raw = files.decode(raw, "--expect", "-") if isinstance(raw, bytes) else raw
        values = _parse_text(raw, "-")
    elif text.startswith("@") or Path(text).suffix.lower() in (".npy", ".json", ".csv", ".txt"):
        path = str(Path(text.removeprefix("@")))
        files.permit(path, "--expect")  # before anything, existence included, is looked at
        if not Path(path).is_file():
            raise PointError(f"--expect {path!r}: no such file", hint="give a file of numbers, '-' or a literal")
        if path.lower().endswith(".npy"):
            values = files.number_array(files.load_npy(path, max_bytes=16 * size + 2**20, what="--expect"),
                                      f"--expect {path!r}")
        else:
            values = _parse_text(files.read_text(path, cap=cap, what="--expect"), path)
    elif text.lstrip().startswith("{"):  # a JSON object literal: {"real": …, "imag": …}, or jaccli's document
        values = _parse_text(text, "literal")
    else:
        values = points.read_value(text, max_bytes=2**31, option="--expect")
    if values.size != size:
        raise ShapeError(f"--expect has {values.size} numbers, but the result has {size} (shape {shape})",
                         hint="give the entries in C order (row by row)")
    return values.reshape(shape)


def _parse_text(raw: str, path: str) -> np.ndarray:
    """JSON, or numbers separated by commas or spaces; `#` comments; one header line of labels first."""
    stripped = raw.strip()
    what = f"--expect {path!r}"
    if stripped.startswith(("[", "{")):
        try:
            document = json.loads(stripped.splitlines()[0] if stripped.startswith("{") else stripped)
        except json.JSONDecodeError as error:
            raise PointError(f"cannot read {what}: not valid JSON: {error}") from None
        if isinstance(document, dict) and set(document) != {"real", "imag"}:  # jaccli's JSON, not one complex
            if "value" not in document:
                raise PointError(f"cannot read {what}: a JSON object needs a \"value\" key "
                                 "(jaccli's own JSON has one)")
            document = document["value"]
        return files.json_numbers(document, what)
    numbers, seen = [], False
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f for f in line.replace(",", " ").split() if f]
        try:
            numbers.extend(float(f) if "j" not in f.lower() else complex(f) for f in fields)  # 1+2j: complex
        except ValueError:
            if seen or not _is_label_line(fields):  # a header is one line of labels, first
                bad = next(f for f in fields if not files.is_number(f))
                raise PointError(f"cannot read {what}: line {number}: not a number: {bad[:40]!r}") from None
        seen = True
    return np.asarray(numbers, dtype=np.complex128 if any(isinstance(x, complex) for x in numbers) else np.float64)


def _is_label_line(fields: list[str]) -> bool:
    """Column labels (jaccli's own CSV header: df0/dx,…): printable, none of them a number."""
    return all(f.isprintable() and not files.is_number(f) for f in fields)
