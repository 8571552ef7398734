"""The compilation caches: JAX's persistent XLA cache, and jaccli's own cache of executables.

A warm call loads the compiled executable of (expression, command, mode, dtype,
shapes, device, jaccli, jax, jaxlib) and runs it: no tracing, lowering or XLA
compile. Entries are keyed by a hash of all of these (and of jaccli's own source,
so an upgrade never returns a stale function), written atomically (several
processes may share the cache), and ignored and replaced when unreadable.

Loading an executable unpickles it, so the cache directory is private to the
user (0700). Location: $JACCLI_CACHE_DIR, else $XDG_CACHE_HOME/jaccli, else the
platform's user cache folder. JACCLI_NO_CACHE=1 or --no-cache turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

_MAGIC = b"jaccli-exec-1\n"


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
    return not no_cache and os.environ.get("JACCLI_NO_CACHE", "") in ("", "0")


def _private_dir(path: Path) -> Path | None:
    """Create `path` and the cache root (both 0700) if needed; None when they cannot be written."""
    try:
        root = cache_dir()
        if not root.exists():
            root.parent.mkdir(parents=True, exist_ok=True)
            root.mkdir(mode=0o700, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
    except OSError:
        return None


def enable_xla_cache(jax) -> None:
    """Point JAX's persistent compilation cache at <cache>/xla (every compile is kept)."""
    path = _private_dir(cache_dir() / "xla")
    if path is None:
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@functools.cache
def _source_hash() -> str:
    """A hash of jaccli's own modules (names, sizes, times): a changed jaccli never reuses an old executable."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        info = path.stat()
        digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def executable_key(**parts) -> str:
    """A hash of everything that decides the compiled function."""
    import jax
    import jaxlib

    versions = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    text = json.dumps({**parts, **versions, "jaccli": _source_hash()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_executable(key: str, device):
    """(compiled, metadata) from the cache, or None (missing, unreadable or corrupt: ignored)."""
    path = cache_dir() / "executables" / key
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("not a jaccli cache entry")
        header_end = data.index(b"\n", len(_MAGIC))
        metadata = json.loads(data[len(_MAGIC) : header_end])
        payload = data[header_end + 1 :]
        import jax
        from jax.experimental import serialize_executable

        in_tree = jax.tree_util.tree_structure(((0, 0, 0), {}))
        out_tree = jax.tree_util.tree_structure(0)
        compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree,
                                                             backend=device.client, execution_devices=[device])
        return compiled, metadata
    except Exception:  # noqa: BLE001 - a bad entry is never the user's error: recompile and replace it
        return None


def store_executable(key: str, compiled, metadata: dict) -> bool:
    """Write an entry atomically; False when the executable or the folder won't take it."""
    import jax

    try:
        from jax.experimental import serialize_executable

        payload, in_tree, out_tree = serialize_executable.serialize(compiled)
        if in_tree != jax.tree_util.tree_structure(((0, 0, 0), {})) or out_tree != jax.tree_util.tree_structure(0):
            return False
    except (ValueError, NotImplementedError, TypeError, AttributeError):
        return False
    folder = _private_dir(cache_dir() / "executables")
    if folder is None:
        return False
    data = _MAGIC + json.dumps(metadata).encode() + b"\n" + payload
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / key)
        return True
    except OSError:
        return False


def describe() -> dict:
    """Where the cache is, how many entries and bytes it holds."""
    root = cache_dir()
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    size = sum(p.stat().st_size for p in files)
    executables = len([p for p in files if p.parent.name == "executables" and not p.name.startswith(".")])
    state = "on" if enabled() else "off (JACCLI_NO_CACHE)"
    return {"location": str(root), "state": state, "executables": executables, "files": len(files), "bytes": size}


def clear() -> int:
    """Remove every entry; returns the bytes freed."""
    info = describe()
    root = cache_dir()
    for child in ("executables", "xla"):
        shutil.rmtree(root / child, ignore_errors=True)
    return info["bytes"]
