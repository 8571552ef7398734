"""The compilation caches: JAX's persistent XLA cache, and jaccli's own cache of executables.

A warm call loads the compiled executable of (expression, command, mode, dtype,
shapes, device, jaccli, jax, jaxlib) and runs it: no tracing, lowering or XLA
compile. Entries are keyed by a hash of all of these (and of the names, sizes and
modification times of jaccli's own modules, so a changed jaccli never returns a
stale function), written atomically (several processes may share the cache), and
ignored and replaced when unreadable.

Loading an executable runs what it holds, so the cache is trusted only as ssh's
StrictModes trusts ~/.ssh: the cache folder, its subfolders and every entry must
be owned by the current user and not writable by group or others (an entry in a
folder that nobody else can enter may have any mode). Otherwise jaccli warns once
and runs without the cache. New folders are 0700, entries 0600 (O_NOFOLLOW). An
entry holds its full key and a digest of its payload; a mismatch is a miss.
Location: $JACCLI_CACHE_DIR, else $XDG_CACHE_HOME/jaccli, else the platform's
user cache folder. JACCLI_NO_CACHE=1 or --no-cache turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

from ..errors import warn

_MAGIC = b"jaccli-exec-2\n"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def cache_dir() -> Path:
    if os.environ.get("JACCLI_CACHE_DIR"):
        return Path(os.environ["JACCLI_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "jaccli"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "jaccli"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "jaccli" / "Cache"
    return Path.home() / ".cache" / "jaccli"


def enabled(no_cache: bool = False) -> bool:
    """Whether the cache is switched on (--no-cache, JACCLI_NO_CACHE)."""
    return not no_cache and os.environ.get("JACCLI_NO_CACHE", "") in ("", "0")


def usable(no_cache: bool = False) -> bool:
    """Switched on, and a folder that can be trusted (else one warning, and the run goes on without it)."""
    if not enabled(no_cache):
        return False
    fd = _trusted_folder("executables")
    if fd is None:
        return False
    os.close(fd)
    return True


class Untrusted(Exception):
    """A cache folder or entry that another user could have written."""


def _check_owner(info: os.stat_result, what: str, *, private_parent: bool = False) -> None:
    """Raise Untrusted unless `info` is owned by the current user and not writable by group or others."""
    if not hasattr(os, "getuid"):  # Windows: folder ACLs, not modes, decide; the user's own profile
        return
    if info.st_uid != os.getuid():
        raise Untrusted(f"{what} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})")
    if info.st_mode & 0o022 and not private_parent:
        raise Untrusted(f"{what} is writable by {'group and others' if info.st_mode & 0o002 else 'group'} "
                        f"(mode {stat.S_IMODE(info.st_mode):04o})")


_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


def _open_folder(name: str | None = None) -> int:
    """An fd of the cache root, or of its subfolder `name`: created 0700 if missing, checked for trust.

    Opened step by step from the root's fd (the subfolder never through a link), so
    what was checked is what is read, even if a path is swapped meanwhile.
    """
    root = cache_dir()
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            root.mkdir(mode=0o700)
    fd = os.open(root, _DIRECTORY)
    try:
        _check_owner(os.fstat(fd), f"the cache folder {str(root)!r}")
        if name is None:
            return fd
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=fd)
        sub = os.open(name, _DIRECTORY | _NOFOLLOW, dir_fd=fd)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    try:
        _check_owner(os.fstat(sub), f"the cache folder {str(root / name)!r}")
    except BaseException:
        os.close(sub)
        raise
    return sub


_REFUSED: list[str] = []


def _refuse(reason: str) -> None:
    """Warn once per process that the cache is not used, and why."""
    if not _REFUSED:
        warn(f"not using the compilation cache: {reason}; fix its owner and mode (chmod go-w), "
             "or set JACCLI_CACHE_DIR")
    _REFUSED.append(reason)


def _trusted_folder(name: str) -> int | None:
    """An fd of <cache>/name when the cache can be trusted, else None (with one warning if untrusted)."""
    if _REFUSED:
        return None
    try:
        return _open_folder(name)
    except Untrusted as error:
        _refuse(str(error))
    except OSError:
        pass  # cannot be created or read (read-only home): run without it, quietly
    return None


def enable_xla_cache(jax) -> None:
    """Point JAX's persistent compilation cache at <cache>/xla (every compile is kept), if it can be trusted."""
    fd = _trusted_folder("xla")
    if fd is None:
        return
    try:
        private = stat.S_IMODE(os.fstat(fd).st_mode) & 0o077 == 0
        with os.scandir(fd) as found:
            for item in found:
                if item.is_symlink():
                    raise Untrusted(f"the cache entry xla/{item.name} is a symbolic link")
                _check_owner(item.stat(follow_symlinks=False), f"the cache entry xla/{item.name}",
                             private_parent=private)
    except Untrusted as error:
        _refuse(str(error))
        return
    except OSError:
        return
    finally:
        os.close(fd)
    jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@functools.cache
def _source_hash() -> str:
    """A hash of jaccli's own modules (names, sizes, times) as this process found them when it started: a
    changed jaccli never reuses an old executable, and a file changed during a run does not relabel it."""
    from .. import SOURCE_STATS

    return hashlib.sha256(SOURCE_STATS.encode()).hexdigest()[:16]


def executable_key(**parts) -> str:
    """A hash of everything that decides the compiled function."""
    import jax
    import jaxlib

    versions = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    text = json.dumps({**parts, **versions, "jaccli": _source_hash()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_executable(key: str, device, devices: list | None = None):
    """(compiled, metadata) from the cache, or None (missing, untrusted, another key's, or corrupt).

    `devices`: every device a sharded executable runs on (--devices), else `device` alone."""
    data = _read_entry(key)
    if data is None:
        return None
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("not a jaccli cache entry")
        header_end = data.index(b"\n", len(_MAGIC))
        metadata = json.loads(data[len(_MAGIC) : header_end])
        payload = data[header_end + 1 :]
        if metadata.get("key") != key or metadata.get("sha256") != hashlib.sha256(payload).hexdigest():
            return None  # copied from another key, or damaged: a miss
        import jax
        from jax.experimental import serialize_executable

        if metadata.get("lapack") and device.platform == "cpu":
            _load_lapack()
        in_tree = jax.tree_util.tree_structure(((0, 0, 0), {}))
        out_tree = jax.tree_util.tree_structure((0, 0))  # (the result, whether f is finite)
        compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree,
                                                             backend=device.client,
                                                             execution_devices=devices or [device])
        return compiled, metadata
    except Exception:  # noqa: BLE001 - a bad entry is never the user's error: recompile and replace it
        return None


def _load_lapack() -> None:
    """Load LAPACK's kernels, as lowering a linear-algebra function does: an executable that calls them, loaded
    in a process that has lowered none, would jump to a kernel that was never loaded (a segfault)."""
    import numpy as np
    from jaxlib import lapack

    lapack.prepare_lapack_call("getrf_ffi", np.dtype(np.float64))


def _read_entry(key: str) -> bytes | None:
    """The bytes of entry `key`, when it is a regular file that only the current user can have written."""
    folder = _trusted_folder("executables")
    if folder is None:
        return None
    try:
        private = stat.S_IMODE(os.fstat(folder).st_mode) & 0o077 == 0
        fd = os.open(key, os.O_RDONLY | _NOFOLLOW | _BINARY, dir_fd=folder)
    except OSError:
        os.close(folder)
        return None
    os.close(folder)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        try:
            if not stat.S_ISREG(info.st_mode):
                raise Untrusted(f"the cache entry executables/{key[:12]}… is not a regular file")
            _check_owner(info, f"the cache entry executables/{key[:12]}…", private_parent=private)
        except Untrusted as error:
            _refuse(str(error))
            return None
        try:
            return file.read()
        except OSError:
            return None


def store_executable(key: str, compiled, metadata: dict) -> bool:
    """Write an entry atomically (0600, never through a link); False when it won't take it."""
    import jax

    try:
        from jax.experimental import serialize_executable

        payload, in_tree, out_tree = serialize_executable.serialize(compiled)
        if in_tree != jax.tree_util.tree_structure(((0, 0, 0), {})) or \
                out_tree != jax.tree_util.tree_structure((0, 0)):
            return False
    except (ValueError, NotImplementedError, TypeError, AttributeError):
        return False
    header = {**metadata, "key": key, "sha256": hashlib.sha256(payload).hexdigest()}
    return _write_entry(key, _MAGIC + json.dumps(header).encode() + b"\n" + payload)


_BLOB = b"jaccli-blob-1\n"


def _checksum(key: str, pieces) -> bytes:
    """Against damage (trust comes from the owner and mode checks): CRC-32 reads tens of MB in milliseconds."""
    import zlib

    crc, size = 0, 0
    for piece in pieces:
        crc, size = zlib.crc32(piece, crc), size + memoryview(piece).nbytes
    return f"{key} {crc:08x} {size}".encode()


def store_blob(key: str, payload, *, background: bool = False) -> bool:
    """Keep `payload` beside the executable of `key` (a sparse pattern and its colouring), as its entries are kept:
    bytes, or a list of buffers written one after the other (tens of MB of arrays, never joined into one).

    With `background`, the checksum and the write (both without the GIL) run in a thread while the caller
    compiles, and True means only that the write began; the buffers must not change until `finish_writes()`,
    which the caller calls before it returns."""
    pieces = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) else list(payload)

    def write() -> bool:
        return _write_entry(key + ".blob", [_BLOB + _checksum(key, pieces) + b"\n", *pieces])

    if not background:
        return write()
    import threading

    thread = threading.Thread(target=write, name="jaccli cache write")
    thread.start()
    _WRITING.append(thread)
    return True


_WRITING: list = []  # store_blob's writes under way


def finish_writes() -> None:
    """Wait for the writes store_blob began in the background (another thread's calls' too)."""
    while True:
        try:
            thread = _WRITING.pop()
        except IndexError:  # none left, or another thread took the last
            return
        thread.join()


def load_blob(key: str) -> memoryview | None:
    """What store_blob kept for `key` (a view of what was read: no copy), or None (missing, untrusted, another
    key's, or damaged)."""
    data = _read_entry(key + ".blob")
    end = data.find(b"\n", len(_BLOB), len(_BLOB) + 4096) if data is not None and data.startswith(_BLOB) else -1
    if end < 0:
        return None
    payload = memoryview(data)[end + 1:]
    return payload if data[len(_BLOB):end] == _checksum(key, [payload]) else None


def _write_entry(key: str, data) -> bool:
    """Write an entry of the executables folder atomically (0600, never through a link); `data`: bytes, or a list
    of buffers written in turn."""
    folder = _trusted_folder("executables")
    if folder is None:
        return False
    temporary = f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600, dir_fd=folder)
        with os.fdopen(fd, "wb") as file:
            for piece in [data] if isinstance(data, bytes) else data:
                file.write(piece)
        os.replace(temporary, key, src_dir_fd=folder, dst_dir_fd=folder)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        return False
    finally:
        os.close(folder)


def describe() -> dict:
    """Where the cache is, how many entries and bytes it holds."""
    root = cache_dir()
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    size = sum(p.stat().st_size for p in files)
    executables = len([p for p in files if p.parent.name == "executables" and not p.name.startswith(".")
                       and not p.name.endswith(".blob")])
    state = "on" if enabled() else "off (JACCLI_NO_CACHE)"
    if enabled():
        try:
            os.close(_open_folder())
        except Untrusted as error:
            state = f"not used: {error}"
        except OSError as error:
            state = f"not used: {error.strerror}"
    return {"location": str(root), "state": state, "executables": executables, "files": len(files), "bytes": size}


def clear() -> int:
    """Remove every entry; returns the bytes freed."""
    info = describe()
    root = cache_dir()
    for child in ("executables", "xla"):
        shutil.rmtree(root / child, ignore_errors=True)
    return info["bytes"]
