"""Streaming writers for many points: each chunk is formatted and flushed as it is computed.

A sink's `format(chunk) → bytes` is pure, so chunks can be formatted on worker
threads while the next chunk is read and computed (polars and XLA release the
GIL); `write_stream` writes them in order. CSV, plain and JSON lines go through
polars (fast, exact round-trip floats); a chunk holding nan or inf is written the
slow way so that JSON stays valid.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import PointError, warn
from ..inputs.records import BadRecord
from .formats import json_array
from .labels import entry_names


SMALL = 4096  # numbers in a chunk below which plain Python formats faster than a polars frame


def open_sink(fmt: str, run, stream, env, *, precision=None):
    """The sink for format `fmt`, once `run` (a BatchRun) has made its plan."""
    kind = {"csv": CsvSink, "plain": PlainSink, "json": JsonSink, "npy": NpySink, "table": TableSink}[fmt]
    return kind(run, stream, env, precision=precision)


class Sink:
    threads = 2  # formatting workers; 0: format in the calling thread

    def __init__(self, run, stream, env, *, precision=None):
        self.run = run
        self.plan = plan = run.plan
        self.stream = stream  # binary
        self.env = env
        self.precision = precision
        self.width = int(np.prod(plan.shape))
        # a small chunk from a stream: Python formats it faster than a polars frame (files stay on polars,
        # whose float notation differs from repr's in places, so that one file reads the same throughout)
        self.quick = run.stream
        self.names = entry_names(plan)

    def begin(self) -> bytes:
        return b""

    def format(self, chunk) -> bytes:
        return self.format_rows(chunk.values.reshape(len(chunk.indices), -1))

    def format_rows(self, matrix: np.ndarray) -> bytes:
        raise NotImplementedError

    def bad(self, record: BadRecord) -> bytes:
        """--skip-bad: a row of nan where the record's results would be, and a warning."""
        warn(f"line {record.line}: {record.message} (written as nan)")
        return self.format_rows(np.full((1, self.width), np.nan))

    def emit(self, data: bytes) -> None:
        if data:
            self.stream.write(data)
        self.stream.flush()

    def end(self) -> None:
        self.stream.flush()


class CsvSink(Sink):
    separator = ","
    rounds = False  # CSV always round-trips (--precision is for people: table and plain)

    def begin(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.names)
        return buffer.getvalue().encode()

    def format_rows(self, matrix: np.ndarray) -> bytes:
        if matrix.shape[1] == 0:  # a zero-width result: one empty line a point
            return b"\n" * len(matrix)
        precision = self.precision if self.rounds else None
        if precision is not None or (self.quick and matrix.size <= SMALL):
            number = repr if precision is None else (lambda x: f"{x:.{precision}g}")
            return "".join(self.separator.join(number(float(x)) for x in row) + "\n" for row in matrix).encode()
        import polars as pl

        frame = pl.DataFrame(matrix, schema=[f"c{i}" for i in range(matrix.shape[1])], orient="row")
        return frame.write_csv(include_header=False, separator=self.separator).encode()


class PlainSink(CsvSink):
    """One point a line, its result flattened in C order, numbers separated by spaces."""

    separator = " "
    rounds = True

    def begin(self) -> bytes:
        return b""


class JsonSink(Sink):
    """JSON lines: one object a point, with `index`."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        plan = self.plan
        self.fixed = {  # the SPEC's keys; per run constants beyond them (device) stay out of every line
            "command": plan.request.command, "expr": plan.expression.text,
            "variables": list(plan.layout.names),
            "shape": list(plan.shape), "mode": plan.mode, "dtype": plan.dtype.name,
        }
        if plan.layout.held:
            self.fixed["wrt"] = [s.name for s in plan.layout.wrt]
        if self.run.fixed_point is not None:  # one point for every record (the records carry vectors)
            self.fixed["point"] = {name: json_array(value)[0] for name, value in plan.point.items()}
        self.prefix = json.dumps(self.fixed, separators=(",", ":"))[:-1].encode() + b","
        self.warned = False

    def format(self, chunk) -> bytes:
        finite = np.isfinite(chunk.values).all() and (chunk.points is None or np.isfinite(chunk.points).all())
        if not finite and not self.warned:
            warn('the results have non-finite numbers, written as the strings "nan", "inf", "-inf"')
            self.warned = True
        quick = self.quick and chunk.values.size <= SMALL
        return self._fast(chunk) if finite and not quick else self._slow(chunk)

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
        buffer = io.BytesIO()
        pl.DataFrame(columns).write_ndjson(buffer)
        return buffer.getvalue().replace(b'{"index":', self.prefix + b'"index":')

    def _slow(self, chunk) -> bytes:
        """Line by line with the json module: small chunks, and chunks with nan or inf."""
        lines = []
        points = self._point_columns(chunk.points) if chunk.points is not None else None
        for row, index in enumerate(chunk.indices):
            document = {**self.fixed, "index": int(index)}
            if points is not None:
                document["point"] = {k: json_array(v[row])[0] for k, v in points.items()}
            document["value"] = json_array(chunk.values[row])[0]
            lines.append(json.dumps(document, allow_nan=False, separators=(",", ":")))
        return ("\n".join(lines) + "\n").encode()

    def bad(self, record: BadRecord) -> bytes:
        return (json.dumps({"index": record.index, "line": record.line, "error": record.message}) + "\n").encode()


class Rows(bytes):
    """Formatted bytes that know how many result rows they hold (a zero-width row is no bytes)."""

    rows = 0


class NpySink(Sink):
    """One array stacked over points; spooled to a temporary file until the count is known."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.spool = tempfile.TemporaryFile()
        self.count = 0
        self.dtype = self.plan.dtype

    def format_rows(self, matrix: np.ndarray) -> Rows:
        data = Rows(np.ascontiguousarray(matrix, dtype=self.dtype).tobytes())
        data.rows = len(matrix)
        return data

    def emit(self, data: Rows) -> None:
        self.spool.write(data)
        self.count += getattr(data, "rows", 0)

    def end(self) -> None:
        from numpy.lib import format as npy

        shape = (self.count,) + tuple(self.plan.shape)
        header = {"descr": npy.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        npy.write_array_header_1_0(self.stream, header)
        self.spool.seek(0)
        while block := self.spool.read(1 << 22):
            self.stream.write(block)
        self.spool.close()
        self.stream.flush()


class TableSink(Sink):
    """For a terminal: a table of the first points; pipelines want csv or json."""

    threads = 0  # it counts what it has shown
    LIMIT = 50

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.shown = 0
        self.total = 0

    def format(self, chunk) -> bytes:
        from rich.table import Table
        from rich.text import Text

        self.total += len(chunk.indices)
        if self.shown >= self.LIMIT:
            return b""
        from .tables import table_number

        number = table_number(self.precision)
        table = Table(show_header=self.shown == 0)
        table.add_column("index", justify="right")
        for name in self.names[:8]:
            table.add_column(Text(name), justify="right", no_wrap=True)
        if len(self.names) > 8:
            table.add_column("…")
        for index, row in zip(chunk.indices, chunk.values.reshape(len(chunk.indices), -1)):
            if self.shown >= self.LIMIT:
                break
            table.add_row(str(index), *[Text(number(x)) for x in row[:8]], *(["…"] if len(self.names) > 8 else []))
            self.shown += 1
        return self._render(table)

    def bad(self, record: BadRecord) -> bytes:
        return self._render(f"line {record.line}: {record.message}")

    def _render(self, renderable) -> bytes:
        buffer = io.StringIO()
        self.env.console(file=buffer).print(renderable)
        return buffer.getvalue().encode()

    def end(self) -> None:
        from rich.text import Text

        note = f"{self.total} points · mode {self.plan.mode} · {self.plan.dtype.name} · {self.run.device_name}"
        if self.total > self.shown:
            note += f" · the first {self.shown} shown (-f csv or -f json for all)"
        self.emit(self._render(Text(note, style="dim")))


class ErrorSink(JsonSink):
    """--skip-bad -f json when no record was good and the result's shape cannot be known: error records only."""

    threads = 0

    def __init__(self, run, stream, env, *, precision=None):
        self.stream, self.env = stream, env


def write_stream(results, make_sink, *, chunk: callable, skip_bad: bool, make_error_sink=None) -> None:
    """Format each chunk (on worker threads) and write it in order; answer at once when input is idle.

    `make_sink()` is called at the first result (the plan is known then); `chunk()` gives
    the full chunk size, so that a smaller chunk (the input paused) is written before reading on.
    With --skip-bad and no good record at all, `make_error_sink()` gives a sink (or None: stop at
    the first bad record) for the error records.
    """
    sink, early, pending = None, [], deque()
    pool = None

    def drain(everything: bool):
        while pending and (everything or len(pending) > 2 or not hasattr(pending[0], "done") or pending[0].done()):
            item = pending.popleft()
            if hasattr(item, "cancelled") and item.cancelled():  # the run stopped: nothing more to write
                continue
            sink.emit(item.result() if hasattr(item, "result") else item)

    try:
        for item in results:
            if isinstance(item, BadRecord):
                if not skip_bad:
                    raise stop_at(item)
                if sink is None:
                    early.append(item)
                else:
                    pending.append(sink.bad(item))
                continue
            if sink is None:
                sink = make_sink()
                pending.append(sink.begin())
                pending.extend(sink.bad(record) for record in early)
                pool = ThreadPoolExecutor(sink.threads) if sink.threads else None
            pending.append(pool.submit(sink.format, item) if pool else sink.format(item))
            drain(everything=len(item.indices) < chunk())
        if sink is None and early:
            sink = make_error_sink() if make_error_sink is not None else None
            if sink is None:
                raise stop_at(early[0], every=True)
            pending.append(sink.begin())
            pending.extend(sink.bad(record) for record in early)
            warn(f"no record was good: {len(early)} error record{'s' if len(early) != 1 else ''} written")
        if sink is not None:
            drain(everything=True)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if sink is not None:
            try:
                drain(everything=True)
            finally:
                sink.end()


def stop_at(record: BadRecord, every: bool = False) -> PointError:
    hint = ("no record was good, so the result's shape is not known: name the variables' sizes in the "
            "expression, or use -f json" if every else
            "results before it were written; --skip-bad reports bad records and goes on")
    return PointError(f"line {record.line}: {record.message}", hint=hint)
