"""The global sparsity pattern of ∂f/∂x (of f) or ∂²f/∂x² (of ∇f), by abstract interpretation of the jaxpr.

Every array of the jaxpr gets, for each of its entries, the set of inputs it depends on (sets.py: one boolean
CSR matrix an array); each primitive's rule (rules.py) maps input sets to output sets. The result holds every
nonzero at every point (a superset: a `where` keeps both branches): never smaller than the true pattern.
Constants that rules need as values (gather indices, `where` masks, matrices) are computed when asked for.
Calls (jit, custom_jvp …) are interpreted inside; loops to a fixed point; a primitive without a rule is
dense for what it touches, with a warning.

    >>> jacobian_pattern(f, n=5, c_size=0, dtype=np.float64).toarray()   # f = x[1:] * x[:-1]
"""

from __future__ import annotations

import functools

import numpy as np

from ...errors import warn
from . import rules
from .bands import Band, diagonals
from .sets import (
    LIMIT,
    TooDense,
    as_csr,
    empty,
    gather_union,
    identity,
    symmetric,
    take,
    union,
)

FOLD_LIMIT = 1 << 22  # a constant is computed when a rule needs it, up to this many entries


def jacobian_pattern(f, n: int, c_size: int, dtype, limit: int | None = None):
    """(pattern of ∂f/∂z as an (m, n) boolean CSR matrix, f's output shape); raises TooDense above `limit`."""
    import jax

    closed = jax.make_jaxpr(f)(jax.ShapeDtypeStruct((n,), dtype), jax.ShapeDtypeStruct((c_size,), dtype))
    out = closed.jaxpr.outvars[0]
    return _detect(closed, n, limit), tuple(out.aval.shape)


def hessian_pattern(f, n: int, c_size: int, dtype, limit: int | None = None, *, symmetrize: bool = False):
    """The pattern of ∂²f/∂z² (n, n): the Jacobian pattern of ∇f. It holds every nonzero of H; where it is not
    symmetric the entry missing its mirror is a true zero (H is symmetric), so colouring and output need not
    symmetrize it (`symmetrize`: P ∪ Pᵀ all the same)."""
    import jax

    pattern, _ = jacobian_pattern(jax.grad(f), n, c_size, dtype, limit)
    return symmetric(pattern) if symmetrize else pattern


def _detect(closed, n: int, limit: int | None):
    saved = LIMIT["nnz"]
    if limit is not None:
        LIMIT["nnz"] = limit
    unknown: set[str] = set()
    out = closed.jaxpr.outvars[0]
    size = int(np.prod(out.aval.shape, dtype=np.int64))
    try:
        outs, _ = interpret(closed.jaxpr, [lambda v=v: np.asarray(v) for v in closed.consts],
                            [identity(n), None], [None, None], unknown)
        found = empty(size, n) if outs[0] is None else as_csr(outs[0])
        if isinstance(outs[0], Band):  # what colouring a band or stencil needs, known here for free
            found._jaccli_diagonals = diagonals(outs[0])
    finally:
        LIMIT["nnz"] = saved
    if unknown:
        warn(f"the sparsity pattern takes {', '.join(sorted(unknown))} as dense (no rule for it): "
             "the numbers are right, with more colours than needed")
    return found


class _Env:
    """Each variable's sets, and a way to its value when it is a constant (computed once, when asked)."""

    def __init__(self):
        self.sets, self.thunks, self.values = {}, {}, {}

    def sets_of(self, atom):
        return None if _is_literal(atom) else self.sets.get(atom)

    def value_of(self, atom):
        if _is_literal(atom):
            return np.asarray(atom.val)
        if atom in self.values:
            return self.values[atom]
        thunk = self.thunks.pop(atom, None)
        self.values[atom] = None if thunk is None else thunk()
        return self.values[atom]


@functools.cache
def _jaxpr_types():
    """(Literal, ClosedJaxpr, Jaxpr): from jax._src.core, which `import jax` has loaded; jax.extend.core, their
    public home, imports all of jax.extend (Pallas too): 40 ms of a first call."""
    try:
        from jax._src.core import ClosedJaxpr, Jaxpr, Literal
    except ImportError:
        from jax.extend.core import ClosedJaxpr, Jaxpr, Literal
    return Literal, ClosedJaxpr, Jaxpr


def _is_literal(atom) -> bool:
    return isinstance(atom, _jaxpr_types()[0])


def interpret(jaxpr, const_values, in_sets, in_values, unknown: set):
    """(the sets of jaxpr's outputs, thunks of their values) from its inputs' sets and value thunks."""
    env = _Env()
    for var, thunk in zip(jaxpr.constvars, const_values):
        env.sets[var], env.thunks[var] = None, thunk
    for var, sets, thunk in zip(jaxpr.invars, in_sets, in_values):
        env.sets[var] = sets
        if sets is None and thunk is not None:
            env.thunks[var] = thunk
    for eqn in _live(jaxpr):
        ins = [env.sets_of(a) for a in eqn.invars]
        if all(s is None for s in ins):
            _constant(eqn, env)
            continue
        entries = sum(int(np.prod(v.aval.shape, dtype=np.int64)) for v in eqn.outvars)
        if entries > LIMIT["nnz"]:  # every entry holds a set: refused before its position map is built
            raise TooDense(f"an intermediate array of {entries:,} entries")
        for var, sets in zip(eqn.outvars, _apply(eqn, ins, env, unknown)):
            env.sets[var] = sets if np.issubdtype(var.aval.dtype, np.inexact) else None
    outs = [env.sets_of(a) for a in jaxpr.outvars]
    return outs, [(lambda a=a: env.value_of(a)) for a in jaxpr.outvars]


def _live(jaxpr) -> list:
    """The equations that some output needs (∇f's jaxpr also computes f, which nothing uses)."""
    needed = {a for a in jaxpr.outvars if not _is_literal(a)}
    live = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in needed for v in eqn.outvars) or eqn.effects:
            live.append(eqn)
            needed.update(a for a in eqn.invars if not _is_literal(a))
    return live[::-1]


def _constant(eqn, env: _Env) -> None:
    """Outputs that depend on no input: empty sets, values computed by JAX only if a rule asks."""
    done = {}

    def compute():
        if "values" not in done:
            done["values"] = _fold(eqn, env)
        return done["values"]

    for k, var in enumerate(eqn.outvars):
        env.sets[var] = None
        env.thunks[var] = lambda k=k: None if compute() is None else compute()[k]


def _fold(eqn, env: _Env):
    if sum(int(np.prod(v.aval.shape, dtype=np.int64)) for v in eqn.outvars) > FOLD_LIMIT:
        return None
    values = [env.value_of(a) for a in eqn.invars]
    if any(v is None for v in values):
        return None
    out = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(eqn.params))
    return [np.asarray(o) for o in (out if eqn.primitive.multiple_results else [out])]


def _apply(eqn, ins, env: _Env, unknown: set):
    name = eqn.primitive.name
    value = lambda k: env.value_of(eqn.invars[k])  # noqa: E731
    if not any(np.issubdtype(v.aval.dtype, np.inexact) for v in eqn.outvars):
        return [None] * len(eqn.outvars)  # comparisons, integers: no derivative
    try:
        if name in _CONTROL:
            return _CONTROL[name](eqn, ins, env, unknown)
        sub = _sub_jaxpr(eqn.params)
        if sub is not None:  # jit, custom_jvp_call, custom_vjp_call, closed_call, remat
            jaxpr, consts = sub
            thunks = [(lambda a=a: env.value_of(a)) for a in eqn.invars]
            return interpret(jaxpr, consts, ins[-len(jaxpr.invars):], thunks[-len(jaxpr.invars):], unknown)[0]
        if name in rules.RULES:
            return rules.RULES[name](eqn, ins, value)
        unknown.add(f"`{name}`")
    except rules.Unknown as why:
        unknown.add(str(why))
    except TooDense:
        raise
    return rules.dense(eqn, ins, value)


def _sub_jaxpr(params):
    _, ClosedJaxpr, Jaxpr = _jaxpr_types()
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        sub = params.get(key)
        if isinstance(sub, ClosedJaxpr):
            return sub.jaxpr, [lambda v=v: np.asarray(v) for v in sub.consts]
        if isinstance(sub, Jaxpr):
            return sub, []
    return None


def _cond(eqn, ins, env, unknown):
    """cond(index, *operands): the union over the branches (only the branch taken when index is known)."""
    branches = eqn.params["branches"]
    index = env.value_of(eqn.invars[0])
    if index is not None:
        branches = [branches[int(np.clip(int(index), 0, len(branches) - 1))]]
    thunks = [(lambda a=a: env.value_of(a)) for a in eqn.invars[1:]]
    results = [interpret(b.jaxpr, [lambda v=v: np.asarray(v) for v in b.consts], ins[1:], thunks, unknown)[0]
               for b in branches]
    return [union(*outs) for outs in zip(*results)]


def _fixed_point(step, carry):
    """Iterate carry ↦ carry ∪ step(carry) until no set grows."""
    for _ in range(10_000):
        grown = [union(c, s) for c, s in zip(carry, step(carry))]
        if all((g is None and c is None) or (g is not None and c is not None and g.nnz == c.nnz)
               for g, c in zip(grown, carry)):
            return grown
        carry = grown
    raise TooDense("a loop whose pattern does not settle")


def _while(eqn, ins, env, unknown):
    p = eqn.params
    body_consts = ins[p["cond_nconsts"]:p["cond_nconsts"] + p["body_nconsts"]]
    start = p["cond_nconsts"] + p["body_nconsts"]
    body = p["body_jaxpr"]
    consts = [lambda v=v: np.asarray(v) for v in body.consts]
    const_thunks = [(lambda a=a: env.value_of(a)) for a in eqn.invars[p["cond_nconsts"]:start]]
    nothing = [None] * (len(ins) - start)
    return _fixed_point(lambda carry: interpret(body.jaxpr, consts, body_consts + carry,
                                                const_thunks + nothing, unknown)[0], ins[start:])


def _scan(eqn, ins, env, unknown):
    """scan: the carry to a fixed point, every step seeing the union of all slices of xs; each ys slice the
    union of what any step gives."""
    p = eqn.params
    k, c = p["num_consts"], p["num_carry"]
    length = p["length"]
    xs = []
    for atom, sets in zip(eqn.invars[k + c:], ins[k + c:]):
        size = int(np.prod(atom.aval.shape[1:], dtype=np.int64))
        xs.append(gather_union(sets, np.arange(size * length) % size, size))
    body = p["jaxpr"]
    consts = [lambda v=v: np.asarray(v) for v in body.consts]
    thunks = [(lambda a=a: env.value_of(a)) for a in eqn.invars[:k]] + [None] * (len(ins) - k)
    run = lambda carry: interpret(body.jaxpr, consts, ins[:k] + carry + xs, thunks, unknown)[0]  # noqa: E731
    carry = _fixed_point(lambda carry: run(carry)[:c], ins[k:k + c])
    ys = run(carry)[c:]
    outs = list(carry)
    for atom, sets in zip(eqn.outvars[c:], ys):
        size = int(np.prod(atom.aval.shape[1:], dtype=np.int64))
        outs.append(take(sets, np.tile(np.arange(size), length)))
    return outs


_CONTROL = {"cond": _cond, "while": _while, "scan": _scan}
