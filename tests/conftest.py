"""Shared helpers: `jaccli` run in this process (and in a real one), in-process computes, and a SymPy oracle."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# the tests never touch the user's own cache, and use none but where they are about it (tests/test_cache.py)
os.environ.setdefault("JACCLI_CACHE_DIR", tempfile.mkdtemp(prefix="jaccli-test-cache-"))
os.environ["JACCLI_NO_CACHE"] = "1"
os.environ["JACCLI_DAEMON"] = "0"  # a daemon of the user's answers none of the tests' calls (tests/test_daemon.py starts its own)
JACCLI = shutil.which("jaccli", path=str(Path(sys.executable).parent)) or shutil.which("jaccli")
TERMINAL_VARIABLES = ("NO_COLOR", "TERM", "COLUMNS")  # what Environment.system() would read

# In-process computations only (the product's processes keep XLA's defaults): XLA's CPU compiler with its
# elemental emitters instead of the fusion emitters, in one codegen split, compiles two to three times
# faster, and most of this suite's time is XLA compiles. run.quick_options gives a small one-point compile
# the same two as compile options; these flags extend them to many points and large points. The numbers stay
# within the tests' tolerances: on a corpus of every command over the known-value expressions, 4 of 2651
# entries differ from a compile without them, by at most 1.0e-15 relative (other code for atan2,
# erfinv, digamma); the corpus's trace-lower-compile-run time goes from 10.3 s to 4.8 s. XLA reads
# XLA_FLAGS once, when JAX makes its CPU client: set for that moment, then the user's value is back, so
# every subprocess (jaccli_process, the devices driver, samples) compiles as a user's jaccli does.
TEST_XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_cpu_parallel_codegen_split_count=1")


def _start_jax_with_test_flags() -> None:
    import jax

    from jaccli.compute.backend import load_jax

    if jax._src.xla_bridge.backends_are_initialized():  # tests.conftest imported beside conftest
        return
    user_flags = os.environ.get("XLA_FLAGS")
    os.environ["XLA_FLAGS"] = " ".join([user_flags or "", *TEST_XLA_FLAGS]).strip()
    try:
        load_jax()
        jax.devices("cpu")
    finally:
        if user_flags is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = user_flags


_start_jax_with_test_flags()


def _compile_each_module_once(keep: int = 512) -> None:
    """In this process, an XLA module compiled once: a second compile of the same StableHLO text with the same
    options, shardings and arguments gets the executable of the first (XLA's compile is a function of them).

    Tests compile the same small programs again and again (every format of `x**2*y + y**3`, each command over
    the known-value corpus); the compile path itself still runs for each new program. A hit skips JAX's own
    persistent cache too, so a test of that cache runs jaccli in a process of its own (as test_sparse_many's
    does); jaccli's executable cache is untouched."""
    import collections
    import hashlib

    import jax
    from jax import stages

    compile_fresh = stages.Lowered.compile
    kept: collections.OrderedDict = collections.OrderedDict()

    def compile_once(self, compiler_options=None, **kwargs):
        arguments = self._lowering.compile_args
        if kwargs or arguments.get("host_callbacks") or getattr(self._lowering, "const_args", None):
            return compile_fresh(self, compiler_options, **kwargs)  # constants held beside the module: not in its text
        text = self.as_text()
        key = (hashlib.sha256(text.encode()).digest(), repr(sorted((compiler_options or {}).items())),
               *(repr(arguments.get(name)) for name in ("backend", "num_devices", "in_shardings", "out_shardings",
                                                          "in_layouts", "out_layouts", "kept_var_idx")),
               repr(jax.devices()), repr(self.args_info), repr(self.out_info))
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        compiled = kept[key] = compile_fresh(self, compiler_options)
        if len(kept) > keep:
            kept.popitem(last=False)
        return compiled

    stages.Lowered.compile = compile_once


if os.environ.get("JACCLI_TEST_COMPILE_ONCE", "1") != "0":
    _compile_each_module_once()


@dataclass
class Ran:
    """What `subprocess.run` gives back, for an in-process run."""

    args: list
    returncode: int
    stdout: str | bytes
    stderr: str


class Timeout(BaseException):
    """An in-process run took longer than its `timeout` (BaseException: `main` maps every Exception to exit 3)."""


@contextlib.contextmanager
def environment_variables(changes: dict, remove=()):
    """os.environ with `changes` set and `remove` unset, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(changes)
    for name in remove:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def time_limit(seconds: float, args):
    """Raise Timeout in this (main) thread after `seconds`, as subprocess.run(timeout=…) would stop a hang."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise Timeout(f"jaccli {args!r} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _unset(env: dict) -> tuple[str, ...]:
    """The variables a run does not inherit: JACCLI_DEBUG, and JACCLI_NO_CACHE when `env` is about the cache."""
    about_the_cache = "JACCLI_CACHE_DIR" in env and "JACCLI_NO_CACHE" not in env
    return ("JACCLI_DEBUG", "JACCLI_NO_CACHE") if about_the_cache else ("JACCLI_DEBUG",)


def process_env(env: dict | None = None) -> dict:
    """The environment of a jaccli process: ours, `env` over it (the cache on when `env` gives JACCLI_CACHE_DIR)."""
    env = dict(env or {})
    full_env = {**os.environ, **env}
    for name in _unset(env):
        full_env.pop(name, None)
    return full_env


def jaccli(*args: str, input: str | bytes | None = None, env: dict | None = None, timeout: float = 120):
    """Run `jaccli ARGS` in this process: `main(args, Environment.capture(...))`, stdin `input`, pipes (no tty).

    Returns .returncode, .stdout (text, or bytes when `input` is bytes) and .stderr, as subprocess.run does.
    `env` is set in os.environ for the call. The disk cache stays off (JACCLI_NO_CACHE=1) unless `env` gives
    JACCLI_CACHE_DIR: one-point runs then read and write their executables there as a process would; JAX's
    persistent XLA cache folder (many points) is set once a process, so such runs belong in `jaccli_process`.
    """
    from jaccli.cli import main
    from jaccli.compute import cache
    from jaccli.env import Environment

    env = dict(env or {})
    with environment_variables(env, remove=_unset(env)):
        variables = {k: os.environ[k] for k in TERMINAL_VARIABLES if k in os.environ}
        captured = Environment.capture(b"" if input is None else input, tty=False, variables=variables)
        cache._REFUSED.clear()  # "warn once" is per process: every run is a new process
        with contextlib.redirect_stdout(captured.stdout), contextlib.redirect_stderr(captured.stderr), \
                time_limit(timeout, args):
            try:
                code = main(list(args), captured)
            except SystemExit as exit:  # what a process would exit with
                code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
        cache._REFUSED.clear()
    stdout = captured.out_bytes() if isinstance(input, bytes) else captured.out_text()
    return Ran(list(args), code, stdout, captured.err_text())


def jaccli_process(*args: str, input: str | bytes | None = None, env: dict | None = None, timeout: float = 120):
    """Run the installed command in a new process; returns the CompletedProcess (text unless input is bytes)."""
    assert JACCLI, "the jaccli command is not installed (pip install -e .)"
    return subprocess.run([JACCLI, *args], input=input, capture_output=True, timeout=timeout, env=process_env(env),
                          text=not isinstance(input, bytes))


def compute(command: str, expr: str, at=(), **options) -> np.ndarray:
    """The result array of one in-process run."""
    from jaccli.compute.prepare import Request
    from jaccli.compute.run import run

    at = (at,) if isinstance(at, str) else tuple(at)
    for key in ("v", "u"):
        if isinstance(options.get(key), str):
            options[key] = (options[key],)
    return run(Request(command, expr, at, **options)).value


SYMPY_NAMES = {
    "expm1": lambda x: __import__("sympy").exp(x) - 1,
    "log1p": lambda x: __import__("sympy").log(1 + x),
    "log10": lambda x: __import__("sympy").log(x, 10),
    "log2": lambda x: __import__("sympy").log(x, 2),
    "exp2": lambda x: 2**x,
    "cbrt": lambda x: x ** __import__("sympy").Rational(1, 3),  # the tests use x > 0
    "square": lambda x: x**2,
    "hypot": lambda x, y: __import__("sympy").sqrt(x**2 + y**2),
    "sigmoid": lambda x: 1 / (1 + __import__("sympy").exp(-x)),
    "softplus": lambda x: __import__("sympy").log(1 + __import__("sympy").exp(x)),
    "lgamma": lambda x: __import__("sympy").loggamma(x),
    "abs": lambda x: __import__("sympy").Abs(x),
    "pow": lambda x, y: x**y,
}


def sympy_derivative(expr: str, names: list[str], point: list[float], order: int) -> np.ndarray:
    """The order-th derivative tensor (JAX's axis order) of a SymPy-syntax expression, at 30 digits."""
    import sympy

    symbols = sympy.symbols(names, real=True)
    f = sympy.sympify(expr.replace("^", "**"), locals={**SYMPY_NAMES, **dict(zip(names, symbols))})
    result = sympy.Array(f) if isinstance(f, (list, tuple)) else f
    for _ in range(order):
        result = sympy.derive_by_array(result, symbols)  # the new axis comes first: move it last
        rank = len(result.shape)
        result = sympy.permutedims(result, list(range(1, rank)) + [0])
    values = dict(zip(symbols, [sympy.Float(float(p), 30) for p in point]))  # the exact binary values
    entries = sympy.flatten(result) if hasattr(result, "shape") else [result]
    numbers = [float(sympy.re(sympy.N(sympy.sympify(e).subs(values), 30))) for e in entries]
    shape = tuple(result.shape) if hasattr(result, "shape") else ()
    return np.array(numbers, dtype=float).reshape(shape)


def pytest_configure(config):
    # pytest-xdist's mark, known without it too (-p no:xdist): `make test` runs with --dist loadgroup
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (a shared fixture)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """--dist loadgroup finds a test's group in a suffix of its nodeid (`…@devices`), which pytest-xdist 3.8
    sets as `item._nodeid`; pytest 9 reads a nodeid from `item._id`, so the groups were lost and each
    worker made the devices processes again. Set the suffix where this pytest reads it."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own suffix works
        return
    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid and isinstance(getattr(item, "_id", None), NodeId):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
