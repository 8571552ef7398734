"""The daemon: forwarded calls answered by `jaccli.cli.main`, as the caller's own process would answer them.

Started by control.start as `python -m jaccli.daemon.server FOLDER SLOT IDENTITY READY_FD`: it checks it
is the identity its caller computed (else it says why and exits), imports jaccli and JAX and runs one small
call, binds its socket under a temporary name (0600), renames it into place and says `ready PID`.

A thread per connection: `ping`, `status` and `stop` are answered at once, even during a long call. The
calls run one at a time, under one lock: each sets the process's directory, call variables and umask to
the caller's for its length, and `main` keeps its warnings and JAX its config per process. A call gets
an Environment of the caller's terminals and stream encodings whose stdout and stderr are frames on the
connection; its `run` uses the disk cache as a direct call would (no cache in memory: a direct call's
"cache": "hit" or "miss" is the daemon's too).

JACCLI_DAEMON_WARM=0 skips the warm-up: JAX is loaded by the first call. It leaves after
JACCLI_DAEMON_IDLE seconds (900) without a call, when stopped, or when a caller of
another identity comes (it answers `stale`; the caller starts the new daemon): the listener closes, the
running call ends, the socket is removed if it is still this daemon's (under the start lock), exit.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
import threading
import time

from . import wire
from .control import locked
from .place import Place, identity, peer_uid

IDLE_SECONDS = 900.0


class Daemon:
    def __init__(self, place: Place, name: str, idle: float):
        self.place, self.identity, self.idle = place, name, idle
        self.calling = threading.Lock()  # one call at a time: directory, environment and umask are the process's
        self.leaving = threading.Event()
        self.calls = self.active = 0
        self.counting = threading.Lock()
        self.started, self.last = time.time(), time.monotonic()
        self.listener = self.inode = None
        self.waiting: list[socket.socket] = []  # `stop`'s callers: their connections close as the process ends

    # -- the socket ----------------------------------------------------------------------
    def listen(self) -> None:
        """Bind 0600 under a temporary name, then rename it onto the slot's socket (over a stale one's)."""
        temporary = os.path.join(self.place.folder, f".{os.getpid()}.sock")  # no longer than the socket's name
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        mask = os.umask(0o177)
        try:
            listener.bind(temporary)
        finally:
            os.umask(mask)
        os.chmod(temporary, 0o600)
        listener.listen(64)
        info = os.stat(temporary)
        os.rename(temporary, self.place.socket)
        self.listener, self.inode = listener, (info.st_dev, info.st_ino)

    def serve(self) -> None:
        """Accept until it is time to leave; then wait for the running call and take the socket away."""
        while not self.leaving.is_set():
            left = self.idle - (time.monotonic() - self.last)
            if self.active == 0 and left <= 0:
                log("no call for %.0f s: leaving" % self.idle)
                break
            self.listener.settimeout(1.0 if self.active else min(max(left, 0.05), 1.0))
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.last = time.monotonic()
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()
        self.leave()

    def leave(self) -> None:
        self.leaving.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.calling:  # the running call, if any, ends first
            with locked(self.place):
                with contextlib.suppress(OSError):
                    info = os.lstat(self.place.socket)
                    if (info.st_dev, info.st_ino) == self.inode:
                        os.unlink(self.place.socket)
        log("stopped")
        sys.stderr.flush()
        os._exit(0)

    def go(self, why: str) -> None:
        """Leave once the running call (if any) is done; the accept loop notices within a second."""
        if not self.leaving.is_set():
            log(why)
        self.leaving.set()

    # -- one connection ------------------------------------------------------------------
    def answer(self, connection: socket.socket) -> None:
        keep = False
        try:
            uid = peer_uid(connection)
            if uid is not None and uid != os.getuid():
                return
            message = wire.receive_message(connection)
            op = message.get("op")
            if op == "ping":  # a daemon on its way out is no daemon to use
                fresh = message.get("identity") == self.identity and not self.leaving.is_set()
                wire.send_message(connection, {"fresh": fresh, "pid": os.getpid()})
                if message.get("identity") != self.identity:
                    self.go("a caller of another identity: leaving for a new daemon")
            elif op == "status":
                wire.send_message(connection, self.status())
            elif op == "stop":
                wire.send_message(connection, {"pid": os.getpid()})
                self.waiting.append(connection)  # kept open until the process ends: the caller waits for that
                keep = True
                self.go("stopped by `jaccli daemon stop`")
            elif op == "run":
                self.run(connection, message)
        except (OSError, wire.Closed):
            pass
        finally:
            if not keep:
                connection.close()

    def status(self) -> dict:
        return {"pid": os.getpid(), "identity": self.identity, "socket": self.place.socket, "log": self.place.log,
                "started": self.started, "calls": self.calls, "running": self.active,
                "idle": time.monotonic() - self.last, "idle_exit": self.idle}

    def run(self, connection: socket.socket, request: dict) -> None:
        if request.get("identity") != self.identity:
            wire.send_message(connection, {"stale": True})
            self.go("a caller of another identity: leaving for a new daemon")
            return
        with self.counting:
            self.active += 1
        try:
            with self.calling:
                if self.leaving.is_set():
                    return  # not a word: to the caller, no daemon runs (it starts one, or runs the call itself)
                try:
                    env, argv = call_environment(connection, request), list(request["argv"])
                    context = caller(request, self.place.folder)
                except (KeyError, TypeError, ValueError, LookupError) as error:
                    wire.send_message(connection, {"here": f"a request it cannot run: {error}"})
                    return
                try:
                    with context:
                        code = run_main(argv, env)
                except OSError as error:  # the caller's directory is gone, or not ours to enter
                    wire.send_message(connection, {"here": str(error)})
                    return
                with self.counting:
                    self.calls += 1
                wire.send_message(connection, {"code": code}, wire.EXIT)
        finally:
            with self.counting:
                self.active -= 1
            self.last = time.monotonic()


def call_environment(connection, request: dict):
    """An Environment of the caller's terminals and encodings whose stdout and stderr are frames."""
    from ..env import VARIABLES, Environment

    (out_encoding, out_errors), (err_encoding, err_errors) = request["streams"]
    stdout = io.TextIOWrapper(wire.FrameWriter(connection, wire.STDOUT), encoding=out_encoding, errors=out_errors,
                              write_through=True)
    stderr = io.TextIOWrapper(wire.FrameWriter(connection, wire.STDERR), encoding=err_encoding, errors=err_errors,
                              write_through=True)
    stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")  # forwarded calls read no standard input
    tty = [bool(t) for t in request["tty"]]
    variables = {k: str(v) for k, v in request["env"].items()}
    return Environment(stdin, stdout, stderr, *tty, {k: variables[k] for k in VARIABLES if k in variables})


@contextlib.contextmanager
def caller(request: dict, home: str):
    """The caller's directory, call variables and umask, for the length of the call."""
    from ..compute import cache
    from .place import call_variables

    variables = {str(k): str(v) for k, v in request["env"].items()}
    cwd, mask = str(request["cwd"]), int(request["umask"])
    saved = call_variables(os.environ)
    os.chdir(cwd)
    previous_mask = os.umask(mask & 0o777)
    for name in saved:
        del os.environ[name]
    os.environ.update(variables)
    cache._REFUSED.clear()  # "warn once" is per process: every call is a process of its own
    try:
        yield
    finally:
        for name in call_variables(os.environ):
            del os.environ[name]
        os.environ.update(saved)
        os.umask(previous_mask)
        os.chdir(home)


def run_main(argv: list[str], env) -> int:
    """`jaccli.cli.main` as the console script runs it: the exit code it returns, or a SystemExit's."""
    from ..cli.main import main

    try:
        code = main(argv, env)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
    with contextlib.suppress(OSError, ValueError):
        env.stdout.flush()
        env.stderr.flush()
    return int(code)


def warm_up() -> None:
    """JAX and the modules of a call imported, the backend started, one small call run (no cache written)."""
    from ..env import Environment

    env = Environment.capture(tty=True)
    saved = os.environ.get("JACCLI_NO_CACHE")
    os.environ["JACCLI_NO_CACHE"] = "1"
    try:
        run_main(["hessian", "x**2*y", "--at", "1,2"], env)
    finally:
        if saved is None:
            del os.environ["JACCLI_NO_CACHE"]
        else:
            os.environ["JACCLI_NO_CACHE"] = saved


def log(line: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} jaccli daemon {os.getpid()}: {line}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    folder, slot, expected, ready = argv
    ready = int(ready)
    place = Place(folder, slot)
    name = identity()
    if name != expected:  # it would import other code than its caller runs: it would be replaced at once
        os.write(ready, f"error identity {name} is not the caller's {expected}\n".encode())
        return 1
    idle = float(os.environ.get("JACCLI_DAEMON_IDLE") or IDLE_SECONDS)
    if os.environ.get("JACCLI_DAEMON_WARM") != "0":  # 0: JAX loads with the first call (tests of starting)
        warm_up()
    daemon = Daemon(place, name, idle)
    signal.signal(signal.SIGTERM, lambda signum, frame: daemon.go("SIGTERM"))
    daemon.listen()
    log(f"ready at {place.socket} (identity {name}, idle exit after {idle:g} s)")
    os.write(ready, f"ready {os.getpid()}\n".encode())
    os.close(ready)
    daemon.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
