"""Streaming writers for many points: each chunk is formatted and flushed as it is computed.

A sink's `format(chunk) → bytes` is pure, so chunks can be formatted on worker
threads while the next chunk is read and computed (polars and XLA release the
GIL); `stream.write_stream` writes them in order. CSV, plain and JSON lines go through
polars (fast, exact round-trip floats); a chunk holding nan or inf is written the
slow way so that JSON stays valid.

What a line holds follows `--fields` (output/fields.py). `--with-value` puts f
beside ∇f: JSON `function_value`, the CSV/plain column `f` (first by default).
`output/stream.py` is the loop that drives the sinks.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile

import numpy as np

from ..errors import JaccliError, warn
from ..inputs.layout import entry_label
from ..inputs.records import BadRecord
from .fields import check_fields, error_keys
from .formats import digits, json_array
from .labels import entry_names


SMALL = 4096  # numbers in a chunk below which plain Python formats faster than a polars frame


def open_sink(fmt: str, run, stream, env, *, precision=None):
    """The sink for format `fmt`, once `run` (a BatchRun) has made its plan; --fields come from the run."""
    check_fields(fmt, run.fields, run.with_value)
    kind = {"csv": CsvSink, "plain": PlainSink, "json": JsonSink, "npy": NpySink, "table": TableSink}[fmt]
    return kind(run, stream, env, precision=precision)


def _complex_text(x: complex) -> str:
    return repr(x).strip("()")  # 1.5+2j, 2j, -0-1e-300j: exactly, as complex() reads it back


class Sink:
    threads = 2  # formatting workers; 0: format in the calling thread

    def __init__(self, run, stream, env, *, precision=None):
        self.run = run
        self.plan = plan = run.plan
        self.stream = stream  # binary
        self.env = env
        self.precision = precision
        # a small chunk from a stream: Python formats it faster than a polars frame (files stay on polars,
        # whose float notation differs from repr's in places, so that one file reads the same throughout)
        self.quick = run.stream
        self.with_value = run.with_value
        self.names = (["f"] if self.with_value else []) + entry_names(plan)  # what `matrix` holds, column by column
        self.width = len(self.names)

    def begin(self) -> bytes:
        return b""

    def matrix(self, chunk) -> np.ndarray:
        """The chunk's results, a row a point: f first with --with-value, then the result flattened."""
        values = chunk.values.reshape(len(chunk.indices), -1)
        if self.with_value:
            values = np.concatenate([chunk.function_values.reshape(-1, 1).astype(values.dtype), values], axis=1)
        return values

    def format(self, chunk) -> bytes:
        return self.format_rows(self.matrix(chunk))

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
    """A header, then one row a point: the columns of --fields (default: [f,] the result's entries)."""

    separator = ","
    rounds = False  # CSV always round-trips (--precision is for people: table and plain)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        fields = self.run.fields or (("f",) if self.with_value else ()) + ("value",)
        self.groups = [field for field in fields if field != "f" or self.with_value]
        if self.groups == ["f", "value"] or self.groups == ["value"]:
            self.groups = None  # the default: the results' matrix as it is
        else:
            layout = self.plan.layout
            self.point_names = [entry_label(s.name, s.shape, i) for s in layout.slots for i in range(s.size)]
            value_names = self.names[1:] if self.with_value else self.names
            named = {"index": ["index"], "point": self.point_names, "value": value_names, "f": ["f"]}
            self.names = [name for group in self.groups for name in named[group]]
            self.width = len(self.names)

    def begin(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.names)
        return buffer.getvalue().encode()

    def format(self, chunk) -> bytes:
        if self.groups is None:
            return self.format_rows(self.matrix(chunk))
        count = len(chunk.indices)
        parts = []
        for group in self.groups:
            if group == "index":
                parts.append(None)  # integers, written apart
            elif group == "point":
                points = chunk.points if chunk.points is not None else np.tile(self.run.fixed_point, (count, 1))
                parts.append(points.reshape(count, -1))
            elif group == "f":
                parts.append(chunk.function_values.reshape(count, 1))
            else:
                parts.append(chunk.values.reshape(count, -1))
        floats = [p for p in parts if p is not None]
        matrix = np.concatenate(floats, axis=1) if floats else np.zeros((count, 0))
        return self.format_rows(matrix, chunk.indices, self._index_column(parts))

    def _index_column(self, parts) -> int | None:
        """Where the index column goes among the float columns (None: not written)."""
        if "index" not in self.groups:
            return None
        at = self.groups.index("index")
        return sum(p.shape[1] for p in parts[:at])

    def bad(self, record: BadRecord) -> bytes:
        """--skip-bad: a row of nan where the record's results would be (its index, when written), and a warning."""
        if self.groups is None or "index" not in self.groups:
            return super().bad(record)
        warn(f"line {record.line}: {record.message} (written as nan)")
        return self.format_rows(np.full((1, self.width - 1), np.nan), np.array([record.index]),
                                self.names.index("index"))

    def format_rows(self, matrix: np.ndarray, indices: np.ndarray | None = None, at: int | None = None) -> bytes:
        """Rows of numbers; with `at`, the integer `indices` as the column at that position."""
        width = matrix.shape[1] + (at is not None)
        if width == 0:  # a zero-width result: one empty line a point
            return b"\n" * len(matrix)
        precision = self.precision if self.rounds else None
        if precision is not None or (self.quick and matrix.size <= SMALL) or matrix.dtype.kind == "c":
            if precision is not None:
                number = digits(precision)
            else:  # tolist() gives Python floats or complexes: Python's own spelling (polars has no complex)
                number = _complex_text if matrix.dtype.kind == "c" else repr
            rows = [[number(x) for x in row] for row in matrix.tolist()]
            if at is not None:
                for row, index in zip(rows, indices.tolist()):
                    row.insert(at, str(index))
            return "".join(self.separator.join(row) + "\n" for row in rows).encode()
        import polars as pl

        frame = pl.DataFrame(matrix, schema=[f"c{i}" for i in range(matrix.shape[1])], orient="row")
        if at is not None:
            frame.insert_column(at, pl.Series("index", np.asarray(indices, dtype=np.int64)))
        return frame.write_csv(include_header=False, separator=self.separator).encode()


class PlainSink(CsvSink):
    """One point a line, its result flattened in C order, numbers separated by spaces."""

    separator = " "
    rounds = True

    def begin(self) -> bytes:
        return b""


class JsonSink(Sink):
    """JSON lines: one object a point, with `index`; the keys of --fields, in its order, when given."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        plan, fields = self.plan, self.run.fields
        constants = {  # the README's JSON keys; per run constants beyond them (device) stay out of every line
            "command": plan.request.command, "expr": plan.expression.text,
            "variables": list(plan.layout.names),
            "shape": list(plan.shape), "mode": plan.mode, "dtype": plan.dtype_name,
        }
        if plan.layout.held or (fields and "wrt" in fields):
            constants["wrt"] = [s.name for s in plan.layout.wrt]
        if self.run.fixed_point is not None:  # one point for every record (the records carry vectors)
            constants["point"] = {name: json_array(value)[0] for name, value in plan.point.items()}
        if fields is None:
            keys = [*constants, "index", *(["point"] if "point" not in constants else []),
                    *(["function_value"] if self.with_value else []), "value"]
        else:
            keys = [k for k in fields if k not in ("line", "error")]
        self.keys = keys
        self.fixed = {k: constants[k] for k in keys if k in constants}
        self.varying = [k for k in keys if k not in constants]
        self.error_keys = error_keys(fields)
        # the polars path writes the varying keys and puts the fixed ones in front: only when they come first
        self.in_front = bool(self.varying) and keys == [*self.fixed, *self.varying]
        self.prefix = json.dumps(self.fixed, separators=(",", ":"))[:-1].encode() + b"," if self.fixed else b"{"
        self.warned = False

    def format(self, chunk) -> bytes:
        finite = ("value" not in self.varying or np.isfinite(chunk.values).all()) and (
            chunk.points is None or "point" not in self.varying or np.isfinite(chunk.points).all())
        if chunk.function_values is not None and "function_value" in self.varying:
            finite = finite and np.isfinite(chunk.function_values).all()
        if not finite and not self.warned:
            warn('the results have non-finite numbers, written as the strings "nan", "inf", "-inf"')
            self.warned = True
        quick = self.quick and chunk.values.size <= SMALL
        complex_ = chunk.values.dtype.kind == "c" or (chunk.points is not None and chunk.points.dtype.kind == "c")
        if finite and self.in_front and not quick and not complex_:
            return self._fast(chunk)
        return self._slow(chunk, finite and not complex_)  # {"real": …, "imag": …} by json_array

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
        columns = {}
        for key in self.varying:
            if key == "index":
                columns["index"] = chunk.indices
            elif key == "point":
                columns["point"] = pl.DataFrame(self._point_columns(chunk.points)).to_struct()
            elif key == "function_value":
                columns["function_value"] = chunk.function_values
            else:
                columns["value"] = chunk.values if self.plan.shape else chunk.values.reshape(count)
        buffer = io.BytesIO()
        pl.DataFrame(columns).write_ndjson(buffer)
        if not self.fixed:
            return buffer.getvalue()
        # every line starts "{": a newline then "{" is a line's start only (JSON strings escape newlines)
        return (b"\n" + buffer.getvalue()).replace(b"\n{", b"\n" + self.prefix)[1:]

    def _slow(self, chunk, finite: bool = False) -> bytes:
        """Line by line: small chunks (a co-process's line), chunks with nan or inf, fixed keys after varying ones.

        Finite numbers go through orjson (shortest round-trip floats, ~20× faster than the json module on a
        2,000-entry line); nan and inf need json_array's strings and the json module.
        """
        import orjson

        convert = (lambda a: np.asarray(a).tolist()) if finite else (lambda a: json_array(a)[0])
        points = self._point_columns(chunk.points) if chunk.points is not None and "point" in self.varying else None
        lines = []
        for row, index in enumerate(chunk.indices):
            document = {}
            for key in self.keys:
                if key in self.fixed:
                    document[key] = self.fixed[key]
                elif key == "index":
                    document[key] = int(index)
                elif key == "point":
                    document[key] = {k: convert(v[row]) for k, v in points.items()}
                elif key == "function_value":
                    document[key] = convert(chunk.function_values[row])
                else:
                    document[key] = convert(chunk.values[row])
            lines.append(orjson.dumps(document) if finite else
                         json.dumps(document, allow_nan=False, separators=(",", ":")).encode())
        return b"\n".join(lines) + b"\n"

    def bad(self, record: BadRecord) -> bytes:
        values = {"index": record.index, "line": record.line, "error": record.message}
        return (json.dumps({key: values[key] for key in self.error_keys}) + "\n").encode()


class Rows(bytes):
    """Formatted bytes that know how many result rows they hold (a zero-width row is no bytes)."""

    rows = 0


class NpySink(Sink):
    """One array stacked over points; spooled to a temporary file until the count is known."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        if self.with_value:
            raise JaccliError("--with-value over many points writes f beside ∇f in -f json, csv or plain, not npy",
                              hint="run `eval` -o f.npy and `grad` -o grad.npy apart, or use -f csv")
        self.spool = tempfile.TemporaryFile()
        self.count = 0
        self.dtype = self.plan.value_dtype

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
        for index, row in zip(chunk.indices, self.matrix(chunk)):
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

        note = f"{self.total} points · mode {self.plan.mode} · {self.plan.dtype_name} · {self.run.device_name}"
        if self.total > self.shown:
            note += f" · the first {self.shown} shown (-f csv or -f json for all)"
        self.emit(self._render(Text(note, style="dim")))


class ErrorSink(JsonSink):
    """--skip-bad -f json when no record was good and the result's shape cannot be known: error records only."""

    threads = 0

    def __init__(self, run, stream, env, *, precision=None):
        check_fields("json", run.fields, run.with_value)
        self.stream, self.env = stream, env
        self.error_keys = error_keys(run.fields)
