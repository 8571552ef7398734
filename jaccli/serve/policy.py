"""What a server keeps and when it compiles: the LRU of compiled functions, and when a new expression runs
op by op instead.

Compiling a small gradient takes XLA ~0.1–0.3 s; running it op by op takes a few milliseconds once JAX
has compiled the primitives it uses for those shapes (it keeps them for the life of the process), but
seconds while it has not: a Hessian's first eager run compiles a hundred small kernels. So `Policy`
('auto') compiles the first new expression of a kind of request (command, mode, number of variables,
dtype …), warms that kind up op by op in a background thread meanwhile, times it, and from then on
answers the kind's new expressions op by op when that is faster than compiling them (a repeated one is
compiled: `run(eager=True)`); until the warm-up is done they are compiled. 'always' runs every new
expression of scalars op by op; 'never' compiles at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

EAGER_CHOICES = ("auto", "always", "never")


class Executables(MutableMapping):
    """A server's compiled functions (or its parsed expressions): at most `size`, the least recently used
    one out first."""

    def __init__(self, size: int = 128):
        self.size = size
        self.evictions = 0
        self._items: OrderedDict = OrderedDict()

    def __getitem__(self, key):
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
            self.evictions += 1

    def __delitem__(self, key) -> None:
        del self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Kind:
    """What the server has seen of one kind of request."""

    compiled: int = 0  # new expressions compiled
    eager_seconds: float | None = None  # a warm op-by-op answer took this long (the warm-up's second run)
    warming: bool = False
    never: bool = False  # op by op does not apply (array variables, a blockwise plan)


def kind_of(request, expression) -> tuple | None:
    """Requests whose op-by-op runs use the same primitives at the same shapes, near enough."""
    if expression is None:
        return None
    return (request.command, request.mode, request.with_value, request.order, len(request.partial or ()),
            request.dtype, request.device, len(expression.variables), None if request.wrt is None else len(request.wrt))


class Policy:
    """Whether a request's new expression runs op by op (`eager`), learnt from what requests took (`observe`)."""

    def __init__(self, mode: str = "auto", *, background: bool = True, after: int = 1):
        self.mode = mode
        self.background = background  # warm up in a thread (else in the request that asks for it: tests)
        self.after = after  # new expressions of a kind compiled before it is warmed up (1: its first)
        self.compile_seconds: float | None = None  # a request that compiles takes this long (moving average)
        self.kinds: dict[tuple, Kind] = {}
        self._jobs: queue.Queue | None = None

    def eager(self, kind: tuple | None) -> bool:
        if self.mode != "auto":
            return self.mode == "always"
        state = self.kinds.get(kind)
        return bool(state and state.eager_seconds is not None and self.compile_seconds is not None
                    and state.eager_seconds < self.compile_seconds)

    def observe(self, kind: tuple | None, status: str, seconds: float, warm_up: Callable[[], bool]) -> None:
        """A request of `kind` was answered (`status`: the result's cache) in `seconds`; `warm_up()` runs it op
        by op (False: that does not apply to it)."""
        if self.mode != "auto" or kind is None:
            return
        state = self.kinds.setdefault(kind, Kind())
        if status == "miss":
            self.compile_seconds = _average(self.compile_seconds, seconds)
            state.compiled += 1
            if state.compiled >= self.after and not (state.warming or state.never or state.eager_seconds):
                state.warming = True
                self._warm(state, warm_up)

    def _warm(self, state: Kind, warm_up: Callable[[], bool]) -> None:
        if not self.background:
            _warm_up(state, warm_up)
            return
        if self._jobs is None:
            self._jobs = queue.Queue()
            threading.Thread(target=self._work, name="jaccli-serve-warm-up", daemon=True).start()
        self._jobs.put((state, warm_up))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            _warm_up(*job)

    def close(self) -> None:
        """Stop the warm-up thread after its current job (it holds nothing the answers need)."""
        if self._jobs is not None:
            self._jobs.put(None)


def _warm_up(state: Kind, warm_up: Callable[[], bool]) -> None:
    """Run op by op twice: the first compiles the primitives, the second is timed."""
    try:
        if warm_up():
            start = time.perf_counter()
            warm_up()
            state.eager_seconds = time.perf_counter() - start
        else:
            state.never = True
    except Exception:  # noqa: BLE001 - the request itself was answered; this only decides the next ones
        state.never = True
    finally:
        state.warming = False


def _average(before: float | None, now: float) -> float:
    return now if before is None else 0.7 * before + 0.3 * now
