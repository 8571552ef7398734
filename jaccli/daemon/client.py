"""The `jaccli` console script: a one-point call goes to the warm daemon; everything else runs here.

A call is forwarded when JACCLI_DAEMON=1, or when `jaccli daemon start` was run (and no `daemon stop`
since) and JACCLI_DAEMON is not 0; and when it is a one-point command (`FORWARDED`) whose line has none of:
  - `-` or `@-` (standard input: points, `--expect -`), or a path into /dev or /proc (`@/dev/stdin`,
    `-o /dev/stdout`: the daemon's streams are not the caller's);
  - --at, --v or --u naming a file that can hold many points: @….jsonl, .ndjson, .csv, .txt, .npy (a .npy
    or .csv may hold one point; it runs here all the same, to be sure);
  - --help, --version, --plot, --distributed, shell completion.
Everything else (serve, daemon, cache, info, streams and files of many points) runs in this process, as
does a call when no daemon can be had: a refused folder (place.py), a socket path too long, a daemon that
will not start. The daemon runs the call with this process's directory, call variables (place.CALL_NAMES,
JACCLI_*), umask, stream encodings, terminals and terminal size; its stdout and stderr bytes are relayed
as they come, then its exit code is ours. Ctrl-C here is "interrupted" and 130 (the daemon finishes the
call and drops the answer).

Until it knows the call runs here, this module imports the standard library only (no typer, rich, NumPy
or JAX): a forwarded call costs Python's start, a connect and the daemon's work.
"""

from __future__ import annotations

import json
import os
import sys

FORWARDED = frozenset({"eval", "grad", "jacobian", "hessian", "jvp", "vjp", "hvp", "derivative", "check",
                       "inspect", "analyze"})
HERE_FLAGS = frozenset({"-h", "--help", "-V", "--version", "--plot", "--plot-kind", "--plot-size",
                        "--distributed", "--num-processes", "--process-id", "--install-completion",
                        "--show-completion"})
RECORD_OPTIONS = ("--at", "-a", "--v", "--u")
RECORD_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".txt", ".npy")
OUTPUT_OPTIONS = ("--output", "-o")
STALE, ABSENT, HERE = "stale", "absent", "here"


def entry() -> None:
    """The console script: forward the call, or run `jaccli.cli` here."""
    code = forward(sys.argv[1:])
    if code is None:
        from ..compute.backend import pause_collection

        pause_collection()
        from ..cli.main import entry as run_here

        run_here()  # leaves the process
    os._exit(code)


def forward(argv: list[str]) -> int | None:
    """The exit code of the call answered by the daemon, or None: run it here."""
    setting = os.environ.get("JACCLI_DAEMON", "")
    if setting == "0" or not forwardable(argv):
        return None
    from .place import MARKER, Refused, folder_path, locate

    try:
        if setting != "1" and not os.path.exists(os.path.join(folder_path()[0], MARKER)):
            return None
        place = locate()
        request = call_request(argv)
        for attempt in (1, 2):
            outcome = _call(place, request)
            if isinstance(outcome, int):
                return outcome
            if outcome == HERE or attempt == 2:
                return None
            from . import control

            if control.start(place, again=False) is None:
                return None
    except (Refused, OSError, ValueError):  # before a word of the answer: it runs here
        return None
    except KeyboardInterrupt:
        _write(2, b"interrupted\n")
        return 130
    return None


def forwardable(argv: list[str]) -> bool:
    """Whether the call is of one point, reads no standard input and names nothing a daemon sees otherwise."""
    words = [a for a in argv if a not in ("--debug", "--no-files")]
    if not words or words[0] not in FORWARDED:
        return False
    for i, word in enumerate(words):
        name = word.split("=", 1)[0] if word.startswith("--") else word
        if name in HERE_FLAGS or word == "-" or "@-" in word or _special(word):
            return False
        for option in RECORD_OPTIONS + OUTPUT_OPTIONS:
            value = _value(words, i, option)
            if value is None:
                continue
            text = value.strip()
            if option in OUTPUT_OPTIONS and _special("@" + text):
                return False
            if option in RECORD_OPTIONS and text.startswith("@") and text.lower().endswith(RECORD_SUFFIXES):
                return False
    return True


def _value(words: list[str], i: int, option: str) -> str | None:
    """The value given to `option` at words[i] (`--at V`, `--at=V`, `-aV`), else None."""
    word = words[i]
    if word == option:
        return words[i + 1] if i + 1 < len(words) else ""
    if option.startswith("--") and word.startswith(option + "="):
        return word[len(option) + 1 :]
    if not option.startswith("--") and word.startswith(option) and not word.startswith("--"):
        return word[len(option) :]
    return None


def _special(word: str) -> bool:
    """A word naming a file (@path) that resolves into /dev or /proc: streams and the daemon's own files."""
    at = word.find("@")
    path = word[at + 1 :].strip()
    if at < 0 or not path:
        return False
    return any(p.startswith(("/dev/", "/proc/")) for p in (os.path.abspath(path), os.path.realpath(path)))


def call_request(argv: list[str]) -> dict:
    """What the daemon needs to run the call as this process would: OSError or ValueError if it cannot."""
    from .place import call_variables, identity

    ttys = [_isatty(fd) for fd in (0, 1, 2)]
    variables = call_variables(os.environ)
    if (ttys[1] or ttys[2]) and "COLUMNS" not in variables:
        size = _terminal_size()  # as rich measures it: the first of stdin, stdout, stderr that is a terminal
        if size and size[0] > 0:
            variables["COLUMNS"] = str(size[0])
            if size[1] > 0 and "LINES" not in variables:
                variables["LINES"] = str(size[1])
    streams = []
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            raise ValueError("no stdout or stderr")
        streams.append([stream.encoding, stream.errors])
    mask = os.umask(0o077)
    os.umask(mask)
    return {"op": "run", "identity": identity(), "argv": list(argv), "cwd": os.getcwd(), "env": variables,
            "tty": ttys, "umask": mask, "streams": streams}


def _call(place, request: dict):
    """The exit code, or STALE, ABSENT (nobody answered) or HERE (the daemon says: run it yourself)."""
    from . import wire
    from .control import connect

    try:
        connection = connect(place)
    except OSError:
        return ABSENT
    wrote = False
    try:
        wire.send_message(connection, request)
        while True:
            kind, payload = wire.receive(connection)
            if kind == wire.STDOUT:
                wrote = True
                try:
                    if not _write(1, payload):
                        return 0  # a closed pipe (`| head`): what a direct call does
                except OSError as error:  # a full disk, say
                    _write(2, f"error: cannot write to stdout: {error.strerror}\n".encode())
                    return 3
            elif kind == wire.STDERR:
                wrote = True
                _write(2, payload)
            elif kind == wire.EXIT:
                return int(json.loads(payload)["code"])
            else:
                answer = json.loads(payload)
                return STALE if answer.get("stale") else HERE
    except (OSError, wire.Closed, ValueError, KeyError):
        if not wrote:
            return ABSENT  # went away before a word (leaving when idle): another is started
        _write(2, b"error: the jaccli daemon went away in the middle of the call\n"
                  b"hint: run it again; `jaccli daemon status` says whether one runs, its log why it stopped\n")
        return 3
    finally:
        connection.close()


def _write(fd: int, data: bytes) -> bool:
    """All of `data` to fd; False if the reader is gone (other errors are raised, but on stderr)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        return False
    except OSError:
        if fd != 2:
            raise
        return False
    return True


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _terminal_size():
    for fd in (0, 1, 2):
        try:
            return tuple(os.get_terminal_size(fd))
        except (OSError, ValueError):
            continue
    return None
