"""Starting, asking and stopping a daemon (standard library only: the client calls these before it knows
whether the call runs here).

Starting holds `<slot>.lock` (flock): of two callers that find no daemon, the second waits and then finds
the first one's. The new daemon is `python -m jaccli.daemon.server`, in a session of its own, its stderr
`<slot>.log`; it says `ready PID` on a pipe once its socket is in place, or closes the pipe by dying, so
nobody polls for the socket. A stale daemon (another identity) was told so by the probe and leaves by
itself; the new one's socket is renamed over the old one's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys

from . import wire
from .place import PACKAGE, Place, Refused, check_socket, identity, peer_uid

LOG_BYTES = 2**20  # a daemon's log is emptied when a daemon starts beyond this
START_SECONDS = 120.0  # JACCLI_DAEMON_START_TIMEOUT: importing JAX on a busy machine takes seconds


def connect(place: Place, path: str | None = None) -> socket.socket:
    """A connection to a daemon's socket, both ends checked to be this user's; OSError if nobody listens."""
    path = path or place.socket
    check_socket(path)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        uid = peer_uid(connection)
        if uid is not None and uid != os.getuid():
            raise Refused(f"the daemon at {path!r} runs as uid {uid}, not as you")
    except BaseException:
        connection.close()
        raise
    return connection


def ask(place: Place, message: dict, path: str | None = None) -> dict | None:
    """The daemon's answer to one message, or None when none answers."""
    try:
        with contextlib.closing(connect(place, path)) as connection:
            wire.send_message(connection, message)
            return wire.receive_message(connection)
    except (OSError, wire.Closed):
        return None


def probe(place: Place) -> str:
    """'fresh' (a daemon of this identity listens), 'stale' (of another: it is leaving) or 'absent'."""
    answer = ask(place, {"op": "ping", "identity": identity()})
    if answer is None:
        return "absent"
    return "fresh" if answer.get("fresh") else "stale"


def start(place: Place, *, again: bool = True) -> int | None:
    """Make sure a daemon of this identity listens; its pid (None: it could not be started, see the log).

    A daemon of this identity that failed to start is marked (`<slot>.failed`): with `again` False (a
    call) none is tried again until the source or jax changes or `jaccli daemon start` is run, so that
    each call does not pay for a start that fails."""
    with _locked(place):
        if probe(place) == "fresh":
            return (ask(place, {"op": "status"}) or {}).get("pid")
        if not again and failed(place):
            return None
        pid = _spawn(place)
        if pid is None:
            with open(place.path(".failed"), "w") as mark:
                mark.write(identity())
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(place.path(".failed"))
        return pid


def failed(place: Place) -> bool:
    """Whether a daemon of this identity failed to start."""
    try:
        with open(place.path(".failed")) as mark:
            return mark.read() == identity()
    except OSError:
        return False


def _spawn(place: Place) -> int | None:
    import select
    import subprocess

    read, write = os.pipe()
    log = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
    if os.fstat(log).st_size > LOG_BYTES:  # appended to (a stale daemon may still be writing its last lines)
        os.ftruncate(log, 0)
    environ = dict(os.environ)  # the daemon imports this jaccli, wherever the caller found it
    root = os.path.dirname(PACKAGE)
    environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [environ.get("PYTHONPATH")])])
    try:
        subprocess.Popen([sys.executable, "-m", "jaccli.daemon.server", place.folder, place.slot, identity(),
                          str(write)], stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(write,),
                         cwd=place.folder, env=environ, start_new_session=True)
    except OSError:
        return None
    finally:
        os.close(write)
        os.close(log)
    seconds = float(os.environ.get("JACCLI_DAEMON_START_TIMEOUT") or START_SECONDS)
    said = b""
    try:
        while not said.endswith(b"\n"):
            if not select.select([read], [], [], seconds)[0]:
                return None  # still starting: it may serve the next call; this one runs here
            chunk = os.read(read, 256)
            if not chunk:
                return None  # it died: the reason is in its log
            said += chunk
    finally:
        os.close(read)
    words = said.split()
    return int(words[1]) if len(words) == 2 and words[0] == b"ready" else None


def status(place: Place) -> dict | None:
    """What this slot's daemon says of itself (pid, identity, whether fresh, calls, idle time), or None."""
    answer = ask(place, {"op": "status"})
    if answer is not None:
        answer["fresh"] = answer.get("identity") == identity()
    return answer


def stop(place: Place) -> list[int]:
    """Stop every daemon in the folder (of every installation of this user's); the pids that stopped.
    Each answers, finishes its call, and exits: its end of the connection closes when it is gone."""
    stopped = []
    for name in sorted(os.listdir(place.folder)):
        if not name.endswith(".sock") or name.startswith("."):  # .PID.sock: a daemon's before it is in place
            continue
        path = os.path.join(place.folder, name)
        try:
            connection = connect(place, path)
        except ConnectionRefusedError:  # the socket of a daemon that was killed: nobody listens
            with _locked(Place(place.folder, name[: -len(".sock")])), contextlib.suppress(OSError):
                _remove_if_dead(path)
            continue
        except (OSError, Refused):
            continue
        with contextlib.closing(connection):
            try:
                wire.send_message(connection, {"op": "stop"})
                answer = wire.receive_message(connection)
                while connection.recv(4096):  # until the process is gone
                    pass
            except (OSError, wire.Closed):
                continue
            stopped.append(answer.get("pid"))
    return stopped


def _remove_if_dead(path: str) -> None:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
    finally:
        probe.close()


@contextlib.contextmanager
def _locked(place: Place):
    import fcntl

    fd = os.open(place.lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


locked = _locked  # the daemon takes the same lock to take its socket away
