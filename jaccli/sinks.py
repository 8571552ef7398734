"""Streaming writers for many points: each chunk is formatted and flushed as it is computed.

CSV, plain and JSON lines go through polars (fast, exact round-trip floats);
a chunk holding nan or inf is written the slow way so that JSON stays valid.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile

import numpy as np

from . import render
from .errors import PointError
from .records import BadRecord


def open_sink(fmt: str, plan, stream, *, precision=None, full=False):
    kind = {"csv": CsvSink, "plain": PlainSink, "json": JsonSink, "npy": NpySink, "table": TableSink}[fmt]
    return kind(plan, stream, precision=precision, full=full)


class Sink:
    def __init__(self, plan, stream, *, precision=None, full=False):
        self.plan = plan
        self.stream = stream  # binary
        self.precision = precision
        self.full = full
        self.width = int(np.prod(plan.shape))
        self.warned = False

    def write(self, data: bytes | str) -> None:
        self.stream.write(data.encode() if isinstance(data, str) else data)

    def chunk(self, chunk) -> None:
        raise NotImplementedError

    def bad(self, record: BadRecord) -> None:
        """--skip-bad: a row of nan where the record's results would be, and a warning."""
        warn(f"line {record.line}: {record.message} (written as nan)")
        self.rows(np.full((1, self.width), np.nan))
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()

    def rows(self, matrix: np.ndarray) -> None:
        raise NotImplementedError


class CsvSink(Sink):
    separator = ","
    header = True

    def chunk(self, chunk) -> None:
        self.rows(chunk.values.reshape(len(chunk.values), -1))
        self.stream.flush()

    def rows(self, matrix: np.ndarray) -> None:
        import polars as pl

        if self.header:
            names = render.entry_names(self.plan.request.command, self.plan.out_shape, self.plan.layout)
            buffer = io.StringIO()
            import csv

            csv.writer(buffer, lineterminator="\n").writerow(names)
            self.write(buffer.getvalue())
            self.header = False
        if self.precision is not None:
            text = "".join(self.separator.join(f"{x:.{self.precision}g}" for x in row) + "\n" for row in matrix)
            self.write(text)
            return
        frame = pl.DataFrame(matrix, schema=[f"c{i}" for i in range(matrix.shape[1])], orient="row")
        self.write(frame.write_csv(include_header=False, separator=self.separator))


class PlainSink(CsvSink):
    """One point a line, its result flattened in C order, numbers separated by spaces."""

    separator = " "

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.header = False


class JsonSink(Sink):
    """JSON lines: one object a point, with `index`."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        plan = self.plan
        self.fixed = {
            "command": plan.request.command,
            "expr": plan.request.expr,
            "variables": list(plan.layout.names),
            "wrt": [s.name for s in plan.layout.wrt],
            "shape": list(plan.shape),
            "mode": plan.mode,
            "dtype": plan.dtype,
            "device": plan.device,
        }

    def chunk(self, chunk) -> None:
        values = chunk.values
        points = chunk.points
        finite = np.isfinite(values).all() and (points is None or np.isfinite(points).all())
        self.write(self._fast(chunk) if finite else self._slow(chunk))
        self.stream.flush()

    def _point_columns(self, points: np.ndarray) -> dict:
        columns, at = {}, 0
        for slot in self.plan.layout.slots:
            part = points[:, at : at + slot.size]
            columns[slot.name] = part.reshape((len(points),) + slot.shape) if slot.shape else part[:, 0]
            at += slot.size
        return columns

    def _fast(self, chunk) -> bytes:
        import polars as pl

        count = len(chunk.indices)
        columns = {"index": chunk.indices}
        if chunk.points is not None:
            columns["point"] = pl.DataFrame(self._point_columns(chunk.points)).to_struct()
        columns["value"] = chunk.values if self.plan.shape else chunk.values.reshape(count)
        frame = pl.DataFrame(columns)
        buffer = io.BytesIO()
        frame.write_ndjson(buffer)
        prefix = json.dumps(self.fixed)[:-1].encode() + b","
        fixed_point = b""
        if chunk.points is None:
            fixed_point = b'"point":' + json.dumps(self._fixed_point()).encode() + b","
        return buffer.getvalue().replace(b'{"index":', prefix + fixed_point + b'"index":')

    def _fixed_point(self) -> dict:
        values = self.plan.extra.get("point", {})
        return {name: render.json_array(value)[0] for name, value in values.items()}

    def _slow(self, chunk) -> str:
        if not self.warned:
            warn('the results have non-finite numbers, written as the strings "nan", "inf", "-inf"')
            self.warned = True
        lines = []
        for row, index in enumerate(chunk.indices):
            document = dict(self.fixed)
            document["index"] = int(index)
            if chunk.points is not None:
                document["point"] = {k: render.json_array(v[row])[0]
                                     for k, v in self._point_columns(chunk.points).items()}
            else:
                document["point"] = self._fixed_point()
            document["value"] = render.json_array(chunk.values[row])[0]
            lines.append(json.dumps(document, allow_nan=False))
        return "\n".join(lines) + "\n"

    def bad(self, record: BadRecord) -> None:
        self.write(json.dumps({"index": record.index, "line": record.line, "error": record.message}) + "\n")
        self.stream.flush()


class NpySink(Sink):
    """One array stacked over points; spooled to a temporary file until the count is known."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.spool = tempfile.TemporaryFile()
        self.count = 0

    def chunk(self, chunk) -> None:
        self.rows(chunk.values)

    def rows(self, matrix: np.ndarray) -> None:
        self.spool.write(np.ascontiguousarray(matrix, dtype=np.dtype(self.plan.dtype)).tobytes())
        self.count += len(matrix)

    def close(self) -> None:
        from numpy.lib import format as npy

        shape = (self.count,) + tuple(self.plan.shape)
        header = {"descr": npy.dtype_to_descr(np.dtype(self.plan.dtype)), "fortran_order": False, "shape": shape}
        npy.write_array_header_1_0(self.stream, header)
        self.spool.seek(0)
        while block := self.spool.read(1 << 22):
            self.stream.write(block)
        self.spool.close()
        self.stream.flush()


class TableSink(Sink):
    """For a terminal: a table of the first points; pipelines want csv or json."""

    LIMIT = 50

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.shown = 0
        self.total = 0

    def chunk(self, chunk) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        self.total += len(chunk.indices)
        if self.shown >= self.LIMIT:
            return
        names = render.entry_names(self.plan.request.command, self.plan.out_shape, self.plan.layout)
        number = render._table_number(self.precision)
        table = Table(show_header=self.shown == 0)
        table.add_column("index", justify="right")
        for name in names[:8]:
            table.add_column(Text(name), justify="right", no_wrap=True)
        if len(names) > 8:
            table.add_column("…")
        for index, row in zip(chunk.indices, chunk.values.reshape(len(chunk.indices), -1)):
            if self.shown >= self.LIMIT:
                break
            cells = [Text(number(x)) for x in row[:8]] + (["…"] if len(names) > 8 else [])
            table.add_row(str(index), *cells)
            self.shown += 1
        self.write(_render(table))

    def rows(self, matrix: np.ndarray) -> None:
        pass

    def close(self) -> None:
        from rich.text import Text

        note = f"{self.total} points · mode {self.plan.mode} · {self.plan.dtype} · {self.plan.device}"
        if self.total > self.shown:
            note += f" · the first {self.shown} shown (-f csv or -f json for all)"
        self.write(_render(Text(note, style="dim")))
        self.stream.flush()


def _render(renderable) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), highlight=False, width=None if sys.stdout.isatty() else 10_000)
    console.print(renderable)
    return console.file.getvalue()


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def stop_at(record: BadRecord) -> PointError:
    return PointError(f"line {record.line}: {record.message}",
                      hint="results before it were written; --skip-bad reports bad records and goes on")
