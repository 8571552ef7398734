"""Where a daemon's socket lives, who may open it, and which daemon a call may be answered by.

The folder is $XDG_RUNTIME_DIR/jaccli, else <cache>/daemon (the cache folder of compute/cache.py). It
must be a real folder (no link) that the current user owns, of mode 0700, in a parent that the user (or
root) owns and that group and others cannot write: what is checked is what nobody else can change. A
missing folder is made so; any other is refused, and calls run in their own process. Sockets are 0600,
and both ends check the other's uid (SO_PEERCRED, where the system has it).

One daemon per installation and start-up environment: its socket is `<slot>.sock`, the slot a hash of
this package's folder, the Python that runs it and the variables read once when JAX starts (JAX_*,
XLA_*, …). Within a slot, `identity()` tells a daemon of other source or jax apart: jaccli's
SOURCE_STATS (its modules' names, sizes and times) and the sizes and times of jax's and jaxlib's
version files, found without importing them. A daemon of another identity is replaced, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
import jaccli

PACKAGE = os.path.dirname(os.path.realpath(jaccli.__file__))
# variables read once, when the process or JAX starts: a daemon started under others is another daemon
STARTUP_PREFIXES = ("JAX_", "XLA_", "CUDA_", "NVIDIA_", "PYTHON", "LD_", "OMP_", "MKL_", "OPENBLAS_")
# variables read during a call: the caller's are set in the daemon for the call's length
CALL_NAMES = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES", "TERM", "COLORTERM",
              "TTY_COMPATIBLE", "TTY_INTERACTIVE", "HOME", "XDG_CACHE_HOME")
MARKER = "enabled"  # in the folder: `jaccli daemon start` was run (and no `stop` since)
SOCKET_PATH_BYTES = 104  # sun_path: 108 bytes on Linux, 104 on macOS


class Refused(Exception):
    """A folder (or socket) that another user could have made or changed: no daemon is used."""


class Place:
    """The folder and this slot's files in it (a plain class: `dataclasses` would load `inspect`)."""

    __slots__ = ("folder", "slot")

    def __init__(self, folder: str, slot: str):
        self.folder, self.slot = folder, slot

    def path(self, suffix: str) -> str:
        return os.path.join(self.folder, self.slot + suffix)

    @property
    def socket(self) -> str:
        return self.path(".sock")

    @property
    def lock(self) -> str:  # held while a daemon starts or takes its socket away
        return self.path(".lock")

    @property
    def log(self) -> str:  # the daemon's own stderr (JAX's log lines, tracebacks of its own failures)
        return self.path(".log")

    @property
    def marker(self) -> str:  # forward without JACCLI_DAEMON=1
        return os.path.join(self.folder, MARKER)


def call_variables(environ) -> dict:
    """The variables of `environ` that a call reads (JACCLI_*, colour, terminal, where the cache is)."""
    return {k: v for k, v in environ.items() if k in CALL_NAMES or k.startswith("JACCLI_")}


def check_owner(info: os.stat_result, what: str, *, uid: int, private: bool) -> None:
    """Raise Refused unless `info` is the user's (or, for a parent, root's) and not writable by others;
    `private`: a folder of the user's own that group and others cannot even enter (mode 0700)."""
    owners = (uid,) if private else (uid, 0)
    if info.st_uid not in owners:
        raise Refused(f"{what} is owned by uid {info.st_uid}, not by you (uid {uid})")
    mode = stat.S_IMODE(info.st_mode)
    if private and mode & 0o077:
        raise Refused(f"{what} has mode {mode:04o}: group or others can reach it")
    if mode & 0o022:
        raise Refused(f"{what} is writable by {'group and others' if mode & 0o002 else 'group'} (mode {mode:04o})")


def folder_path() -> tuple[str, str]:
    """(the folder, its parent) as the environment names them."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "jaccli"), runtime
    cache = cache_dir()
    return os.path.join(cache, "daemon"), cache


def cache_dir() -> str:
    """compute/cache.py's cache_dir, as a string (that module is not imported here: it loads shutil and
    secrets, and the client stays light; tests/test_daemon.py checks the two agree)."""
    if os.environ.get("JACCLI_CACHE_DIR"):
        return os.path.expanduser(os.environ["JACCLI_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.path.expanduser(os.environ["XDG_CACHE_HOME"]), "jaccli")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Caches", "jaccli")
    return os.path.join(os.path.expanduser("~"), ".cache", "jaccli")


def locate(create: bool = True) -> Place:
    """This slot's Place, its folder checked (and made 0700 when missing and `create`); Refused if not usable."""
    if not hasattr(os, "getuid") or not hasattr(socket, "AF_UNIX"):
        raise Refused("this system has no Unix sockets")
    folder, parent = folder_path()
    uid = os.getuid()
    try:
        check_owner(os.stat(parent), f"the folder {parent!r}", uid=uid, private=False)
    except FileNotFoundError:
        if not create or parent != cache_dir():
            raise Refused(f"the folder {parent!r} does not exist") from None
        os.makedirs(parent, mode=0o700)
    except OSError as error:
        raise Refused(f"cannot read the folder {parent!r}: {error.strerror}") from None
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        if not create:
            raise Refused(f"the folder {folder!r} does not exist") from None
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise Refused(f"cannot make the folder {folder!r}: {error.strerror}") from None
        info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise Refused(f"{folder!r} is not a folder")
    check_owner(info, f"the folder {folder!r}", uid=uid, private=True)
    place = Place(folder, slot())
    if len(os.fsencode(place.socket)) >= SOCKET_PATH_BYTES:
        raise Refused(f"the socket's path {place.socket!r} is longer than a Unix socket takes; "
                      "set XDG_RUNTIME_DIR to a shorter folder")
    return place


def check_socket(path: str) -> None:
    """Raise Refused unless `path` is a socket of the current user's, 0600 (FileNotFoundError if none)."""
    info = os.lstat(path)
    if not stat.S_ISSOCK(info.st_mode):
        raise Refused(f"{path!r} is not a socket")
    check_owner(info, f"the socket {path!r}", uid=os.getuid(), private=True)


def peer_uid(connection) -> int | None:
    """The uid of the process at the other end of a Unix socket, where the system says (Linux), else None."""
    import struct

    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    credentials = connection.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def slot() -> str:
    """This installation's and start-up environment's name for its daemon (12 hex digits)."""
    startup = sorted((k, v) for k, v in os.environ.items() if k.startswith(STARTUP_PREFIXES))
    text = json.dumps([PACKAGE, sys.executable, startup])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def identity() -> str:
    """What the code a daemon runs is: jaccli's source stats, jax's and jaxlib's versions, Python's."""
    parts = [jaccli.SOURCE_STATS, PACKAGE, sys.version, sys.executable]
    for name in ("jax", "jaxlib"):
        parts.append(_version_stats(name))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _version_stats(package: str) -> str:
    """Where `package`'s version.py is, its size and time, found as `import` would find it (nothing imported)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return f"{package}: missing"
    path = os.path.join(list(spec.submodule_search_locations)[0], "version.py")
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}: missing"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"
