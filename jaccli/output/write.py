"""Where rendered output goes: the Environment's stdout or --output, in the format chosen."""

from __future__ import annotations

from pathlib import Path

from ..env import Interrupted
from ..errors import ClosedPipe, JaccliError, warn
from . import formats

_SUFFIX_FORMATS = {".npy": "npy", ".json": "json", ".jsonl": "json", ".csv": "csv", ".txt": "plain"}


def choose_format(fmt: str | None, output: str | None, env) -> str:
    """-f if given; else from --output's suffix; else table on a terminal and plain elsewhere."""
    if fmt:
        return fmt
    if output:
        return _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "plain")
    return "table" if env.stdout_isatty else "plain"


def _refuse_binary_on_terminal(fmt: str, output: str | None, env) -> None:
    if fmt == "npy" and output is None and env.stdout_isatty:
        raise JaccliError("npy output is binary and stdout is a terminal",
                          hint="write it to a file: --output result.npy, or redirect: > result.npy")


def write_result(result, fmt: str | None, output: str | None, env, *, precision=None, full=False) -> None:
    fmt = choose_format(fmt, output, env)
    _refuse_binary_on_terminal(fmt, output, env)
    refuse_overwriting_inputs(output, result.request, env)
    if fmt == "npy":
        emit(formats.to_npy(result), output, env)
        return
    if fmt == "table":
        from .tables import to_table

        draw = lambda console: to_table(result, console, precision=precision, full=full)  # noqa: E731
        if output:
            with _open(output, "w") as file:
                draw(env.console(file=file))
        else:
            with _writing("standard output"):
                with _writing("standard output"):
                    draw(env.console())
        return
    if fmt == "json":
        text, nonfinite = formats.to_json(result)
        if nonfinite:
            warn('the result has non-finite numbers, written as the strings "nan", "inf", "-inf"')
    elif fmt == "csv":
        text = formats.to_csv(result)
    else:
        text = formats.to_plain(result, precision)
    emit(text, output, env)


def write_description(description: dict, fmt: str | None, env) -> None:
    """`inspect` and `info`: key/value lines for people, one JSON object for programs."""
    if fmt == "json":
        import json

        emit(json.dumps(description) + "\n", None, env)
        return
    from .tables import description_lines

    emit(description_lines(description), None, env)


def write_check(reports: list, fmt: str | None, env) -> bool:
    """Print check reports: a summary line each, and the entries that differ; True when all agree."""
    from .report import summarize

    data = [summarize(report) for report in reports]
    if fmt == "json":
        import json

        emit("".join(json.dumps(item) + "\n" for item in data), None, env)
    else:
        from .tables import check_tables

        with _writing("standard output"):
            check_tables(data, env.console())
    return all(item["ok"] for item in data)


def write_batch(request, fmt: str | None, output: str | None, env, *, precision=None, full=False,
                chunk_size: int | None = None, skip_bad: bool = False) -> None:
    """Many points: stream each chunk's results out as soon as it is computed."""
    from ..compute.batch import BatchRun
    from .sinks import open_sink, write_stream

    from .sinks import ErrorSink

    run = BatchRun(request, chunk_size, stdin=env.stdin.buffer)
    fmt = choose_format(fmt, output, env)
    _refuse_binary_on_terminal(fmt, output, env)
    refuse_overwriting_inputs(output, request, env)
    stream = _open(output, "wb") if output else Checked(env.stdout.buffer, "standard output")

    def error_sink():  # --skip-bad and no good record
        if run.plan_without_records():
            return open_sink(fmt, run, stream, env, precision=precision)
        return ErrorSink(run, stream, env) if fmt == "json" else None

    stream = tally = _Tally(stream, fmt)  # counts the rows written, for Ctrl-C's line
    progress = _progress(run.reader, env)
    if output is None:  # stdout: a terminal (or `| head`) shares the screen with the progress line
        tally.before = progress.clear
    stderr, env.stderr = env.stderr, _Before(env.stderr, progress.clear)  # a warning clears it too
    results = progress.follow(run.results())
    interrupted = False
    try:
        write_stream(results, lambda: open_sink(fmt, run, stream, env, precision=precision),
                     chunk=lambda: run.chunk, skip_bad=skip_bad, make_error_sink=error_sink)
    except Interrupted:  # write_stream has written every chunk formatted so far
        interrupted = True
    finally:
        env.stderr = stderr
        progress.stop()
        if output:
            stream.close()
    if interrupted:
        raise Interrupted(_interrupted(progress.points, tally.rows(), output))


def _interrupted(points: int, rows: int | None, output: str | None) -> str:
    """`interrupted after 606,209 points; part.csv holds the first 606,208 results` (rows None: a table)."""
    results = f"{rows:,} result{'s' if rows != 1 else ''}" if rows else ""
    if rows is None:  # a table: its last line says how many points it has shown
        held = ""
    elif output:
        held = f"{output} holds the first {results}" if rows else f"{output} holds no results"
    else:
        held = f"the first {results} {'were' if rows != 1 else 'was'} written" if rows else "no results were written"
    return "; ".join(part for part in (f"interrupted after {points:,} points" if points else "interrupted", held)
                     if part)


def _progress(reader, env) -> _Progress:
    """A rich progress bar on stderr for a file (bytes or rows read); a point counter with its rate otherwise.

    Shown only when stderr is a terminal and the input is not all read by the first results (a
    short run shows nothing); the points are counted always, for Ctrl-C's line.
    """
    return _Progress(reader, env.console(stderr=True) if env.stderr_isatty and reader is not None else None)


class _Progress:
    """Counts the points of `follow(results)`; draws them with rich on `console`, unless it is None."""

    EVERY = 0.1  # seconds between redraws: rich's own default of 10 a second, drawn from the loop, no thread

    def __init__(self, reader, console):
        import time

        self.reader, self.console, self.clock = reader, console, time.perf_counter
        self.bar = None
        self.points = 0
        self.start = self.clock()
        self.next = self.start  # the first results are drawn at once (unless they are all)

    def follow(self, results):
        """`results` as they come, counted; the display redrawn at most every EVERY seconds."""
        for item in results:
            Interrupted.check()
            self.points += len(getattr(item, "indices", ())) or 1
            if self.console is not None and (now := self.clock()) >= self.next:
                self.next = now + self.EVERY
                self._draw(now)
            yield item

    def _draw(self, now: float) -> None:
        total = self.reader.total
        if self.bar is None:
            if self.reader.ended:  # everything has been read: the run is about to end, nothing to watch
                return
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            columns = [TextColumn("{task.description}")]
            if total:
                columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
            self.bar = Progress(*columns, console=self.console, transient=True, auto_refresh=False,
                                redirect_stdout=False, redirect_stderr=False)
            self.task = self.bar.add_task("", total=total)
        rate = self.points / max(now - self.start, 1e-9)
        read = self.reader.done * min(1, self.points / max(self.reader.records, 1))  # bytes of the points done
        self.bar.update(self.task, completed=read if total else self.points,
                        description=f"{self.points:,} points, {rate:,.0f}/s")
        if self.bar.live.is_started:
            self.bar.refresh()
        else:
            self.bar.start()  # drawn at once

    def clear(self) -> None:
        """Erase the display before stdout (or a warning) is written; the next redraw puts it back below."""
        if self.bar is None:
            return
        live = self.bar.live
        with live._lock:
            render = live._live_render  # rich keeps the drawn height here; Live.stop erases the same way
            if render._shape is not None:
                self.console.control(render.position_cursor())
                render._shape = None

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()  # transient: erased, the cursor shown again
            self.bar = None


class _Before:
    """A stream whose writes call `before()` first (the progress display cleared off the terminal)."""

    def __init__(self, stream, before):
        self._stream, self.before = stream, before

    def write(self, data):
        self.before()
        return self._stream.write(data)

    def __getattr__(self, attribute):
        return getattr(self._stream, attribute)


class _Tally(_Before):
    """The output stream, counting the result rows written through it: what Ctrl-C's line reports.

    Lines for CSV (less its header), plain and JSON; the header's count for .npy (written whole at
    the end); none for a table. Into a file, SIGINT waits while a write and its count happen, so
    the count is the file's.
    """

    def __init__(self, stream, fmt: str):
        import os
        import stat

        super().__init__(stream, lambda: None)
        self.fmt, self.lines, self.npy_rows = fmt, 0, None
        try:
            self.masked = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        except (AttributeError, OSError, ValueError):
            self.masked = False

    def write(self, data):
        import signal

        if self.fmt == "npy" and self.npy_rows is None and data[:6] == b"\x93NUMPY":
            self.npy_rows = _npy_rows(data)
        if self.masked:
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
        try:
            written = super().write(data)
            self.lines += data.count(b"\n")
        finally:
            if self.masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
        return written

    def rows(self) -> int | None:
        if self.fmt == "table":
            return None
        if self.fmt == "npy":
            return self.npy_rows or 0
        return max(self.lines - 1, 0) if self.fmt == "csv" else self.lines


def _npy_rows(header: bytes) -> int:
    import io

    from numpy.lib import format as npy

    data = io.BytesIO(header)
    npy.read_magic(data)
    shape, _, _ = npy.read_array_header_1_0(data)
    return shape[0] if shape else 1


def emit(data: str | bytes, output: str | None, env) -> None:
    """Write text or bytes to --output, or to stdout."""
    if output:
        with _open(output, "wb" if isinstance(data, bytes) else "w") as file:
            file.write(data)
        return
    with _writing("standard output"):
        env.write(data)


# -- writing that fails says so: `cannot write …`, exit 2 (a closed pipe still ends quietly) ------------
def cannot_write(name: str, error: OSError) -> JaccliError:
    hint = None
    if isinstance(error, FileNotFoundError):
        hint = f"the folder {str(Path(name).parent)!r} does not exist"
    elif isinstance(error, IsADirectoryError):
        hint = "--output names a folder: give a file name"
    return JaccliError(f"cannot write {name if name == 'standard output' else repr(name)}: "
                       f"{error.strerror or error}", hint=hint)


class _writing:
    """A context in which an OSError (other than a closed pipe) is `cannot write NAME`."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, BrokenPipeError):
            raise ClosedPipe() from None
        if isinstance(error, OSError):
            raise cannot_write(self.name, error) from None
        return False


class Checked:
    """A stream whose write, flush and close failures are `cannot write NAME` (a full disk, /dev/full)."""

    def __init__(self, stream, name: str):
        self._stream = stream
        self.name = name

    def write(self, data):
        with _writing(self.name):
            return self._stream.write(data)

    def flush(self):
        with _writing(self.name):
            self._stream.flush()

    def close(self):
        with _writing(self.name):
            self._stream.close()

    def __getattr__(self, attribute):
        return getattr(self._stream, attribute)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None:
            self.close()
        else:  # the first error is the one to report
            try:
                self._stream.close()
            except OSError:
                pass
        return False


def _open(output: str, mode: str) -> Checked:
    with _writing(output):
        return Checked(open(output, mode, **({} if "b" in mode else {"encoding": "utf-8"})), output)


def input_paths(request) -> list[str]:
    """The files a request reads: EXPR's @file, and every @file of --at, --v and --u."""
    from ..inputs.points import split_items

    paths = [request.expr[1:]] if request.expr.startswith("@") and len(request.expr) > 1 else []
    for texts in (request.at, request.v, request.u):
        if not isinstance(texts, (tuple, list)):
            continue
        for text in texts:
            try:
                items = split_items(text)
            except JaccliError:
                continue
            for item in items:
                value = item.split("=", 1)[1].strip() if "=" in item and not item.startswith("@") else item
                if value.startswith("@"):
                    paths.append(value[1:])
    return paths


def refuse_overwriting_inputs(output: str | None, request, env) -> None:
    """--output naming an input (the same file, by inode) would truncate it before it is read: refuse."""
    import os

    if not output or not os.path.exists(output):
        return
    target = os.stat(output)
    reads_stdin = any(t.strip() == "-" for texts in (request.at, request.v, request.u)
                      if isinstance(texts, (tuple, list)) for t in texts)
    for path in input_paths(request):
        try:
            same = os.path.samestat(os.stat(path), target)
        except OSError:
            continue
        if same:
            raise JaccliError(f"--output {output!r} is the input file {path!r}: writing would destroy it",
                              hint="write the results to another file")
    if reads_stdin:
        try:
            same = os.path.samestat(os.fstat(env.stdin.buffer.fileno()), target)
        except (AttributeError, OSError, ValueError):
            same = False
        if same:
            raise JaccliError(f"--output {output!r} is the file on standard input: writing would destroy it",
                              hint="write the results to another file")
