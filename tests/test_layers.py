"""Imports point one way: the language layer loads neither NumPy nor JAX, and reading a point loads no JAX."""

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jaccli"


def loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(sorted(m for m in ('jax', 'numpy', 'sympy', 'typer', 'rich') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own probe's list of names


def test_the_language_layer_imports_neither_numpy_nor_jax():
    code = ("from jaccli.language.parse import parse_expression; from jaccli.language import evaluate, fold; "
            "parse_expression('sum(100*(x[1:]-x[:-1]**2)**2) + where(y > 0, sqrt(y), -y)')")
    assert loaded_after(code) == []


def test_reading_a_point_does_not_import_jax():
    code = ("from jaccli.inputs.points import read_spec; "
            "read_spec(['pi/2', 'x=[1, sqrt(2)]', 'y=full(3, 0.5)'], max_bytes=10**6)")
    assert loaded_after(code) == ["numpy"]


def test_no_module_below_the_cli_writes_to_sys_stdout_or_imports_upwards():
    """stdout and stderr come from the Environment; language ← inputs ← compute ← output ← cli."""
    layers = ["language", "inputs", "compute", "output", "cli"]
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        package = path.parent.name
        if package in ("language", "inputs", "compute", "output"):
            assert "sys.stdout" not in text and "sys.stderr" not in text, path
        if package in layers:
            above = layers[layers.index(package) + 1 :]
            for layer in above:
                assert f"from ..{layer}" not in text or (package, layer) in ALLOWED, (path, layer)


# a few deliberate, lazy imports upwards (inside functions): the formula and check tables need labels
ALLOWED = {("compute", "output")}
