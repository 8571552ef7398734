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

from ..errors import PointError

READ_SIZE = 1 << 24  # bytes per read from a file or pipe


@dataclass
class BadRecord:
    line: int  # 1-based line number in the input (row number for .npy)
    message: str
    index: int = -1  # the record's index among all records, once known


@dataclass
class Block:
    """Consecutive good records: a matrix (CSV, .npy) or a list of parsed JSON values."""

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
    rows = [row for b in blocks for row in (b.rows if b.rows is not None else list(b.matrix))]
    return Block(lines, rows=rows)


class RecordReader:
    """Records from `source`: a path, or '-' for `stdin` (a binary stream; the process's own by default)."""

    def __init__(self, source: str, max_rows: int = 16384, stdin=None):
        self.source = source
        self.stdin = stdin
        self.max_rows = max_rows  # may be changed while reading
        self.format: str | None = None  # 'csv' or 'json', detected from the first line
        self.header: list[str] | None = None
        self.done = 0  # bytes (or .npy rows) read so far, for progress
        self.total: int | None = None  # the input's size when known (a regular file)

    def blocks(self):
        """Yield Blocks of up to `self.max_rows` records, and BadRecords, in input order.

        A partial block is yielded only when no more input is ready: a file fills
        whole blocks, a slow writer gets each line answered at once.
        """
        if self.source.lower().endswith(".npy"):
            yield from self._npy_blocks()
            return
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
            pending = b""
            line_no = 0
            while True:
                data = read()
                if not data:
                    break
                self.done += len(data)
                pending += data
                cut = pending.rfind(b"\n")
                if cut < 0:
                    continue
                complete, pending = pending[: cut + 1], pending[cut + 1 :]
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
            try:
                fd = os.open(self.source, os.O_RDONLY)
            except OSError as error:
                raise PointError(f"cannot read {self.source!r}: {error.strerror}") from None
            close = lambda: os.close(fd)  # noqa: E731
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            self.total = info.st_size
        return (lambda: os.read(fd, READ_SIZE)), (lambda: _ready(fd)), close

    def _npy_blocks(self):
        try:
            array = np.load(self.source, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise PointError(f"cannot read {self.source!r}: {error}") from None
        if array.ndim == 1:
            array = array.reshape(1, -1)
        array = array.reshape(array.shape[0], -1)
        self.total = array.shape[0]
        start = 0
        while start < array.shape[0]:
            rows = np.asarray(array[start : start + self.max_rows], dtype=np.float64)
            yield Block(np.arange(start + 1, start + 1 + len(rows)), matrix=rows)
            start += len(rows)
            self.done = start

    def _parse(self, data: bytes, line_no: int):
        """Parse complete lines into Blocks and BadRecords; `line_no` lines came before `data`."""
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
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                yield from _flush(rows, lines)
                yield BadRecord(offset, f"not valid JSON: {error}")
                continue
            if not isinstance(record, (list, dict, int, float)):
                yield from _flush(rows, lines)
                yield BadRecord(offset, "a JSON record is a list of numbers or an object of names")
                continue
            rows.append(record)
            lines.append(offset)
        yield from _flush(rows, lines)

    def _parse_csv(self, data: bytes, line_no: int):
        body_start = 0
        if self.header is None and line_no == 0:
            first_end = data.find(b"\n")
            first = data[:first_end].decode("utf-8", "replace").strip()
            if first and not _is_numeric_line(first):
                self.header = [name.strip() for name in first.split(",")]
                body_start = first_end + 1
                line_no += 1
        body = data[body_start:]
        if not body.strip():
            return
        fast = _parse_csv_fast(body) if body.count(b"\n") > 64 else None  # a few lines: Python is quicker
        if fast is not None:
            yield Block(np.arange(line_no + 1, line_no + 1 + fast.shape[0]), matrix=fast)
            return
        rows, lines = [], []  # a bad or ragged record somewhere: line by line, to name it
        for offset, line in enumerate(body.split(b"\n")[:-1], start=line_no + 1):
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                rows.append(np.array([float(v) for v in text.split(",")], dtype=np.float64))
                lines.append(offset)
            except ValueError:
                yield from _flush(rows, lines)
                bad = next((v for v in text.split(",") if not _is_number(v)), text)
                yield BadRecord(offset, f"not a number: {bad.strip()[:40]!r}")
        yield from _flush(rows, lines)


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


def _parse_csv_fast(body: bytes) -> np.ndarray | None:
    """All lines at once with polars, or None when a line is odd (blank, ragged, not numbers)."""
    if b"\n\n" in body or body.startswith(b"\n") or b"\r" in body:
        return None
    import polars as pl

    width = body[: body.find(b"\n")].count(b",") + 1
    try:
        frame = pl.read_csv(io.BytesIO(body), has_header=False,
                            schema={f"c{i}": pl.Float64 for i in range(width)})
    except (pl.exceptions.PolarsError, ValueError):  # a parse problem: the slow path names the line
        return None
    if frame.null_count().sum_horizontal().item():
        return None
    array = frame.to_numpy()
    return array if array.dtype == np.float64 else None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _is_numeric_line(text: str) -> bool:
    return all(_is_number(v) for v in text.split(","))
