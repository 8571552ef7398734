"""Values held for every point: `--at NAME=value` beside a file or stream of points (`--at @points.jsonl`).

Each record gives the other variables; `Held` merges the two into one point for the plan, and puts the held
values into the records' rows so that every row covers the whole layout.
"""

from __future__ import annotations

import numpy as np

from ..errors import PointError
from ..inputs import points
from ..inputs.sources import held_texts


class Held:
    """The held values (none when --at is a lone file or stream), and, once the layout is known, where they go."""

    def __init__(self, texts, has_records: bool, variables: tuple[str, ...], budget: int):
        self.named: dict[str, np.ndarray] = {}
        if has_records and not isinstance(texts, points.PointSpec) and len(texts) > 1:
            spec = points.read_spec(held_texts(texts), max_bytes=budget)
            if spec.flat:
                raise PointError("beside a file or stream of points, --at values are named: they hold a variable "
                                 "for every point", hint="e.g. --at A=[[1,2],[3,4]] --at @points.jsonl")
            for name in spec.named:
                if name not in variables:
                    raise points.unknown_variable(name, variables, "--at")
            self.named = spec.named
        self.flat = np.zeros(0)  # the held values, flat in layout order (set by `place`)

    def others(self, variables) -> list[str]:
        """The variables that each record gives (all but the held ones)."""
        return [n for n in variables if n not in self.named]

    def merge(self, spec: points.PointSpec) -> points.PointSpec:
        """One record's point with the held values added; a record may not give a held name."""
        if not self.named:
            return spec
        both = [name for name in spec.named if name in self.named]
        if both:
            raise PointError(f"the record gives {both[0]!r}, which --at holds for every point",
                             hint=f"give {both[0]!r} in the records or in --at, not in both")
        return points.PointSpec({**spec.named, **self.named}, spec.flat)

    def place(self, setup) -> None:
        """Where the held values go in a full row of the layout, and which slots the records fill."""
        layout = setup.layout
        self.record_slots = [s for s in layout.slots if s.name not in self.named]
        starts = np.cumsum([0] + [s.size for s in layout.slots])
        ranges = {s.name: np.arange(starts[i], starts[i] + s.size) for i, s in enumerate(layout.slots)}
        self.record_cols = np.concatenate([ranges[s.name] for s in self.record_slots] or [np.zeros(0, int)])
        self.held_cols = np.concatenate([ranges[s.name] for s in layout.slots if s.name in self.named]
                                        or [np.zeros(0, int)]).astype(int)
        self.flat = np.concatenate([np.reshape(setup.point[s.name], -1) for s in layout.slots
                                    if s.name in self.named] or [np.zeros(0)])
        self.full_width = int(starts[-1])

    def full_rows(self, rows: np.ndarray) -> np.ndarray:
        """Records' rows with the held values put in: rows of the whole layout."""
        if not self.flat.size:
            return rows
        full = np.empty((rows.shape[0], self.full_width), dtype=np.result_type(rows, self.flat))
        full[:, self.record_cols] = rows
        full[:, self.held_cols] = self.flat
        return full
