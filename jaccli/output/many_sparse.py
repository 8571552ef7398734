"""Many points, sparse: one pattern, one colouring and one compiled vmap over chunks of points for all of them
(compute/sparse/many.py), each point's nonzeros written as soon as its chunk is computed: JSON lines (with
`index`), CSV and plain triplets with an index column, one .npz (or .mtx) a point (`-o H.npz` → H.0.npz,
H.1.npz, …), or a table a point."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import JaccliError, warn
from ..inputs.records import BadRecord
from . import sparse
from .destinations import Checked, open_output, refuse_overwriting_inputs, writing
from .write import choose_format


def numbered(output: str, index: int) -> str:
    """H.npz → H.3.npz."""
    path = Path(output)
    return str(path.with_name(f"{path.stem}.{index}{path.suffix}"))


def write_sparse_batch(request, fmt: str | None, output: str | None, env, *, precision=None,
                       skip_bad: bool = False) -> None:
    """Each point's sparse result as it comes. A bad record stops the run after the results before it; with
    `skip_bad` it is a warning, and a JSON line {"index", "line", "error"} in JSON output (no file, no lines
    in the others)."""
    from ..compute.check import point_specs
    from ..compute.sparse.many import sparse_points
    from .stream import stop_at

    fmt = choose_format(fmt, output, env)
    if fmt == "npy":
        raise JaccliError(".npy holds dense arrays, and these results are sparse",
                          hint="write them with -o H.npz (one file a point) or -o H.jsonl, or use --no-sparse")
    if fmt in ("npz", "mtx") and not output:
        raise JaccliError(f"many sparse results go to one .{fmt} file a point",
                          hint=f"give the first name: -o H.{fmt} writes H.0.{fmt}, H.1.{fmt}, …")
    refuse_overwriting_inputs(output, request, env)
    stream, written = None, False  # written: a result's lines went out (an error line in JSON is none)

    def lines_stream():
        return stream or (open_output(output, "wb") if output else Checked(env.stdout.buffer, "standard output"))

    try:
        for index, result in enumerate(sparse_points(request, point_specs(request, env.stdin.buffer, bad=True))):
            if isinstance(result, BadRecord):
                if not skip_bad:
                    raise stop_at(result)
                warn(f"line {result.line}: {result.message} (skipped)")
                if fmt == "json":
                    stream = lines_stream()
                    stream.write((json.dumps({"index": index, "line": result.line, "error": result.message}) + "\n")
                                 .encode())
                    stream.flush()
                continue
            if fmt in ("npz", "mtx"):
                with open_output(numbered(output, index), "wb") as file:
                    file.write(sparse.to_npz(result) if fmt == "npz" else sparse.to_mtx(result))
                continue
            if fmt == "table":
                with writing(output or "standard output"):
                    if stream is None and output:
                        stream = open_output(output, "w")
                    sparse.to_table(result, env.console(file=stream) if stream else env.console(),
                                    precision=precision)
                continue
            stream = lines_stream()
            stream.write(_lines(result, fmt, index, precision, first=not written).encode())
            written = True
            stream.flush()
    finally:
        if stream is not None and output:
            stream.close()


def _lines(result, fmt: str, index: int, precision, first: bool = False) -> str:
    """One point's lines; `first`: the first result written (a CSV header goes before it)."""
    if fmt == "json":
        text, replaced = sparse.to_json(result, index)
        if replaced:
            warn('the result has non-finite numbers, written as the strings "nan", "inf", "-inf"')
        return text
    if fmt == "csv":
        body = sparse.to_csv(result).split("\n", 1)[1]
        return ("index,row,col,value\n" if first else "") + "".join(
            f"{index},{line}\n" for line in body.splitlines())
    return "".join(f"{index} {line}\n" for line in sparse.to_plain(result, precision).splitlines())

