"""How an expression uses its variables: scalar or indexed, and the smallest size its indices allow.

A flat point (`--at 1,2,3`) is shared out to the variables by these uses; names
sort naturally (`x2` before `x10`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .nodes import Index, Node, Var, walk


@dataclass(frozen=True)
class VariableUse:
    """How an expression uses a variable, for inferring its shape from a flat point."""

    name: str
    rank: int | None  # 0: never subscripted (a scalar unless bound to an array); None: mixed
    min_size: int  # smallest length of axis 0 that its integer indices allow
    size_known: bool  # True when indexed only by integers on one axis: its size is min_size


def natural_key(name: str):
    """Sort key putting x2 before x10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def variable_uses(*roots: Node, exclude=frozenset()) -> dict[str, VariableUse]:
    """How the trees under `roots` (a model's definitions and final expression) use each variable; the names
    in `exclude` (the defined ones) are not variables."""
    ranks: dict[str, set] = {}
    sizes: dict[str, int] = {}
    known: dict[str, bool] = {}
    subscripted = set()
    every = [node for root in roots for node in walk(root)]
    for node in every:
        if isinstance(node, Index) and isinstance(node.target, Var) and node.target.name not in exclude:
            subscripted.add(id(node.target))
            name = node.target.name
            ranks.setdefault(name, set()).add(len(node.items))
            first = node.items[0]
            if isinstance(first, int):
                sizes[name] = max(sizes.get(name, 0), first + 1 if first >= 0 else -first)
            only_ints = len(node.items) == 1 and isinstance(first, int)
            known[name] = known.get(name, True) and only_ints
    uses = {}
    for node in every:
        if isinstance(node, Var) and node.name not in exclude:
            name = node.name
            if id(node) not in subscripted:
                ranks.setdefault(name, set()).add(0)
                if name in known and 0 in ranks[name] and len(ranks[name]) > 1:
                    known[name] = False
            rank_set = ranks[name]
            rank = next(iter(rank_set)) if len(rank_set) == 1 else None
            uses[name] = VariableUse(name, rank, sizes.get(name, 0), known.get(name, False))
    return uses
