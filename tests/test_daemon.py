"""The warm daemon: forwarded calls print what direct calls print, from a socket only its user can open.

One daemon serves the module (a copy of the package in a temporary folder, so that the last test can
change its source); every test's daemon is stopped at the end. The oracle of a direct call is `main` run
in this process (conftest's `jaccli`), and, once, a real process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
import stat
import struct
import subprocess
import sys
import termios
import tty
from pathlib import Path

import pytest

from conftest import environment_variables, jaccli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [
    ("grad", "x**2*y + y**3", "--at", "1,2"),
    ("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "json"),
    ("jacobian", "[x**2*y, sin(z)]", "--at", "1,2,pi/2", "-f", "csv"),
    ("hvp", "x**2*y", "--at", "1,2", "--v", "1,0"),
    ("jvp", "x**2*y", "--at", "1,2", "--v", "1,0,0"),  # a --v of the wrong size: exit 2
    ("grad", "-x**2", "--at", "-1"),
    ("eval", "x +* y", "--at", "1,2"),  # a parse error with a caret: exit 2
    ("hessian", "[x, y]", "--at", "1,2"),  # not scalar: exit 2
    ("grad", "log(x)", "--at", "0"),  # a warning, exit 0
    ("grad", "x", "--at", "x=@missing.npy"),  # a file of the caller's directory: exit 2
    ("eval", "sum(x**2)", "--at", "x=@x.npy", "--with-value"),
    ("grad", "x**2", "--bogus"),  # a usage error
    ("check", "x**2", "--at", "3", "--expect", "7"),  # disagrees: exit 1
    ("inspect", "sum(x**2)", "--at", "x=zeros(3)"),
    ("derivative", "sin(x)", "--at", "0.5", "--order", "3", "--debug"),
    ("hessian", "x**2*y", "--at", "1,2", "--dtype", "float32", "-f", "json"),  # and float64 after it
    ("analyze", "x**2 + 3*y**2", "--at", "0,0"),
]


def run_client(*args, env, cwd, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jaccli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=180, **options)


def client_env(src: Path, run: Path, **more) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "XDG_RUNTIME_DIR": str(run), "JACCLI_DAEMON": "1",
           "JACCLI_DAEMON_IDLE": "300", **more}
    env.pop("JACCLI_DEBUG", None)
    return env


@contextlib.contextmanager
def as_client(env: dict):
    """This process with the client's variables (and package copy), to ask jaccli.daemon what it sees."""
    with environment_variables({k: v for k, v in env.items()}):
        yield


def place_of(env: dict):
    from jaccli.daemon import place

    with as_client(env), _package(env["PYTHONPATH"]):
        return place.locate(create=False)


@contextlib.contextmanager
def _package(src: str):
    """jaccli.daemon.place computing as the copy in `src` would (its package folder)."""
    from jaccli.daemon import place

    saved = place.PACKAGE
    place.PACKAGE = str(Path(src) / "jaccli")
    try:
        yield
    finally:
        place.PACKAGE = saved


def status_of(env: dict) -> dict | None:
    from jaccli.daemon import control

    return control.ask(place_of(env), {"op": "status"})


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        with contextlib.suppress(OSError):
            os.kill(pid, 0)
            return True
        return False
    return state not in ("Z", "X")


def wait_until_gone(pid: int) -> None:
    import time

    for _ in range(3000):  # a bound, not a timing: a daemon that never leaves fails the test
        if not alive(pid):
            return
        time.sleep(0.02)
    raise AssertionError(f"the daemon {pid} is still running")


pytestmark = pytest.mark.xdist_group("daemon")  # make test --dist loadgroup: the module's daemon is made once


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """(env, cwd) of clients of one daemon, from a copy of the package; stopped at the end."""
    import compileall

    base = tmp_path_factory.mktemp("d")
    src, run, cwd = base / "src", short_folder(tmp_path_factory.mktemp("r")), base / "cwd"
    shutil.copytree(ROOT / "jaccli", src / "jaccli", ignore=shutil.ignore_patterns("__pycache__"))
    cwd.mkdir()
    import numpy as np

    np.save(cwd / "x.npy", np.array([1.0, 2.0, 3.0]))
    env = client_env(src, run)
    try:
        STALE["pid"] = start_cold(env)  # then the source changes under it: the first call replaces it
        errors = src / "jaccli" / "errors.py"
        errors.write_text(errors.read_text() + "\n# changed\n")
        compileall.compile_dir(src, quiet=1)  # the daemon would compile it (PYTHONDONTWRITEBYTECODE)
        yield env, cwd
    finally:
        stop_all(env)


STALE = {}


def start_cold(env: dict) -> int:
    """A daemon started without its warm-up (it loads no JAX until a call comes); its pid."""
    code = "from jaccli.daemon import control, place; print(control.start(place.locate()))"
    done = subprocess.run([sys.executable, "-c", code], env={**env, "JACCLI_DAEMON_WARM": "0"},
                          cwd=env["XDG_RUNTIME_DIR"], capture_output=True, text=True, timeout=180)  # not ROOT's
    assert done.stdout.strip().isdigit(), done.stderr
    return int(done.stdout)


def short_folder(tmp_path: Path) -> Path:
    """A new 0700 folder for sockets: under /tmp when there is one (a socket's path has 104 bytes at most,
    and macOS's temporary folders are long), else in `tmp_path`."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="jd-", dir="/tmp" if os.path.isdir("/tmp") else tmp_path))
    os.chmod(folder, 0o700)
    return folder


def stop_all(env: dict) -> None:
    from jaccli.daemon import control

    folder = Path(env["XDG_RUNTIME_DIR"]) / "jaccli"
    if folder.exists():
        running = status_of(env)
        done = run_client("daemon", "stop", env=env, cwd=folder)
        assert done.returncode == 0, done.stderr
        if running:
            assert f"stopped the jaccli daemon (pid {running['pid']})" in done.stdout
        control.stop(place_of(env))  # any left by a failed test
        for log in folder.glob("*.log"):  # anything that did not answer `stop`
            for word in log.read_text().split():
                if word.rstrip(":").isdigit() and alive(int(word.rstrip(":"))):
                    os.kill(int(word.rstrip(":")), 15)
        assert not list(folder.glob("*.sock"))
    shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)


def test_forwarded_calls_print_what_direct_calls_print(daemon):
    env, cwd = daemon
    first = run_client("grad", "x**2", "--at", "3", env=env, cwd=cwd)  # starts it
    assert first.returncode == 0 and first.stdout == "6.0\n", first.stderr
    before, codes = status_of(env)["calls"], set()
    for args in CORPUS:
        forwarded = run_client(*args, env=env, cwd=cwd)
        with contextlib.chdir(cwd):
            direct = jaccli(*args)
        assert (forwarded.stdout, forwarded.stderr, forwarded.returncode) == \
               (direct.stdout, direct.stderr, direct.returncode), args
        codes.add(direct.returncode)
    for variables in [{"FORCE_COLOR": "1", "COLUMNS": "50"}, {"NO_COLOR": "1", "TERM": "dumb"}]:
        args = ("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "table")
        forwarded = run_client(*args, env={**env, **variables}, cwd=cwd)
        direct = jaccli(*args, env=variables)
        assert (forwarded.stdout, forwarded.stderr, forwarded.returncode) == \
               (direct.stdout, direct.stderr, direct.returncode), variables
    assert status_of(env)["calls"] == before + len(CORPUS) + 2  # all of them answered by the daemon
    assert codes == {0, 1, 2}


def test_a_forwarded_call_writes_its_file_in_the_callers_directory(daemon):
    env, cwd = daemon
    done = run_client("hessian", "x**2*y", "--at", "1,2", "-o", "h.json", env=env, cwd=cwd)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert json.loads((cwd / "h.json").read_text())["value"] == [[4.0, 2.0], [2.0, 0.0]]
    assert stat.S_IMODE((cwd / "h.json").stat().st_mode) == 0o666 & ~_umask()


def test_binary_output_is_relayed_byte_for_byte(daemon):
    env, cwd = daemon
    args = ("hessian", "x**2*y + y**3", "--at", "1,2", "-f", "npy")
    forwarded = subprocess.run([sys.executable, "-m", "jaccli", *args], env=env, cwd=cwd, capture_output=True,
                               timeout=180)
    direct = jaccli(*args, input=b"")
    assert (forwarded.stdout, forwarded.returncode) == (direct.stdout, 0) and forwarded.stdout.startswith(b"\x93NUMPY")


def test_the_identity_follows_jax_and_the_slot_the_start_up_variables(monkeypatch):
    from jaccli.daemon import place

    name, where = place.identity(), place.slot()
    monkeypatch.setenv("JAX_PLATFORMS", "cpu,bogus")
    assert place.slot() != where and place.identity() == name
    stats = place._version_stats
    monkeypatch.setattr(place, "_version_stats", lambda package: stats(package) + ("1" if package == "jaxlib" else ""))
    assert place.identity() != name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def in_terminal(args, env, cwd, columns=90) -> tuple[bytes, bytes, int]:
    """Run the client with stdin, stdout and stderr on terminals of `columns`; (stdout, stderr, code)."""
    masters, slaves = zip(*(pty.openpty() for _ in range(2)))
    for slave in slaves:
        tty.setraw(slave)  # no \n → \r\n
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "jaccli", *args], env=env, cwd=cwd, stdin=slaves[0],
                               stdout=slaves[0], stderr=slaves[1])
    for slave in slaves:
        os.close(slave)
    read, open_ = {master: b"" for master in masters}, set(masters)
    while open_:
        for master in select.select(list(open_), [], [], 1.0)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed its end
                chunk = b""
            if chunk:
                read[master] += chunk
            else:
                open_.discard(master)
    process.wait(timeout=180)
    for master in masters:
        os.close(master)
    return read[masters[0]], read[masters[1]], process.returncode


def direct_in_terminal(args, variables: dict) -> tuple[bytes, bytes, int]:
    from jaccli.cli import main
    from jaccli.env import Environment

    captured = Environment.capture(tty=True, variables={k: v for k, v in variables.items()
                                                         if k in ("NO_COLOR", "TERM", "COLUMNS")})
    with environment_variables(variables, remove=("NO_COLOR", "FORCE_COLOR", "COLORTERM", "COLUMNS")):
        with environment_variables(variables):
            code = main(list(args), captured)
    return captured.out_bytes(), captured.stderr.buffer.getvalue(), code


@pytest.mark.parametrize("colour", [True, False])
def test_a_table_on_a_terminal_is_the_same_with_colour_on_and_off(daemon, colour):
    env, cwd = daemon
    variables = {"TERM": "xterm-256color", **({} if colour else {"NO_COLOR": "1"})}
    terminal_env = {k: v for k, v in env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLORTERM", "COLUMNS")}
    for args in [("hessian", "x**2*y + y**3", "--at", "1,2"), ("eval", "x +* y", "--at", "1,2")]:
        forwarded = in_terminal(args, {**terminal_env, **variables}, cwd)
        direct = direct_in_terminal(args, {**variables, "COLUMNS": "90"})  # the client measured the terminal
        assert forwarded == direct, args
        assert (b"\x1b[" in forwarded[0] + forwarded[1]) == colour


def test_the_socket_is_0600_in_a_0700_folder_of_ours(daemon):
    env, cwd = daemon
    run_client("grad", "x**2", "--at", "1", env=env, cwd=cwd)
    place = place_of(env)
    folder, socket_file = os.lstat(place.folder), os.lstat(place.socket)
    assert stat.S_IMODE(folder.st_mode) == 0o700 and stat.S_ISSOCK(socket_file.st_mode)
    assert stat.S_IMODE(socket_file.st_mode) == 0o600
    assert folder.st_uid == socket_file.st_uid == os.getuid()
    status = run_client("daemon", "status", env=env, cwd=cwd)
    assert status.returncode == 0 and status.stdout.startswith(f"jaccli daemon running (pid {status_of(env)['pid']})")


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="switching to another user takes root")
def test_another_user_can_open_neither_the_folder_nor_the_socket(daemon):
    env, cwd = daemon
    run_client("grad", "x**2", "--at", "1", env=env, cwd=cwd)
    place = place_of(env)
    python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), None)
    if python is None:
        pytest.skip("no Python that another user can run")
    attempt = ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])", place.socket]

    def as_nobody() -> subprocess.CompletedProcess:
        return subprocess.run([python, *attempt], user=65534, group=65534, extra_groups=[], cwd="/",
                              capture_output=True, text=True, timeout=60)

    assert "PermissionError" in as_nobody().stderr  # the 0700 folders
    folders = [Path(env["XDG_RUNTIME_DIR"]), Path(place.folder)]
    try:
        for folder in folders:
            os.chmod(folder, 0o711)  # anyone may pass through: the socket's own 0600 still says no
        assert "PermissionError" in as_nobody().stderr
    finally:
        for folder in folders:
            os.chmod(folder, 0o700)


def test_each_end_knows_the_others_uid():
    import socket

    from jaccli.daemon.place import peer_uid

    ends = socket.socketpair(socket.AF_UNIX)
    try:
        assert peer_uid(ends[0]) in (os.getuid(), None)  # None: no SO_PEERCRED on this system
    finally:
        for end in ends:
            end.close()


def test_a_folder_of_another_user_or_writable_by_others_is_refused():
    from jaccli.daemon.place import Refused, check_owner

    def fake(mode: int, uid: int) -> os.stat_result:
        return os.stat_result((stat.S_IFDIR | mode, 1, 1, 2, uid, 0, 4096, 0, 0, 0))

    me = os.getuid()
    check_owner(fake(0o700, me), "f", uid=me, private=True)
    check_owner(fake(0o755, 0), "the parent", uid=me, private=False)  # /run/user is root's
    for mode, uid, private in [(0o700, me + 1, True), (0o750, me, True), (0o707, me, True),
                               (0o775, me, False), (0o777, 0, False), (0o755, me + 1, False)]:
        with pytest.raises(Refused):
            check_owner(fake(mode, uid), "f", uid=me, private=private)


@pytest.mark.parametrize("mode", [0o770, 0o757])
def test_a_group_or_other_writable_folder_means_no_daemon(tmp_path, mode):
    from jaccli.daemon import client

    run = tmp_path / "run"
    (run / "jaccli").mkdir(parents=True)
    os.chmod(run, 0o700)
    os.chmod(run / "jaccli", mode)
    with environment_variables({"XDG_RUNTIME_DIR": str(run), "JACCLI_DAEMON": "1"}):
        assert client.forward(["grad", "x**2", "--at", "1"]) is None  # run here
    assert os.listdir(run / "jaccli") == []
    os.chmod(run / "jaccli", 0o700)
    os.chmod(run, 0o777)
    with environment_variables({"XDG_RUNTIME_DIR": str(run), "JACCLI_DAEMON": "1"}):
        assert client.forward(["grad", "x**2", "--at", "1"]) is None


def test_without_a_usable_folder_the_call_runs_in_its_own_process(tmp_path, daemon):
    env, cwd = daemon
    run = tmp_path / "run"
    run.mkdir(mode=0o777)
    os.chmod(run, 0o777)
    args = ("grad", "x**2", "--at", "1", "--bogus")  # an error found before JAX is loaded: a quick process
    done = run_client(*args, env={**env, "XDG_RUNTIME_DIR": str(run)}, cwd=cwd)
    direct = jaccli(*args)
    assert (done.stdout, done.stderr, done.returncode) == (direct.stdout, direct.stderr, 2)
    assert not (run / "jaccli").exists()


def test_a_daemon_that_dies_while_starting_means_the_call_runs_here(tmp_path, monkeypatch):
    from jaccli.daemon import client, control

    run = short_folder(tmp_path)
    monkeypatch.setattr(sys, "executable", shutil.which("false"))  # the daemon's interpreter: exits at once
    with environment_variables({"XDG_RUNTIME_DIR": str(run), "JACCLI_DAEMON": "1"}):
        assert client.forward(["grad", "x**2", "--at", "1"]) is None
        assert not list((run / "jaccli").glob("*.sock")) and list((run / "jaccli").glob("*.failed"))

        def spawn(place):
            raise AssertionError("started again")

        monkeypatch.setattr(control, "_spawn", spawn)
        assert client.forward(["grad", "x**2", "--at", "1"]) is None  # not tried again for this identity
    shutil.rmtree(run)


@pytest.mark.parametrize("args, forwarded", [
    (["grad", "x**2", "--at", "1"], True),
    (["--debug", "hessian", "x**2*y", "-a", "1,2", "-o", "out.json"], True),
    (["eval", "sum(X)", "--at", "X=@x.npy"], True),
    (["grad", "x**2", "--at", "-"], False),
    (["grad", "x**2", "--at=@points.jsonl"], False),
    (["grad", "x**2", "-a@points.csv"], False),
    (["hvp", "x**2*y", "--at", "1,2", "--v", "@v.npy"], False),
    (["check", "x**2", "--at", "1", "--expect", "-"], False),
    (["grad", "@/dev/stdin", "--at", "1"], False),
    (["grad", "x**2", "--at", "1", "-o", "/dev/stdout"], False),
    (["grad", "x**2", "--at", "1", "--plot", "-"], False),
    (["grad", "--help"], False),
    (["serve"], False), (["daemon", "status"], False), (["info"], False), (["cache", "info"], False), ([], False),
])
def test_which_calls_are_forwarded(args, forwarded):
    from jaccli.daemon.client import forwardable

    assert forwardable(args) is forwarded


def test_the_client_imports_nothing_heavy_when_it_forwards(daemon):
    env, cwd = daemon
    probe = ("import json, sys; from jaccli.daemon import client; "
             "code = client.forward(['grad', 'x**2*y', '--at', '1,2', '-f', 'json']); "
             "heavy = sorted(m for m in ('typer', 'click', 'rich', 'numpy', 'jax', 'sympy') if m in sys.modules); "
             "sys.stderr.write(json.dumps([code, heavy]))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert json.loads(done.stderr) == [0, []]
    assert json.loads(done.stdout)["value"] == [4.0, 1.0]


def test_concurrent_clients_each_get_their_own_answer(daemon):
    env, cwd = daemon
    run_client("grad", "x**2", "--at", "1", env=env, cwd=cwd)  # it runs
    calls = [subprocess.Popen([sys.executable, "-m", "jaccli", "grad", f"x**2*y + {k}*y", "--at", "1,2", "-f",
                               "json"], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(6)]
    for k, call in enumerate(calls):
        out, err = call.communicate(timeout=180)
        assert call.returncode == 0 and err == ""
        assert json.loads(out)["value"] == [4.0, 1.0 + k]


def test_the_folder_is_the_cache_modules_when_there_is_no_runtime_folder():
    from jaccli.compute.cache import cache_dir
    from jaccli.daemon.place import folder_path

    for variables in [{"JACCLI_CACHE_DIR": "/tmp/c"}, {"XDG_CACHE_HOME": "/tmp/x"}, {}]:
        removed = ("XDG_RUNTIME_DIR", "JACCLI_CACHE_DIR", "XDG_CACHE_HOME")
        with environment_variables({}, remove=removed), environment_variables(variables):
            assert folder_path() == (str(cache_dir() / "daemon"), str(cache_dir()))


def test_a_daemon_of_changed_source_is_replaced(daemon):
    env, cwd = daemon
    done = run_client("grad", "x**2", "--at", "3", env=env, cwd=cwd)
    assert done.returncode == 0 and done.stdout == "6.0\n" and done.stderr == ""
    wait_until_gone(STALE["pid"])  # started before the source changed: told so at the first call, it left
    assert status_of(env)["pid"] != STALE["pid"]
    assert "another identity: leaving" in Path(place_of(env).log).read_text()


def test_a_daemon_leaves_when_idle(daemon, tmp_path):
    env, cwd = daemon
    run = short_folder(tmp_path)
    quiet = {**env, "XDG_RUNTIME_DIR": str(run), "JACCLI_DAEMON_IDLE": "0.5"}
    pid = start_cold(quiet)
    wait_until_gone(pid)
    assert "no call for" in Path(place_of(quiet).log).read_text()
    assert not list((run / "jaccli").glob("*.sock"))
    shutil.rmtree(run)


def test_the_console_script_is_the_light_client():
    import tomllib

    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["jaccli"]
    module, function = script.split(":")
    probe = (f"import sys; import {module} as m; assert callable(m.{function}); "
             "print(sorted(n for n in ('typer', 'rich', 'numpy', 'jax') if n in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]", done.stderr
