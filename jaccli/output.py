"""Where rendered output goes: stdout or --output, the default format, warnings on stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import render
from .errors import JaccliError

_SUFFIX_FORMATS = {".npy": "npy", ".json": "json", ".jsonl": "json", ".csv": "csv", ".txt": "plain"}


def choose_format(fmt: str | None, output: str | None, stream=None) -> str:
    """-f if given; else from --output's suffix; else table on a terminal and plain elsewhere."""
    if fmt:
        return fmt
    if output:
        return _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "plain")
    stream = stream or sys.stdout
    return "table" if _isatty(stream) else "plain"


def write_result(result, fmt: str | None, output: str | None, *, precision=None, full=False) -> None:
    fmt = choose_format(fmt, output)
    if fmt == "npy":
        if output is None and _isatty(sys.stdout):
            raise JaccliError("npy output is binary and stdout is a terminal",
                              hint="write it to a file: --output result.npy, or redirect: > result.npy")
        _write(render.to_npy(result), output)
        return
    if fmt == "table":
        _write_table(lambda console: render.to_table(result, console, precision=precision, full=full), output)
        return
    if fmt == "json":
        text, nonfinite = render.to_json(result)
        if nonfinite:
            warn("the result has non-finite numbers, written as the strings \"nan\", \"inf\", \"-inf\"")
    elif fmt == "csv":
        text = render.to_csv(result)
    else:
        text = render.to_plain(result, precision)
    _write(text, output)


def write_description(description: dict, fmt: str | None) -> None:
    """`inspect` and `info`: key/value lines for people, one JSON object for programs."""
    if fmt == "json":
        import json

        _write(json.dumps(description) + "\n", None)
        return
    if fmt not in (None, "table", "plain"):
        raise JaccliError(f"this command writes table, plain or json, not {fmt}")
    width = max(len(k) for k in description)
    lines = []
    for key, value in description.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  {item}" for item in value)
        else:
            lines.append(f"{key + ':':<{width + 1}} {value}")
    _write("\n".join(lines) + "\n", None)


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _write_table(draw, output: str | None) -> None:
    from rich.console import Console

    if output:
        with open(output, "w", encoding="utf-8") as file:
            draw(Console(file=file, width=200, color_system=None, highlight=False))
        return
    terminal = _isatty(sys.stdout)
    draw(Console(highlight=False, no_color="NO_COLOR" in os.environ or None,
                 width=None if terminal else 10_000))  # to a pipe: natural width, never squashed


def _write(data: str | bytes, output: str | None) -> None:
    if output:
        try:
            mode = "wb" if isinstance(data, bytes) else "w"
            with open(output, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as file:
                file.write(data)
        except OSError as error:
            raise JaccliError(f"cannot write {output!r}: {error.strerror}") from None
        return
    if isinstance(data, bytes):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(data)
        sys.stdout.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def write_batch(request, fmt: str | None, output: str | None, *, precision=None, full=False,
                chunk_size: int | None = None, skip_bad: bool = False) -> None:
    """Many points: stream each chunk's results out as soon as it is computed."""
    from .batch import BatchRun
    from .sinks import open_sink, write_stream

    run = BatchRun(request, chunk_size)
    fmt = choose_format(fmt, output)
    if fmt == "npy" and output is None and _isatty(sys.stdout):
        raise JaccliError("npy output is binary and stdout is a terminal",
                          hint="write it to a file: --output result.npy, or redirect: > result.npy")
    stream = _open_binary(output)
    results = run.results()
    progress = _progress(run.reader) if _isatty(sys.stderr) and run.reader is not None else None
    try:
        if progress is not None:
            progress.start()
            results = progress.follow(results)
        write_stream(results, lambda: open_sink(fmt, run.plan, stream, precision=precision),
                     chunk=lambda: run.plan.chunk, skip_bad=skip_bad)
    finally:
        if progress is not None:
            progress.stop()
        if output:
            stream.close()


def _progress(reader):
    """A rich progress bar on stderr for a file (bytes or rows read); a point counter with its rate otherwise."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    class Follow(Progress):
        def follow(self, results):
            task = self.add_task("points", total=reader.total)
            points, start = 0, time.perf_counter()
            for item in results:
                points += len(getattr(item, "indices", ())) or 1
                rate = points / max(time.perf_counter() - start, 1e-9)
                self.update(task, completed=reader.done if reader.total else points,
                            description=f"{points:,} points, {rate:,.0f}/s")
                yield item

    columns = [TextColumn("{task.description}")]
    if reader.total:
        columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    return Follow(*columns, console=Console(stderr=True), transient=True)


def _open_binary(output: str | None):
    if output is None:
        return sys.stdout.buffer
    try:
        return open(output, "wb")
    except OSError as error:
        raise JaccliError(f"cannot write {output!r}: {error.strerror}") from None


def write_check(reports: list, fmt: str | None) -> bool:
    """Print check reports: a summary line each, and the entries that differ; True when all agree."""
    from .checking import summarize, summary_line

    data = [summarize(report) for report in reports]
    fmt = fmt or ("table" if _isatty(sys.stdout) else "plain")
    if fmt == "json":
        import json

        _write("".join(json.dumps(item) + "\n" for item in data), None)
        return all(item["ok"] for item in data)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, no_color="NO_COLOR" in os.environ or None,
                      width=None if _isatty(sys.stdout) else 10_000)
    for item in data:
        for reference in item["references"]:
            if not reference["mismatches"]:
                continue
            table = Table(title=Text(f"entries that differ from {reference['reference']}"), title_justify="left")
            for column in ("index", "entry", "expected", "got", "abs error", "rel error"):
                table.add_column(column, justify="left" if column in ("index", "entry") else "right")
            for row in reference["mismatches"][:50]:
                table.add_row(Text(str(tuple(row["index"]))), Text(row["label"]), f"{row['expected']:.10g}",
                              f"{row['got']:.10g}", f"{row['abs_error']:.3g}", f"{row['rel_error']:.3g}")
            console.print(table)
        for note in item["skipped"]:
            console.print(Text(f"note: {note}", style="dim"))
        console.print(Text(summary_line(item), style="bold green" if item["ok"] else "bold red"))
    return all(item["ok"] for item in data)
