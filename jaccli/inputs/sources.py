"""Where many records come from (a file or '-' among an option's texts), and one record as a point."""

from __future__ import annotations

import os

import numpy as np

from ..errors import PointError
from . import files, points


def record_source(texts, option: str) -> str | None:
    """The path (or '-') of a many-records input among an option's texts, if any. Beside it, --at may
    hold values that every record shares (`--at A=@A.npy --at @points.jsonl`: see `held_texts`)."""
    if isinstance(texts, points.PointSpec):  # already read: one point
        return None
    if len(texts) != 1:
        found = [source for text in texts if (source := record_source([text], option))]
        if len(found) > 1:
            raise PointError(f"{option} names {len(found)} files or streams of records: one at most",
                             hint="put the records in one file; values every record shares go as NAME=value")
        if found and option != "--at":
            raise PointError(f"{option} {found[0]} goes alone")
        return found[0] if found else None
    text = texts[0].strip()
    if text == "-":
        return "-"
    if not text.startswith("@"):
        return None
    path = text[1:]
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".jsonl", ".ndjson"):  # JSON lines: one record a line, for any option
        return path
    if suffix in (".csv", ".txt"):  # for --v/--u a CSV file is one vector (a matrix for X of 30×40)
        return path if option == "--at" else None
    if suffix == ".npy" and option == "--at":
        shape = files.npy_header(path, "the --at file")[0]
        return path if len(shape) >= 2 else None
    return None


def held_texts(texts) -> list[str]:
    """The --at texts beside its file or stream of records: values that every record shares."""
    return [text for text in texts if not record_source([text], "--at")]


def is_batch(request) -> bool:
    """Many points: a stream ('-') or a file of records for --at, --v or --u (of a compute Request)."""
    return any(record_source(texts, option) for texts, option in
               ((request.at, "--at"), (request.v, "--v"), (request.u, "--u")))


def record_spec(record) -> points.PointSpec:
    """One record's point: values by name (a JSON object) or flat values in order."""
    if isinstance(record, dict):
        return points.PointSpec({k: record_floats(v, keep_shape=True) for k, v in record.items()}, [])
    return points.PointSpec({}, [record_floats(record)])


def record_floats(value, keep_shape: bool = False) -> np.ndarray:
    """A record's value as float64 or complex128 (flattened unless keep_shape); booleans, strings, null are
    errors."""
    if isinstance(value, (np.ndarray, np.generic, complex)):  # CSV or .npy rows: numbers already, or a dtype to refuse
        array = files.number_array(value, "the record")
    else:
        array = files.json_numbers(value, "the record")
    return array if keep_shape else array.reshape(-1)
