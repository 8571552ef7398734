"""Where rendered output goes: the Environment's stdout or --output, in the format chosen."""

from __future__ import annotations

import os
from pathlib import Path

from ..env import Interrupted
from ..errors import JaccliError, warn
from . import formats
from .destinations import Checked, open_output, refuse_overwriting_inputs, writing
from .progress import Before, Tally, interrupted_line
from .progress import progress as show_progress

_SUFFIX_FORMATS = {".npy": "npy", ".json": "json", ".jsonl": "json", ".csv": "csv", ".txt": "plain", ".npz": "npz",
                   ".mtx": "mtx"}


def choose_format(fmt: str | None, output: str | None, env) -> str:
    """-f if given; else from --output's suffix; else table on a terminal and plain elsewhere."""
    if fmt:
        return fmt
    if output:
        return _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "plain")
    return "table" if env.stdout_isatty else "plain"


def _refuse_binary_on_terminal(fmt: str, output: str | None, env) -> None:
    if fmt in ("npy", "npz") and output is None and env.stdout_isatty:
        raise JaccliError("npy output is binary and stdout is a terminal",
                          hint="write it to a file: --output result.npy, or redirect: > result.npy")


def write_result(result, fmt: str | None, output: str | None, env, *, precision=None, full=False) -> None:
    fmt = choose_format(fmt, output, env)
    _refuse_binary_on_terminal(fmt, output, env)
    refuse_overwriting_inputs(output, result.request, env)
    if hasattr(result, "matrix"):
        write_sparse(result, fmt, output, env, precision=precision, full=full)
        return
    if fmt in ("npz", "mtx"):
        raise JaccliError(f"{fmt} holds a sparse matrix, and this result is dense",
                          hint="add --sparse (jacobian and hessian), or write .npy")
    if fmt == "npy":
        emit(formats.to_npy(result), output, env)
        return
    if fmt == "table":
        from .tables import to_table

        draw_table(lambda console: to_table(result, console, precision=precision, full=full), output, env)
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


def draw_table(draw, output: str | None, env) -> None:
    """draw(console) onto a console of the -o file, or of standard output."""
    if output:
        with open_output(output, "w") as file:
            draw(env.console(file=file))
    else:
        with writing("standard output"):
            draw(env.console())


def write_sparse(result, fmt: str, output: str | None, env, *, precision=None, full=False) -> None:
    """A sparse result: .npz, .mtx, JSON COO, CSV or plain triplets, or a table of the labelled nonzeros."""
    from . import sparse

    if fmt == "npy":
        raise JaccliError(".npy holds a dense array, and this result is sparse",
                          hint="write it with -o H.npz (or .mtx, .json, .csv), or use --no-sparse")
    if fmt == "table":
        draw_table(lambda console: sparse.to_table(result, console, precision=precision, full=full), output, env)
        return
    if fmt == "json":
        text, nonfinite = sparse.to_json(result)
        if nonfinite:
            warn('the result has non-finite numbers, written as the strings "nan", "inf", "-inf"')
        emit(text, output, env)
        return
    if fmt == "npz" and output:  # straight into the file: no copy of a large matrix in memory
        with open_output(output, "wb") as file:
            sparse.write_npz(result, file)
        return
    render = {"npz": sparse.to_npz, "mtx": sparse.to_mtx, "csv": sparse.to_csv,
              "plain": lambda r: sparse.to_plain(r, precision)}[fmt]
    emit(render(result), output, env)


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

        with writing("standard output"):
            check_tables(data, env.console())
    return all(item["ok"] for item in data)


def write_batch(request, fmt: str | None, output: str | None, env, *, precision=None, full=False,
                chunk_size: int | None = None, skip_bad: bool = False, fields: tuple[str, ...] | None = None) -> None:
    """Many points: stream each chunk's results out as soon as it is computed (`fields`: --fields)."""
    from ..compute.batch import BatchRun
    from .sinks import ErrorSink, open_sink
    from .stream import write_stream

    run = BatchRun(request, chunk_size, stdin=env.stdin.buffer, fields=fields)
    fmt = choose_format(fmt, output, env)
    _refuse_binary_on_terminal(fmt, output, env)
    refuse_overwriting_inputs(output, request, env)
    stream = open_output(output, "wb") if output else Checked(env.stdout.buffer, "standard output")

    def error_sink():  # --skip-bad and no good record
        if run.plan_without_records():
            return open_sink(fmt, run, stream, env, precision=precision)
        return ErrorSink(run, stream, env) if fmt == "json" else None

    stream = tally = Tally(stream, fmt)  # counts the rows written, for Ctrl-C's line
    progress = show_progress(run.reader, env)
    env.interrupted = lambda: interrupted_line(progress.points, tally.rows(), output)  # wherever Ctrl-C lands
    if output is None:  # stdout: a terminal (or `| head`) shares the screen with the progress line
        tally.before = progress.clear
    stderr, env.stderr = env.stderr, Before(env.stderr, progress.clear)  # a warning clears it too
    results = progress.follow(run.results())
    interrupted = False
    try:
        try:
            write_stream(results, lambda: open_sink(fmt, run, stream, env, precision=precision),
                         chunk=lambda: run.chunk, skip_bad=skip_bad, make_error_sink=error_sink)
        except Interrupted:  # write_stream has written every chunk formatted so far
            interrupted = True
        except JaccliError:
            if output and not tally.rows():  # stopped before any result: leave no empty or half-made file
                stream.close()
                os.unlink(output)
            raise
        finally:
            env.stderr = stderr
            progress.stop()
            if output:
                stream.close()
    except Interrupted:  # Ctrl-C while cleaning up: the count still holds
        interrupted = True
    if interrupted:
        raise Interrupted(interrupted_line(progress.points, tally.rows(), output))


def emit(data: str | bytes, output: str | None, env) -> None:
    """Write text or bytes to --output, or to stdout."""
    if output:
        with open_output(output, "wb" if isinstance(data, bytes) else "w") as file:
            file.write(data)
        return
    with writing("standard output"):
        env.write(data)




def write_analysis(analyses, request, fmt: str | None, output: str | None, env, *, many: bool = False,
                   precision=None) -> None:
    """`analyze`: a table for people, `key value` lines, or JSON (one object a point, with `index` for many)."""
    from . import analysis as render

    fmt = choose_format(fmt, output, env)
    if fmt not in ("table", "plain", "json"):
        raise JaccliError(f"`analyze` writes table, plain or json, not {fmt}", hint="-f json, or -o FILE.json")
    refuse_overwriting_inputs(output, request, env)
    file = None
    try:
        for index, item in enumerate(analyses):  # each point written once it is analysed
            if output and file is None:
                file = open_output(output, "w")
            if fmt == "table":
                with writing(output or "standard output"):
                    render.to_table(item, env.console(file=file) if file else env.console(), precision=precision)
                continue
            if fmt == "json":
                text, lost = render.to_json(item, index if many else None)
                if lost:
                    warn('the analysis has non-finite numbers, written as the strings "nan", "inf", "-inf"')
            else:
                text = ("\n" if index and many else "") + (f"index {index}\n" if many else "") + render.to_plain(
                    item, precision)
            if file:
                file.write(text)
            else:
                emit(text, None, env)
    finally:
        if file:
            file.close()
