"""Many devices: which local devices a run uses (--devices), a 1-D mesh over them, and jit with shardings.

Many points split over the point axis of a 1-D `Mesh` ("points") with `NamedSharding`; a long vector
(grad, jvp, vjp, hvp of n ≥ LONG entries) splits along its length instead: padded to a multiple of the
device count outside, sliced back inside the jitted function (`f(zp[:n])`), so the padding never reaches
f and never changes a result (GSPMD inserts the halo exchange for `x[1:] - x[:-1]`). One device: no mesh
at all, and the callers keep their one-device path exactly.

    >>> mesh = point_mesh(choose(None, first))   # None on a one-device machine
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import JaccliError

AXIS = "points"
LONG = 1 << 20  # a vector this long (8 MiB in float64) is split over the devices; shorter ones are not worth it
ALONG_Z = ("grad", "jvp", "vjp", "hvp")  # one point's commands whose work and result scale with n, not n²


def parse_devices(text: str | int | None) -> int | None:
    """--devices N|all → N, or None for all."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    try:
        count = int(text)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise JaccliError(f"--devices takes a number of devices (1 or more) or 'all', not {text!r}",
                          hint="e.g. --devices 2, or --devices all (the default)")
    return count


def local_devices(first) -> list:
    """This process's devices of `first`'s platform, `first` first (it is the one --device chose)."""
    import jax

    found = jax.local_devices(backend=first.platform)
    return [first] + [d for d in found if d != first] if first in found else found


def choose(count: int | None, first) -> list:
    """The devices of a run: `count` of them (None: all) of `first`'s platform, beginning with `first`."""
    found = local_devices(first)
    if count is None:
        return found
    if count > len(found):
        platform = first.platform
        hint = (f"JAX_NUM_CPU_DEVICES={count} (set before jaccli starts) makes {count} CPU devices"
                if platform == "cpu" else "`jaccli info` lists the devices")
        raise JaccliError(f"--devices {count} asks for {count} devices, but jaxlib finds {len(found)} "
                          f"{platform} device{'s' if len(found) != 1 else ''}", hint=hint)
    return found[:count]


def choose_everywhere(count: int | None, first) -> list:
    """In a cluster (--distributed): `count` devices (None: all) of every process, in process order, for one
    mesh over the hosts. Each process checks its own count; they must all have as many."""
    import jax

    local = choose(count, first)
    found: dict[int, list] = {}
    for device in jax.devices(first.platform):
        found.setdefault(device.process_index, []).append(device)
    return [device for index in sorted(found) for device in found[index][: len(local)]]


def point_mesh(devices: list):
    """A 1-D mesh over `devices` with an Auto axis (GSPMD places what is not annotated); None for one device."""
    if len(devices) < 2:
        return None
    from jax.sharding import Mesh

    return Mesh(np.array(devices), (AXIS,))  # Mesh's axes are Auto (jax.make_mesh's are Explicit)


def describe_mesh(mesh) -> str:
    """points: 8 over cpu:0-7, for `info`."""
    if mesh is None:
        return "none: one device, nothing is split"
    return f"{AXIS}: {mesh.devices.size} over {span(list(mesh.devices.flat))}"


def span(devices: list) -> str:
    """cpu:0 for one device, cpu:0-7 for consecutive ones, cpu:0,2,5 otherwise."""
    ids = [d.id for d in devices]
    platform = devices[0].platform
    if len(ids) == 1:
        return f"{platform}:{ids[0]}"
    if ids == list(range(ids[0], ids[0] + len(ids))):
        return f"{platform}:{ids[0]}-{ids[-1]}"
    return f"{platform}:{','.join(map(str, ids))}"


def round_up(count: int, devices: int) -> int:
    """The smallest multiple of `devices` ≥ count: shards must be even (JAX refuses uneven ones)."""
    return -(-count // devices) * devices


def jit_points(function, mesh, batched: tuple[bool, ...]):
    """jax.jit of a vmapped `function`: arguments split over the mesh on their first axis where `batched`,
    copied to every device where not; the result split on the point axis."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    split, whole = NamedSharding(mesh, PartitionSpec(AXIS)), NamedSharding(mesh, PartitionSpec())
    return jax.jit(function, in_shardings=tuple(split if b else whole for b in batched), out_shardings=split)


def along_z(setup, devices: list, asked: int | None = None) -> bool:
    """Whether one point's work is split along z: a long vector, several devices, a command whose work is O(n).

    Not over one process's CPU devices unless --devices N (`asked`) says so: they share one memory and the
    same cores, so splitting never pays there (make bench: 1.12× the one-device time over 2, 1.39× over 8).
    """
    if len(devices) < 2 or setup.command.name not in ALONG_Z or setup.layout.z_size < LONG:
        return False
    one_memory = devices[0].platform == "cpu" and len({d.process_index for d in devices}) == 1
    return asked is not None or not one_memory


class AlongZ:
    """One point's checked operator (value, f finite) with z (and a long w and result) split over a mesh.

    z is padded to a multiple of the device count; the jitted function slices it back to n before f sees
    it, so a halo (`x[1:] - x[:-1]`) or a sum over z is the one-device computation. A long value comes
    back padded (even shards) and is cut on the host. A mesh over several processes (--distributed) takes
    global arrays, each process giving only its own shards, and every process gets the whole value back.
    """

    def __init__(self, checked_operator, mesh, n: int, w_size: int, value_size: int):
        import jax
        import jax.numpy as jnp
        from jax.sharding import NamedSharding, PartitionSpec

        self.count, self.n, self.w_size, self.value_size = mesh.devices.size, n, w_size, value_size
        self.long_w, self.long_value = w_size >= LONG, value_size >= LONG
        split, whole = NamedSharding(mesh, PartitionSpec(AXIS)), NamedSharding(mesh, PartitionSpec())
        value_padding = round_up(value_size, self.count) - value_size

        def g(zp, c, wp):
            w = wp[:w_size] if self.long_w else wp
            value, finite = checked_operator(zp[:n], c, w)
            if self.long_value:
                value = jnp.pad(jnp.reshape(value, -1), (0, value_padding))
            return value, finite

        self.function = jax.jit(g, in_shardings=(split, whole, split if self.long_w else whole),
                                out_shardings=(split if self.long_value else whole, whole))
        self.shardings = (split, whole, split if self.long_w else whole)
        self.everywhere = mesh.is_multi_process

    def arguments(self, z: np.ndarray, c: np.ndarray, w: np.ndarray) -> tuple:
        """(zp, c, wp): z (and a long w) padded with zeros to even shards; f never sees the zeros."""
        arrays = (_pad(z, round_up(self.n, self.count)), c,
                  _pad(w, round_up(self.w_size, self.count)) if self.long_w else w)
        if not self.everywhere:
            return arrays
        import jax

        return tuple(jax.make_array_from_callback(a.shape, sharding, lambda index, a=a: a[index])
                     for a, sharding in zip(arrays, self.shardings))  # each process places its own shards

    def host(self, value, finite) -> tuple[np.ndarray, bool]:
        """The result on the host, the padding cut, and whether f is finite."""
        if self.everywhere:
            from jax.experimental import multihost_utils

            value = multihost_utils.process_allgather(value, tiled=True) if self.long_value else \
                value.addressable_data(0)
            finite = finite.addressable_data(0)
        value = np.asarray(value)
        return (value[: self.value_size] if self.long_value else value), bool(finite)


def _pad(vector: np.ndarray, size: int) -> np.ndarray:
    return vector if vector.size == size else np.concatenate([vector, np.zeros(size - vector.size, vector.dtype)])


def value_size(plan) -> int:
    """How many numbers one point's operator returns (with --with-value: f first, then ∇f)."""
    return math.prod(plan.shape) + (1 if plan.request.with_value else 0)
