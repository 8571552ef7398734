"""The streaming loop of many points: format each chunk (on worker threads) and write it in order.

A result is written as soon as it is computed; when the input pauses, everything
formatted so far is written before reading on, so a co-process gets each answer.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

from ..errors import PointError, warn
from ..inputs.records import BadRecord


def write_stream(results, make_sink, *, chunk: callable, skip_bad: bool, make_error_sink=None) -> None:
    """Format each chunk (on worker threads) and write it in order; answer at once when input is idle.

    `make_sink()` is called at the first result (the plan is known then); `chunk()` gives
    the full chunk size, so that a smaller chunk (the input paused) is written before reading on.
    With --skip-bad and no good record at all, `make_error_sink()` gives a sink (or None: stop at
    the first bad record) for the error records.
    """
    sink, early, pending = None, [], deque()
    pool = None

    def drain(everything: bool):
        while pending and (everything or len(pending) > 2 or not hasattr(pending[0], "done") or pending[0].done()):
            item = pending.popleft()
            if hasattr(item, "cancelled") and item.cancelled():  # the run stopped: nothing more to write
                continue
            sink.emit(item.result() if hasattr(item, "result") else item)

    try:
        for item in results:
            if isinstance(item, BadRecord):
                if not skip_bad:
                    raise stop_at(item)
                if sink is None:
                    early.append(item)
                else:
                    pending.append(sink.bad(item))
                continue
            if sink is None:
                sink = make_sink()
                pending.append(sink.begin())
                pending.extend(sink.bad(record) for record in early)
                pool = ThreadPoolExecutor(sink.threads) if sink.threads else None
            partial = len(item.indices) < chunk()  # the input paused: answer now, without a worker's round trip
            pending.append(pool.submit(sink.format, item) if pool and not partial else sink.format(item))
            drain(everything=partial)
        if sink is None and early:
            sink = make_error_sink() if make_error_sink is not None else None
            if sink is None:
                raise stop_at(early[0], every=True)
            pending.append(sink.begin())
            pending.extend(sink.bad(record) for record in early)
            warn(f"no record was good: {len(early)} error record{'s' if len(early) != 1 else ''} written")
        if sink is not None:
            drain(everything=True)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if sink is not None:
            try:
                drain(everything=True)
            finally:
                sink.end()


def stop_at(record: BadRecord, every: bool = False) -> PointError:
    hint = ("no record was good, so the result's shape is not known: name the variables' sizes in the "
            "expression, or use -f json" if every else
            "results before it were written; --skip-bad reports bad records and goes on")
    return PointError(f"line {record.line}: {record.message}", hint=hint)
