"""`--fields` (like `gh --json`): which keys a JSON line holds and which columns CSV and plain write.

JSON lines take `JSON_FIELDS`, in the order asked; CSV and plain take `CSV_FIELDS`
(`index`, the `point`'s entries, the `value`'s entries, `f` with --with-value). An
error record always keeps `index` and `error`, so a client can match it.
"""

from __future__ import annotations

from ..errors import JaccliError

JSON_FIELDS = ("command", "expr", "variables", "wrt", "shape", "mode", "dtype", "index", "point", "function_value",
               "value", "line", "error")
CSV_FIELDS = ("index", "point", "value", "f")  # columns of CSV and plain
ERROR_FIELDS = ("index", "line", "error")  # what an error record (--skip-bad, -f json) can hold


def parse_fields(text: str | None) -> tuple[str, ...] | None:
    """--fields 'value,index' → ('value', 'index'), each a known field of some format (which one: `check_fields`)."""
    if text is None:
        return None
    fields = tuple(name.strip() for name in text.split(",") if name.strip())
    known = list(dict.fromkeys(JSON_FIELDS + CSV_FIELDS))
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise JaccliError(f"--fields: unknown field {unknown[0]!r}",
                          hint=f"JSON lines: {', '.join(JSON_FIELDS)}; CSV and plain: {', '.join(CSV_FIELDS)}")
    if not fields:
        raise JaccliError("--fields names no field",
                          hint=f"e.g. --fields value,index (JSON lines: {', '.join(JSON_FIELDS)})")
    repeated = sorted({name for name in fields if fields.count(name) > 1})
    if repeated:
        raise JaccliError(f"--fields names {', '.join(map(repr, repeated))} twice", hint="name each field once")
    return fields


def check_fields(fmt: str, fields: tuple[str, ...] | None, with_value: bool) -> None:
    """Refuse fields that format `fmt` does not have; f and function_value need --with-value."""
    if fields is None:
        return
    if fmt not in ("json", "csv", "plain"):
        raise JaccliError(f"--fields chooses the keys of -f json and the columns of -f csv or plain, not of {fmt}",
                          hint="add -f json or -f csv")
    known = JSON_FIELDS if fmt == "json" else CSV_FIELDS
    unknown = [name for name in fields if name not in known]
    if unknown:
        what = "JSON lines have" if fmt == "json" else f"{fmt.upper() if fmt == 'csv' else 'plain'} has"
        raise JaccliError(f"--fields: {what} no field {unknown[0]!r}",
                          hint=f"the fields of -f {fmt}: {', '.join(known)}")
    value = "function_value" if fmt == "json" else "f"
    if value in fields and not with_value:
        raise JaccliError(f"--fields {value} needs --with-value",
                          hint="f(x) is written beside ∇f by `grad --with-value`")


def error_keys(fields: tuple[str, ...] | None) -> list[str]:
    """The keys of an error record: those of --fields among index, line, error, in its order; index and error
    always (a client matches the record by its index)."""
    if fields is None:
        return list(ERROR_FIELDS)
    keys = [k for k in fields if k in ERROR_FIELDS]
    if "index" not in keys:
        keys.insert(0, "index")
    if "error" not in keys:
        keys.append("error")
    return keys
