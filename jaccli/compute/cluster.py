"""Several processes (hosts): `jax.distributed.initialize`, and which rows and which output are this process's.

    jaccli grad EXPR --at @points.npy -o out.npy --distributed 10.0.0.1:4000 --num-processes 2 --process-id 0

Each process joins the cluster before JAX starts a backend. Many points: each process computes its own
contiguous share of the records on its own devices and writes its own part (`out.npy` → `out.<process>.npy`).
One point: the processes build one global mesh, a long vector is split over every process's devices (the
halo crosses hosts), and process 0 writes the result.

The coordinator (process 0) listens on HOST:PORT only, never on every interface. JAX aborts a process whose
peer stops answering for --distributed-timeout seconds: the run is then lost, and is run again whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ComputeError, JaccliError, PointError

JOINED: dict = {}  # the cluster this process joined (one a process, as jax.distributed allows)


@dataclass(frozen=True)
class Cluster:
    """--distributed HOST:PORT (or auto: what jax.distributed.initialize detects, e.g. Slurm)."""

    address: str
    processes: int | None = None
    process_id: int | None = None
    timeout: int = 60  # seconds: to connect, and without a peer's heartbeat before JAX aborts

    def __post_init__(self):
        if self.address == "auto":
            return
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise JaccliError(f"--distributed takes HOST:PORT (the coordinator, process 0), not {self.address!r}",
                              hint="e.g. --distributed 10.0.0.1:4000 --num-processes 2 --process-id 0, or auto")
        if self.processes is None or self.process_id is None:
            raise JaccliError("--distributed HOST:PORT needs --num-processes P and --process-id I",
                              hint="the same --num-processes for every process, --process-id 0 … P-1 each")
        if not 0 <= self.process_id < self.processes:
            raise JaccliError(f"--process-id {self.process_id} is not one of 0 … {self.processes - 1} "
                              f"(--num-processes {self.processes})")


def join(cluster: Cluster | None) -> None:
    """jax.distributed.initialize, once a process, before any backend starts; refusals are exit 3."""
    if cluster is None or JOINED:
        return
    if cluster.address != "auto" and cluster.process_id:
        _wait_for_coordinator(cluster)
    import jax

    options = dict(initialization_timeout=cluster.timeout, heartbeat_timeout_seconds=cluster.timeout,
                   shutdown_timeout_seconds=cluster.timeout)
    if cluster.address != "auto":
        options.update(coordinator_address=cluster.address, num_processes=cluster.processes,
                       process_id=cluster.process_id,
                       coordinator_bind_address=cluster.address)  # HOST:PORT only, not every interface
    try:
        jax.distributed.initialize(**options)
    except (RuntimeError, ValueError) as error:
        raise ComputeError(f"cannot join the cluster at {cluster.address}: {str(error).splitlines()[0]}",
                           hint=f"process 0 listens on {cluster.address}; every process must be started within "
                                f"--distributed-timeout ({cluster.timeout} s)") from None
    JOINED["cluster"] = cluster


def _wait_for_coordinator(cluster: Cluster) -> None:
    """A clean error (exit 3) when process 0 does not listen within the timeout: JAX itself would abort."""
    import socket
    import time

    host, _, port = cluster.address.rpartition(":")
    deadline = time.monotonic() + cluster.timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise ComputeError(f"cannot reach process 0 at {cluster.address} within {cluster.timeout} s: "
                                   f"{error.strerror or error}",
                                   hint="start process 0 (--process-id 0) on that host, or raise "
                                        "--distributed-timeout") from None
            time.sleep(0.2)


def process() -> tuple[int, int]:
    """(this process's index, how many processes): (0, 1) outside a cluster."""
    if not JOINED:
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


def refuse_stdin(request) -> None:
    """Records from standard input can't be shared out between processes (checked before joining)."""
    from ..inputs.sources import record_source

    if request.cluster is None:
        return
    if any(record_source(texts, option) == "-" for texts, option in
           ((request.at, "--at"), (request.v, "--v"), (request.u, "--u"))):
        raise PointError("with --distributed, each process reads its own rows of a file: standard input "
                         "cannot be split between processes", hint="write the records to a file: --at @points.csv")


def share(source: str) -> tuple[int, int | None]:
    """This process's records of file `source`, [first, stop): contiguous, about equal; stop None for the
    last process (it takes whatever is left). A text file's records are counted as its lines: every
    process counts the same way, so the shares meet exactly even when some lines are a header or blank."""
    index, count = process()
    if count == 1:
        return 0, None
    total = _records(source)
    first, stop = index * total // count, (index + 1) * total // count
    return first, None if index == count - 1 else stop


def _records(source: str) -> int:
    from ..inputs import files

    files.permit(source, "the points file")  # --no-files: not even counted
    if source.lower().endswith(".npy"):
        array = files.load_npy(source, max_bytes=0, what="the points file", mmap=True)
        return 1 if array.ndim == 1 else array.shape[0]
    lines, last = 0, b"\n"
    try:
        file = open(source, "rb")
    except OSError as error:
        raise PointError(f"cannot read {source!r}: {error.strerror}") from None
    with file:
        while block := file.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def gather(output: str, fmt: str) -> None:
    """--gather: once every process has written its part, process 0 joins them into `output` in process order
    (which is record order), and removes them; the others wait for it at JAX's shutdown barrier."""
    from jax.experimental import multihost_utils

    index, count = process()
    multihost_utils.sync_global_devices("jaccli: every part written")
    if index != 0 or count == 1:
        return
    parts = [Path(output).with_name(f"{Path(output).stem}.{i}{Path(output).suffix}") for i in range(count)]
    try:
        if fmt == "npy":
            _join_npy(parts, output)
        else:
            _join_text(parts, output, header=fmt == "csv")
    except OSError as error:
        raise ComputeError(f"cannot join the parts into {output!r}: {error.strerror or error}",
                           hint="--gather needs every part where process 0 can read it (one host, or a shared "
                                "filesystem); the parts are left as they are") from None
    for part in parts:
        part.unlink()


def _join_npy(parts: list[Path], output: str) -> None:
    """.npy parts of one dtype and row shape → one .npy, the data copied in pieces (never all in memory)."""
    import shutil

    from numpy.lib import format as npy

    headers = []
    for part in parts:
        with open(part, "rb") as file:
            version = npy.read_magic(file)
            shape, fortran, dtype = (npy.read_array_header_1_0 if version == (1, 0) else
                                     npy.read_array_header_2_0)(file)
            headers.append((shape, dtype, file.tell()))
    (first, dtype, _), rows = headers[0], sum(shape[0] for shape, _, _ in headers)
    with open(output, "wb") as target:
        npy.write_array_header_2_0(target, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                                            "shape": (rows, *first[1:])})
        for part, (_, _, offset) in zip(parts, headers):
            with open(part, "rb") as file:
                file.seek(offset)
                shutil.copyfileobj(file, target, 1 << 24)


def _join_text(parts: list[Path], output: str, *, header: bool) -> None:
    """Text parts (CSV with one header each, JSON lines, plain) → one file; CSV keeps the first header only."""
    import shutil

    with open(output, "wb") as target:
        for i, part in enumerate(parts):
            with open(part, "rb") as file:
                if header and i:
                    file.readline()
                shutil.copyfileobj(file, target, 1 << 24)


def part_name(output: str | None) -> str | None:
    """-o out.npy → out.<process>.npy in a cluster of several processes."""
    index, count = process()
    if output is None or count == 1:
        return output
    path = Path(output)
    return str(path.with_name(f"{path.stem}.{index}{path.suffix}"))
