"""Many devices: the same commands under JAX_NUM_CPU_DEVICES=1, 2 and 8 give the same numbers.

A process's device count is fixed when JAX starts, so each count is one process, which runs every command
through `main` as the jaccli command does (`_DRIVER`), and says what it saw: the devices, whether the run
was split over them, and how many times a batch function was traced. Few processes: each costs a JAX import.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import process_env

ROSENBROCK = "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)"  # the halo: x[1:] beside x[:-1]
LONG = 2**20 + 3  # above devices.LONG, and not a multiple of 2 or 8
POINTS = 1001  # not a multiple of 2 or 8 either
COUNTS = (1, 2, 8)
pytestmark = pytest.mark.xdist_group("devices")  # `make test` (--dist loadgroup): `runs` made once, on one worker


def assert_same_up_to_rounding(actual, desired) -> None:
    """Equal to 1e-14, or within a few ulps of the largest entry: a long vector split over devices runs XLA's
    loops over shards of another length, so vector and scalar code (and their fused multiply-adds) meet
    other entries. On an AMD EPYC, 331 of Rosenbrock's 10⁶ HVP entries, which cancel terms of ~10³, differed
    by up to 1.1e-13 (the worst 9e-13 relative); an Intel CPU gave the same bits. A shard off by one entry
    would be off by the terms themselves."""
    desired = np.asarray(desired)
    np.testing.assert_allclose(actual, desired, rtol=1e-14, atol=16 * np.finfo(desired.dtype).eps
                               * float(np.abs(desired).max(initial=0)))

# Runs each command line through `main` (stdin from "input"), in this one process, and prints JSON: the
# devices JAX made, and per command its exit code, stderr, the traces of batch functions and the splits made.
_DRIVER = r"""
import json, sys
import jax
from jaccli.cli import main
from jaccli.compute import batch, run
from jaccli.env import Environment

splits = {"points": 0, "z": 0}
jit_points, along = batch.jit_points, run.AlongZ

def counted(name, function):
    def call(*args, **kwargs):
        splits[name] += 1
        return function(*args, **kwargs)
    return call

batch.jit_points, run.AlongZ = counted("points", jit_points), counted("z", along)
done = []
for item in json.loads(sys.argv[1]):
    env = Environment.capture(item.get("input", "").encode(), tty=False)
    before, traces = dict(splits), batch.TRACES["count"]
    try:
        code = main(item["args"], env)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
    done.append({"code": code, "stdout": env.out_text(), "stderr": env.err_text(),
                 "traces": batch.TRACES["count"] - traces, **{k: splits[k] - before[k] for k in splits}})
print(json.dumps({"devices": len(jax.devices()), "runs": done}))
"""


def _commands(count: int, folder) -> dict:
    """name → one command (and its stdin) run under every device count; results go to `folder`. A long
    vector is split over CPU devices only when --devices N asks for it (they share one memory)."""
    at, v, devices = f"x=@{folder / 'x.npy'}", f"@{folder / 'v.npy'}", ["--devices", str(count)]
    points = f"@{folder / 'points.npy'}"
    return {
        "jacobian": {"args": ["jacobian", "[x0**2*x1, sin(x2)*x0, exp(x1/4)]", "--at", points, "--chunk-size", "100",
                              "-o", str(folder / "jacobian.npy")]},
        "hessian": {"args": ["hessian", "x0**2*x1 + x1**3 + sin(x2)*x0", "--at", points,
                             "-o", str(folder / "hessian.npy")]},
        "hvp": {"args": ["hvp", "x0**2*x1 + x1**3 + sin(x2)*x0", "--at", points, "--v", "1,0.5,-1",
                         "-o", str(folder / "hvp.npy")]},
        "vectors": {"args": ["hvp", "x0**2*x1 + x1**3 + sin(x2)*x0", "--at", "1,2,0.5", "--v", "-", "-f", "json",
                             "--fields", "value"], "input": "1,0,0\n0,1,0\n0,0,1\n0.5,-2,3\n1,1,1\n"},
        "long hvp": {"args": ["hvp", ROSENBROCK, "--at", at, "--v", v, *devices, "-o", str(folder / "long_hvp.npy")]},
        "long grad": {"args": ["grad", ROSENBROCK, "--at", at, *devices, "-o", str(folder / "long_grad.npy")]},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """count → (what the process saw, each command's outcome by name, the folder of its results)."""
    inputs = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(15)
    np.save(inputs / "points.npy", rng.normal(size=(POINTS, 3)))
    np.save(inputs / "x.npy", rng.normal(size=LONG))
    np.save(inputs / "v.npy", rng.normal(size=LONG))
    found = {}
    for count in COUNTS:
        folder = tmp_path_factory.mktemp(f"devices{count}")
        for name in ("points.npy", "x.npy", "v.npy"):
            (folder / name).symlink_to(inputs / name)
        commands = _commands(count, folder)
        extra = _extra(count, folder)
        items = [*commands.values(), *extra.values()]
        done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(items)], capture_output=True, text=True,
                              timeout=300, env=process_env({"JAX_NUM_CPU_DEVICES": str(count), "JAX_PLATFORMS": "cpu"}))
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.splitlines()[-1])
        found[count] = (report, dict(zip([*commands, *extra], report["runs"])), folder)
    return found


def _extra(count: int, folder) -> dict:
    """Commands of one device count only: asking for more devices than there are, fewer, an odd number."""
    if count == 2:
        return {"too many": {"args": ["grad", "x**2*y", "--at", "1,2", "--devices", "4"]},
                "too many, batch": {"args": ["grad", "x**2*y", "--at", "-", "--devices", "3"], "input": "1,2\n"},
                "stdin, distributed": {"args": ["grad", "x**2*y", "--at", "-", "--distributed", "127.0.0.1:9",
                                                "--num-processes", "2", "--process-id", "1"], "input": "1,2\n"}}
    if count == 8:
        stream = "".join(f"{i / 7},{1 - i / 3},{i % 3}\n" for i in range(11))
        return {"info": {"args": ["info", "-f", "json"]},
                "three": {"args": ["hvp", "x0**2*x1 + x1**3 + sin(x2)*x0", "--at", "-", "--v", "1,0.5,-1",
                                   "--devices", "3", "-f", "json", "--fields", "index,value"], "input": stream},
                "two, long": {"args": ["grad", ROSENBROCK, "--at", f"x=@{folder / 'x.npy'}", "--devices", "2",
                                       "-o", str(folder / "long_grad_2.npy")]},
                "all, long": {"args": ["grad", ROSENBROCK, "--at", f"x=@{folder / 'x.npy'}",
                                       "-o", str(folder / "long_grad_all.npy")]}}
    return {}


def test_each_process_has_the_devices_it_asked_for(runs):
    """Fewer devices than asked (a JAX that ignores JAX_NUM_CPU_DEVICES) fails here: every check below
    would otherwise pass on one device without testing anything."""
    for count, (report, outcomes, _) in runs.items():
        assert report["devices"] == count
        for name, outcome in outcomes.items():
            refused = name.startswith("too many") or name == "stdin, distributed"
            assert outcome["code"] == (2 if refused else 0), (count, name, outcome["stderr"])


@pytest.mark.parametrize("name", ["jacobian", "hessian", "hvp", "long hvp", "long grad"])
@pytest.mark.parametrize("count", [2, 8])
def test_many_devices_give_the_one_device_numbers(runs, name, count):
    file = {"long hvp": "long_hvp.npy", "long grad": "long_grad.npy"}.get(name, f"{name}.npy")
    one, many = (np.load(runs[c][2] / file) for c in (1, count))
    assert many.shape == one.shape and np.isfinite(one).all()
    if name.startswith("long"):  # split along its length
        assert_same_up_to_rounding(many, one)
    else:  # split over the points: each point computed whole
        np.testing.assert_allclose(many, one, rtol=1e-14, atol=0)


def test_many_vectors_at_one_point_agree(runs):
    values = {c: [json.loads(line)["value"] for line in runs[c][1]["vectors"]["stdout"].splitlines()]
              for c in COUNTS}
    assert len(values[1]) == 5
    for count in (2, 8):
        np.testing.assert_allclose(values[count], values[1], rtol=1e-14, atol=0)


def test_batches_split_over_the_point_axis_with_one_compile(runs):
    for count in COUNTS:
        outcomes = runs[count][1]
        for name in ("jacobian", "hessian", "hvp"):  # a file: every chunk padded to one size, a multiple of count
            assert outcomes[name]["traces"] == 1, (count, name)
            assert outcomes[name]["points"] == (0 if count == 1 else 1), (count, name)  # one device: no mesh


def test_long_vectors_split_along_their_length_only_on_several_devices(runs):
    for count in COUNTS:
        outcomes = runs[count][1]
        assert outcomes["long hvp"]["z"] == outcomes["long grad"]["z"] == (0 if count == 1 else 1)
        assert outcomes["hvp"]["z"] == 0  # many points: split over the points, never along z


def test_the_long_hvp_is_the_analytic_one(runs):
    """An oracle beside the device counts: Rosenbrock's H·v by hand (a tridiagonal H)."""
    x, v = np.load(runs[1][2] / "x.npy"), np.load(runs[1][2] / "v.npy")
    diagonal = np.zeros_like(x)
    diagonal[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diagonal[1:] += 200
    off = -400 * x[:-1]
    want = diagonal * v
    want[:-1] += off * v[1:]
    want[1:] += off * v[:-1]
    np.testing.assert_allclose(np.load(runs[8][2] / "long_hvp.npy"), want, rtol=1e-12, atol=1e-9)


def test_more_devices_than_there_are_is_an_error_naming_both_counts(runs):
    outcomes = runs[2][1]
    for name in ("too many", "too many, batch"):
        stderr = outcomes[name]["stderr"]
        asked = "4" if name == "too many" else "3"
        assert stderr.startswith(f"error: --devices {asked} asks for {asked} devices, but jaxlib finds 2 cpu devices")
        assert f"JAX_NUM_CPU_DEVICES={asked}" in stderr and "Traceback" not in stderr
        assert outcomes[name]["stdout"] == ""


def test_fewer_devices_than_there_are_and_an_odd_number(runs):
    report, outcomes, folder = runs[8]
    one = np.load(runs[1][2] / "long_grad.npy")
    assert_same_up_to_rounding(np.load(folder / "long_grad_2.npy"), one)
    assert outcomes["two, long"]["z"] == 1
    assert outcomes["all, long"]["z"] == 0  # --devices all: one process's CPU devices share one memory, no split
    assert_same_up_to_rounding(np.load(folder / "long_grad_all.npy"), one)
    three = [json.loads(line) for line in outcomes["three"]["stdout"].splitlines()]
    assert [r["index"] for r in three] == list(range(11)) and outcomes["three"]["points"] == 1
    rows = [[i / 7, 1 - i / 3, i % 3] for i in range(11)]
    want = [[2 * y + x - np.cos(z), 2 * x + 3 * y, np.cos(z) + x * np.sin(z)]
            for x, y, z in rows]  # H·v of x²y + y³ + sin(z)x along (1, 0.5, -1), by hand
    np.testing.assert_allclose([r["value"] for r in three], want, rtol=1e-13, atol=1e-15)


def test_info_shows_processes_devices_and_the_mesh(runs):
    info = json.loads(runs[8][1]["info"]["stdout"])
    assert info["processes"] == 1 and info["process index"] == 0
    assert info["local devices"] == info["global devices"] == 8
    assert info["mesh (--devices all)"] == "points: 8 over cpu:0-7"


def test_standard_input_is_refused_across_processes_before_joining(runs):
    outcome = runs[2][1]["stdin, distributed"]  # process 0 at 127.0.0.1:9 is never there: refused first
    assert outcome["stderr"].startswith("error: with --distributed, each process reads its own rows of a file: "
                                        "standard input cannot be split between processes")


def two_processes(commands: list[list[str]], timeout: float = 240) -> list[dict]:
    """Run the command lines in two processes, --process-id 0 and 1 (one CPU device each), at once; each
    process's report from `_DRIVER`."""
    processes = [subprocess.Popen([sys.executable, "-c", _DRIVER,
                                   json.dumps([{"args": [*args, "--process-id", str(i)]} for args in commands])],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=process_env({"JAX_NUM_CPU_DEVICES": "1", "JAX_PLATFORMS": "cpu"}))
                 for i in (0, 1)]
    try:
        return [json.loads(p.communicate(timeout=timeout)[0].splitlines()[-1]) for p in processes]
    finally:
        for p in processes:
            p.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_on_this_host_share_a_batch_and_split_a_long_hvp(runs, tmp_path):
    """jax.distributed on 127.0.0.1 only, bounded in time: each process computes and writes its own rows of
    a points file (out.<process>.npy); one long Rosenbrock H·v is split over both (the halo crosses
    processes) and process 0 writes it."""
    folder = runs[1][2]
    cluster = ["--distributed", f"127.0.0.1:{_free_port()}", "--num-processes", "2", "--distributed-timeout", "30"]
    commands = [
        {"args": ["jacobian", "[x0**2*x1, sin(x2)*x0, exp(x1/4)]", "--at", f"@{folder / 'points.npy'}",
                  "--chunk-size", "100", "-o", str(tmp_path / "jacobian.npy"), *cluster]},
        {"args": ["hvp", ROSENBROCK, "--at", f"x=@{folder / 'x.npy'}", "--v", f"@{folder / 'v.npy'}",
                  "-o", str(tmp_path / "long_hvp.npy"), *cluster]},
    ]
    reports = two_processes([c["args"] for c in commands])
    for report in reports:
        assert [r["code"] for r in report["runs"]] == [0, 0], [r["stderr"][-600:] for r in report["runs"]]
    parts = [np.load(tmp_path / f"jacobian.{i}.npy") for i in (0, 1)]
    assert [len(p) for p in parts] == [POINTS // 2, POINTS - POINTS // 2]
    np.testing.assert_allclose(np.concatenate(parts), np.load(folder / "jacobian.npy"), rtol=1e-14, atol=0)
    assert [r["runs"][1]["z"] for r in reports] == [1, 1]  # split along z over the two processes' devices
    assert_same_up_to_rounding(np.load(tmp_path / "long_hvp.npy"), np.load(folder / "long_hvp.npy"))
    assert not (tmp_path / "long_hvp.1.npy").exists()
