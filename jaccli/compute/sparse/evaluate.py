"""One point, sparse: the scheme (found, or from the cache), one jitted vmap of JVPs, VJPs or HVPs over the
seeds, and one gather into CSR.

The compiled function takes (z, c, w) as every jaccli executable does, w being the colour of each input
(and output): the seeds are made from it inside, so a colouring is an argument, not a constant of the
program. Its value is the products laid end to end; `Colouring.gather` picks each nonzero out of them.
A dense matrix is never built.

    >>> result = run_sparse(setup, device)        # setup: bind(Request("hessian", …, sparse="on"))
    >>> result.matrix                             # scipy.sparse.csr_array (n, n)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ...errors import JaccliError, TooLargeError, warn
from .. import cache, derivatives
from ..budget import guard_working_memory
from ..backend import device_name, load_jax, no_xla_cache, runtime_error
from ..prepare import Plan, output_spec, plan
from ..run import FromPlan
from .refine import MAX_CALLS, refine
from .scheme import Scheme, find_scheme, guard, refused, wanted


@dataclass
class SparseResult(FromPlan):
    """One point's sparse answer: the plan, the matrix (m × n CSR; a Hessian n × n), the scheme behind it."""

    plan: Plan
    matrix: sp.csr_array
    scheme: Scheme
    device: str
    cache: str = "off"
    function_value: None = None

    shape = property(lambda self: self.matrix.shape)
    colours = property(lambda self: self.scheme.colouring.colours)

    @property
    def value(self) -> np.ndarray:
        """The dense array of the plan's shape: for `check` and small problems only."""
        return self.matrix.toarray().reshape(self.plan.shape)

    def __repr__(self) -> str:
        return (f"<sparse {self.request.command} of {self.expression.text!r}: shape {self.shape}, "
                f"{self.matrix.nnz} nonzeros, {self.colours} colours, mode {self.mode}>")


def operator(f, name: str, mode: str, counts: tuple[int, int], out_shape: tuple, n: int, dtype):
    """g(z, c, w) ↦ the products, flat: JVPs (HVPs) along the forward seeds, then VJPs along the reverse ones."""
    import jax
    import jax.numpy as jnp

    n_forward, n_reverse = counts
    m = math.prod(out_shape)

    def seeds(colours, count):
        return (colours[None, :] == jnp.arange(count, dtype=colours.dtype)[:, None]).astype(dtype)

    def g(z, c, w):
        parts = []
        if n_forward:
            along = derivatives.hvp(f, mode) if name == "hessian" else derivatives.jvp(f)
            parts.append(jax.vmap(lambda v: along(z, c, v).reshape(-1))(seeds(w[:n], n_forward)).reshape(-1))
        if n_reverse:
            _, pullback = jax.vjp(lambda z: f(z, c), z)
            parts.append(jax.vmap(lambda u: pullback(u.reshape(out_shape))[0])(seeds(w[n:n + m], n_reverse))
                         .reshape(-1))
        return jnp.concatenate(parts) if parts else jnp.zeros(0, dtype)

    return g


def run_sparse(setup, device, out_shape: tuple | None = None, *, use_cache: bool = False,
               memory=None) -> SparseResult | None:
    """The sparse answer at setup's point, or None when the request stays dense (auto found it doesn't pay).
    A new scheme is written to the cache while the products compile."""
    try:
        found = sparse_scheme(setup, device, out_shape, use_cache=use_cache, memory=memory, background=True)
        if found is None:
            return None
        scheme, the_plan, key, entry = found
        if entry is None and use_cache:
            entry = cache.load_executable(key, device)
        products, finite, entry, again = _products(setup, the_plan, scheme, device, key, entry, use_cache, memory)
        if not bool(finite):
            warn("f itself is not finite (nan or inf) at this point: the derivative there means little")
        matrix = decompress(scheme, products)
        if bool(finite) and np.isnan(matrix.data).any():  # 0·inf where columns shared a product
            waiting = refine(matrix.data, scheme, again)
            if waiting:
                warn(f"{waiting:,} entries of the sparse {setup.command.name} are nan, and evaluating parts of "
                     f"their colour groups (at most {MAX_CALLS} times) did not settle them: the dense result "
                     "(--no-sparse) may have numbers there")
        return SparseResult(the_plan, matrix, scheme, device_name(device),
                            "off" if key is None else "hit" if entry is not None else "miss")
    finally:
        cache.finish_writes()


def sparse_scheme(setup, device, out_shape: tuple | None = None, *, use_cache: bool = False, memory=None,
                  background: bool = False):
    """(scheme, plan, cache key, the executable kept in `memory` or None) for setup's request, or None when it
    stays dense. The scheme is found once and kept under the executable's key (on disk with `use_cache`; with
    `background`, written by a thread that the caller waits for: `cache.finish_writes()`)."""
    load_jax()
    request = setup.request
    if out_shape is None:
        out_shape, complex_out = output_spec(setup.function, setup.z, setup.c)
        if complex_out:
            raise JaccliError("--sparse takes real variables and outputs, and this expression is complex",
                              hint="use --no-sparse")
    want = wanted(setup, out_shape)
    if want is False:
        return None
    must = want is True
    refused_dense = refused(setup, out_shape)  # auto: sparse, however many colours, unless too dense
    key = None
    if use_cache or memory is not None:
        key = cache.executable_key(
            command=request.command, mode=request.mode, dtype=setup.dtype.name, expr=str(setup.expression),
            sparse=request.sparse, budget=setup.budget, layout=[(s.name, s.shape, s.wrt) for s in setup.layout.slots],
            device=(device.platform, device.device_kind, device.id),
            options=sorted(products_options(device).items()))
    entry = memory.get(key) if memory is not None and key is not None else None
    scheme, status = (entry[1]["scheme"], "hit") if entry else _cached_scheme(key, use_cache)
    if scheme is None and status != "dense":
        scheme = find_scheme(setup, out_shape, must=must)
        if scheme is None or not (must or refused_dense or scheme.pays()):
            if use_cache:
                cache.store_blob(key, b"dense")
            return None
        if use_cache:
            cache.store_blob(key, scheme.to_buffers(), background=background)
    if scheme is None:
        return None
    try:
        guard(setup, scheme)
    except TooLargeError:
        if must:
            raise
        return None  # auto: the dense path says what is too large
    the_plan = plan(setup, out_shape, blocks=False, guard=False, complex_out=False)
    if setup.command.name == "jacobian":
        the_plan = replace(the_plan, mode="rev" if scheme.colouring.kind == "rows" else "fwd")
    return scheme, the_plan, key, entry


def _products(setup, the_plan, scheme, device, key, entry, use_cache: bool, memory):
    """(the products, whether f is finite, the entry used or None, the products for other colours): the kept
    executable, else one compiled now (and kept); one that won't run is replaced."""
    jax, _ = load_jax()
    colouring, f = scheme.colouring, setup.function
    g = operator(f, setup.command.name, the_plan.mode, (colouring.n_forward, colouring.n_reverse),
                 the_plan.out_shape, setup.layout.z_size, setup.dtype)

    def checked(z, c, w):
        import jax.numpy as jnp

        return g(z, c, w), jnp.all(jnp.isfinite(f(z, c)))

    def compile_fresh():
        with no_xla_cache(jax):
            compiled = jax.jit(checked).lower(z, c, w).compile(products_options(device))
        guard_working_memory(compiled, setup, device, sparse=True)
        from ..run import uses_lapack

        metadata = {"out_shape": list(the_plan.out_shape), "block": None, "lapack": uses_lapack(setup.expression)}
        if use_cache:
            cache.store_executable(key, compiled, metadata)
        return compiled, metadata

    z, c, w = setup.z, setup.c, colouring.seeds()
    try:
        with jax.default_device(device):
            try:
                compiled, metadata = entry if entry is not None else compile_fresh()
                products, finite = compiled(z, c, w)
            except (RuntimeError, ValueError, TypeError):  # a kept executable that won't run: replace it
                if entry is None:
                    raise
                entry = None
                compiled, metadata = compile_fresh()
                products, finite = compiled(z, c, w)
            if memory is not None:
                memory[key] = (compiled, {**metadata, "scheme": scheme})

            def again(colours):  # the products for other colours (refine.py)
                with jax.default_device(device):
                    return np.asarray(compiled(z, c, colours)[0])

            return np.asarray(products), finite, entry, again
    except JaccliError:
        raise
    except (RuntimeError, MemoryError) as error:
        raise runtime_error(error, "try --device cpu, a smaller problem, or --dtype float32") from error


PRODUCTS_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_cpu_parallel_codegen_split_count": 1}


def products_options(device) -> dict:
    """XLA's options for the products on the CPU: its elemental emitters and one codegen split.

    The products are a few passes of elementwise work over n entries, so the fusion emitters' compile
    (90–180 ms at n = 10⁶) buys nothing the run shows: on extended Rosenbrock, Broyden, the 5-point stencil
    and a tanh/exp/sin/log1p chain at n = 10⁶ the compile took 27–109 ms instead of 65–182 ms, the run
    stayed within noise, and every product was the same to the last bit. (Elementwise, the two emitters'
    tan and arctan can differ by an ulp, as run.quick_options found for atan2, erfinv and digamma.)"""
    return PRODUCTS_OPTIONS if device.platform == "cpu" else {}


def decompress(scheme: Scheme, products: np.ndarray) -> sp.csr_array:
    """The nonzeros picked out of the products by one gather, in the pattern's CSR order. The matrix gets its
    own index arrays: the scheme's are kept for later calls (in memory, or read-only views of a cache entry),
    and are the result's `scheme` too."""
    pattern = scheme.pattern
    data = np.take(products, scheme.colouring.gather)  # np.take: a quarter faster than indexing here
    return sp.csr_array((data, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


def _cached_scheme(key, use_cache: bool) -> tuple[Scheme | None, str]:
    """(the scheme kept for key, 'hit'), (None, 'dense') when auto found dense before, else (None, 'miss')."""
    if key is None or not use_cache:
        return None, "miss"
    data = cache.load_blob(key)
    if data is None:
        return None, "miss"
    if data == b"dense":
        return None, "dense"
    try:
        return Scheme.from_bytes(data), "hit"
    except (ValueError, KeyError, TypeError, OSError):  # a damaged or older entry: found again, and replaced
        return None, "miss"
