"""The executable cache: used on a second call, keyed by everything that matters, robust to damage."""

import json
import subprocess

import pytest

from conftest import JACCLI, jaccli


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def call(cache, *args):
    done = jaccli(*args, "-f", "json", env={"JACCLI_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def entries(cache):
    folder = cache / "executables"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def test_second_call_is_a_hit_with_the_same_numbers(cache):
    first = call(cache, "jacobian", "[x0**2*x1, sin(x2)]", "--at", "1,2,pi/2")
    second = call(cache, "jacobian", "[x0**2*x1, sin(x2)]", "--at", "3,2,1")  # another point, same function
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert first["value"][0] == [4.0, 1.0, 0.0] and second["value"][0] == [12.0, 9.0, 0.0]
    assert len(entries(cache)) == 1
    assert oct((cache / "executables").stat().st_mode)[-3:] == "700" and oct(cache.stat().st_mode)[-3:] == "700"


def test_expression_command_mode_dtype_and_shape_each_get_their_own_entry(cache):
    runs = [
        ("grad", "sum(x**2)", "--at", "x=[1,2]"),
        ("grad", "sum(x**3)", "--at", "x=[1,2]"),
        ("grad", "sum(x**2)", "--at", "x=[1,2,3]"),
        ("grad", "sum(x**2)", "--at", "x=[1,2]", "--dtype", "float32"),
        ("hessian", "sum(x**2)", "--at", "x=[1,2]"),
        ("hessian", "sum(x**2)", "--at", "x=[1,2]", "--mode", "rev-rev"),
        ("grad", "x*y", "--at", "1,2", "--wrt", "x"),
        ("grad", "x*y", "--at", "1,2", "--wrt", "y"),
    ]
    results = [call(cache, *args) for args in runs]
    assert all(r["cache"] == "miss" for r in results)
    assert len(entries(cache)) == len(runs)
    assert [r["value"] for r in results[:3]] == [[2.0, 4.0], [3.0, 12.0], [2.0, 4.0, 6.0]]
    assert results[6]["value"] == 2.0 and results[7]["value"] == 1.0


def test_a_corrupt_entry_is_ignored_and_replaced(cache):
    call(cache, "hessian", "x**2*y + y**3", "--at", "1,2")
    (name,) = entries(cache)
    (cache / "executables" / name).write_bytes(b"jaccli-exec-1\n{not json")
    again = call(cache, "hessian", "x**2*y + y**3", "--at", "1,2")
    assert again["cache"] == "miss" and again["value"] == [[4.0, 2.0], [2.0, 12.0]]
    (cache / "executables" / name).write_bytes(b"\x00" * 100)
    assert call(cache, "hessian", "x**2*y + y**3", "--at", "1,2")["value"] == [[4.0, 2.0], [2.0, 12.0]]
    assert call(cache, "hessian", "x**2*y + y**3", "--at", "1,2")["cache"] == "hit"


def test_concurrent_processes_share_the_cache(cache):
    env = {"JACCLI_CACHE_DIR": str(cache)}
    import os

    processes = [subprocess.Popen([JACCLI, "hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
                 for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    assert all(json.loads(out)["value"] == [4.0, 2.0] for out, _ in outputs)
    assert len(entries(cache)) == 1


def test_no_cache_writes_nothing(cache):
    done = jaccli("grad", "x**2", "--at", "3", "-f", "json", "--no-cache", env={"JACCLI_CACHE_DIR": str(cache)})
    assert json.loads(done.stdout)["cache"] == "off" and not cache.exists()
    done = jaccli("grad", "x**2", "--at", "3", "-f", "json", env={"JACCLI_CACHE_DIR": str(cache), "JACCLI_NO_CACHE": "1"})
    assert json.loads(done.stdout)["cache"] == "off" and not cache.exists()


def test_info_shows_the_cache_and_clear_empties_it(cache):
    env = {"JACCLI_CACHE_DIR": str(cache)}
    call(cache, "grad", "x**2", "--at", "3")
    info = json.loads(jaccli("info", "-f", "json", env=env).stdout)
    assert info["cache"]["location"] == str(cache) and info["cache"]["executables"] == 1
    done = jaccli("cache", "clear", env=env)
    assert done.returncode == 0 and "cleared" in done.stdout
    assert entries(cache) == []
    assert json.loads(jaccli("cache", "info", "-f", "json", env=env).stdout)["executables"] == 0


def test_key_changes_with_every_part():
    from jaccli.cache import executable_key

    base = dict(command="grad", mode=None, dtype="float64", expr="x**2", layout=[("x", (), True)], device="cpu")
    keys = {executable_key(**base)}
    for change in ({"command": "hvp"}, {"mode": "rev-rev"}, {"dtype": "float32"}, {"expr": "x**3"},
                   {"layout": [("x", (2,), True)]}, {"device": "gpu"}):
        keys.add(executable_key(**{**base, **change}))
    assert len(keys) == 7
