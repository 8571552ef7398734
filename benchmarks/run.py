"""make bench: jaccli beside the plain-JAX way of doing the same job, in one run.

Every row is a whole process (wall time, peak RSS), run several times with the
jaccli and plain commands interleaved; the table shows medians and the ratio to
the row it is compared with.

    python benchmarks/run.py [--runs 5] [--points 1000000]
        [--only latency|model|batch|complex|large|stream|devices|serve|daemon|analyze|sparse]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
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


def run_once(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    caches = Path(tempfile.mkdtemp(prefix="jaccli-bench-cache-"))

    def jaccli(row: str, *args):  # each row its own cache: a first call starts empty, a repeat call warm
        return ["env", f"JACCLI_CACHE_DIR={caches / row}", JACCLI, *args]

    def clear(name):
        if name.endswith("(first call)"):
            subprocess.run(["rm", "-rf", str(caches / "first")])

    point = HERE / "scripts" / "plain_point.py"
    rows = {
        "python -c 'import jax'": [PYTHON, "-c", "import jax"],
        "jaccli --help": jaccli("help", "--help"),
        "plain JAX jacobian": [PYTHON, str(point), "jacobian"],
        "jaccli jacobian (first call)": jaccli("first", "jacobian", EXPR, "--at", "1,2,pi/2", "-f", "json"),
        "jaccli jacobian (repeat call)": jaccli("jac", "jacobian", EXPR, "--at", "1,2,pi/2", "-f", "json"),
        "plain JAX hessian": [PYTHON, str(point), "hessian"],
        "jaccli hessian (repeat call)": jaccli("hess", "hessian", "x**2*y + y**3", "--at", "1,2", "-f", "json"),
        "plain JAX hvp": [PYTHON, str(point), "hvp"],
        "jaccli hvp (repeat call)": jaccli("hvp", "hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "json"),
    }
    for name, command in rows.items():  # warm the repeat rows' caches once
        if name.endswith("(repeat call)"):
            run_once(command)
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


def complex_points(runs: int, count: int) -> None:
    """SPEC §8: many complex points at vmap speed, beside the plain JAX script doing the same."""
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-complex-"))
    points = np.random.default_rng(0).normal(size=(count, 2, 2)) @ np.array([1, 1j])
    np.save(work / "points.npy", points)
    with open(work / "points.csv", "w") as file:
        file.writelines(",".join(repr(complex(v)).strip("()") for v in row) + "\n" for row in points.tolist())
    plain, expr = str(HERE / "scripts" / "plain_complex.py"), "z0**2*z1 + sin(z0)"
    rows = {
        "plain JAX, complex .npy → .npy": [PYTHON, plain, str(work / "points.npy"), str(work / "plain.npy")],
        "jaccli grad --holomorphic, .npy → .npy": [JACCLI, "grad", expr, "--holomorphic", "--at",
                                                   f"@{work / 'points.npy'}", "-o", str(work / "jaccli.npy")],
        "plain JAX, complex CSV → CSV": [PYTHON, plain, str(work / "points.csv"), str(work / "plain.csv")],
        "jaccli grad --holomorphic, CSV → CSV": [JACCLI, "grad", expr, "--holomorphic", "--at",
                                                 f"@{work / 'points.csv'}", "-o", str(work / "jaccli.csv")],
    }
    results = measure(rows, runs)
    def differ(a, b) -> float:
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    npy = differ(np.load(work / "jaccli.npy"), np.load(work / "plain.npy"))
    text = [np.loadtxt(work / name, delimiter=",", dtype=complex, skiprows=1) for name in ("jaccli.csv", "plain.csv")]
    table(f"Complex points: holomorphic gradient of {expr} at {count:,} complex points", results, {
        "jaccli grad --holomorphic, .npy → .npy": "plain JAX, complex .npy → .npy",
        "jaccli grad --holomorphic, CSV → CSV": "plain JAX, complex CSV → CSV",
    }, {"same": f"largest relative difference from the plain script: .npy {npy:.1e}, CSV {differ(*text):.1e} "
                f"(XLA fuses chunks of other sizes differently: the last bit may differ)."})


def in_process(calls: int = 200) -> None:
    """The Cookbook's table: HVP in three orders and the full Hessian, jaccli's compiled function beside
    plain jitted JAX, in one process (compute only, median of `calls` calls)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    from jaccli.compute import derivatives
    from jaccli.inputs.layout import Layout
    from jaccli.language.parse import parse_expression
    from jaccli.compute.translate import build_function

    def median_ms(function, *args) -> float:
        jax.block_until_ready(function(*args))
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            jax.block_until_ready(function(*args))
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    def plain_f(x):
        return jnp.sum(jnp.tanh(x) ** 2)

    plain = {
        "fwd-rev": lambda x, v: jax.jvp(jax.grad(plain_f), (x,), (v,))[1],
        "rev-fwd": lambda x, v: jax.grad(lambda x: jax.jvp(plain_f, (x,), (v,))[1])(x),
        "rev-rev": lambda x, v: jax.grad(lambda x: jnp.vdot(jax.grad(plain_f)(x), v))(x),
        "hessian, then product": lambda x, v: jnp.tensordot(jax.hessian(plain_f)(x), v, x.ndim),
    }
    print("\n## In-process compute: f(X) = sum(tanh(X)**2) (the Autodiff Cookbook's HVP table)\n")
    print("| n | job | jaccli ms | plain JAX ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for shape in ((30, 40), (10**4,), (10**6,)):
        rng = np.random.default_rng(0)
        X, V = rng.normal(size=shape), rng.normal(size=shape)
        layout = Layout.build(["X"], {"X": shape})
        f = build_function(parse_expression("sum(tanh(X)**2)"), layout)
        z, c = jnp.asarray(X.reshape(-1)), jnp.zeros(0)
        for job, plain_job in plain.items():
            if job.startswith("hessian") and math.prod(shape) > 2000:
                continue
            if job.startswith("hessian"):
                ours = jax.jit(lambda z, c, v: derivatives.hessian(f, "fwd-rev")(z, c, v) @ v)
            else:
                ours = jax.jit(derivatives.hvp(f, job))
            ours_ms = median_ms(ours, z, c, jnp.asarray(V.reshape(-1)))
            plain_ms = median_ms(jax.jit(plain_job), jnp.asarray(X), jnp.asarray(V))
            np.testing.assert_allclose(np.asarray(ours(z, c, jnp.asarray(V.reshape(-1)))).reshape(shape),
                                       np.asarray(jax.jit(plain_job)(jnp.asarray(X), jnp.asarray(V))),
                                       rtol=1e-10, atol=1e-12)
            print(f"| {'×'.join(map(str, shape))} | {job} | {ours_ms:.4f} | {plain_ms:.4f} | "
                  f"{ours_ms / plain_ms:.2f}× |")


def large(runs: int) -> None:
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-large-"))
    scripts = HERE / "scripts"
    rows, baseline = {}, {}
    for n in (10**4, 10**6, 10**7):
        rng = np.random.default_rng(0)
        np.save(work / f"x{n}.npy", rng.normal(size=n))
        np.save(work / f"v{n}.npy", rng.normal(size=n))
        plain = f"plain JAX hvp, n = {n:,}"
        ours = f"jaccli hvp, n = {n:,}"
        rows[plain] = [PYTHON, str(scripts / "plain_hvp_npy.py"), str(work / f"x{n}.npy"), str(work / f"v{n}.npy"),
                       str(work / f"plain{n}.npy")]
        rows[ours] = [JACCLI, "hvp", "sum(tanh(x)**2)", "--at", f"x=@{work / f'x{n}.npy'}",
                      "--v", f"@{work / f'v{n}.npy'}", "-o", str(work / f"jaccli{n}.npy")]
        baseline[ours] = plain
    rows["plain JAX hessian, Rosenbrock n = 4000"] = [PYTHON, str(scripts / "plain_rosenbrock_hessian.py"), "4000",
                                                       str(work / "plain_rosen.npy")]
    rows["jaccli hessian, Rosenbrock n = 4000"] = [
        JACCLI, "hessian", "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)", "--at", "x=full(4000, 0.5)",
        "-o", str(work / "jaccli_rosen.npy")]
    baseline["jaccli hessian, Rosenbrock n = 4000"] = "plain JAX hessian, Rosenbrock n = 4000"
    rows["python -c 'import jax'"] = [PYTHON, "-c", "import jax"]
    results = measure(rows, runs)
    same = all(np.allclose(np.load(work / f"plain{n}.npy"), np.load(work / f"jaccli{n}.npy"), rtol=1e-12, atol=0)
               for n in (10**4, 10**6, 10**7))
    same &= np.array_equal(np.load(work / "plain_rosen.npy"), np.load(work / "jaccli_rosen.npy"))
    table("Large inputs: whole process, .npy in and out", results, baseline,
          {"same": f"jaccli's results equal the plain scripts': {same}."})


def stream(rounds: int = 20, n: int = 2000) -> None:
    """A co-process: one JSON record written at a time, each answer read before the next is written.

    Both processes stay up side by side and take turns, so the machine's load falls on them alike;
    the first answer (which compiles) is left out of the median.
    """
    import json

    import numpy as np

    expr = "sum(x**4)"
    base = [JACCLI, "hvp", expr, "--at", "-", "--v", "-", "-f", "json"]
    rows = {"--fields value": base + ["--fields", "value"], "every key (default)": base}
    rng = np.random.default_rng(0)
    records = [(rng.normal(size=n), rng.normal(size=n)) for _ in range(rounds + 1)]
    lines = [(json.dumps({"at": {"x": x.tolist()}, "v": v.tolist()}) + "\n").encode() for x, v in records]
    env = {**os.environ, "JACCLI_NO_CACHE": "1"}
    processes = {name: subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                 for name, command in rows.items()}
    times = {name: [] for name in rows}
    sizes, right = {}, True
    try:
        for (x, v), line in zip(records, lines):
            for name, process in processes.items():
                start = time.perf_counter()
                process.stdin.write(line)
                process.stdin.flush()
                answer = process.stdout.readline()
                times[name].append(time.perf_counter() - start)
                sizes[name] = len(answer)
                right &= np.allclose(json.loads(answer)["value"], 12 * x**2 * v, rtol=1e-12, atol=0)
    finally:
        for process in processes.values():
            process.stdin.close()
            process.wait(60)
    print(f"\n## Co-process: hvp of {expr} at n = {n:,}, one JSON record at a time\n")
    print("| job | median ms | first answer ms (start-up, compile) | reply bytes | ratio | vs |")
    print("|---|---:|---:|---:|---:|---|")
    medians = {name: 1000 * statistics.median(t[1:]) for name, t in times.items()}
    for name, t in times.items():
        base_name = "every key (default)" if name != "every key (default)" else None
        ratio = f"{medians[name] / medians[base_name]:.2f}×" if base_name else ""
        print(f"| {name} | {medians[name]:.1f} | {1000 * t[0]:.0f} | {sizes[name]:,} | {ratio} | {base_name or ''} |")
    for name, t in times.items():
        print(f"\n{name}: round trips after the first (ms): " + " ".join(f"{1000 * s:.1f}" for s in t[1:]))
    print(f"\nEvery answer equals 12·x²·v: {right}.")


def model(runs: int) -> None:
    """benchmarks/model30.txt (30 definitions, x of size 100, matrix constants held with --wrt x) beside the
    same function written in jax.numpy: whole processes that parse, trace, compile, run and print."""
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-model-"))
    rng = np.random.default_rng(0)
    A = rng.normal(size=(100, 100)) / 10
    arrays = {"x": rng.normal(size=100), "W1": rng.normal(size=(64, 100)) / 10, "b1": rng.normal(size=64) / 10,
              "W2": rng.normal(size=(32, 64)) / 8, "b2": rng.normal(size=32) / 10, "w3": rng.normal(size=32),
              "K": A @ A.T + np.eye(100), "m": rng.uniform(0.5, 1.5, size=100), "t": np.linspace(0, 1, 100)}
    for name, value in arrays.items():
        np.save(work / f"{name}.npy", value)
    at = [option for name in arrays for option in ("--at", f"{name}=@{work / name}.npy")]
    caches = work / "caches"

    def jaccli(job: str, cache: str):  # "first": a cache emptied before every run; "repeat": one kept warm
        env = ["JACCLI_NO_CACHE=1"] if cache == "off" else [f"JACCLI_CACHE_DIR={caches / job / cache}"]
        return ["env", *env, JACCLI, job, f"@{HERE / 'model30.txt'}", "--wrt", "x", *at, "-f", "plain"]

    def clear(name):
        if name.endswith("(first call)"):
            shutil.rmtree(caches / name.split()[1] / "first", ignore_errors=True)

    rows, baseline = {"python -c 'import jax'": [PYTHON, "-c", "import jax"]}, {}
    for job in ("grad", "hessian"):
        plain = f"plain JAX {job}"
        rows[plain] = [PYTHON, str(HERE / "scripts" / "plain_model.py"), job, str(work)]
        baseline[plain] = "python -c 'import jax'"
        for cache, label in (("first", "first call"), ("off", "JACCLI_NO_CACHE=1"), ("repeat", "repeat call")):
            rows[f"jaccli {job} ({label})"] = jaccli(job, cache)
            baseline[f"jaccli {job} ({label})"] = plain
    for job in ("grad", "hessian"):  # warm the repeat rows' caches once
        run_once(jaccli(job, "repeat"))
    results = measure(rows, runs, before=clear)
    same = all(subprocess.run(jaccli(job, "off"), capture_output=True, check=True).stdout
               == subprocess.run(rows[f"plain JAX {job}"], capture_output=True, check=True).stdout
               for job in ("grad", "hessian"))
    ratios = ", ".join(f"{job} {results[f'jaccli {job} (first call)'][0] / results[f'plain JAX {job}'][0]:.2f}×"
                       for job in ("grad", "hessian"))
    table("Model file: benchmarks/model30.txt (30 definitions, n = 100), one point, whole process", results,
          baseline, {"goal": f"First call (compile included) / plain JAX: {ratios}; the goal is at most 1.2×.",
                     "same": f"jaccli's output is byte-identical to the plain script's: {same}."})


def devices(runs: int, count: int, n: int) -> None:
    """JAX_NUM_CPU_DEVICES=1, 2, 8: a batch split over the points (--devices all), an HVP split along x
    (--devices d: over one process's CPU devices only when asked; Rosenbrock: a halo). On a CPU the devices
    share the cores and the memory: this measures the cost of sharding (the goal: under 10%), not a speed-up."""
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-devices-"))
    rng = np.random.default_rng(0)
    np.save(work / "points.npy", rng.normal(size=(count, 3)))
    for name in ("x", "v"):
        np.save(work / f"{name}.npy", rng.normal(size=n))
    rosenbrock = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"
    rows, baseline = {}, {}
    for job in ("batch", "hvp"):
        for d in (1, 2, 8):
            name = (f"jaccli jacobian, {count:,} points, {d} device{'s' * (d > 1)}" if job == "batch" else
                    f"jaccli hvp, Rosenbrock n = {n:,}, {d} device{'s' * (d > 1)}")
            args = (["jacobian", EXPR, "--mode", "fwd", "--at", f"@{work / 'points.npy'}"] if job == "batch" else
                    ["hvp", rosenbrock, "--at", f"x=@{work / 'x.npy'}", "--v", f"@{work / 'v.npy'}", "--devices",
                     str(d)])
            rows[name] = ["env", f"JAX_NUM_CPU_DEVICES={d}", "JACCLI_NO_CACHE=1", JACCLI, *args,
                          "-o", str(work / f"{job}{d}.npy")]
            if d > 1:
                baseline[name] = next(row for row in rows if row.startswith(name.rsplit(",", 1)[0]))
    results = measure(rows, runs)
    same = {job: all(np.allclose(np.load(work / f"{job}{d}.npy"), np.load(work / f"{job}1.npy"), rtol=1e-14, atol=0)
                     for d in (2, 8)) for job in ("batch", "hvp")}
    worst = {job: max(results[name][0] / results[base][0] for name, base in baseline.items()
                      if name.startswith("jaccli jacobian" if job == "batch" else "jaccli hvp")) for job in same}
    table(f"Many devices: JAX_NUM_CPU_DEVICES=1, 2, 8 on {os.cpu_count()} cores, whole process, .npy in and out",
          results, baseline,
          {"same": f"Results equal the one-device results within rtol 1e-14: batch {same['batch']}, "
                   f"hvp {same['hvp']}.",
           "goal": f"The slowest many-device batch takes {worst['batch']:.2f}× its one-device row; the goal is at "
                   f"most 1.10× (CPU devices share the cores: no speed-up is expected here). The HVP split along x "
                   f"takes up to {worst['hvp']:.2f}×: --devices all does not split a vector over one process's "
                   "CPU devices."})
    shutil.rmtree(work, ignore_errors=True)


def serve(runs: int, cached: int = 2000, new: int = 100, calls: int = 5, n: int = 2000) -> None:
    """`jaccli serve` (one process, requests over a pipe) beside separate `jaccli` calls: a cached small
    expression, new small expressions (--eager auto, always, never), and the trust-ncg sample at n = 2000
    beside the same optimiser with plain JAX callbacks."""
    import json
    import threading

    import numpy as np

    expr = "x**2*y + y**3"
    templates = ["{k}*x**2*y + sin(x*y)", "exp(x/{k}) + y**3*x", "log(1 + x**2 + {k}*y**2)", "tanh({k}*x - y)*y",
                 "sqrt(x**2 + y**2 + {k})", "x*y/(1 + {k}*x**2)", "cos(x + {k}*y)**2", "atan(y/{k}) + x**4"]
    fresh = [templates[k % len(templates)].format(k=k + 2) for k in range(new)]

    def session(args: list[str], requests: list[dict], pipelined: bool = False) -> tuple[list[float], list[dict]]:
        """Seconds a request (pipelined: of the whole run, once) and the answers, from one server."""
        process = subprocess.Popen([JACCLI, "serve", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env={**os.environ, "JACCLI_NO_CACHE": "1"})
        lines = [(json.dumps(r) + "\n").encode() for r in requests]
        times, answers = [], []
        try:
            if pipelined:  # one writer, one reader: the server never waits for the client
                process.stdin.write(lines[0])
                process.stdin.flush()
                answers.append(json.loads(process.stdout.readline()))  # the first compiles: not timed
                start = time.perf_counter()
                writer = threading.Thread(target=lambda: (process.stdin.writelines(lines[1:]), process.stdin.flush()))
                writer.start()
                answers += [json.loads(process.stdout.readline()) for _ in lines[1:]]
                writer.join()
                times = [time.perf_counter() - start]
            else:
                for line in lines:
                    start = time.perf_counter()
                    process.stdin.write(line)
                    process.stdin.flush()
                    answers.append(json.loads(process.stdout.readline()))
                    times.append(time.perf_counter() - start)
        finally:
            process.stdin.close()
            if process.wait(120) != 0:
                raise SystemExit(f"jaccli serve {' '.join(args)} exited {process.returncode}")
        return times, answers

    def separate(argvs: list[list[str]], env: dict) -> float:
        """Seconds a call of separate `jaccli` processes."""
        start = time.perf_counter()
        for argv in argvs:
            subprocess.run([JACCLI, *argv], check=True, capture_output=True, env={**os.environ, **env})
        return (time.perf_counter() - start) / len(argvs)

    def grad_of(x):  # ∇(x²y + y³) at (x, 2)
        return [4 * x, x * x + 12]

    requests = [{"id": i, "command": "grad", "expr": expr, "at": [1 + i / cached, 2]} for i in range(cached + 1)]
    round_trips, answers = session([], requests)
    pipelined, piped = session([], requests, pipelined=True)
    right = all(np.allclose(a["value"], grad_of(1 + a["id"] / cached), rtol=1e-15, atol=0) for a in answers + piped)
    caches = Path(tempfile.mkdtemp(prefix="jaccli-bench-serve-"))
    one_shot = ["grad", expr, "--at", "1,2", "-f", "json"]
    separate([one_shot], {"JACCLI_CACHE_DIR": str(caches)})  # the repeat calls' cache, warm
    repeat_call = separate([one_shot] * calls, {"JACCLI_CACHE_DIR": str(caches)})
    rate = len(round_trips[1:]) / sum(round_trips[1:])
    print("\n## Serve: a cached small expression, one `jaccli serve` process beside separate `jaccli` calls\n")
    median = statistics.median(round_trips[1:])
    print("| job | requests | req/s | ms a request (median) | req/s at the median | vs separate calls |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| serve: grad of {expr}, one request at a time, after the first | {cached:,} | {rate:,.0f} | "
          f"{1000 * median:.2f} | {1 / median:,.0f} | {rate * repeat_call:,.0f}× |")
    print(f"| serve: the same, pipelined (a writer thread, a reader) | {cached:,} | {cached / pipelined[0]:,.0f} | "
          f"| | {cached / pipelined[0] * repeat_call:,.0f}× |")
    print(f"| separate `jaccli grad … -f json` calls, repeat (disk cache warm) | {calls} | {1 / repeat_call:.2f} | "
          f"{1000 * repeat_call:.0f} | | |")
    print(f"\nFirst answer (start-up, import, compile) {round_trips[0]:.1f} s. Every answer is right: {right}. "
          "The target: ≥ 1,000 req/s.")

    points = [{"id": k, "command": "grad", "expr": e, "at": [0.5, 1.5], "fields": ["value", "cache"]}
              for k, e in enumerate(fresh)]
    first_call = separate([["grad", e, "--at", "0.5,1.5", "-f", "json"] for e in fresh[:calls]],
                          {"JACCLI_NO_CACHE": "1"})
    print(f"\n## Serve: {new} new small expressions (grad of 2 scalars, {len(templates)} forms), one at a time\n")
    print("| job | req/s after the first | ms (median) | req/s, the last 40 | slowest s | first answer s | "
          "compiled · op by op | vs separate calls |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    values = {}
    for eager in ("auto", "always", "never"):
        times, answers = session(["--eager", eager], points)
        values[eager] = [a["value"] for a in answers]
        count = {s: sum(a["cache"] == s for a in answers) for s in ("miss", "eager")}
        rest = len(times[1:]) / sum(times[1:])
        print(f"| serve --eager {eager} | {rest:.1f} | {1000 * statistics.median(times[1:]):.0f} | "
              f"{40 / sum(times[-40:]):.1f} | {max(times[1:]):.2f} | {times[0]:.1f} | {count['miss']} · "
              f"{count['eager']} | {rest * first_call:.1f}× |")
    print(f"| separate `jaccli grad … -f json` calls (no cache) | {1 / first_call:.2f} | {1000 * first_call:.0f} | "
          f"| | | {calls} · 0 | |")
    same = np.allclose(values["auto"], values["never"], rtol=1e-14, atol=0) and \
        np.allclose(values["always"], values["never"], rtol=1e-14, atol=0)
    print(f"\nop by op equals compiled (rtol 1e-14): {same}. The target: ≥ 20 req/s.")

    sample, plain = "samples/serve_trust_ncg.py (one jaccli serve)", "the same optimiser, plain JAX callbacks"
    rows = {plain: [PYTHON, str(HERE / "scripts" / "plain_trust_ncg.py"), str(n)],
            sample: ["env", f"JACCLI={JACCLI}", "JACCLI_NO_CACHE=1", PYTHON,
                     str(HERE.parent / "samples" / "serve_trust_ncg.py"), str(n)]}
    outputs = {name: subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
               for name, command in rows.items()}
    same = outputs[sample][1].startswith(outputs[plain][1])
    table(f"trust-ncg on the extended Rosenbrock function, n = {n:,}: whole process", measure(rows, max(1, runs // 2)),
          {sample: plain}, {"same": f"The same iterations, f and gradient calls and HVPs: {same} "
                                    f"({outputs[plain][1]})."})
    shutil.rmtree(caches, ignore_errors=True)


def analyze(n: int = 10**6) -> None:
    """analyze --lanczos of the extended Rosenbrock function at a random point beside plain JAX + SciPy's eigsh
    (one run each: heavy); the same extreme eigenvalues, time and peak memory (O(n): a few vectors of n)."""
    import json

    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="jaccli-bench-analyze-"))
    np.save(work / "x.npy", np.random.default_rng(1).uniform(0, 1, n))
    expr = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"
    plain, ours = f"plain JAX + SciPy eigsh, n = {n:,}", f"jaccli analyze --lanczos, n = {n:,}"
    rows = {plain: [PYTHON, str(HERE / "scripts" / "plain_lanczos_eigsh.py"), str(work / "x.npy"),
                    str(work / "plain.json")],
            ours: [JACCLI, "analyze", expr, "--at", f"x=@{work / 'x.npy'}", "--lanczos", "-o",
                   str(work / "jaccli.json")],
            "python -c 'import jax'": [PYTHON, "-c", "import jax"]}
    results = measure(rows, 1)
    mine, theirs = (json.loads((work / name).read_text()) for name in ("jaccli.json", "plain.json"))
    same = np.allclose(mine["extreme_eigenvalues"], theirs["extreme_eigenvalues"], rtol=1e-8, atol=0)
    table("analyze --lanczos: whole process (JSON out, with the 10⁶-entry gradient and point)", results,
          {ours: plain}, {"same": f"extreme eigenvalues {mine['extreme_eigenvalues']} after {mine['hvps']:,} H·v "
                                  f"products; eigsh's {theirs['extreme_eigenvalues']} after {theirs['hvps']:,}; "
                                  f"equal to 1e-8: {same}. {8 * n / 2**20:.0f} MB a vector of n."})


def daemon(runs: int) -> None:
    """A repeat call answered by the warm daemon beside `import jax` (target ≤ 0.15×) and a direct call."""
    folder = Path(tempfile.mkdtemp(prefix="jaccli-bench-daemon-"))
    (folder / "run").mkdir(mode=0o700)
    # the console script, if this install's is the daemon's client (else pip install -e . again)
    script = [JACCLI] if "jaccli.daemon.client" in Path(JACCLI).read_text() else [PYTHON, "-m", "jaccli"]

    def jaccli(on: str, *args):
        return ["env", f"JACCLI_CACHE_DIR={folder / 'cache'}", f"XDG_RUNTIME_DIR={folder / 'run'}",
                f"JACCLI_DAEMON={on}", *script, *args]

    call = ("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "json")
    rows = {
        "python -c 'import jax'": [PYTHON, "-c", "import jax"],
        "python -c pass": [PYTHON, "-c", "pass"],
        "jaccli hessian (repeat call, direct)": jaccli("0", *call),
        "jaccli hessian (repeat call, daemon)": jaccli("1", *call),
    }
    run_once(rows["jaccli hessian (repeat call, daemon)"])  # starts the daemon, fills the cache
    try:
        results = measure(rows, max(runs, 7))
    finally:
        subprocess.run(jaccli("1", "daemon", "stop"), stdout=subprocess.DEVNULL, check=False)
    ratio = results["jaccli hessian (repeat call, daemon)"][0] / results["jaccli hessian (repeat call, direct)"][0]
    table("The warm daemon: one point, whole client process", results, {
        "jaccli hessian (repeat call, direct)": "python -c 'import jax'",
        "jaccli hessian (repeat call, daemon)": "python -c 'import jax'",
    }, {"direct": f"daemon vs direct call: {ratio:.2f}× (target, daemon vs import jax: ≤ 0.15×)"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["latency", "model", "batch", "complex", "large", "in-process", "stream",
                                           "serve", "daemon", "devices", "analyze", "sparse"])
    parser.add_argument("--hvp-n", type=int, default=10**8, help="n of the devices section's HVP (8n bytes a vector)")
    args = parser.parse_args()
    if args.only != "in-process":
        print(f"# jaccli benchmarks ({os.cpu_count()} cores, {args.runs} runs each, medians)")
    if args.only in (None, "latency"):
        latency(args.runs)
    if args.only in (None, "model"):
        model(args.runs)
    if args.only in (None, "batch"):
        batch(args.runs, args.points)
    if args.only in (None, "complex"):
        complex_points(args.runs, args.points)
    if args.only == "in-process":
        in_process()
        return
    if args.only in (None, "stream"):
        stream(max(15, 4 * args.runs))
    if args.only in (None, "serve"):
        serve(args.runs)
    if args.only in (None, "daemon"):
        daemon(args.runs)
    if args.only in (None, "devices"):
        devices(args.runs, args.points, args.hvp_n)
    if args.only in (None, "analyze"):
        analyze()
    if args.only in (None, "sparse"):
        from sparse import sparse

        sparse(args.runs, PYTHON, JACCLI, measure, table, HERE)
    if args.only in (None, "large"):
        large(args.runs)
        # in its own process: a child forked from a process holding JAX reports that RSS as its own peak
        subprocess.run([PYTHON, __file__, "--only", "in-process"], check=True)


if __name__ == "__main__":
    main()
