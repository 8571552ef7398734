"""The array and linear-algebra functions of the model language, written once for any array module.

NumPy and `jax.numpy` share these signatures, so one table serves the JAX
translation (`compute.translate`) and constant values (`inputs.constants`). The
module `xp` is given; this file imports neither. Each entry takes the array
arguments, then the constant parameters the parser read (`axis`, `k`, `shape`, …)
as keywords, with NumPy's defaults. (`@` and `matmul` are the evaluator's own, which names both shapes.)
"""

from __future__ import annotations


def array_functions(xp) -> dict:
    """name → function of arrays, with NumPy's meaning, in array module `xp`."""
    linalg = xp.linalg

    def softmax(x, axis=-1):
        shifted = x - xp.max(x, axis=axis, keepdims=True)  # the same value, and no overflow in exp
        e = xp.exp(shifted)
        return e / xp.sum(e, axis=axis, keepdims=True)

    def log_softmax(x, axis=-1):
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    return {
        "transpose": lambda x, axes=None: xp.transpose(x, axes),
        "reshape": lambda x, shape: xp.reshape(x, shape),
        "ravel": xp.ravel,
        "diag": lambda x, k=0: xp.diag(x, k),
        "trace": xp.trace,
        "outer": xp.outer,
        "tril": lambda x, k=0: xp.tril(x, k),
        "triu": lambda x, k=0: xp.triu(x, k),
        "concatenate": lambda arrays, axis=0: xp.concatenate(arrays, axis),
        "stack": lambda arrays, axis=0: xp.stack(arrays, axis),
        "flip": lambda x, axis=None: xp.flip(x, axis),
        "roll": lambda x, shift, axis=None: xp.roll(x, shift, axis),
        "cumsum": lambda x, axis=None: xp.cumsum(x, axis),
        "cumprod": lambda x, axis=None: xp.cumprod(x, axis),
        "diff": lambda x, n=1, axis=-1: xp.diff(x, n, axis),
        "std": lambda x, axis=None: xp.std(x, axis=axis),
        "var": lambda x, axis=None: xp.var(x, axis=axis),
        "softmax": softmax,
        "log_softmax": log_softmax,
        "sinc": xp.sinc,
        "eye": lambda n, m=None, k=0: xp.eye(n, m, k),
        "zeros": lambda shape: xp.zeros(shape),
        "ones": lambda shape: xp.ones(shape),
        "det": linalg.det,
        "logdet": lambda a: linalg.slogdet(a)[1],
        "inv": linalg.inv,
        "solve": linalg.solve,
        "cholesky": linalg.cholesky,
        "eigvalsh": linalg.eigvalsh,
        "norm": lambda x, ord=None, axis=None: linalg.norm(x, ord, axis),
    }
