"""Reading files (and their numbers) without being misled: capped, checked, then converted.

Every array jaccli reads from a user goes through `number_array` (one check of the
dtype: numbers real or complex pass; booleans, dates, text and structured arrays are refused),
every text file through `read_text` (a cap before the bytes are read, no NUL
bytes, UTF-8 with an optional BOM), every `.npy` through `npy_header` (the
header's shape × itemsize checked against the budget and against the file's
size before anything is loaded), and every JSON value through `json_numbers`
(`true`, `"1"` and `null` are not numbers; `{"real": …, "imag": …}` is a complex one).

    >>> number_array(np.array([1, 2]), "'x.npy'")
    array([1., 2.])
"""

from __future__ import annotations

import io
import math
import os
import warnings

import numpy as np

from ..env import NO_FILES
from ..errors import PointError, TooLargeError
from .builders import format_bytes

BOM = b"\xef\xbb\xbf"
LINE_BYTES = 64_000_000  # one record line (CSV or JSON) at most, or the memory budget when smaller
EXPRESSION_BYTES = 4_000_000  # an @file expression: the parser's 1,000,000 characters, 4 bytes each at most
PIECE = 1 << 20  # bytes read at a time from a file of unknown size


# -- the one gate: --no-files ------------------------------------------------------------
def permit(path: str, what: str) -> None:
    """Refuse to open `path` when file reads are off (--no-files, JACCLI_NO_FILES=1): nothing of it is read."""
    if NO_FILES.get() or os.environ.get("JACCLI_NO_FILES", "") not in ("", "0"):
        raise PointError(f"cannot read {what} {path!r}: reading files is off (--no-files)",
                         hint="give the expression and values inline: --at x=1,y=2, 'x=[1, 2]', --expect '[4, 1]'")


# -- the one dtype check -------------------------------------------------------------
_KINDS = {
    "b": ("booleans", "true/false are not numbers: write 1 and 0"),
    "M": ("dates", "convert them to numbers first"),
    "m": ("time spans", "convert them to numbers first"),
    "U": ("text", "give numbers"),
    "S": ("bytes", "give numbers"),
    "V": ("a structured array", "save one plain numeric array per variable"),
    "O": ("Python objects", "give numbers"),
}


def number_array(array, what: str) -> np.ndarray:
    """`array` as float64 (complex128 when complex), after checking that its dtype holds numbers."""
    array = np.asarray(array)
    check_dtype(array.dtype, what)
    return array.astype(np.complex128 if array.dtype.kind == "c" else np.float64, copy=False)


def check_dtype(dtype: np.dtype, what: str) -> None:
    if dtype.kind in "iufc" and dtype.fields is None:
        return
    name, hint = _KINDS.get(dtype.kind, ("something other than numbers", "give numbers"))
    raise PointError(f"{what} holds {name} (dtype {dtype}), not numbers", hint=hint)


_NONFINITE = frozenset({"nan", "inf", "-inf"})
_NUMBER_TYPES = frozenset({int, float})


def json_numbers(value, what: str, keep_shape: bool = True) -> np.ndarray:
    """A parsed JSON value (a number or nested lists of numbers) as float64; booleans, strings, null refused.

    The strings "nan", "inf" and "-inf" are numbers: that is how jaccli writes them (RFC 8259 has no NaN).
    Complex numbers are objects `{"real": …, "imag": …}` (complex128): of two arrays of one shape, as
    jaccli writes them, or one per entry.
    """
    if isinstance(value, dict) or (isinstance(value, list) and _has_objects(value)):
        array = _complex_numbers(value, what)
        return array if keep_shape else array.reshape(-1)
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float or kind is int:
            continue
        if kind is list:
            if not set(map(type, item)) <= _NUMBER_TYPES:  # the usual flat list of numbers: one C-level pass
                stack.extend(item)
            continue
        if kind is str and item in _NONFINITE:  # jaccli's own JSON writes nan and inf so
            continue
        raise PointError(f"{what}: {_json_name(item)} is not a number",
                         hint="true/false are not numbers: write 1 and 0" if kind is bool else
                         "give numbers, or lists of numbers")
    try:
        array = np.asarray(value, dtype=np.float64)
    except ValueError:
        raise PointError(f"{what}: the lists have unequal lengths", hint="an array's rows all have one length") \
            from None
    except OverflowError:
        raise PointError(f"{what}: a number is too large for float64") from None
    return array if keep_shape else array.reshape(-1)


def _has_objects(value: list) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            return True
        if isinstance(item, list) and not set(map(type, item)) <= _NUMBER_TYPES:
            stack.extend(item)
    return False


def _complex_numbers(value, what: str) -> np.ndarray:
    """{"real": A, "imag": B} (one shape) or lists holding such objects, as complex128."""
    if isinstance(value, dict):
        if set(value) != {"real", "imag"}:
            raise PointError(f"{what}: an object here is a complex number {{\"real\": …, \"imag\": …}}, "
                             f"and this one has keys {', '.join(map(repr, list(value)[:4]))}",
                             hint="values by name go in --at (z=@file.json) or in JSON lines; a complex value "
                                  'is {"real": 1, "imag": 2}')
        real, imag = (json_numbers(value[key], f"{what} {key!r}") for key in ("real", "imag"))
        if real.dtype.kind == "c" or imag.dtype.kind == "c" or real.shape != imag.shape:
            raise PointError(f"{what}: \"real\" and \"imag\" need real numbers of one shape, "
                             f"not {real.shape} and {imag.shape}")
        return real + 1j * imag
    if isinstance(value, list):
        items = [_complex_numbers(item, what) for item in value]
        if len({item.shape for item in items}) > 1:
            raise PointError(f"{what}: the lists have unequal lengths", hint="an array's rows all have one length")
        return np.array(items, dtype=np.complex128).reshape((len(items),) + (items[0].shape if items else ()))
    return json_numbers(value, what).astype(np.complex128)


def _json_name(item) -> str:
    if item is True or item is False:
        return "true" if item else "false"
    if item is None:
        return "null"
    if isinstance(item, dict):
        return "an object"
    return f"{str(item)[:40]!r} (a string)" if isinstance(item, str) else repr(item)[:40]


# -- text files ----------------------------------------------------------------------
def read_bytes(path: str, *, cap: int, what: str) -> bytes:
    """At most `cap` bytes of a file (else an error naming the cap), failing at once on a NUL byte."""
    permit(path, what)
    try:
        with open(path, "rb") as file:
            size = _regular_size(file)
            if size is not None and size > cap:
                raise _too_long(what, path, cap)
            pieces, total = [], 0
            while piece := file.read(min(PIECE, cap + 1 - total)):
                refuse_nul(piece, what, path, total)
                pieces.append(piece)
                total += len(piece)
                if total > cap:
                    raise _too_long(what, path, cap)
    except IsADirectoryError:
        raise PointError(f"cannot read {what} {path!r}: it is a folder") from None
    except OSError as error:
        raise PointError(f"cannot read {what} {path!r}: {error.strerror or error}") from None
    return b"".join(pieces)


def read_text(path: str, *, cap: int, what: str) -> str:
    """A capped text file as str: UTF-8 (a leading BOM removed), no NUL bytes."""
    return decode(read_bytes(path, cap=cap, what=what), what, path)


def decode(data: bytes, what: str, path: str) -> str:
    refuse_nul(data, what, path)
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise PointError(f"cannot read {what} {path!r}: not UTF-8 text (byte {error.start})") from None


def refuse_nul(data: bytes, what: str, path: str, offset: int = 0) -> None:
    at = data.find(b"\0")
    if at >= 0:
        raise PointError(f"cannot read {what} {path!r}: binary data (a NUL byte at offset {offset + at})",
                         hint="an expression file is text" if "expression" in what else
                         "files are .npy, .csv, .txt or .json arrays of numbers")


def _regular_size(file) -> int | None:
    info = os.fstat(file.fileno())
    import stat

    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _too_long(what: str, path: str, cap: int) -> TooLargeError:
    return TooLargeError(f"{what} {path!r} is larger than the cap of {format_bytes(cap)}",
                         hint="raise --max-memory, or use a .npy file" if "expression" not in what else
                         "expressions are at most 1,000,000 characters: use array variables and reductions")


def is_number(text: str) -> bool:
    """Whether `text` reads as one float, as Python's float() reads it."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def is_header(fields: list[str]) -> bool:
    """A header line is names only: identifiers (optionally in double quotes), at least one."""
    return bool(fields) and all(_unquote(f).isidentifier() for f in fields)


def header_names(fields: list[str]) -> list[str]:
    return [_unquote(f) for f in fields]


def _unquote(field: str) -> str:
    field = field.strip()
    return field[1:-1].strip() if len(field) >= 2 and field[0] == field[-1] == '"' else field


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter else line.split()


def text_numbers(text: str, *, delimiter: str | None, what: str, path: str) -> np.ndarray:
    """Numbers of a text file like `np.loadtxt(ndmin=1)`: `#` comments, a header of names on the first line.

    Anything else that is not a number is an error with its line number; so is a ragged row, or no numbers.
    """
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.split("#", 1)[0].strip()), None)
    if first is None:
        raise PointError(f"no numbers in {what} {path!r}")
    skip = first + 1 if is_header(_split(lines[first].split("#", 1)[0], delimiter)) else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            array = np.loadtxt(io.StringIO(text), delimiter=delimiter, ndmin=1, dtype=np.float64, skiprows=skip,
                               comments="#")
        except ValueError:
            array = _complex_text(text, delimiter, skip)  # cells like 1+2j: complex128
            if array is None:
                raise _text_error(lines, skip, delimiter, what, path) from None
    if array.size == 0:
        raise PointError(f"no numbers in {what} {path!r}", hint="the file has only a header")
    return array


def _complex_text(text: str, delimiter: str | None, skip: int) -> np.ndarray | None:
    """The numbers of a text file with complex cells (1+2j, as Python writes them), or None."""
    if "j" not in text and "J" not in text:
        return None
    try:
        return np.loadtxt(io.StringIO(text), delimiter=delimiter, ndmin=1, dtype=np.complex128, skiprows=skip,
                          comments="#")
    except ValueError:
        return None


def _text_error(lines: list[str], skip: int, delimiter: str | None, what: str, path: str) -> PointError:
    """The first line that is not numbers, or that changes the row length, by its 1-based number."""
    width = None
    for number, line in enumerate(lines[skip:], start=skip + 1):
        fields = _split(line.split("#", 1)[0].strip(), delimiter)
        if not fields or fields == [""]:
            continue
        for field in fields:
            try:
                complex(field.strip())
            except ValueError:
                hint = "a header (the first line) names columns: x,y" if number == 1 else None
                return PointError(f"cannot read {what} {path!r}: line {number}: not a number: {field.strip()[:40]!r}",
                                  hint=hint)
        if width is not None and len(fields) != width:
            return PointError(f"cannot read {what} {path!r}: line {number} has {len(fields)} values, "
                              f"the lines before it {width}")
        width = len(fields)
    return PointError(f"cannot read {what} {path!r}: not a table of numbers")


# -- .npy ------------------------------------------------------------------------------
def npy_header(path: str, what: str = "the file") -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran_order, data offset) of a .npy file, checked against the file's size."""
    from numpy.lib import format as npy

    permit(path, what)
    try:
        with open(path, "rb") as file:
            size = _regular_size(file)
            version = npy.read_magic(file)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(file, max_header_size=10000)
            else:
                shape, fortran, dtype = npy.read_array_header_2_0(file, max_header_size=10000)
            offset = file.tell()
    except IsADirectoryError:
        raise PointError(f"cannot read {what} {path!r}: it is a folder") from None
    except OSError as error:
        raise PointError(f"cannot read {what} {path!r}: {error.strerror or error}") from None
    except (ValueError, SyntaxError, TypeError) as error:
        raise PointError(f"cannot read {what} {path!r}: not a .npy file ({error})") from None
    check_dtype(dtype, f"{what} {path!r}")
    need = math.prod(shape) * dtype.itemsize
    if size is not None and size - offset < need:
        raise PointError(f"cannot read {what} {path!r}: its header says shape {shape} ({format_bytes(need)}), "
                         f"but the file holds {format_bytes(max(size - offset, 0))} of data (truncated?)")
    return tuple(shape), dtype, fortran, offset


def load_npy(path: str, *, max_bytes: int, what: str = "the file", mmap: bool = False) -> np.ndarray:
    """A .npy file, refused before loading when it is larger than `max_bytes` (mmap: any size)."""
    shape, dtype, _, _ = npy_header(path, what)
    need = math.prod(shape) * dtype.itemsize
    if not mmap and need > max_bytes:
        raise TooLargeError(f"{what} {path!r} holds {format_bytes(need)} (shape {shape}), "
                            f"above the memory budget of {format_bytes(max_bytes)}",
                            hint="raise --max-memory, or use a smaller array")
    try:
        return np.load(path, mmap_mode="r" if mmap and math.prod(shape) else None, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise PointError(f"cannot read {what} {path!r}: {error}") from None
