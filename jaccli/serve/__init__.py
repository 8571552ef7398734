"""`jaccli serve`: JSON requests on stdin, one a line; one JSON response a line, in order, flushed at once.

    $ echo '{"id": 1, "command": "grad", "expr": "x**2*y", "at": [1, 2]}' | jaccli serve
    {"id": 1, "command": "grad", "expr": "x**2*y", "variables": ["x", "y"], …, "value": [4.0, 1.0], …}

A request holds the CLI's options by their names (`requests.py`; docs/serve.schema.json); the answer is
the document `jaccli COMMAND … -f json` prints (`output.formats.to_json`) after the request's `id`, or
`{"id": …, "error": {"code": 2, "message": …, "hint": …}}`. No request ends the server: end of input does
(exit 0), or a closed stdout (quietly). Compiled functions stay in a bounded LRU keyed as the disk cache
is (`policy.Executables`, passed to `run`), the disk cache answers its misses, and `policy.Policy` says
when a new expression runs op by op instead of being compiled.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import MutableMapping

from ..errors import ExitCode, JaccliError
from .policy import EAGER_CHOICES, Executables, Policy, kind_of
from .requests import check_options, command_of, fields_of, to_request

__all__ = ["EAGER_CHOICES", "Executables", "Policy", "Server", "serve"]

LINE_BYTES = 64 * 2**20  # a request line at most (as a record line of many points)
EXAMPLE = '{"id": 1, "command": "grad", "expr": "x**2", "at": [3]}'


def serve(env, *, cache_size: int = 128, eager: str = "auto", debug: bool = False) -> None:
    """Answer every request line of env.stdin on env.stdout until the end of input."""
    server = Server(cache_size, Policy(eager), env=env if debug else None)
    _start_jax()
    stdin = getattr(env.stdin, "buffer", env.stdin)  # bytes; a StringIO (tests) gives text
    try:
        while True:
            line = stdin.readline(LINE_BYTES + 1)
            if not line:
                return
            newline = b"\n" if isinstance(line, bytes) else "\n"
            if len(line) > LINE_BYTES and not line.endswith(newline):
                while (rest := stdin.readline(LINE_BYTES)) and not rest.endswith(newline):
                    pass  # the rest of the line
                env.write(error_response(None, JaccliError(
                    f"the request is longer than {LINE_BYTES:,} bytes",
                    hint='give large arrays as files: "at": {"X": "@x.npy"}')))
            elif line.strip():  # blank lines are not requests
                env.write(server.answer(line))
    finally:
        server.policy.close()


def _start_jax() -> None:
    """JAX imported and its backend started before the first request comes (while the client starts too);
    a backend that will not start is the first request's error answer, not the server's end."""
    from ..compute import translate  # noqa: F401 - jax.numpy, float64
    from ..compute.backend import select_device

    try:
        select_device(None)
    except JaccliError:
        pass


class Server:
    """What lives as long as the server: compiled functions, parsed expressions, the eager policy."""

    def __init__(self, cache_size: int = 128, policy: Policy | None = None, *, env=None):
        self.executables: MutableMapping | None = Executables(cache_size) if cache_size > 0 else None
        self.expressions = Executables(max(cache_size, 16))
        self.policy = policy or Policy()
        self.env = env  # where an internal error's traceback goes (--debug), or None

    def answer(self, line: str | bytes) -> str:
        """One request line → one response line (a JSON object and a newline)."""
        ident = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                data = parse_request(line)
                ident = data.get("id")
                text = self.respond(data)
            except JaccliError as error:
                text = error_response(ident, error)
            except Exception as error:  # noqa: BLE001 - a request never ends the server
                if self.env is not None:
                    import traceback

                    traceback.print_exc(file=self.env.stderr)
                text = error_response(ident, JaccliError(
                    f"internal error: {type(error).__name__}: {error}",
                    hint="this is a bug in jaccli; JACCLI_DEBUG=1 jaccli serve prints the traceback on stderr"),
                    code=ExitCode.RUNTIME)
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        if notes:  # what the CLI prints as warning: lines, after the document
            text = text.rstrip()[:-1] + ',"warnings":' + json.dumps(notes, separators=(",", ":")) + "}\n"
        return text

    def respond(self, data: dict) -> str:
        """The response line to a request object."""
        command = command_of(data)
        if command == "info":
            from ..compute.describe import system_info

            return _dump({"id": data.get("id"), **system_info()})
        request = to_request(data, command)
        if command == "inspect":
            from ..compute.describe import describe

            return _dump({"id": data.get("id"), **describe(request)})
        if command == "check":
            from ..compute.check import check
            from ..output.report import summarize

            reports = [summarize(report) for report in check(request, **check_options(data))]
            return _dump({"id": data.get("id"), "ok": all(r["ok"] for r in reports), "reports": reports})
        from ..compute.run import run
        from ..errors import warn
        from ..output.formats import to_json

        fields = fields_of(data)
        expression = self.parsed(request.expr)
        kind = kind_of(request, expression)
        start = time.perf_counter()
        result = run(request, executables=self.executables, eager=self.policy.eager(kind), expression=expression)
        self.policy.observe(kind, result.cache, time.perf_counter() - start, lambda: _eagerly(request, expression))
        if hasattr(result, "matrix"):  # sparse: the COO document (README "Sparse derivatives")
            from ..output.sparse import to_json as to_sparse_json

            text, nonfinite = to_sparse_json(result, head={"id": data.get("id")})
        else:
            text, nonfinite = to_json(result, head={"id": data.get("id")}, fields=fields, compact=True)
        if nonfinite:
            warn('the result has non-finite numbers, written as the strings "nan", "inf", "-inf"')
        return text

    def parsed(self, text: str):
        """The expression parsed once a text (an @file is read every time: it may change)."""
        if text.startswith("@"):
            return None
        expression = self.expressions.get(text)
        if expression is None:
            from ..compute.prepare import read_expression

            expression = self.expressions[text] = read_expression(text)
        return expression


def _eagerly(request, expression) -> bool:
    """The request op by op, its answer dropped (the policy's warm-up); False when that does not apply."""
    from ..compute.backend import select_device
    from ..compute.prepare import bind
    from ..compute.run import eager_value

    return eager_value(bind(request, None, expression), select_device(request.device)) is not None


def parse_request(line: str | bytes) -> dict:
    """The request object of a line, or a JaccliError (not JSON, not an object)."""
    import orjson

    try:
        data = orjson.loads(line)
        if isinstance(data, dict) and isinstance(data.get("id"), float):
            raise orjson.JSONDecodeError("an id beyond 64 bits", "", 0)  # orjson made it a float: read it exactly
    except orjson.JSONDecodeError:
        try:  # integers beyond 64 bits are JSON too; NaN and Infinity are not
            data = json.loads(line, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:
            raise JaccliError(f"the request is not valid JSON: {error}",
                              hint=f"one JSON object a line, e.g. {EXAMPLE}") from None
    if not isinstance(data, dict):
        from .requests import json_kind

        raise JaccliError(f"a request is a JSON object, not {json_kind(data)}", hint=f"e.g. {EXAMPLE}")
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def error_response(ident, error: JaccliError, code: int | None = None) -> str:
    """{"id": …, "error": {"code", "message", "hint"}}; where the error points into a text, its `position`
    there and the lines the CLI prints under the message (the text, a caret) as `context`."""
    detail = {"code": int(code if code is not None else error.exit_code), "message": error.message,
              "hint": error.hint}
    if error.text is not None:
        detail["position"] = error.position
        detail["context"] = error.lines()[1:]
    return _dump({"id": ident, "error": detail})


def _dump(data: dict) -> str:
    return json.dumps(data, allow_nan=False, default=str, separators=(",", ":")) + "\n"  # compact, as orjson
