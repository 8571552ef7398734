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
    """How a function is called: array arguments, then constant parameters (`static`) by position or keyword.

    A static parameter is a constant the parser reads (an axis, a shape, `k`, `ord`): `sum(x, 1)` and
    `sum(x, axis=1)` are the same call. `keyword_only` ones are never positional (`max(x, y)` is
    elementwise, so its axis is only `axis=`). `required` counts the static ones that must be given.
    """

    min_args: int
    max_args: int  # array arguments; -1: any number
    static: tuple[str, ...] = ()
    required: int = 0
    keyword_only: tuple[str, ...] = ()
    doc: str = ""

    @property
    def keywords(self) -> tuple[str, ...]:
        """The parameters that may be given as `name=` (SPEC: only the documented ones)."""
        return tuple(name for name in (*self.static, *self.keyword_only) if name in KEYWORDS)


KEYWORDS = ("axis", "k", "n", "shift", "axes", "ord")  # the only `name=` arguments an expression may use
# what each static parameter holds: one integer, integers (one or a tuple), a shape (the same, -1 allowed
# in reshape), or a number (norm's ord: 1, 2, inf …)
STATIC_KINDS = {"axis": "integers", "axes": "integers", "k": "integer", "n": "integer", "m": "integer",
                "shift": "integers", "shape": "integers", "ord": "number"}

_UNARY = Signature(1, 1)
_AXIS = Signature(1, 1, static=("axis",))

SIGNATURES: dict[str, Signature] = {
    **{
        name: _UNARY
        for name in (
            "sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh "
            "exp exp2 expm1 log1p log10 log2 sqrt cbrt square abs sign floor ceil round trunc "
            "sec csc cot erf erfc erfinv gamma lgamma digamma sigmoid softplus sinc "
            "real imag conj angle"
        ).split()
    },
    "log": Signature(1, 2, doc="log(x) natural logarithm; log(x, b) to base b"),
    "atan2": Signature(2, 2),
    "hypot": Signature(2, 2),
    "pow": Signature(2, 2, doc="pow(x, y) is x**y"),
    "mod": Signature(2, 2, doc="mod(x, y): the remainder with the sign of y, like numpy.mod"),
    "clip": Signature(3, 3, doc="clip(x, low, high)"),
    "min": Signature(1, -1, keyword_only=("axis",), doc="of one array: a reduction; of several: elementwise"),
    "max": Signature(1, -1, keyword_only=("axis",), doc="of one array: a reduction; of several: elementwise"),
    "where": Signature(3, 3, doc="where(cond, a, b): a where cond holds, else b"),
    **{name: _AXIS for name in "sum prod mean logsumexp cumsum cumprod std var softmax log_softmax flip".split()},
    "norm": Signature(1, 1, static=("ord", "axis"),
                      doc="norm(x) 2-norm (Frobenius for a matrix); norm(x, ord) with ord 1, 2 or inf; axis="),
    "dot": Signature(2, 2),
    # arrays and matrices (NumPy's meaning)
    "matmul": Signature(2, 2, doc="matmul(A, B) is A @ B"),
    "transpose": Signature(1, 1, static=("axes",), doc="transpose(A) is A.T; transpose(A, axes) permutes axes"),
    "reshape": Signature(1, 1, static=("shape",), required=1, doc="reshape(x, shape): shape 6 or (2, 3)"),
    "ravel": _UNARY,
    "diag": Signature(1, 1, static=("k",), doc="diag(v) a diagonal matrix; diag(A) the diagonal of A"),
    "trace": _UNARY,
    "outer": Signature(2, 2),
    "tril": Signature(1, 1, static=("k",), doc="tril(A): A below (and on) the diagonal; k= shifts it"),
    "triu": Signature(1, 1, static=("k",), doc="triu(A): A above (and on) the diagonal; k= shifts it"),
    "concatenate": Signature(1, 1, static=("axis",), doc="concatenate([a, b]) joins along an axis (0)"),
    "stack": Signature(1, 1, static=("axis",), doc="stack([a, b]) stacks on a new axis (0)"),
    "roll": Signature(1, 1, static=("shift", "axis"), required=1, doc="roll(x, shift)"),
    "diff": Signature(1, 1, static=("n", "axis"), doc="diff(x): x[1:] - x[:-1]; n= times, along axis= (-1)"),
    "eye": Signature(0, 0, static=("n", "m"), required=1, keyword_only=("k",), doc="eye(n): the n×n identity"),
    "zeros": Signature(0, 0, static=("shape",), required=1, doc="zeros(shape): shape 3 or (2, 3)"),
    "ones": Signature(0, 0, static=("shape",), required=1, doc="ones(shape): shape 3 or (2, 3)"),
    # linear algebra
    "det": _UNARY,
    "logdet": Signature(1, 1, doc="logdet(A) is log|det A|"),
    "inv": _UNARY,
    "solve": Signature(2, 2, doc="solve(A, b): x with A @ x = b"),
    "cholesky": Signature(1, 1, doc="cholesky(A): lower L with L @ L.T = A"),
    "eigvalsh": Signature(1, 1, doc="eigvalsh(A): eigenvalues of symmetric A, ascending"),
}

CONSTRUCTORS = ("eye", "zeros", "ones")  # constant arrays in the run's dtype
LIST_ARGUMENTS = ("concatenate", "stack")  # take a list of arrays: [a, b] is not one array here

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
    "concat": "concatenate",
    "conjugate": "conj",
    "re": "real",
    "im": "imag",
    "arg": "angle",
}

NOT_HOLOMORPHIC = ("conj", "abs", "real", "imag", "angle")  # --holomorphic warns when an expression calls one

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
