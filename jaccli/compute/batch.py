"""Many points: one compiled `jax.jit(jax.vmap(op))` over fixed-size chunks, results in input order.

Every chunk of a file is padded to the same size, so the function is traced and compiled once per run
whatever the input's length. A stream (a pipe) pads a partial chunk to the next power of two instead: a lone
line from a co-process is computed alone, not beside thousands of copies of itself, and each size is compiled
once. Rows come from `records.RecordReader` as they arrive: results stream out, memory bounded by the chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import JaccliError, PointError, ShapeError, TooLargeError
from ..inputs import files, points
from ..inputs.builders import format_bytes
from ..inputs.records import BadRecord, Block, NamedRows, RecordReader
from ..inputs.sources import record_floats, record_source, record_spec
from . import cache, complexes
from .backend import device_name, load_jax, runtime_error, select_device
from .budget import default_max_memory
from .cluster import join, refuse_stdin, share
from .devices import choose, jit_points, point_mesh, round_up, span
from .held import Held
from .prepare import Plan, Request, bind, plan, read_expression
from .rows import check_header, layout_columns, pad, stack

MAX_CHUNK = 65536
STREAM_CHUNK = 4096  # a pipe: points computed together at most (a partial chunk is padded to a power of two)
CHUNK_BYTES = 256 * 2**20  # what one chunk's arrays may take, roughly
TRACES = {"count": 0}  # how many times a batch function was traced (tests read it)


@dataclass
class Chunk:
    """Results for consecutive records: `values[i]` belongs to record `indices[i]`."""

    indices: np.ndarray
    values: np.ndarray  # (B, *shape)
    points: np.ndarray | None  # (B, total) flat points in layout order, when they vary
    function_values: np.ndarray | None = None  # (B,) f at each point, with --with-value


class BatchRun:
    """Set up from a request; `results()` yields Chunks and BadRecords in input order."""

    mesh = None  # several devices: the 1-D mesh the points split over (None: one device, no sharding)
    share = (0, None)  # --distributed: this process's records [first, stop), stop None: to the end

    def __init__(self, request: Request, chunk_size: int | None = None, stdin=None,
                 fields: tuple[str, ...] | None = None):
        refuse_stdin(request)
        join(request.cluster)  # --distributed: before any backend starts
        self.jax, _ = load_jax(cache.usable(request.no_cache))
        self.request = request
        self.fields = fields  # --fields: what the sinks write (None: their default); an output choice
        self.with_value = request.with_value  # f beside ∇f: the one-point operator, packed as [f, ∇f…]
        self.budget = default_max_memory() if request.max_memory is None else request.max_memory
        self.expression = read_expression(request.expr)
        self.device = select_device(request.device)
        self.devices = choose(request.devices, self.device)
        self.mesh = point_mesh(self.devices)  # None for one device: today's path, exactly
        self.device_name = device_name(self.device) if self.mesh is None else span(self.devices)
        self.sources = {opt: record_source(texts, opt) for texts, opt in
                        ((request.at, "--at"), (request.v, "--v"), (request.u, "--u"))}
        self.held = Held(request.at, bool(self.sources["--at"]), self.expression.variables, self.budget)
        streams = [opt for opt, src in self.sources.items() if src == "-"]
        self.shared = streams if len(streams) > 1 else None  # several '-': one record carries all
        self.reader = self._reader(streams, stdin)
        if self.reader is not None:
            self.share = share(self.reader.source)
        self._check_names()
        self.chunk_size = chunk_size
        self.plan: Plan | None = None
        self.chunk = 0  # points computed together, once the plan is made
        self.stream = False  # input from a pipe: answer each line at once
        self.header_columns: np.ndarray | None = None  # a CSV header: the column of each slot, in layout order
        if self.reader is not None and chunk_size:
            self.reader.max_rows = min(chunk_size, self.reader.max_rows)  # until the plan checks it

    def _check_names(self) -> None:
        """--vars and --wrt name variables of the expression: a usage error before any record, not a bad record."""
        variables, request = self.expression.variables, self.request
        for option, names in (("--vars", request.vars), ("--wrt", request.wrt), ("--partial", request.partial)):
            for name in names or ():
                if name not in variables:
                    raise points.unknown_variable(name, variables, option)
        if request.vars is not None and sorted(request.vars) != sorted(variables):
            raise ShapeError(f"--vars must name every variable once: {', '.join(variables)}")
        if request.wrt == () and request.command != "eval":
            raise ShapeError(f"`{request.command}` has nothing to differentiate: --wrt names no variables",
                             hint="name the variables to differentiate: --wrt x,y (or run `eval`)")

    def _reader(self, streams, stdin):
        sources = {src for src in self.sources.values() if src}
        if len(sources) > 1:
            raise PointError("many records can come from one file or stream only",
                             hint="put the points and vectors in one stream: --at - --v - with JSON lines "
                                  '{"at": [...], "v": [...]}')
        if not sources:
            return None
        vectors = "--at" not in [opt for opt, src in self.sources.items() if src]
        return RecordReader(next(iter(sources)), stdin=stdin, what="vectors" if vectors else "points",
                            line_cap=min(files.LINE_BYTES, max(self.budget, 1 << 16)))

    # -- the loop ---------------------------------------------------------------
    def results(self):
        """Chunks of results and BadRecords (with their index), in input order."""
        index = self.share[0]
        for item in self._own(self.reader.blocks()):
            if isinstance(item, BadRecord):
                item.index = index
                index += 1
                yield item
                continue
            for event in self._segments(item, index):
                if isinstance(event, BadRecord):
                    yield event
                else:
                    yield from self._compute_all(*event)
            index += len(item)

    def _own(self, items):
        """The records of this process's share (--distributed), whole blocks cut where the share begins and ends."""
        first, stop = self.share
        if (first, stop) == (0, None):
            yield from items
            return
        index = 0
        for item in items:
            if stop is not None and index >= stop:
                return  # the rest is other processes' (the reader is closed unread)
            size = 1 if isinstance(item, BadRecord) else len(item)
            start, index = index, index + size
            if index <= first:
                continue
            if isinstance(item, BadRecord):
                yield item
                continue
            if start < first:
                item = item.split(first - start)[1]
            if stop is not None and index > stop:
                item = item.split(len(item) - (index - stop))[0]
            yield item

    def _segments(self, block: Block, start: int):
        """A block → (indices, parts) runs of good records, and BadRecords, in order."""
        indices = np.arange(start, start + len(block))
        if isinstance(block.rows, NamedRows):  # CSV under a header: columns by name
            if self.header_columns is None:
                self._plan_from_header(block.rows)
            yield from complexes.real_runs(self.plan, indices, self._columns_of(block.rows.matrix[:, self.header_columns]),
                                           block.lines)
            return
        if block.matrix is not None:
            if self.plan is None:
                self._make_plan(self._parts(block.matrix[0]))
            width = sum(self._width(o) for o in self._carried())
            if block.matrix.shape[1] != width:
                for i, line in zip(indices, block.lines):
                    yield BadRecord(int(line), f"expected {width} values ({self._names()}), but got "
                                    f"{block.matrix.shape[1]}", int(i))
                return
            yield from complexes.real_runs(self.plan, indices, self._columns_of(block.matrix), block.lines)
            return
        run_indices, run_parts = [], []
        for i, record, line in zip(indices, block.rows, block.lines):
            try:
                if self.plan is None:
                    self._make_plan(self._parts(record))
                parts = {o: self._flat(o, v) for o, v in self._parts(record).items()}
                complexes.refuse_complex_record(self.plan, parts)
            except JaccliError as error:
                if getattr(error, "whole_run", False):  # not this record's fault (--chunk-size)
                    raise
                if run_indices:
                    yield np.array(run_indices), stack(run_parts)
                    run_indices, run_parts = [], []
                yield BadRecord(int(line), error.message, int(i))
                continue
            run_indices.append(i)
            run_parts.append(parts)
        if run_indices:
            yield np.array(run_indices), stack(run_parts)

    def _carried(self) -> list[str]:
        """The options whose values come in the records."""
        return self.shared or [o for o, s in self.sources.items() if s]

    def _names(self) -> str:
        if self._carried() == ["--at"]:
            return ", ".join(s.name for s in self.held.record_slots)
        return " then ".join(o[2:] for o in self._carried())

    def _parts(self, record) -> dict:
        """One record → {option: value} for the options it carries."""
        carried = self._carried()
        if len(carried) == 1:
            return {carried[0]: record}
        if isinstance(record, dict) and set(record) <= {"at", "v", "u"}:
            missing = [o for o in carried if o[2:] not in record]
            if missing:
                raise ShapeError(f"the record has no {missing[0][2:]!r}")
            return {o: record[o[2:]] for o in carried}
        row = record_floats(record).reshape(1, -1)
        if self.plan is None:
            width = self._expression_width()
            if width is None or carried[0] != "--at":
                raise ShapeError("with several '-' inputs and unnamed columns, the sizes must be known "
                                 "from the expression", hint='use JSON lines: {"at": [1, 2], "v": [1, 0]}')
            self._make_plan({"--at": row[0, :width]})
        return self._columns_of(row, flat=True)

    def _expression_width(self) -> int | None:
        """How many values a point has, when the expression alone tells (scalars, x[0]…x[k])."""
        uses = [self.expression.uses[name] for name in self.held.others(self.expression.variables)]
        if all(u.rank == 0 or u.size_known for u in uses):
            return sum(1 if u.rank == 0 else u.min_size for u in uses)
        return None

    def _columns_of(self, matrix: np.ndarray, flat: bool = False) -> dict:
        parts, at = {}, 0
        for option in self._carried():
            width = self._width(option)
            parts[option] = matrix[:, at : at + width]
            at += width
        if at != matrix.shape[1]:
            raise ShapeError(f"expected {at} values ({self._names()}), but got {matrix.shape[1]}")
        return {o: v[0] for o, v in parts.items()} if flat else parts

    def _width(self, option: str) -> int:
        layout = self.plan.layout
        return {"--at": layout.z_size + layout.c_size - self.held.flat.size, "--v": layout.z_size,
                "--u": math.prod(self.plan.out_shape)}[option]

    def _flat(self, option: str, value) -> np.ndarray:
        layout = self.plan.layout
        if isinstance(value, dict):
            slots = self.held.record_slots if option == "--at" else layout.wrt
            names = [s.name for s in slots]
            unknown = [n for n in value if n not in names]
            if unknown or option == "--u":
                raise points.unknown_variable(unknown[0] if unknown else "?", names, "the record")
            missing = [n for n in names if n not in value]
            if missing:
                raise ShapeError(f"the record gives no value for {missing[0]!r}")
            flat = np.concatenate([record_floats(value[n]) for n in names])
        else:
            flat = record_floats(value)
        width = self._width(option)
        if flat.size != width:
            raise ShapeError(f"expected {width} values ({self._names()}), but got {flat.size}")
        return flat

    # -- setting up from the first record -----------------------------------------
    def _plan_from_header(self, rows: NamedRows) -> None:
        """A header names the variables of --at (or the --wrt variables of --v): check it, plan, map columns."""
        carried, names, source = self._carried(), rows.names, self.reader.name
        if len(carried) > 1 or carried[0] == "--u":
            raise PointError(f"the CSV header of {source} names columns, but "
                             + ("several inputs read '-'" if len(carried) > 1 else "--u takes values in order"),
                             hint='remove the header line, or use JSON lines: {"at": [1, 2], "v": [1, 0]}'
                             if len(carried) > 1 else "remove the header line")
        if carried[0] == "--at":
            check_header(names, self.held.others(self.expression.variables), source)
            indexed = [n for n in names if self.expression.uses[n].rank != 0]
            if indexed:
                raise PointError(f"the CSV header of {source} names {indexed[0]!r}, an array (it is indexed): "
                                 "a header names scalars", hint='give arrays in JSON lines: {"x": [1, 2, 3]}')
            self._make_plan({"--at": rows[0]})
            slots = self.held.record_slots
        else:
            self._make_plan({})
            slots = self.plan.layout.wrt
            check_header(names, [s.name for s in slots], source)
        arrays = [s.name for s in slots if s.size != 1]
        if arrays:
            raise PointError(f"the CSV header of {source} names {arrays[0]!r}, an array: a header names scalars",
                             hint='give arrays in JSON lines: {"x": [1, 2, 3]}')
        self.header_columns = np.array([names.index(s.name) for s in slots], dtype=int)

    def plan_without_records(self) -> bool:
        """Make the plan when no record was good (--skip-bad): a zero point when the widths are known."""
        if self.plan is not None:
            return True
        try:
            if "--at" not in self._carried():
                self._make_plan({})
            elif self.reader.header is not None:
                self._plan_from_header(NamedRows(np.zeros((1, len(self.reader.header))), self.reader.header))
            elif (width := self._expression_width()) is not None:
                self._make_plan({"--at": np.zeros(width)})
        except JaccliError as error:
            if getattr(error, "whole_run", False):
                raise
            return False
        return self.plan is not None

    def _make_plan(self, parts: dict) -> None:
        first_at = parts.get("--at")
        if isinstance(first_at, np.ndarray) and first_at.ndim == 2:
            first_at = first_at[0]
        setup = bind(self.request, None if first_at is None else self.held.merge(record_spec(first_at)),
                     self.expression)
        carried = self._carried()
        # the operator one point would use, on all directions at once (it is vmapped over the points)
        try:
            self.plan = plan(setup, blocks=False, vector="--v" not in carried and "--u" not in carried)
        except JaccliError as error:  # shapes, sizes, options: the same for every record, so not a bad record
            error.whole_run = True
            raise
        layout = setup.layout
        self.fixed_point = None if first_at is not None else \
            np.concatenate([np.reshape(setup.point[n], -1) for n in layout.names] or [np.zeros(0)])
        self.held.place(setup)
        self.chunk = self._chunk_points(setup.dtype.itemsize)
        self.reader.max_rows = self.chunk
        self.stream = self.reader.total is None  # answers one line at a time: format quickly
        self.fixed_vector = self.plan.vector
        self.columns = layout_columns(layout)
        self.compiled = self._compile(self.plan.operator())

    def _chunk_points(self, itemsize: int) -> int:
        """Points a chunk: --chunk-size (refused above the memory budget) or from the budget; never above the
        number of records when the whole input has been read."""
        layout = self.plan.layout
        per_point = 4 * (math.prod(self.plan.shape) + 2 * (layout.z_size + layout.c_size)) * itemsize
        if self.chunk_size:
            if self.chunk_size * per_point > self.budget:
                fits = max(1, self.budget // per_point)
                error = TooLargeError(f"--chunk-size {self.chunk_size:,} would take about "
                                    f"{format_bytes(self.chunk_size * per_point)} a chunk, above the memory "
                                    f"budget of {format_bytes(self.budget)}",
                                    hint=f"use --chunk-size {fits:,} or less, or raise --max-memory")
                error.whole_run = True
                raise error
            chunk = self.chunk_size
        else:
            limit = MAX_CHUNK if self.reader.total is not None else STREAM_CHUNK
            chunk = max(1, min(limit, CHUNK_BYTES // per_point))
        if self.reader.ended:  # the whole input is known: padding beyond it is wasted work
            chunk = min(chunk, max(1, self.reader.records))
        return chunk if self.mesh is None else round_up(chunk, len(self.devices))  # even shards

    def _compile(self, operator):
        jax = self.jax

        def counted(z, c, w):
            TRACES["count"] += 1  # runs once per trace, never per call
            return operator(z, c, w)

        point_axis = None if self.fixed_point is not None else 0
        vector_axis = None if self.fixed_vector is not None else 0
        vmapped = jax.vmap(counted, in_axes=(point_axis, point_axis, vector_axis))
        if self.mesh is None:
            return jax.jit(vmapped)
        return jit_points(vmapped, self.mesh, (point_axis == 0, point_axis == 0, vector_axis == 0))

    def _compute_all(self, indices: np.ndarray, parts: dict):
        for start in range(0, len(indices), self.chunk):
            part = slice(start, start + self.chunk)
            yield self._compute(indices[part], {o: v[part] for o, v in parts.items()})

    def _compute(self, indices: np.ndarray, parts: dict) -> Chunk:
        plan = self.plan
        count = len(indices)
        z_cols, c_cols = self.columns
        size = self._padded_size(count)
        if self.fixed_point is None:
            rows = self.held.full_rows(parts["--at"])
            z, c = pad(rows[:, z_cols], size), pad(rows[:, c_cols], size)
        else:
            rows = None
            z, c = self.fixed_point[z_cols], self.fixed_point[c_cols]
        if self.fixed_vector is None:
            w = pad(parts["--v" if "--v" in parts else "--u"], size)
        else:
            w = self.fixed_vector
        dtype = plan.dtype
        try:
            with self.jax.default_device(self.device):
                out = self.compiled(np.asarray(z, dtype), np.asarray(c, dtype), np.asarray(w, plan.vector_dtype))
                values = np.asarray(out)[:count]
        except (RuntimeError, MemoryError) as error:
            raise runtime_error(error, "try a smaller --chunk-size") from error
        function_values = None
        if self.with_value:  # value_and_grad's [f, ∇f…], as the one-point run unpacks it
            function_values, values = values[:, 0], values[:, 1:]
        return Chunk(indices, values.reshape((count,) + plan.shape), rows, function_values)

    def _padded_size(self, count: int) -> int:
        """The size `count` points are padded to: the chunk for a file (one compile), the next power of two
        for a stream (a co-process's lone line is computed alone; at most log₂(chunk) + 1 compiles)."""
        if not self.stream or count >= self.chunk:
            return self.chunk
        size = min(self.chunk, 1 << max(count - 1, 0).bit_length())
        return size if self.mesh is None else round_up(size, len(self.devices))  # the chunk is a multiple too
