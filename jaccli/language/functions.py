"""The functions an expression may call: names, aliases and how many arguments each takes.

This table is what the parser checks calls against; `translate` maps the same
canonical names to `jax.numpy`. Kept free of heavy imports so that parsing (and
`jaccli --help`) never loads JAX.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    min_args: int
    max_args: int  # -1: any number
    axis: bool = False  # takes an `axis` (as keyword, or as the last positional argument)
    doc: str = ""


_UNARY = Signature(1, 1)
_REDUCTION = Signature(1, 2, axis=True)

SIGNATURES: dict[str, Signature] = {
    **{
        name: _UNARY
        for name in (
            "sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh "
            "exp exp2 expm1 log1p log10 log2 sqrt cbrt square abs sign floor ceil round trunc "
            "sec csc cot erf erfc erfinv gamma lgamma digamma sigmoid softplus"
        ).split()
    },
    "log": Signature(1, 2, doc="log(x) natural logarithm; log(x, b) to base b"),
    "atan2": Signature(2, 2),
    "hypot": Signature(2, 2),
    "pow": Signature(2, 2, doc="pow(x, y) is x**y"),
    "mod": Signature(2, 2, doc="mod(x, y): the remainder with the sign of y, like numpy.mod"),
    "clip": Signature(3, 3, doc="clip(x, low, high)"),
    "min": Signature(1, -1, axis=True, doc="of one array: a reduction; of several: elementwise"),
    "max": Signature(1, -1, axis=True, doc="of one array: a reduction; of several: elementwise"),
    "where": Signature(3, 3, doc="where(cond, a, b): a where cond holds, else b"),
    "sum": _REDUCTION,
    "prod": _REDUCTION,
    "mean": _REDUCTION,
    "norm": _REDUCTION,
    "logsumexp": _REDUCTION,
    "dot": Signature(2, 2),
}

ALIASES: dict[str, str] = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctan2": "atan2",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "ln": "log",
    "Abs": "abs",
    "absolute": "abs",
    "minimum": "min",
    "maximum": "max",
    "gammaln": "lgamma",
    "loggamma": "lgamma",
    "expit": "sigmoid",
    "logistic": "sigmoid",
    "power": "pow",
    "fabs": "abs",
    "ceiling": "ceil",
    "Min": "min",
    "Max": "max",
    "psi": "digamma",
}

CONSTANTS = ("pi", "E", "inf", "nan")


def canonical_name(name: str) -> str | None:
    """The canonical name of function `name` (resolving aliases), or None if unknown."""
    name = ALIASES.get(name, name)
    return name if name in SIGNATURES else None


def closest_names(name: str, candidates, n: int = 3) -> list[str]:
    """Up to `n` names from `candidates` that look like `name`, closest first."""
    candidates = list(candidates)
    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    lowered = [c for c in candidates if c.lower() == name.lower() and c not in found]
    return (lowered + found)[:n]
