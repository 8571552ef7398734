"""Many points on a terminal: a progress display on stderr, and what Ctrl-C's line says was written.

`Progress` follows the results and draws a rich bar (files: total, percentage, rate,
ETA) or a counter (streams) on stderr only when it is a terminal, cleared before
anything reaches stdout; `Tally` counts the result rows that reached the output, so
that `interrupted after N points; part.csv holds the first M results` is true.
"""

from __future__ import annotations

from ..env import Interrupted


def interrupted_line(points: int, rows: int | None, output: str | None) -> str:
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


def progress(reader, env) -> Progress:
    """A rich progress bar on stderr for a file (bytes or rows read); a point counter with its rate otherwise.

    Shown only when stderr is a terminal and the input is not all read by the first results (a
    short run shows nothing); the points are counted always, for Ctrl-C's line.
    """
    return Progress(reader, env.console(stderr=True) if env.stderr_isatty and reader is not None else None)


class Progress:
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


class Before:
    """A stream whose writes call `before()` first (the progress display cleared off the terminal)."""

    def __init__(self, stream, before):
        self._stream, self.before = stream, before

    def write(self, data):
        self.before()
        return self._stream.write(data)

    def __getattr__(self, attribute):
        return getattr(self._stream, attribute)


class Tally(Before):
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
            self.npy_rows = npy_rows(data)
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


def npy_rows(header: bytes) -> int:
    import io

    from numpy.lib import format as npy

    data = io.BytesIO(header)
    npy.read_magic(data)
    shape, _, _ = npy.read_array_header_1_0(data)
    return shape[0] if shape else 1
