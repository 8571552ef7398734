"""`run.py --only sparse`: sparse Hessians and Jacobians, whole processes with .npz out, beside dense jaccli
and (when it imports: ASDEX_PATH=folder, e.g. `pip install --target folder asdex numba`) asdex; then the steps in one
process. Issue 12's targets: n = 10⁶ within 2× `import jax`, detection ≤ 0.1 s, colouring ≤ 0.05 s;
n = 2·10⁴ at least 5× faster than the dense Hessian, same numbers; memory O(nnz)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"
BROYDEN = "(3-2*x)*x - concatenate([[0], x[:-1]]) - 2*concatenate([x[1:], [0]]) + 1"
STENCIL = "sum((u[1:,:]-u[:-1,:])**2) + sum((u[:,1:]-u[:,:-1])**2) + sum(u**4)"


def sparse(runs: int, python: str, jaccli: str, measure, table, here: Path) -> None:
    import numpy as np
    import scipy.sparse as sp

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-sparse-"))
    caches = work / "caches"

    def ours(row: str, cache: str, *args):
        return ["env", f"JACCLI_CACHE_DIR={caches / cache}", jaccli, *args]

    def clear(name):
        if name.endswith("(first call)"):
            subprocess.run(["rm", "-rf", str(caches / "first")])

    rows, baseline = {"python -c 'import jax'": [python, "-c", "import jax"]}, {}
    asdex = os.environ.get("ASDEX_PATH")
    for n in (4000, 20000):
        dense, sparse_row = f"jaccli hessian --no-sparse, Rosenbrock n = {n:,}", f"jaccli hessian, Rosenbrock n = {n:,}"
        rows[dense] = ours(dense, f"dense{n}", "hessian", ROSENBROCK, "--at", f"x=full({n}, 0.5)", "--no-sparse",
                           "-o", str(work / f"dense{n}.npy"))
        rows[sparse_row] = ours(sparse_row, f"sparse{n}", "hessian", ROSENBROCK, "--at", f"x=full({n}, 0.5)",
                                "-o", str(work / f"sparse{n}.npz"))
        baseline[sparse_row] = dense
    jobs = [("Rosenbrock H", "hessian", ROSENBROCK, "x=full({n}, 0.5)", "rosenbrock", n) for n in (10**5, 10**6)]
    jobs += [("Broyden J", "jacobian", BROYDEN, "x=full({n}, 0.5)", "broyden", 10**6),
             ("5-point stencil H, grid", "hessian", STENCIL, "u=full(({n},{n}), 0.5)", "stencil", 1000)]
    for title, command, expr, at, job, n in jobs:
        for call in ("first call", "repeat call"):
            name = f"jaccli {title} n = {n:,} ({call})"
            rows[name] = ours(name, "first" if call == "first call" else job + str(n), command, expr, "--at",
                              at.format(n=n), "--sparse", "-o", str(work / f"{job}{n}.npz"))
            baseline[name] = "python -c 'import jax'"
        if asdex:
            rows[f"asdex {title} n = {n:,}"] = ["env", f"PYTHONPATH={asdex}", python,
                                                str(here / "scripts" / "asdex_sparse.py"), job, str(n),
                                                str(work / f"asdex_{job}{n}.npz")]
    if asdex:
        rows["asdex Rosenbrock H n = 4,000"] = ["env", f"PYTHONPATH={asdex}", python,
                                                str(here / "scripts" / "asdex_sparse.py"), "rosenbrock", "4000",
                                                str(work / "asdex_rosenbrock4000.npz")]
    results = measure(rows, runs, before=clear)
    same = []
    for n in (4000, 20000):
        dense = np.load(work / f"dense{n}.npy", mmap_mode="r")
        matrix = sp.load_npz(work / f"sparse{n}.npz").tocoo()
        same.append(bool(np.array_equal(np.asarray(dense[matrix.row, matrix.col]), matrix.data)
                         and np.count_nonzero(dense) == np.count_nonzero(matrix.data)))
    notes = {"same": f"the sparse Hessians equal the dense ones entry for entry (n = 4,000 and 20,000): {all(same)}."}
    if asdex:
        ours_h = sp.load_npz(work / "rosenbrock1000000.npz")
        theirs = sp.load_npz(work / "asdex_rosenbrock1000000.npz")
        notes["asdex"] = f"asdex's Rosenbrock Hessian at n = 10⁶ equals jaccli's: {abs(ours_h - theirs).max() <= 1e-9}."
    table("Sparse: whole process, .npz out", results, baseline, notes)
    phases = subprocess.run([python, str(here / "scripts" / "sparse_phases.py"), "rosenbrock:1000000",
                             "broyden:1000000", "stencil:1000"], capture_output=True, text=True, check=True)
    print("\nIn one process, best of 3:\n\n" + "\n".join(f"- {line}" for line in phases.stdout.splitlines()))
