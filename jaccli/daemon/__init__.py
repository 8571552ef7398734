"""The warm daemon: `jaccli` calls answered by a per-user background process that has JAX loaded already.

    $ jaccli daemon start          # or JACCLI_DAEMON=1 in the environment
    $ jaccli grad "x**2*y" --at 1,2  # answered by the daemon: same stdout, stderr and exit code

`client.py` is the console script: it decides (standard library only, nothing heavy imported) whether a call
is forwarded, forwards it and relays the answer, or runs `jaccli.cli` in its own process. `place.py` is
where the socket lives and who may use it, and the identity that tells a daemon of other source or jax
apart; `wire.py` the frames on the socket; `control.py` starting, asking and stopping a daemon;
`server.py` the daemon itself. Everything but `server.py` is light: it must not import NumPy, JAX, typer
or rich.
"""
