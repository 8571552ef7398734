"""make bench: jaccli beside the plain-JAX way of doing the same job, in one run.

Every row is a whole process (wall time, peak RSS), run several times with the
jaccli and plain commands interleaved; the table shows medians and the ratio to
the row it is compared with.

    python benchmarks/run.py [--runs 5] [--points 1000000] [--only latency|batch]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
JACCLI = str(Path(PYTHON).parent / "jaccli")
EXPR = "[x0**2*x1, sin(x2)]"


def run_once(command: list[str], env=None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def measure(rows: dict[str, list[str]], runs: int, before=None) -> dict[str, tuple[float, float]]:
    """Interleave the commands `runs` times; medians of time and of peak memory."""
    samples = {name: [] for name in rows}
    for _ in range(runs):
        for name, command in rows.items():
            if before:
                before(name)
            samples[name].append(run_once(command))
    return {name: (statistics.median(t for t, _ in s), statistics.median(m for _, m in s))
            for name, s in samples.items()}


def table(title: str, results: dict, baseline: dict[str, str], notes: dict[str, str] | None = None) -> None:
    print(f"\n## {title}\n")
    print("| job | median s | peak MB | ratio | vs |")
    print("|---|---:|---:|---:|---|")
    for name, (seconds, memory) in results.items():
        base = baseline.get(name)
        ratio = f"{seconds / results[base][0]:.2f}×" if base else ""
        print(f"| {name} | {seconds:.3f} | {memory:.0f} | {ratio} | {base or ''} |")
    for line in (notes or {}).values():
        print(f"\n{line}")


def latency(runs: int) -> None:
    cache = tempfile.mkdtemp(prefix="jaccli-bench-cache-")
    env = {"JACCLI_CACHE_DIR": cache}

    def jaccli(*args):
        return ["env", f"JACCLI_CACHE_DIR={cache}", JACCLI, *args]

    def clear(name):
        if name.endswith("(first call)"):
            subprocess.run(["rm", "-rf", cache])

    rows = {
        "python -c 'import jax'": [PYTHON, "-c", "import jax"],
        "jaccli --help": jaccli("--help"),
        "plain JAX jacobian": [PYTHON, str(HERE / "scripts" / "plain_point.py"), "jacobian"],
        "jaccli jacobian (first call)": jaccli("jacobian", EXPR, "--at", "1,2,pi/2", "-f", "json"),
        "jaccli jacobian (repeat call)": jaccli("jacobian", EXPR, "--at", "1,2,pi/2", "-f", "json"),
        "plain JAX hessian": [PYTHON, str(HERE / "scripts" / "plain_point.py"), "hessian"],
        "jaccli hessian (repeat call)": jaccli("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "json"),
        "plain JAX hvp": [PYTHON, str(HERE / "scripts" / "plain_point.py"), "hvp"],
        "jaccli hvp (repeat call)": jaccli("hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "json"),
    }
    del env
    results = measure(rows, runs, before=clear)
    jax_import = "python -c 'import jax'"
    table("Latency: one point, whole process", results, {
        "jaccli --help": jax_import,
        "plain JAX jacobian": jax_import,
        "jaccli jacobian (first call)": "plain JAX jacobian",
        "jaccli jacobian (repeat call)": jax_import,
        "plain JAX hessian": jax_import,
        "jaccli hessian (repeat call)": jax_import,
        "plain JAX hvp": jax_import,
        "jaccli hvp (repeat call)": jax_import,
    })


def batch(runs: int, count: int) -> None:
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-batch-"))
    points = np.random.default_rng(0).normal(size=(count, 3))
    np.save(work / "points.npy", points)
    with open(work / "points.csv", "w") as file:
        file.writelines(",".join(repr(float(v)) for v in row) + "\n" for row in points)
    scripts = HERE / "scripts"
    rows = {
        "plain JAX + polars, CSV → CSV": [PYTHON, str(scripts / "plain_batch_csv.py"), str(work / "points.csv"),
                                          str(work / "plain.csv")],
        "jaccli, CSV → CSV": [JACCLI, "jacobian", EXPR, "--mode", "fwd", "--at", f"@{work / 'points.csv'}",
                              "-o", str(work / "jaccli.csv")],
        "jaccli, CSV → JSON lines": [JACCLI, "jacobian", EXPR, "--mode", "fwd", "--at", f"@{work / 'points.csv'}",
                                     "-f", "json", "-o", str(work / "jaccli.jsonl")],
        "plain JAX, .npy → .npy": [PYTHON, str(scripts / "plain_batch_npy.py"), str(work / "points.npy"),
                                   str(work / "plain.npy")],
        "jaccli, .npy → .npy": [JACCLI, "jacobian", EXPR, "--mode", "fwd", "--at", f"@{work / 'points.npy'}",
                                "-o", str(work / "jaccli.npy")],
    }
    results = measure(rows, runs)
    reference = {"plain JAX + NumPy loadtxt/savetxt, CSV → CSV": [
        PYTHON, str(scripts / "plain_batch_numpy_text.py"), str(work / "points.csv"), str(work / "numpy.csv")]}
    results.update(measure(reference, 1))
    same_csv = (work / "plain.csv").read_bytes() == (work / "jaccli.csv").read_bytes()
    same_npy = np.array_equal(np.load(work / "plain.npy"), np.load(work / "jaccli.npy"))
    table(f"Batch: Jacobian of {EXPR} at {count:,} points", results, {
        "jaccli, CSV → CSV": "plain JAX + polars, CSV → CSV",
        "jaccli, CSV → JSON lines": "jaccli, CSV → CSV",
        "jaccli, .npy → .npy": "plain JAX, .npy → .npy",
        "plain JAX + NumPy loadtxt/savetxt, CSV → CSV": "plain JAX + polars, CSV → CSV",
    }, {"same": f"jaccli's CSV output is byte-identical to the plain script's: {same_csv}; "
                f".npy outputs equal: {same_npy}."})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["latency", "batch"])
    args = parser.parse_args()
    print(f"# jaccli benchmarks ({os.cpu_count()} cores, {args.runs} runs each, medians)")
    if args.only in (None, "latency"):
        latency(args.runs)
    if args.only in (None, "batch"):
        batch(args.runs, args.points)


if __name__ == "__main__":
    main()
