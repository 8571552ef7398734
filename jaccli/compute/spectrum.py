"""The matrix-free parts of `analyze`: H's extreme eigenvalues by Lanczos and its trace by Hutchinson.

Both see H only through the registry's `hvp` operator (forward over reverse), jitted once
for a setup's expression, shapes and dtype and kept for the next point or seed.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import JaccliError, ShapeError, warn
from .prepare import plan

PROBE_FLOATS = 2**22  # Hutchinson: probes computed together × n stays below this
LANCZOS_STEPS, CHECK, SETTLED = 20_000, 10, 1e-10  # Lanczos: at most, how often T's ends are looked at, when
EPS64 = float(np.finfo(np.float64).eps)  # they count as settled (relative change over 2·CHECK steps)

_COMPILED: dict = {}  # (what, expression, layout, dtype, sizes) → jitted function, a few kept


def _compiled(what: str, setup, make, *sizes):
    key = (what, str(setup.expression), tuple((s.name, s.shape, s.wrt) for s in setup.layout.slots),
           setup.dtype.name, sizes)
    if key not in _COMPILED:
        if len(_COMPILED) >= 8:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = make()
    return _COMPILED[key]


def _hvp(setup):
    """(z, c, v) ↦ H·v: the registry's `hvp` operator (forward over reverse)."""
    return plan(setup, (), vector=False).operator()


def lanczos_extremes(setup, seed: int = 0) -> tuple[float, float, int]:
    """(smallest, largest eigenvalue of H, H·v products used): Lanczos on the jitted hvp, H never formed.

    The plain three-term recurrence (no restarts, no reorthogonalization: three vectors, O(n)
    memory; each step one jitted function, so the vectors stay on the device): the extreme
    eigenvalues of the tridiagonal T_k are Ritz values that converge to H's extreme eigenvalues
    from inside. It stops when both have changed by at most SETTLED · max|θ| over the last
    2·CHECK steps, or the Krylov space is exhausted (β = 0). ARPACK's residual test (SciPy's
    eigsh) stalls where H's spectrum ends in a continuum, as at Rosenbrock's minimum beyond
    n ≈ 1000, and its restarts cost 20 vectors of n.
    """
    import jax
    from scipy.linalg import eigvalsh_tridiagonal

    from .backend import load_jax, runtime_error, select_device

    load_jax()
    n = setup.layout.z_size
    recurrence = _compiled("lanczos", setup, lambda: jax.jit(_lanczos_step(setup)))
    device = select_device(setup.request.device)
    alphas, betas, history = [], [], []
    v = np.random.default_rng(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    beta, scale, ends = 0.0, 0.0, (0.0, 0.0)
    try:
        with jax.default_device(device):
            z, c = jax.device_put(setup.z, device), jax.device_put(setup.c, device)
            v, previous = jax.device_put(v, device), jax.device_put(np.zeros(n), device)
            for step in range(1, LANCZOS_STEPS + 1):
                following, alpha, beta = recurrence(z, c, v, previous, beta)  # the vectors stay on the device
                alpha, beta = float(alpha), float(beta)
                alphas.append(alpha)
                scale = max(scale, abs(alpha), beta)
                exhausted = beta <= n * EPS64 * scale  # an invariant subspace: T's eigenvalues are H's
                if not np.isfinite(alpha + beta):
                    raise ShapeError("H·v is not finite (nan or inf) at this point: H has no eigenvalues",
                                     hint="analyze a point where f is finite and smooth")
                if step % CHECK == 0 or exhausted or step == LANCZOS_STEPS:
                    a, b = np.array(alphas), np.array(betas)
                    ends = tuple(float(eigvalsh_tridiagonal(a, b, select="i", select_range=(i, i))[0])
                                 for i in (0, step - 1))
                    history.append(ends)
                    if exhausted or (len(history) >= 3 and all(
                            abs(history[-1][j] - history[-3][j]) <= SETTLED * max(map(abs, ends)) for j in (0, 1))):
                        return ends[0], ends[1], step
                betas.append(beta)
                previous, v = v, following
    except RuntimeError as error:
        raise runtime_error(error, "try --device cpu or --dtype float32") from error
    warn(f"Lanczos' extreme eigenvalues had not settled after {LANCZOS_STEPS:,} H·v products: "
         "they are bounds from inside the spectrum")
    return ends[0], ends[1], LANCZOS_STEPS


def _lanczos_step(setup):
    """(z, c, v, v₋, β₋) ↦ (v₊, α, β): one step of the recurrence H·v = β₋·v₋ + α·v + β·v₊, in float64."""
    import jax.numpy as jnp

    product, dtype = _hvp(setup), setup.dtype

    def step(z, c, v, previous, beta):
        w = product(z, c, v.astype(dtype)).astype(jnp.float64) - beta * previous
        alpha = jnp.vdot(v, w)
        w = w - alpha * v
        norm = jnp.linalg.norm(w)
        return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), w), alpha, norm

    return step


def hutchinson(setup, probes: int, seed: int = 0) -> tuple[float, float]:
    """(mean of vᵀHv over `probes` Rademacher vectors v, its standard error).

    Probe k is drawn by NumPy from the stream (seed, k): the same on every machine and for any
    batch size. A batch of probes goes through one jitted vmap of the hvp: memory O(batch · n).
    """
    import jax

    from .backend import load_jax, runtime_error, select_device

    if probes < 2:
        raise JaccliError("--probes must be at least 2 (the standard error needs two)")
    load_jax()
    n, dtype = setup.layout.z_size, setup.dtype
    batch = max(1, min(probes, PROBE_FLOATS // max(n, 1)))

    def make():
        product = _hvp(setup)
        return jax.jit(jax.vmap(lambda z, c, v: v @ product(z, c, v), in_axes=(None, None, 0)))

    quadratic = _compiled("hutchinson", setup, make, batch)
    values = []
    device = select_device(setup.request.device)
    try:
        with jax.default_device(device):
            z, c = jax.device_put(setup.z, device), jax.device_put(setup.c, device)
            for start in range(0, probes, batch):
                size = min(batch, probes - start)
                probe = np.ones((batch, n), dtype)  # a whole batch (one compiled shape); probe k from its own
                for row, k in enumerate(range(start, start + size)):  # stream: the same for any batch size
                    probe[row] -= 2 * np.random.default_rng((seed, k)).integers(0, 2, n, dtype=np.int8)
                values.append(np.asarray(quadratic(z, c, probe), dtype=np.float64)[:size])
    except RuntimeError as error:
        raise runtime_error(error, "try --device cpu, fewer --probes, or --dtype float32") from error
    values = np.concatenate(values)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(probes))
