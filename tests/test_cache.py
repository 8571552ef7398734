"""The executable cache: used on a second call, keyed by everything that matters, robust to damage.

Runs that use the cache are real processes: JAX's persistent XLA cache folder is set once a process.
One-point runs read and write their entries on disk and use no XLA cache, so most calls run here
(`here`); concurrent processes share the cache, and the trust tests start a process where it matters
(the XLA folder of many points): `jaccli_process`."""

import json
import os
import subprocess

import pytest

from conftest import JACCLI, jaccli, jaccli_process, process_env


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def here(cache, *args):
    """`jaccli ARGS -f json` in this process with the cache in `cache` (the executable cache is on disk:
    each call reads and writes its entry as a new process would)."""
    done = jaccli(*args, "-f", "json", env={"JACCLI_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def entries(cache):
    folder = cache / "executables"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def test_second_call_is_a_hit_with_the_same_numbers(cache):
    first, _ = here(cache, "jacobian", "[x0**2*x1, sin(x2)]", "--at", "1,2,pi/2")
    second, _ = here(cache, "jacobian", "[x0**2*x1, sin(x2)]", "--at", "3,2,1")  # another point, same function
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
    results = [here(cache, *args)[0] for args in runs]
    assert all(r["cache"] == "miss" for r in results)
    assert len(entries(cache)) == len(runs)
    assert [r["value"] for r in results[:3]] == [[2.0, 4.0], [3.0, 12.0], [2.0, 4.0, 6.0]]
    assert results[6]["value"] == 2.0 and results[7]["value"] == 1.0


def test_a_corrupt_entry_is_ignored_and_replaced(cache):
    here(cache, "hessian", "x**2*y + y**3", "--at", "1,2")[0]
    (name,) = entries(cache)
    (cache / "executables" / name).write_bytes(b"jaccli-exec-1\n{not json")
    again = here(cache, "hessian", "x**2*y + y**3", "--at", "1,2")[0]
    assert again["cache"] == "miss" and again["value"] == [[4.0, 2.0], [2.0, 12.0]]
    (cache / "executables" / name).write_bytes(b"\x00" * 100)
    assert here(cache, "hessian", "x**2*y + y**3", "--at", "1,2")[0]["value"] == [[4.0, 2.0], [2.0, 12.0]]
    assert here(cache, "hessian", "x**2*y + y**3", "--at", "1,2")[0]["cache"] == "hit"


def test_concurrent_processes_share_the_cache(cache):
    env = {"JACCLI_CACHE_DIR": str(cache)}
    processes = [subprocess.Popen([JACCLI, "hvp", "x**2*y + y**3", "--at", "1,2", "--v", "1,0", "-f", "json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env(env))
                 for _ in range(2)]  # two cores: two processes race as hard as four would
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
    here(cache, "grad", "x**2", "--at", "3")
    info = json.loads(jaccli("info", "-f", "json", env=env).stdout)
    assert info["cache"]["location"] == str(cache) and info["cache"]["executables"] == 1
    done = jaccli("cache", "clear", env=env)
    assert done.returncode == 0 and "cleared" in done.stdout
    assert entries(cache) == []
    assert json.loads(jaccli("cache", "info", "-f", "json", env=env).stdout)["executables"] == 0


def test_key_changes_with_every_part():
    from jaccli.compute.cache import executable_key

    base = dict(command="grad", mode=None, dtype="float64", expr="x**2", layout=[("x", (), True)], device="cpu")
    keys = {executable_key(**base)}
    for change in ({"command": "hvp"}, {"mode": "rev-rev"}, {"dtype": "float32"}, {"expr": "x**3"},
                   {"layout": [("x", (2,), True)]}, {"device": "gpu"}):
        keys.add(executable_key(**{**base, **change}))
    assert len(keys) == 7


# -- trust: a cache that another user could write is never read (ssh's StrictModes) ------------------------
def _plant(cache, expr="x**2"):
    """A genuine entry for `grad expr`, made by a trusted run; returns its path."""
    here(cache, "grad", expr, "--at", "3")
    (name,) = entries(cache)
    return cache / "executables" / name


needs_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                                reason="giving a folder to another uid needs root")


@needs_root
def test_a_world_writable_cache_of_another_user_is_not_loaded(cache):
    _plant(cache)
    for path in (cache, cache / "executables", *(cache / "executables").iterdir()):
        os.chown(path, 12345, 12345)
        os.chmod(path, 0o777)
    done = jaccli("grad", "x**2", "--at", "3", "-f", "json", env={"JACCLI_CACHE_DIR": str(cache)})
    assert done.returncode == 0 and json.loads(done.stdout)["cache"] == "off"
    assert json.loads(done.stdout)["value"] == 6.0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("warning: not using the compilation cache: ")
    assert "uid 12345" in done.stderr


@pytest.mark.parametrize("where", ["root", "folder"])
def test_a_group_or_world_writable_folder_of_ours_is_not_trusted(cache, where):
    _plant(cache)
    os.chmod(cache if where == "root" else cache / "executables", 0o775)
    result, stderr = here(cache, "grad", "x**2", "--at", "3")
    assert result["cache"] == "off" and "writable by group" in stderr
    info, _ = here(cache, "cache", "info")
    assert info["state"].startswith("not used") if where == "root" else info["state"] == "on"


def test_entry_trust_follows_the_folder(cache, monkeypatch):
    """An entry must be ours; its mode matters only when others can enter its folder."""
    from jaccli.compute import cache as cache_module
    from jaccli.errors import JaccliWarning

    entry = _plant(cache)
    os.chmod(entry, 0o666)
    monkeypatch.setenv("JACCLI_CACHE_DIR", str(cache))
    monkeypatch.setattr(cache_module, "_REFUSED", [])
    assert cache_module._read_entry(entry.name) is not None  # 0700 folder: nobody else can reach it
    os.chmod(cache / "executables", 0o755)
    with pytest.warns(JaccliWarning, match="mode 0666"):
        assert cache_module._read_entry(entry.name) is None
    cache_module._REFUSED.clear()
    os.chmod(cache / "executables", 0o700)
    link = cache / "executables" / ("0" * 64)
    link.symlink_to(entry)
    assert cache_module._read_entry(link.name) is None  # never through a link
    assert cache_module._read_entry(entry.name) is not None


def test_an_entry_copied_over_another_key_is_a_miss(cache):
    """The entry of grad sin(x) copied over grad x**2's: a miss with the right answer, not −0.98999."""
    target = _plant(cache, "x**2")
    target_bytes = target.read_bytes()
    other, _ = here(cache, "grad", "sin(x)", "--at", "3")
    assert other["cache"] == "miss"
    source = next(cache / "executables" / n for n in entries(cache) if n != target.name)
    target.write_bytes(source.read_bytes())
    again, _ = here(cache, "grad", "x**2", "--at", "3")
    assert again["cache"] == "miss" and again["value"] == 6.0
    assert here(cache, "grad", "x**2", "--at", "3")[0]["cache"] == "hit"  # replaced by a good entry
    damaged = bytearray(target_bytes)
    damaged[-1] ^= 0xFF  # same key, payload changed: the digest no longer matches
    target.write_bytes(bytes(damaged))
    assert here(cache, "grad", "x**2", "--at", "3")[0] == {**again, "cache": "miss"}


def test_entries_are_private_files(cache):
    import stat

    entry = _plant(cache)
    assert stat.S_IMODE(os.lstat(entry).st_mode) == 0o600


@needs_root
def test_an_xla_entry_of_another_user_turns_the_batch_cache_off(cache, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("1,2\n3,4\n")
    env = {"JACCLI_CACHE_DIR": str(cache)}
    assert jaccli_process("grad", "x*y", "--at", f"@{points}", env=env).returncode == 0
    planted = cache / "xla" / "planted"
    planted.write_bytes(b"x")
    os.chown(planted, 12345, 12345)
    done = jaccli_process("grad", "x*y", "--at", f"@{points}", env=env)
    assert done.returncode == 0 and done.stdout == "2.0 1.0\n4.0 3.0\n"
    assert "xla/planted is owned by uid 12345" in done.stderr
