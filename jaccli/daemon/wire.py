"""The frames on a daemon's socket: one byte of kind, four of length (big-endian), the payload.

    client → daemon   MESSAGE {"op": "run", "identity": …, "argv": […], "cwd": …, "env": {…}, "tty": […]}
    daemon → client   STDOUT b"…" · STDERR b"…" · … · EXIT {"code": 0}
                      or MESSAGE {"stale": true} (another identity: start a new daemon)
                      or MESSAGE {"here": "why"} (run it in your own process)

`ping`, `status` and `stop` are a MESSAGE each way. Bytes are relayed as the command wrote them, in the
order it wrote them, so a terminal sees stdout and stderr interleaved as a direct call would write them.
"""

from __future__ import annotations

import io
import json
import struct

MESSAGE, STDOUT, STDERR, EXIT = b"M", b"1", b"2", b"X"
_HEADER = struct.Struct(">cI")
MESSAGE_BYTES = 64 * 2**20  # a request at most (an expression on the command line is far shorter)


class Closed(Exception):
    """The other end went away mid-frame, or sent something that is not a frame."""


def send(connection, kind: bytes, payload: bytes) -> None:
    connection.sendall(_HEADER.pack(kind, len(payload)) + payload)


def send_message(connection, message: dict, kind: bytes = MESSAGE) -> None:
    send(connection, kind, json.dumps(message).encode())


def receive(connection, limit: int | None = None) -> tuple[bytes, bytes]:
    """(kind, payload) of the next frame; Closed at the end of the stream or on a frame over `limit`."""
    kind, size = _HEADER.unpack(_exactly(connection, _HEADER.size))
    if limit is not None and size > limit:
        raise Closed(f"a frame of {size:,} bytes")
    return kind, _exactly(connection, size)


def receive_message(connection) -> dict:
    kind, payload = receive(connection, MESSAGE_BYTES)
    if kind not in (MESSAGE, EXIT):
        raise Closed(f"a frame of kind {kind!r} where a message was due")
    try:
        message = json.loads(payload)
    except ValueError:
        raise Closed("a message that is not JSON") from None
    if not isinstance(message, dict):
        raise Closed("a message that is not a JSON object")
    return message


def _exactly(connection, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            raise Closed("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class FrameWriter(io.RawIOBase):
    """A binary stream whose every write is one frame of `kind` on the socket (the daemon's stdout and
    stderr); a client that went away is BrokenPipeError, as a closed pipe is to a direct call."""

    def __init__(self, connection, kind: bytes):
        self.connection, self.kind = connection, kind

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        if data:
            try:
                send(self.connection, self.kind, data)
            except OSError:
                raise BrokenPipeError("the client went away") from None
        return len(data)
