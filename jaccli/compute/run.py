"""One point: Request → Result. Bind, look the executable up in the cache, else compile it once; run.

A warm call loads a serialized executable keyed by everything that decides it
(expression, command, mode, dtype, shapes, block, device): no tracing, lowering or
XLA compile. The output shape of a cached function comes with its entry.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

import numpy as np

from ..errors import JaccliError, TooLargeError, warn
from ..inputs.points import PointSpec
from ..language.parse import Expression
from . import cache
from .budget import guard_working_memory
from .backend import device_name, load_jax, no_xla_cache, runtime_error, select_device
from .cluster import join, process
from .devices import AlongZ, along_z, choose, choose_everywhere, point_mesh, span, value_size
from .prepare import Plan, Request, bind, plan


class FromPlan:
    """What an answer knows through its plan (dense Result and sparse SparseResult alike)."""

    command = property(lambda self: self.plan.command)
    request = property(lambda self: self.plan.request)
    expression = property(lambda self: self.plan.expression)
    layout = property(lambda self: self.plan.layout)
    point = property(lambda self: self.plan.point)
    out_shape = property(lambda self: self.plan.out_shape)
    mode = property(lambda self: self.plan.mode)
    vector = property(lambda self: self.plan.vector)
    dtype = property(lambda self: self.plan.dtype_name)
    variables = property(lambda self: self.plan.layout.names)


@dataclass
class Result(FromPlan):
    """One point's answer: the plan it came from, the value (NumPy, shape plan.shape), how it was got."""

    plan: Plan
    value: np.ndarray
    device: str  # cpu:0
    cache: str = "off"  # hit, miss, off, or eager (`run(eager=True)`: op by op, nothing compiled)
    function_value: float | None = None  # --with-value

    shape = property(lambda self: self.value.shape)

    def __repr__(self) -> str:
        return (f"<{self.request.command} of {self.expression.text!r}: shape {self.shape}, mode {self.mode}, "
                f"{self.dtype}>\n{np.array2string(self.value, precision=10)}")

    def _table(self, width: int):
        import io

        from rich.console import Console

        from ..output.tables import to_table

        console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
        to_table(self, console)
        return console

    def __rich_console__(self, console, options):
        from rich.text import Text

        yield Text.from_ansi(self._table(options.max_width).export_text(styles=True))

    def _repr_html_(self) -> str:
        """A table in notebooks."""
        return self._table(120).export_html(inline_styles=True)


def run(request: Request, spec: PointSpec | None = None, *, executables: MutableMapping | None = None,
        eager: bool = False, expression: Expression | None = None) -> Result:
    """Compute what `request.command` asks for at one point (`spec`, else request.at; `expression`:
    request.expr already parsed).

    `executables`: a long-lived caller's cache in memory (`jaccli serve`), key → (executable,
    metadata), looked up before the disk cache and filled from it and from every compile.
    `eager`: a key that neither cache holds runs op by op the first time (JAX's own dispatch, no XLA
    compile of the whole function; the key is kept with the value None), and is compiled when it comes again.
    """
    join(request.cluster)  # --distributed: before any backend starts
    hosts = process()[1] > 1  # one mesh over every process: its executables are no one process's to keep
    use_cache = cache.usable(request.no_cache) and not hosts
    memory = None if request.no_cache else executables
    jax, _ = load_jax()  # one point compiles apart from JAX's persistent cache: no need to open (and scan) it
    setup = bind(request, spec, expression)
    device = select_device(request.device)
    devices = choose_everywhere(request.devices, device) if hosts else choose(request.devices, device)
    if request.sparse == "on":  # --sparse: the sparse path, or an error saying why not
        from .sparse.evaluate import run_sparse

        return run_sparse(setup, device, use_cache=use_cache, memory=memory)
    split = along_z(setup, devices, request.devices)  # a long vector over several devices: split along z
    key = entry = None
    seen = False
    if use_cache or memory is not None:
        key = cache.executable_key(
            command=request.command, mode=request.mode, dtype=setup.dtype.name, expr=str(setup.expression),
            holomorphic=request.holomorphic,
            chunk=request.chunk_size, budget=setup.budget if setup.command.blockwise else None,
            order=request.order, partial=request.partial, with_value=request.with_value,
            layout=[(s.name, s.shape, s.wrt) for s in setup.layout.slots],
            device=(device.platform, device.device_kind, device.id), quick=bool(quick_options(setup, device)),
            **({"mesh": [d.id for d in devices]} if split else {}))
        if memory is not None:
            seen = key in memory
            entry = memory.get(key)
        if entry is None and use_cache:
            entry = cache.load_executable(key, device, devices if split else None)
    if entry is None and eager and memory is not None and not seen:
        result = _run_eagerly(setup, device)
        if result is not None:
            memory[key] = None  # seen once: compiled when it comes again
            return result
    if entry is None and setup.command.name in ("jacobian", "hessian") and request.sparse == "auto":
        from .prepare import output_spec
        from .sparse import might_pay

        out_shape, complex_out = output_spec(setup.function, setup.z, setup.c)  # traced once, for both paths
        if not complex_out and might_pay(setup, out_shape):  # a large result: is it mostly zeros?
            from .sparse.evaluate import run_sparse

            from .sparse.scheme import wanted

            looked = wanted(setup, out_shape) is None  # not turned down first (--chunk-size, --with-value)
            found = run_sparse(setup, device, out_shape, use_cache=use_cache, memory=memory)  # None: dense
            if found is not None:
                return found
            try:
                the_plan = plan(setup, out_shape, complex_out=complex_out)
            except TooLargeError as error:
                if not looked:
                    raise
                raise TooLargeError(f"{error.message}, and its sparsity pattern is too dense to pay",
                                    hint=f"use {setup.command.without_forming}, or raise --max-memory") from None
        else:
            the_plan = plan(setup, out_shape, complex_out=complex_out)
    else:
        the_plan = plan(setup, tuple(entry[1]["out_shape"]), complex_out=entry[1].get("complex_out", False)) \
            if entry else plan(setup)
    if entry is not None and entry[1].get("block") != the_plan.block:
        entry = None
    z, c, w = setup.z, setup.c, the_plan.vector
    if split:
        split = AlongZ(the_plan.checked_operator(), point_mesh(devices), setup.layout.z_size, w.size,
                       value_size(the_plan))
        z, c, w = split.arguments(z, c, w)

    sharing = len(devices) if split and device.platform == "cpu" else 1  # CPU devices share one RAM

    def compile_fresh():
        # not from JAX's own persistent cache: an executable loaded from it does not re-serialize
        with no_xla_cache(jax):
            function = split.function if split else jax.jit(the_plan.checked_operator())
            fresh = function.lower(z, c, w).compile(quick_options(setup, device))
        guard_working_memory(fresh, setup, device, copies=sharing)
        metadata = {"out_shape": list(the_plan.out_shape), "block": the_plan.block, "complex_out": the_plan.complex_out,
                    "lapack": uses_lapack(setup.expression)}
        if use_cache:
            cache.store_executable(key, fresh, metadata)
        if memory is not None:
            memory[key] = (fresh, metadata)
        return fresh

    if entry is not None:
        guard_working_memory(entry[0], setup, device, copies=sharing)  # kept under another --max-memory
    try:
        with jax.default_device(device):
            if entry is None:
                value, finite = compile_fresh()(z, c, w)
            else:
                try:
                    value, finite = entry[0](z, c, w)
                except (RuntimeError, ValueError, TypeError):  # a cached executable that won't run: replace it
                    entry = None
                    value, finite = compile_fresh()(z, c, w)
            value, finite = split.host(value, finite) if split else (np.asarray(value), finite)
    except JaccliError:
        raise
    except (RuntimeError, MemoryError) as error:  # XLA's runtime errors derive from RuntimeError
        raise runtime_error(error, "try --device cpu, a smaller problem, or --dtype float32") from error
    if entry is not None and memory is not None:
        memory[key] = entry  # from the disk cache: kept in memory too
    status = "off" if key is None else "hit" if entry is not None else "miss"
    result = _result(the_plan, value, finite, device, status)
    if split:
        result.device = span(devices)  # cpu:0-7
    return result


LINEAR_ALGEBRA = ("det", "logdet", "inv", "solve", "cholesky", "eigvalsh", "norm")  # LAPACK's kernels on the CPU


def uses_lapack(expression) -> bool:
    """Whether the compiled function may call LAPACK (the cache loads its kernels before such an entry runs)."""
    from ..language import nodes

    roots = [d.value for d in expression.definitions] + [expression.root]
    return any(isinstance(n, nodes.Call) and n.name in LINEAR_ALGEBRA for root in roots for n in nodes.walk(root))


QUICK_SIZE = 1024  # a point this small runs in microseconds: compile time is all there is to save
QUICK = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True,
         "xla_cpu_use_fusion_emitters": False, "xla_cpu_parallel_codegen_split_count": 1}


def quick_options(setup, device) -> dict:
    """XLA's options for a one-point run: for a small point on the CPU, LLVM without its expensive passes,
    XLA's elemental emitters instead of its fusion emitters, and one codegen split.

    A one-point compile is the whole cost of a first call, and these options cut it for a large expression
    (the gradient of a 1,100-node expression of 50 scalars: 3.6 s with the first two, 1.1 s with all four;
    the Hessian of 60 scalar variables: 20 s → 9 s with the first two) while the run, microseconds, gets no
    slower that anyone sees (a 10⁶-entry gradient runs 2× slower this way, so large points keep the full
    optimisation). The last two change the values by an ulp at most: on a corpus of every command over the
    known-value expressions, 4 of 2651 entries differ from a compile with the first two only, by at most
    1.0e-15 relative (other code for atan2, erfinv and digamma; tests/conftest.py)."""
    small = setup.z.size + setup.c.size <= QUICK_SIZE
    return QUICK if small and device.platform == "cpu" else {}


def _result(the_plan: Plan, value: np.ndarray, finite, device, status: str) -> Result:
    if not bool(finite) and the_plan.command.name != "eval":  # eval --with-value runs grad
        warn("f itself is not finite (nan or inf) at this point: the derivative there means little")
    function_value = None
    if the_plan.request.with_value:
        function_value, value = float(np.real(value[0])), value[1:]  # f is real (grad needs it so)
    return Result(the_plan, value.reshape(the_plan.shape), device_name(device), status, function_value)


def _run_eagerly(setup, device) -> Result | None:
    """The one-point answer op by op (`eager_value`), or None: compile it."""
    found = eager_value(setup, device)
    if found is None:
        return None
    the_plan, value, finite = found
    return _result(the_plan, value, finite, device, "eager")


def eager_value(setup, device) -> tuple[Plan, np.ndarray, bool] | None:
    """(plan, value, whether f is finite) computed op by op, without compiling the whole function; None
    (compile it) unless every variable is a scalar, and for a blockwise plan.

    JAX compiles each primitive once a shape and keeps it, so in a long-lived process an expression of
    scalars runs op by op without any compile once the primitives it uses have run; array variables bring
    shapes (and slices) of their own, for which one compile of the whole function is cheaper than one a
    primitive. f is computed first: its shape is the output shape (no tracing for it), its values say
    whether it is finite.
    """
    import jax
    import jax.numpy as jnp

    if any(slot.shape != () for slot in setup.layout.slots):
        return None
    try:
        with jax.default_device(device):
            z, c = jnp.asarray(setup.z), jnp.asarray(setup.c)
            f_value = setup.function(z, c)
            the_plan = plan(setup, tuple(f_value.shape), complex_out=jnp.iscomplexobj(f_value))
            if the_plan.block is not None:
                return None
            value = np.asarray(the_plan.operator()(z, c, jnp.asarray(the_plan.vector)))
            finite = bool(jnp.all(jnp.isfinite(f_value)))
    except JaccliError:
        raise
    except (RuntimeError, MemoryError) as error:
        raise runtime_error(error, "try --device cpu, a smaller problem, or --dtype float32") from error
    return the_plan, value, finite
