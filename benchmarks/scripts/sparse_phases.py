"""jaccli's sparse steps in one process, best of 3: pattern, colouring, the compiled products, the gather.

    python sparse_phases.py rosenbrock:1000000 broyden:1000000 stencil:1000
"""
import sys
import time

import numpy as np

from jaccli.compute.prepare import Request, bind
from jaccli.compute.sparse.evaluate import decompress, operator
from jaccli.compute.sparse.scheme import find_scheme

JOBS = {
    "rosenbrock": ("hessian", "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)", "x=full({n}, 0.5)"),
    "broyden": ("jacobian", "(3-2*x)*x - concatenate([[0], x[:-1]]) - 2*concatenate([x[1:], [0]]) + 1",
                "x=full({n}, 0.5)"),
    "stencil": ("hessian", "sum((u[1:,:]-u[:-1,:])**2) + sum((u[:,1:]-u[:,:-1])**2) + sum(u**4)",
                "u=full(({n},{n}), 0.5)"),
}


def best(function, times=3):
    found = []
    for _ in range(times):
        start = time.perf_counter()
        value = function()
        found.append(time.perf_counter() - start)
    return min(found), value


for job in sys.argv[1:]:
    import jax

    name, n = job.split(":")
    command, expr, at = JOBS[name]
    setup = bind(Request(command, expr, at=(at.format(n=n),), sparse="on"))
    out_shape = () if command == "hessian" else (setup.layout.z_size,)
    schemes = [find_scheme(setup, out_shape, must=True) for _ in range(3)]
    scheme = schemes[-1]
    detect, colour = (min(getattr(s, name) for s in schemes) for name in ("detect_seconds", "colour_seconds"))
    c = scheme.colouring
    g = jax.jit(operator(setup.function, command, "fwd-rev" if command == "hessian" else "fwd",
                         (c.n_forward, c.n_reverse), out_shape, setup.layout.z_size, setup.dtype))
    w = c.seeds()
    g(setup.z, setup.c, w).block_until_ready()
    products_seconds, products = best(lambda: np.asarray(g(setup.z, setup.c, w)))
    gather_seconds, _ = best(lambda: decompress(scheme, products))
    print(f"{name} n={setup.layout.z_size:,}: nnz {scheme.nnz:,}, {c.colours} colours ({c.kind}); "
          f"pattern {detect * 1e3:.0f} ms, colouring {colour * 1e3:.0f} ms, "
          f"products {products_seconds * 1e3:.0f} ms, gather into CSR {gather_seconds * 1e3:.0f} ms")
