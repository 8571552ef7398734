"""The registry of commands: one frozen record each, and everything that differs between commands.

Shapes, entry names, tables, the scalar check, which vector is read, modes,
size hints, formulas and `check`'s references all read these records. Adding a
command is one entry here, its operator in `derivatives`, a few-line typer
command in `cli/app.py` and a function in `api.py` (ARCHITECTURE.md).

Axes say what a result is made of, for f: ℝⁿ → out_shape (example
f = [x**2*y, sin(z)], out (2,), n = 3):

    eval      out           f(x)          (2,)
    grad      out in        ∇f (f scalar) (3,)
    jacobian  out in        ∂f/∂x         (2, 3)
    hessian   out in in     ∂²f/∂x²       (2, 3, 3)
    jvp       out           J·v           (2,)
    vjp       in            uᵀ·J          (3,)
    hvp       in            H·v           (3,)  H never formed
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import JaccliError

FIRST_ORDER = ("auto", "fwd", "rev")
SECOND_ORDER = ("fwd-rev", "rev-fwd", "rev-rev")


@dataclass(frozen=True)
class Reference:
    """How `check` builds an independent reference: `lower` differenced once, then contracted.

    along: 'basis' (every input direction) or 'v' (the tangent only); contract: 'u'
    (uᵀ·J from the full J), or None. The symbolic reference is the SymPy derivative
    of order `symbolic_order`, contracted the same way.
    """

    lower: str  # the operator that finite differences differentiate: 'eval', 'grad', 'jacobian'
    along: str = "basis"
    contract: str | None = None  # 'v' or 'u': J·v, uᵀ·J, H·v from the full symbolic derivative


@dataclass(frozen=True)
class Command:
    name: str
    title: str  # table title: ∂f/∂x
    axes: tuple[str, ...]  # 'out' and 'in' axes of the result (derivative: from its order)
    summary: str  # one line for help and inspect
    modes: tuple[str, ...] = ()  # choices of --mode, the default first; empty: one fixed mode
    fixed_mode: str = "none"  # the mode reported when there is no choice
    scalar_only: bool = False
    vector: str | None = None  # 'v' (shape in_shape) or 'u' (shape out_shape)
    prefix: str = ""  # ASCII entry names of a product: Jv_f0, uJ_x, Hv_x
    table_prefix: str = ""  # the same for tables: Hv x
    symbolic_order: int | None = None  # derivatives taken by SymPy for --symbolic; None: no formula
    reference: Reference | None = None  # how check compares; None: only --expect
    too_large: str = "use a smaller problem"
    without_forming: str = ""  # what computes the products of the matrix without forming it (jacobian, hessian)
    blockwise: bool = False  # one point: basis directions a block (jacobian, hessian)
    operations: float = 2.8  # JAX operations traced per expression node (measured), what XLA's compile time follows
    growth: float = 1.0  # derivative: × this for each order beyond the first

    def build(self, f, mode: str, holomorphic: bool = False):
        """f(z, c) ↦ g(z, c, w): this command's operator in `derivatives` (holomorphic: the complex derivative)."""
        from . import derivatives

        return derivatives.OPERATORS[self.name](f, mode, holomorphic)

    def mode(self, requested: str | None, n_in: int, n_out: int) -> str:
        """The mode actually used: jacobian `auto` is forward when inputs ≤ outputs, else reverse."""
        if not self.modes:
            if requested is not None and requested != self.fixed_mode:
                raise JaccliError(f"`{self.name}` has no --mode", hint=f"it always runs {self.fixed_mode}")
            return self.fixed_mode
        mode = requested or self.modes[0]
        if mode not in self.modes:
            raise JaccliError(f"`{self.name}` takes --mode {' or '.join(self.modes)}, not {mode!r}")
        if mode == "auto":
            return "fwd" if n_in <= n_out else "rev"
        return mode

    def result_shape(self, out_shape: tuple, in_shape: tuple, axes: tuple[str, ...] | None = None) -> tuple:
        """out_shape and in_shape put together along the axes (README "Expressions": a result is out_shape + in_shape …)."""
        shape: tuple = ()
        for axis in axes or self.axes:
            shape += out_shape if axis == "out" else in_shape
        return shape

    def count(self, out_size: int, in_size: int, axes: tuple[str, ...] | None = None) -> int:
        """How many numbers one result holds."""
        return math.prod(out_size if axis == "out" else in_size for axis in axes or self.axes)


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("eval", "f", ("out",), "the value f(x)", symbolic_order=0, operations=1.4),
    Command("grad", "∇f", ("out", "in"), "the gradient ∇f of a scalar expression", fixed_mode="rev",
            scalar_only=True, symbolic_order=1, reference=Reference("eval"), table_prefix="∂f/∂"),
    Command("jacobian", "∂f/∂x", ("out", "in"), "the Jacobian ∂f/∂x, shape out_shape + in_shape", modes=FIRST_ORDER,
            symbolic_order=1, reference=Reference("eval"), blockwise=True,
            too_large="use --sparse (J mostly zeros), or `jvp` or `vjp` (J·v, uᵀ·J without forming J)",
            without_forming="`jvp` or `vjp` (J·v, uᵀ·J without forming J)"),
    Command("hessian", "∂²f/∂x²", ("out", "in", "in"), "the Hessian ∂²f/∂x², shape out_shape + in_shape + in_shape",
            modes=SECOND_ORDER, symbolic_order=2, reference=Reference("jacobian"), blockwise=True, operations=7.8,
            too_large="use --sparse (H mostly zeros), or `hvp` (H·v without forming H)",
            without_forming="`hvp` (H·v without forming H)"),
    Command("jvp", "J·v", ("out",), "the Jacobian-vector product J·v (forward mode)", fixed_mode="fwd", vector="v",
            prefix="Jv_", symbolic_order=1, reference=Reference("eval", along="v", contract="v")),
    Command("vjp", "uᵀ·J", ("in",), "the vector-Jacobian product uᵀ·J (reverse mode)", fixed_mode="rev",
            vector="u", prefix="uJ_", table_prefix="uᵀJ ", symbolic_order=1,
            reference=Reference("eval", contract="u")),
    Command("hvp", "H·v", ("in",), "the Hessian-vector product H·v, without forming H", modes=SECOND_ORDER,
            scalar_only=True, vector="v", prefix="Hv_", table_prefix="Hv ", symbolic_order=2, operations=6.4,
            reference=Reference("grad", along="v", contract="v")),
    Command("derivative", "∂ᵏf", ("out", "in"), "the K-th derivative tensor, or one mixed partial",
            fixed_mode="", symbolic_order=1, reference=Reference("derivative"), growth=2.65,
            too_large="use a lower --order, or --partial for one mixed partial"),
)}


def get(name: str) -> Command:
    try:
        return COMMANDS[name]
    except KeyError:
        raise JaccliError(f"unknown command {name!r}", hint=f"the commands are {', '.join(COMMANDS)}") from None
