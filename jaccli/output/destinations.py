"""Where output goes, and failures that say so: `cannot write …` (exit 2), a closed pipe ending quietly.

`open_output` and `Checked` wrap every stream jaccli writes; `refuse_overwriting_inputs`
refuses `-o` onto a file that is also an input, before opening it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ClosedPipe, JaccliError


def cannot_write(name: str, error: OSError) -> JaccliError:
    hint = None
    if isinstance(error, FileNotFoundError):
        hint = f"the folder {str(Path(name).parent)!r} does not exist"
    elif isinstance(error, IsADirectoryError):
        hint = "--output names a folder: give a file name"
    return JaccliError(f"cannot write {name if name == 'standard output' else repr(name)}: "
                       f"{error.strerror or error}", hint=hint)


class writing:
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
        with writing(self.name):
            return self._stream.write(data)

    def flush(self):
        with writing(self.name):
            self._stream.flush()

    def close(self):
        with writing(self.name):
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


def open_output(output: str, mode: str) -> Checked:
    with writing(output):
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

    from ..env import NO_FILES

    if not output or not os.path.exists(output) or NO_FILES.get() or os.environ.get("JACCLI_NO_FILES"):
        return  # with --no-files no input file is read at all (and none is looked at here)
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
