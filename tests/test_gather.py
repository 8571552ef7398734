"""--gather: processes of a --distributed run each write their part of many points; process 0 joins them into
the one -o FILE, in record order, and removes the parts. Two processes on 127.0.0.1 only, bounded in time."""

from __future__ import annotations

import json

import numpy as np

import jaccli
from conftest import jaccli as run_cli
from test_devices import _free_port, two_processes

EXPR = "[x0**2*x1, sin(x2)*x0]"


def test_two_processes_gather_their_parts_into_one_file_of_each_format(tmp_path):
    points = np.random.default_rng(3).normal(size=(37, 3))
    np.save(tmp_path / "points.npy", points)
    np.savetxt(tmp_path / "points.csv", points, delimiter=",")
    cluster = ["--distributed", f"127.0.0.1:{_free_port()}", "--num-processes", "2", "--distributed-timeout", "30",
               "--gather"]
    outputs = {"npy": "points.npy", "csv": "points.csv", "jsonl": "points.npy"}
    commands = [["jacobian", EXPR, "--at", f"@{tmp_path / source}", "-o", str(tmp_path / f"out.{kind}"),
                 *(["-f", "json"] if kind == "jsonl" else []), *cluster] for kind, source in outputs.items()]
    reports = two_processes(commands)
    for report in reports:
        assert [r["code"] for r in report["runs"]] == [0, 0, 0], [r["stderr"][-600:] for r in report["runs"]]
    expected = np.stack([jaccli.jacobian(EXPR, at=list(p)).value for p in points])
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-14, atol=0)
    csv = (tmp_path / "out.csv").read_text().splitlines()
    assert csv[0].startswith("df0/dx0") and len(csv) == 1 + len(points)  # one header, every row
    np.testing.assert_allclose(np.loadtxt(csv[1:], delimiter=",").reshape(expected.shape), expected, rtol=1e-15)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(len(points)))
    np.testing.assert_allclose(np.array([line["value"] for line in lines]), expected, rtol=1e-15)
    assert not list(tmp_path.glob("out.[01].*"))  # the parts are gone


def test_gather_goes_with_distributed_many_points_and_an_output_file():
    for args in (["--at", "1,2"], ["--at", "-", "-o", "out.npy"]):
        ran = run_cli("grad", "x**2*y", *args, "--gather", input="1,2\n")
        assert ran.returncode == 2 and "--gather" in ran.stderr, ran.stderr
