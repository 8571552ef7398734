"""Sparse Jacobians and Hessians (SPEC §9): the pattern found from the jaxpr (pattern.py), coloured
(colour.py), computed with a few JVPs or HVPs and decompressed into CSR (evaluate.py).

This module itself imports nothing heavy: `might_pay` tells a dense run whether to look further.
"""

from __future__ import annotations

import math

AUTO_ENTRIES = 10**6  # auto looks at the pattern of dense results larger than this


def dense_entries(setup, out_shape: tuple) -> int:
    """How many numbers the dense result holds."""
    n = setup.layout.z_size
    return math.prod(out_shape) * n * (n if setup.command.name == "hessian" else 1)


def might_pay(setup, out_shape: tuple) -> bool:
    """auto: whether the dense result is large enough (or refused) for a sparse one to be worth a look."""
    if setup.command.name == "hessian" and out_shape != ():
        return False
    entries = dense_entries(setup, out_shape)
    return entries > AUTO_ENTRIES or entries * setup.dtype.itemsize > setup.budget
