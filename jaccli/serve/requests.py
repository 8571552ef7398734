"""A served request (a parsed JSON object) → the engine's Request: the CLI's options by their names, checked.

`at`, `v` and `u` take a list of numbers (values in variable order; nested lists for one array variable),
an object of name → numbers or a CLI string (`{"x": "full(3, 0.5)"}`), a CLI string (`"x=1,y=2"`), or a
list of CLI strings (the repeated option). Names (`vars`, `wrt`, `partial`) take a list or `"x,y"`.
"""

from __future__ import annotations

from ..compute.commands import COMMANDS, FIRST_ORDER, SECOND_ORDER
from ..errors import JaccliError
from ..language.functions import closest_names

OTHER_COMMANDS = ("check", "inspect", "info")
# key → the commands that take it (None: every command but info); `id` and `command` are every request's
KEYS = {
    "expr": None, "at": None, "vars": None, "wrt": None, "dtype": None, "device": None, "max_memory": None,
    "no_cache": None, "v": ("jvp", "hvp", "check"), "u": ("vjp", "check"),
    "mode": ("jacobian", "hessian", "hvp", "check"), "chunk_size": ("jacobian", "hessian"),
    "order": ("derivative", "check"), "partial": ("derivative", "check"), "with_value": ("eval", "grad"),
    "holomorphic": ("grad", "jacobian", "hessian", "derivative", "check"),
    "fields": tuple(COMMANDS), "sparse": ("jacobian", "hessian", "check"), "of": ("check",), "expect": ("check",),
    "rtol": ("check",), "atol": ("check",),
}
DOCUMENT_KEYS = ("command", "expr", "variables", "wrt", "point", "shape", "value", "mode", "dtype", "device",
                 "cache", "block", "function_value")


def command_of(data: dict) -> str:
    """The request's command, after checking it and every key the request holds."""
    command = data.get("command")
    known = (*COMMANDS, *OTHER_COMMANDS)
    if command is None:
        raise JaccliError('the request has no "command"', hint=f"one of {', '.join(known)}")
    if command not in known:
        raise JaccliError(f"unknown command {command!r}", hint=_did_you_mean(str(command), known)
                          + f"the commands are {', '.join(known)}")
    for key in data:
        if key in ("id", "command"):
            continue
        if key not in KEYS:
            raise JaccliError(f"unknown key {key!r}", hint=_did_you_mean(key, list(KEYS))
                              + f"the keys are id, command, {', '.join(KEYS)}")
        takers = KEYS[key]
        if command == "info" or (takers is not None and command not in takers):
            raise JaccliError(f"`{command}` takes no {key!r}",
                              hint=f"{key!r} goes with {', '.join(takers)}" if takers else "info takes no options")
    if command != "info" and "expr" not in data:
        raise JaccliError('the request has no "expr"', hint='e.g. "expr": "x**2*y + y**3"')
    return command


def _did_you_mean(name: str, known) -> str:
    close = closest_names(name, known)
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""


def to_request(data: dict, command: str):
    """The Request the CLI would make of these options."""
    from ..compute.prepare import Request
    from ..inputs.sources import is_batch

    expr = _typed(data, "expr", str, "a string")
    of = data.get("of", "jacobian") if command == "check" else None
    if of is not None and of not in COMMANDS:
        raise JaccliError(f"'of' takes one of {', '.join(COMMANDS)}, not {of!r}")
    order = _integer(data, "order", 1, 8)
    partial = _names(data, "partial")
    if command == "derivative" and partial and order and order != len(partial):
        raise JaccliError(f"'partial' names {len(partial)} variables but 'order' is {order}")
    if command == "check":  # as `jaccli check --of …` and jaccli.check
        command = "derivative" if (order or partial) and of in ("grad", "jacobian", "derivative") else of
        order = order if command == "derivative" else None
    elif command == "inspect":  # as `jaccli inspect`: the expression read and bound as for eval
        command = "eval"
    request = Request(
        command=command, expr=expr, at=_point(data, "at"), v=_point(data, "v"), u=_point(data, "u"),
        vars=_names(data, "vars"), wrt=_names(data, "wrt"),
        mode=_choice(data, "mode", FIRST_ORDER + SECOND_ORDER),  # which of them a command takes: Command.mode
        dtype=_choice(data, "dtype", ("float64", "float32", "complex128", "complex64")),
        holomorphic=bool(_typed(data, "holomorphic", bool, "true or false")),
        device=_choice(data, "device", ("cpu", "gpu", "tpu")), max_memory=_size(data),
        no_cache=bool(_typed(data, "no_cache", bool, "true or false")), chunk_size=_integer(data, "chunk_size", 1),
        order=order, partial=partial, with_value=bool(_typed(data, "with_value", bool, "true or false")),
        sparse=_sparse(data),
    )
    if is_batch(request):
        raise JaccliError("serve answers one point a request: no '-' or file of records in at, v or u",
                          hint='send one request a point (a file of one value works: "at": {"X": "@x.npy"})')
    return request


def fields_of(data: dict) -> tuple[str, ...] | None:
    """`fields`: the keys of the answer to keep, in order (id is always there)."""
    value = data.get("fields")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise JaccliError(f"'fields' takes a list of keys, not {json_kind(value)}",
                          hint=f"e.g. [\"value\"]; the keys are {', '.join(DOCUMENT_KEYS)}")
    unknown = [name for name in value if name not in DOCUMENT_KEYS]
    if unknown:
        raise JaccliError(f"'fields' names {unknown[0]!r}, which is not a key of the answer",
                          hint=f"the keys are {', '.join(DOCUMENT_KEYS)} (id is always there)")
    return tuple(value)


def check_options(data: dict) -> dict:
    """check's own keys: expect (numbers, a literal or a file; not '-', which holds the requests), rtol, atol."""
    expect = data.get("expect")
    if expect == "-":
        raise JaccliError("'expect' cannot be '-' in serve: standard input holds the requests",
                          hint='give the numbers: "expect": [[4, 2], [2, 12]], or a file')
    if expect is not None and not isinstance(expect, str):
        from ..inputs import files

        expect = files.json_numbers(expect, "'expect'")
    return {"expect": expect, "rtol": _number(data, "rtol", 1e-5), "atol": _number(data, "atol", 1e-8)}


def _sparse(data: dict) -> str:
    """`sparse`: true (--sparse), false (--no-sparse) or "auto" (the default)."""
    value = data.get("sparse", "auto")
    if value not in (True, False, "auto"):
        raise JaccliError(f"'sparse' takes true, false or \"auto\", not {json_kind(value)}")
    return {True: "on", False: "off"}.get(value, "auto")


def _typed(data: dict, key: str, kind: type, what: str):
    value = data.get(key)
    if value is not None and type(value) is not kind:
        raise JaccliError(f"{key!r} takes {what}, not {json_kind(value)}")
    return value


def _choice(data: dict, key: str, choices) -> str | None:
    value = data.get(key)
    if value is not None and value not in choices:
        raise JaccliError(f"{key!r} takes one of {', '.join(choices)}, not {value!r}")
    return value


def _integer(data: dict, key: str, low: int, high: int | None = None) -> int | None:
    value = _typed(data, key, int, "an integer")
    if value is not None and (value < low or (high is not None and value > high)):
        raise JaccliError(f"{key!r} takes an integer from {low}" + (f" to {high}" if high else "") + f", not {value}")
    return value


def _number(data: dict, key: str, default: float) -> float:
    value = data.get(key, default)
    if type(value) not in (int, float) or value < 0:
        raise JaccliError(f"{key!r} takes a number ≥ 0, not {value!r}")
    return float(value)


def _size(data: dict) -> int | None:
    value = data.get("max_memory")
    if value is None:
        return None
    if isinstance(value, str):
        from ..compute.budget import parse_size

        return parse_size(value)
    if type(value) is not int or value < 1:
        raise JaccliError(f"'max_memory' takes a number of bytes or a size such as \"4GB\", not {value!r}")
    return value


def _names(data: dict, key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return tuple(value)
    raise JaccliError(f"{key!r} takes a list of names or a string \"x,y\", not {json_kind(value)}")


def _point(data: dict, key: str):
    """at, v or u: CLI texts, or a PointSpec of the numbers given."""
    from ..compute.budget import default_max_memory
    from ..inputs import files, points

    value, option = data.get(key), f"--{key}"
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    if isinstance(value, dict):
        named = {}
        for name, item in value.items():
            if isinstance(item, str):
                named[name] = points.read_value(item, max_bytes=default_max_memory(), option=option)
            else:
                named[name] = files.json_numbers(item, f"{key!r} {name!r}")
        return points.PointSpec(named, [])
    return points.PointSpec({}, [files.json_numbers(value, repr(key))])


def json_kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
