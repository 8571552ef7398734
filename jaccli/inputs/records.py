"""Many points: records from a file or a stream, parsed in blocks as they arrive.

A record is one point (and/or vector): a CSV line of numbers, a JSON line (a
list, an object of names, or {"at": …, "v": …}), or a row of a 2-D .npy file.
`RecordReader.blocks()` yields whatever complete lines have arrived, up to a
block size: a slow writer gets each answer at once (co-process use), a large
file fills whole blocks (vectorized speed). Bad records come out as `BadRecord`
with their line number, in order.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import PointError, TooLargeError
from . import files
from .builders import format_bytes

READ_SIZE = 1 << 24  # bytes per read from a file or pipe


@dataclass
class BadRecord:
    line: int  # 1-based line number in the input (row number for .npy)
    message: str
    index: int = -1  # the record's index among all records, once known


class NamedRows:
    """CSV records under a header of names: row i reads as the JSON object {name: value}.

    The matrix stays whole for the vectorized path (`matrix`, `names`); anything that
    walks the rows one by one sees objects of names, as JSON lines give them.
    """

    def __init__(self, matrix: np.ndarray, names: list[str]):
        self.matrix = matrix
        self.names = names

    def __len__(self) -> int:
        return len(self.matrix)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return NamedRows(self.matrix[item], self.names)
        return dict(zip(self.names, self.matrix[item].tolist()))

    def __iter__(self):
        return (dict(zip(self.names, row)) for row in self.matrix.tolist())


@dataclass
class Block:
    """Consecutive good records: a matrix (CSV, .npy), a list of parsed JSON values, or NamedRows."""

    lines: np.ndarray  # line number of each record
    matrix: np.ndarray | None = None  # (B, W) floats
    rows: list | None = None  # JSON records: lists, numbers or dicts

    def __len__(self) -> int:
        return len(self.lines)

    def split(self, at: int) -> tuple[Block, Block]:
        def cut(part):
            if self.matrix is not None:
                return Block(self.lines[part], matrix=self.matrix[part])
            return Block(self.lines[part], rows=self.rows[part])

        return cut(slice(None, at)), cut(slice(at, None))


def _concat_blocks(blocks: list[Block]) -> Block:
    if len(blocks) == 1:
        return blocks[0]
    lines = np.concatenate([b.lines for b in blocks])
    if all(b.matrix is not None for b in blocks) and len({b.matrix.shape[1] for b in blocks}) == 1:
        return Block(lines, matrix=np.concatenate([b.matrix for b in blocks]))
    if all(isinstance(b.rows, NamedRows) for b in blocks):  # one header for the whole input
        return Block(lines, rows=NamedRows(np.concatenate([b.rows.matrix for b in blocks]), blocks[0].rows.names))
    rows = [row for b in blocks for row in (b.rows if b.rows is not None else list(b.matrix))]
    return Block(lines, rows=rows)


class RecordReader:
    """Records from `source`: a path, or '-' for `stdin` (a binary stream; the process's own by default)."""

    def __init__(self, source: str, max_rows: int = 16384, stdin=None, *, what: str = "points",
                 line_cap: int = files.LINE_BYTES):
        self.source = source
        self.stdin = stdin
        self.max_rows = max_rows  # may be changed while reading
        self.what = what  # 'points' or 'vectors', for "no points in …"
        self.line_cap = line_cap  # bytes a line may take (an endless line is an error, not a hang)
        self.format: str | None = None  # 'csv' or 'json', detected from the first line
        self.header: list[str] | None = None
        self.complex_cells = False  # the last block of CSV had complex cells (1+2j): the next goes to NumPy
        self.done = 0  # bytes (or .npy rows) read so far, for progress
        self.total: int | None = None  # the input's size when known (a regular file)
        self.records = 0  # records (good and bad) parsed so far
        self.ended = False  # the whole input has been read

    @property
    def name(self) -> str:
        return "standard input" if self.source == "-" else repr(self.source)

    def blocks(self):
        """Yield Blocks of up to `self.max_rows` records, and BadRecords, in input order.

        A partial block is yielded only when no more input is ready: a file fills
        whole blocks, a slow writer gets each line answered at once.
        """
        if self.source.lower().endswith(".npy"):
            yield from self._npy_blocks()
        else:
            yield from self._text_blocks()
        if not self.records:
            raise PointError(f"no {self.what} in {self.name}" + (" (only a header)" if self.header else ""),
                             hint="one record a line: CSV numbers (1,2) or JSON ([1, 2] or {\"x\": 1, \"y\": 2})")

    def _text_blocks(self):
        read, ready, close = self._open()
        buffered: list[Block] = []

        def drain(everything: bool):
            while buffered and (everything or sum(map(len, buffered)) >= self.max_rows):
                block = _concat_blocks(buffered)
                buffered.clear()
                if len(block) > self.max_rows:
                    block, rest = block.split(self.max_rows)
                    buffered.append(rest)
                yield block

        try:
            pending: list[bytes] = []  # the line being read, in pieces (a long line is not copied at every read)
            waiting = 0  # its length
            line_no = 0
            while True:
                data = read()
                if not data:
                    break
                self.done += len(data)
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending.append(data)
                    waiting += len(data)
                    self._check_line(waiting, line_no)
                    continue
                complete = b"".join(pending) + data[: cut + 1]
                pending, waiting = [data[cut + 1 :]], len(data) - cut - 1
                self._check_line(waiting, line_no + complete.count(b"\n"))
                for item in self._parse(complete, line_no):
                    if isinstance(item, BadRecord):
                        yield from drain(True)
                        yield item
                    else:
                        buffered.append(item)
                line_no += complete.count(b"\n")
                yield from drain(False)
                if buffered and not ready():
                    yield from drain(True)
            self.ended = True
            pending = b"".join(pending)
            if pending.strip():
                for item in self._parse(pending + b"\n", line_no):
                    if isinstance(item, BadRecord):
                        yield from drain(True)
                        yield item
                    else:
                        buffered.append(item)
            yield from drain(True)
        finally:
            close()

    def _check_line(self, waiting: int, line_no: int) -> None:
        if waiting > self.line_cap:
            raise TooLargeError(f"line {line_no + 1} of {self.name} is longer than the cap of "
                                f"{format_bytes(self.line_cap)} (no newline)",
                                hint="one record a line; a large array goes in a .npy file (--at x=@x.npy)")

    def _open(self):
        """(read(), ready(), close()) for the source: raw reads of a file descriptor where there is one."""
        if self.source == "-":
            stream = self.stdin if self.stdin is not None else sys.stdin.buffer
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # in memory: everything has arrived
                return (lambda: stream.read(READ_SIZE)), (lambda: True), (lambda: None)
            close = lambda: None  # noqa: E731
        else:
            files.permit(self.source, "the points file")
            try:
                fd = os.open(self.source, os.O_RDONLY)
            except OSError as error:
                raise PointError(f"cannot read {self.source!r}: {error.strerror}") from None
            close = lambda: os.close(fd)  # noqa: E731
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            self.total = info.st_size
        elif stat.S_ISDIR(info.st_mode):
            close()
            raise PointError(f"cannot read {self.name}: it is a folder")

        def read():
            try:
                return os.read(fd, READ_SIZE)
            except OSError as error:
                raise PointError(f"cannot read {self.name}: {error.strerror or error}") from None

        return read, (lambda: _ready(fd)), close

    def _npy_blocks(self):
        array = files.load_npy(self.source, max_bytes=0, what="the points file", mmap=True)  # rows as needed
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.size == 0:
            return  # no points (or points of no values): "no points in …"
        array = array.reshape(array.shape[0], -1)
        self.total = array.shape[0]
        start = 0
        while start < array.shape[0]:
            rows = np.asarray(array[start : start + self.max_rows],
                              dtype=np.complex128 if array.dtype.kind == "c" else np.float64)
            start += len(rows)
            self.done = self.records = start
            self.ended = start == array.shape[0]
            yield Block(np.arange(start - len(rows) + 1, start + 1), matrix=rows)

    def _parse(self, data: bytes, line_no: int):
        """Parse complete lines into Blocks and BadRecords; `line_no` lines came before `data`."""
        if line_no == 0 and self.format is None:
            data = data.removeprefix(files.BOM)
        if self.format is None:
            first = data.lstrip()[:1]
            if not first:
                return
            self.format = "json" if first in (b"{", b"[") else "csv"
        parse = self._parse_json if self.format == "json" else self._parse_csv
        yield from parse(data, line_no)

    def _parse_json(self, data: bytes, line_no: int):
        import orjson

        rows, lines = [], []
        for offset, line in enumerate(data.split(b"\n")[:-1], start=line_no + 1):
            if not line.strip():
                continue
            self.records += 1
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                yield from _flush(rows, lines)
                yield BadRecord(offset, f"not valid JSON: {error}")
                continue
            if type(record) not in (list, dict, int, float):
                yield from _flush(rows, lines)
                yield BadRecord(offset, "a JSON record is a list of numbers or an object of names")
                continue
            rows.append(record)
            lines.append(offset)
        yield from _flush(rows, lines)

    def _parse_csv(self, data: bytes, line_no: int):
        """CSV lines; line 1 may be a header of names (identifiers), which makes each record named."""
        body_start = 0
        if self.header is None and line_no == 0:
            first_end = data.find(b"\n")
            first = data[:first_end].decode("utf-8", "replace").strip()
            fields = first.split(",")
            if first and files.is_header(fields):
                names = files.header_names(fields)
                repeated = sorted({n for n in names if names.count(n) > 1})
                if repeated:
                    raise PointError(f"the CSV header of {self.name} names {', '.join(map(repr, repeated))} twice",
                                     hint="a header names each variable once")
                self.header = names
                body_start = first_end + 1
                line_no += 1
        body = data[body_start:]
        if not body.strip():
            return
        named = self.header is not None
        width = len(self.header) if named else None
        fast = _parse_csv_fast(body, self.complex_cells) if body.count(b"\n") > 64 else None  # a few: Python
        self.complex_cells = fast is not None and fast.dtype.kind == "c"  # 1+2j cells: NumPy's parser at once
        if fast is not None and (width is None or fast.shape[1] == width):
            self.records += fast.shape[0]
            lines = np.arange(line_no + 1, line_no + 1 + fast.shape[0])
            yield Block(lines, rows=NamedRows(fast, self.header)) if named else Block(lines, matrix=fast)
            return
        rows, lines = [], []  # a bad or ragged record somewhere: line by line, to name it
        flush = _flush_named(self.header) if named else _flush
        for offset, line in enumerate(body.split(b"\n")[:-1], start=line_no + 1):
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            self.records += 1
            values = text.split(",")
            try:
                row = np.array([float(v) for v in values], dtype=np.float64)
            except ValueError:
                row = _complex_row(values)  # cells like 1+2j
            if row is None:
                yield from flush(rows, lines)
                yield BadRecord(offset, _not_numbers(values, text, offset))
                continue
            if width is not None and row.size != width:
                yield from flush(rows, lines)
                yield BadRecord(offset, f"expected {width} values (the header: {', '.join(self.header)}), "
                                        f"but got {row.size}")
                continue
            rows.append(row)
            lines.append(offset)
        yield from flush(rows, lines)


def _complex_row(values: list[str]) -> np.ndarray | None:
    """A CSV line of numbers with complex cells (1+2j, as Python writes them) as complex128, or None."""
    try:
        return np.array([complex(v.strip()) for v in values], dtype=np.complex128)
    except ValueError:
        return None


def _not_numbers(values: list[str], text: str, line: int) -> str:
    """What is wrong with a CSV line that is not all numbers."""
    if line == 1 and not any(files.is_number(v) for v in values):
        return f"neither numbers nor a header of variable names (x,y): {text[:40]!r}"
    bad = next((v for v in values if not files.is_number(v)), text)
    return f"not a number: {bad.strip()[:40]!r}"


def _flush_named(names: list[str]):
    def flush(rows: list, lines: list):
        if rows:
            yield Block(np.array(lines), rows=NamedRows(np.stack(rows), names))
            rows.clear()
            lines.clear()

    return flush


def _flush(rows: list, lines: list):
    if rows:
        yield Block(np.array(lines), rows=list(rows))
        rows.clear()
        lines.clear()


def _ready(fd: int) -> bool:
    """Whether more input can be read at once."""
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _complex_csv(body: bytes, width: int) -> np.ndarray | None:
    """Lines with complex cells at once (NumPy's parser reads 1+2j), or None when a line is odd."""
    try:
        array = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.complex128, ndmin=2, comments=None)
    except ValueError:
        return None
    return array if array.shape[1] == width else None


def _parse_csv_fast(body: bytes, complex_cells: bool = False) -> np.ndarray | None:
    """All lines at once with polars, or None when a line is odd (blank, ragged, not numbers)."""
    if b"\n\n" in body or body.startswith(b"\n") or b"\r" in body:
        return None
    import polars as pl

    width = body[: body.find(b"\n")].count(b",") + 1
    if complex_cells:  # the blocks before were complex: polars has no complex numbers
        return _complex_csv(body, width)
    try:
        frame = pl.read_csv(io.BytesIO(body), has_header=False,
                            schema={f"c{i}": pl.Float64 for i in range(width)})
    except (pl.exceptions.PolarsError, ValueError):  # a parse problem: the slow path names the line
        return _complex_csv(body, width) if b"j" in body else None
    if frame.null_count().sum_horizontal().item():
        return None
    array = frame.to_numpy()
    return array if array.dtype == np.float64 else None



