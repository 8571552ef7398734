"""`jaccli daemon start|status|stop`: the warm daemon (jaccli/daemon/) turned on, asked and stopped."""

from __future__ import annotations

import time

import typer

from ..errors import ComputeError, JaccliError

daemon_app = typer.Typer(
    help="The warm daemon: one-point calls answered by a background process with JAX loaded "
         "(README: \"The warm daemon\").  Example: jaccli daemon start",
    no_args_is_help=True)


def _place():
    from ..daemon.place import Refused, locate

    try:
        return locate()
    except Refused as error:
        raise JaccliError(f"no daemon: {error}", hint="calls run in their own process; fix the folder's owner "
                          "and mode (chmod 700), or set XDG_RUNTIME_DIR") from None


@daemon_app.command("start")
def start(ctx: typer.Context) -> None:
    """Start the daemon (if none of this jaccli runs) and forward one-point calls to it from now on,
    until `jaccli daemon stop` (JACCLI_DAEMON=0 turns it off for one call or shell).

    Example: jaccli daemon start
    """
    from ..daemon import control

    place = _place()
    pid = control.start(place)
    if pid is None:
        raise ComputeError("the daemon did not start", hint=f"its log says why: {place.log}")
    with open(place.marker, "w"):
        pass
    ctx.obj.write(f"jaccli daemon running (pid {pid}) at {place.socket}\n")


@daemon_app.command("status")
def status(ctx: typer.Context) -> None:
    """Whether a daemon of this jaccli runs: its pid, calls answered, idle time; exit 1 if none.

    Example: jaccli daemon status
    """
    import os

    from ..daemon import control

    place = _place()
    found = control.status(place)
    turned_on = os.environ.get("JACCLI_DAEMON") == "1" or (
        os.environ.get("JACCLI_DAEMON") != "0" and os.path.exists(place.marker))
    use = "one-point calls are forwarded" if turned_on else "calls run in their own process (jaccli daemon start)"
    if found is None:
        ctx.obj.write(f"no jaccli daemon running at {place.socket}; {use}\n")
        raise typer.Exit(1)
    age = time.time() - found["started"]
    calls = f"{found['calls']} call{'' if found['calls'] == 1 else 's'}"
    stale = "" if found["fresh"] else "; of other source or jax: the next call replaces it"
    ctx.obj.write(f"jaccli daemon running (pid {found['pid']}) at {found['socket']}: up {age:.0f} s, {calls}, "
                  f"idle {found['idle']:.0f} s of {found['idle_exit']:g}{stale}\n"
                  f"log: {found['log']}; {use}\n")


@daemon_app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop every jaccli daemon of yours (after the call it is answering) and stop forwarding calls.

    Example: jaccli daemon stop
    """
    import contextlib
    import os

    from ..daemon import control

    place = _place()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(place.marker)
    stopped = control.stop(place)
    if not stopped:
        ctx.obj.write("no jaccli daemon was running\n")
    for pid in stopped:
        ctx.obj.write(f"stopped the jaccli daemon (pid {pid})\n")
