"""The options every derivative command takes, written once: a frozen dataclass and the decorator that adds them.

    @app.command()
    @with_shared
    def hessian(ctx: typer.Context, expr: Expr, mode: HessMode = ..., *, shared: Shared) -> None: ...

`with_shared` appends the shared options to the command's signature (so typer
shows them in --help, after the command's own), and hands the command one
`Shared` value instead of a dozen parameters.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields

from .options import (
    At, ChunkSize, DeviceOpt, Dtype, Fields, Fmt, Full, MaxMemory, NoCache, Output, Precision, SkipBad,
    Vars, Wrt,
)
from .options import Devices, Distributed, DistributedTimeout, Gather, NumProcesses, ProcessId
from .options import NoSparse, Sparse


@dataclass(frozen=True)
class Shared:
    at: tuple[str, ...] = ()
    vars: tuple[str, ...] | None = None
    wrt: tuple[str, ...] | None = None
    fmt: str | None = None
    output: str | None = None
    dtype: str | None = None  # None: float64, or complex128 for a complex point
    precision: int | None = None
    device: str | None = None
    devices: int | None = None  # --devices N; None: all
    max_memory: int | None = None
    full: bool = False
    chunk_size: int | None = None
    skip_bad: bool = False
    fields: tuple[str, ...] | None = None  # many points: the JSON keys or CSV columns written (one point ignores it)
    no_cache: bool = False
    distributed: str | None = None  # --distributed HOST:PORT|auto, with the next three: `cluster`
    num_processes: int | None = None
    process_id: int | None = None
    distributed_timeout: int = 60
    gather: bool = False  # --distributed: process 0 joins the parts into -o FILE
    sparse: str = "auto"  # --sparse [auto] / --no-sparse: 'on', 'auto' or 'off'

    @property
    def cluster(self):
        """The cluster.Cluster of --distributed, or None."""
        if self.distributed is None:
            if self.num_processes is not None or self.process_id is not None:
                from ..errors import JaccliError

                option = "--num-processes" if self.num_processes is not None else "--process-id"
                raise JaccliError(f"{option} goes with --distributed HOST:PORT",
                                  hint="e.g. --distributed 10.0.0.1:4000 --num-processes 2 --process-id 0")
            return None
        from ..compute.cluster import Cluster

        return Cluster(self.distributed, self.num_processes, self.process_id, self.distributed_timeout)


# name → (typer annotation, default), in the order --help lists them
_OPTIONS = {
    "at": (At, None), "vars": (Vars, None), "wrt": (Wrt, None), "fmt": (Fmt, None), "output": (Output, None),
    "dtype": (Dtype, None), "precision": (Precision, None), "device": (DeviceOpt, None),
    "devices": (Devices, "all"),
    "max_memory": (MaxMemory, None), "full": (Full, False), "chunk_size": (ChunkSize, None),
    "skip_bad": (SkipBad, False), "fields": (Fields, None), "no_cache": (NoCache, False),
    "distributed": (Distributed, None), "num_processes": (NumProcesses, None), "process_id": (ProcessId, None),
    "distributed_timeout": (DistributedTimeout, 60), "gather": (Gather, False), "sparse": (Sparse, None),
    "no_sparse": (NoSparse, False),
}
assert list(_OPTIONS)[:-1] == [f.name for f in fields(Shared)]  # --sparse and --no-sparse make one field


def names(text: str | None) -> tuple[str, ...] | None:
    """'x, y' → ('x', 'y'); None stays None (not given), '' is () (no names)."""
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _shared(values: dict) -> Shared:
    from ..compute.budget import parse_size
    from ..output.fields import parse_fields

    def value(option):
        return option.value if hasattr(option, "value") else option

    return Shared(
        at=tuple(values["at"] or ()), vars=names(values["vars"]), wrt=names(values["wrt"]), fmt=value(values["fmt"]),
        output=values["output"], dtype=value(values["dtype"]), precision=values["precision"],
        device=value(values["device"]), max_memory=parse_size(values["max_memory"]) if values["max_memory"] else None,
        devices=None if values["devices"] == "all" else int(values["devices"]),
        full=values["full"], chunk_size=values["chunk_size"], skip_bad=values["skip_bad"],
        fields=parse_fields(values["fields"]), no_cache=values["no_cache"],
        distributed=values["distributed"], num_processes=values["num_processes"], process_id=values["process_id"],
        distributed_timeout=values["distributed_timeout"], gather=values["gather"],
        sparse=sparse_choice(value(values["sparse"]), values["no_sparse"]),
    )


def sparse_choice(sparse: str | None, no_sparse: bool) -> str:
    """--sparse [auto] and --no-sparse → 'on', 'auto' or 'off'."""
    if no_sparse and sparse not in (None, "off"):
        from ..errors import JaccliError

        raise JaccliError("--sparse and --no-sparse contradict each other", hint="give one of them")
    return "off" if no_sparse else sparse or "auto"


def sparse_values(argv: list[str]) -> list[str]:
    """`--sparse` alone is `--sparse=on`; `--sparse auto` (on, off) is `--sparse=auto`: the value is optional."""
    if argv[:1] == ["inspect"]:  # inspect --sparse is a flag
        return argv
    out: list[str] = []
    for k, arg in enumerate(argv):
        if arg == "--sparse":
            following = argv[k + 1] if k + 1 < len(argv) else None
            out.append("--sparse=on" if following not in ("auto", "on", "off") else "--sparse")
        else:
            out.append(arg)
    return out


def with_shared(function):
    """Give `function` the shared options; it receives them as its keyword-only `shared` argument."""
    own = [p for p in inspect.signature(function, eval_str=True).parameters.values() if p.name != "shared"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, (annotation, default) in _OPTIONS.items()]

    @functools.wraps(function)
    def command(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in _OPTIONS}
        return function(*args, **kwargs, shared=_shared(values))

    command.__signature__ = inspect.Signature([*own, *added])
    command.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    del command.__wrapped__  # typer reads __signature__, not the function underneath
    return command


__all__ = ["Shared", "names", "sparse_choice", "sparse_values", "with_shared"]
