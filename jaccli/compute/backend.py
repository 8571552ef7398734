"""JAX, loaded when a computation needs it: float64 on, the persistent cache, the device."""

from __future__ import annotations

import contextlib
import gc
import os

from ..errors import ComputeError, JaccliError


_PAUSED = False  # the console script turned the garbage collector off until JAX is loaded


def pause_collection() -> None:
    """For the console script: no garbage collection while the imports (typer, NumPy, SciPy, JAX) make their
    million objects that live as long as the process; `load_jax` then freezes them, so that no collection scans
    them again, and resumes it (a one-point call: ~0.2 s of collections less)."""
    global _PAUSED
    gc.disable()
    _PAUSED = True


def resume_collection() -> None:
    """The imports' objects frozen and collection back on (by `load_jax`, and by work that runs without JAX:
    SymPy's formulas make garbage of their own)."""
    global _PAUSED
    if _PAUSED:
        _PAUSED = False
        gc.freeze()
        gc.enable()


def load_jax(use_cache: bool = False):
    """(jax, jax.numpy) with float64 enabled; `use_cache`: JAX's persistent cache in <cache>/xla."""
    import jax
    import jax.numpy as jnp

    resume_collection()
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)  # float64 unless --dtype float32
    if use_cache and not jax.config.jax_compilation_cache_dir:
        from . import cache

        cache.enable_xla_cache(jax)
    return jax, jnp


def select_device(name: str | None):
    """The first device of platform `name` (cpu, gpu, tpu), or the first device jaxlib finds."""
    jax, _ = load_jax()
    try:
        found = jax.local_devices()  # this process's (in a cluster, jax.devices() has every process's)
    except (RuntimeError, AssertionError) as error:  # the backend would not start (JAX_PLATFORMS, drivers)
        platforms = os.environ.get("JAX_PLATFORMS")
        reason = (str(error).splitlines() or [f"no {platforms or 'such'} platform in this jaxlib"])[0]
        raise ComputeError(f"cannot start a JAX backend: {reason}",
                           hint=f"JAX_PLATFORMS is {platforms!r}: unset it, or install that platform's jaxlib"
                           if platforms else "see `jaccli info`; for NVIDIA GPUs: pip install 'jaccli[cuda12]'") from None
    if name is None:
        return found[0]
    try:
        return jax.local_devices(backend=name)[0]
    except RuntimeError:
        platforms = ", ".join(sorted({d.platform for d in found}))
        raise JaccliError(
            f"no {name} device: jaxlib found only {platforms}",
            hint="for NVIDIA GPUs: pip install 'jaccli[cuda12]'; `jaccli info` lists the devices",
        ) from None


def device_name(device) -> str:
    return f"{device.platform}:{device.id}"


@contextlib.contextmanager
def no_xla_cache(jax):
    """JAX's persistent compilation cache switched off for the duration."""
    before = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", before)


def runtime_error(error: Exception, hint: str) -> ComputeError:
    """XLA's run-time failures (they derive from RuntimeError) as exit 3 with a hint."""
    return ComputeError(f"the computation failed: {str(error).splitlines()[0]}", hint=hint)
