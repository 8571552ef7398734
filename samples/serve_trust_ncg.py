"""scipy.optimize.minimize(method="trust-ncg") with f, ∇f and Hessian-vector products from one `jaccli serve`.

The extended Rosenbrock function of n variables (n even), from the standard start (-1.2, 1, -1.2, 1, …):
every callback is one JSON line to the server and one line back; the server compiles each function once
and answers the later calls from its cache.

    python samples/serve_trust_ncg.py [n]      # default n = 10; JACCLI=path/to/jaccli to choose the command
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

try:  # a fast JSON library pays at n = 2000 (4,000 numbers a request); the standard one speaks the same protocol
    import orjson

    dumps, loads = (lambda data: orjson.dumps(data).decode()), orjson.loads
except ImportError:
    dumps, loads = json.dumps, json.loads

ROSENBROCK = "sum(100*(x[1::2] - x[::2]**2)**2 + (1 - x[::2])**2)"


class Server:
    """One `jaccli serve` process: ask(request) writes a line and reads the answer."""

    def __init__(self, command: list[str]):
        self.process = subprocess.Popen([*command, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.requests = 0

    def ask(self, **request) -> dict:
        self.requests += 1
        self.process.stdin.write(dumps({"id": self.requests, **request}) + "\n")
        self.process.stdin.flush()
        answer = loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"jaccli: {answer['error']['message']}")
        return answer

    def close(self) -> int:
        self.process.stdin.close()  # end of input: the server exits 0
        return self.process.wait(60)


def jaccli_command() -> list[str]:
    found = os.environ.get("JACCLI") or shutil.which("jaccli")
    return [found] if found else [sys.executable, "-m", "jaccli"]


def solve(n: int, server: Server):
    from scipy.optimize import minimize  # after the server has started: it imports JAX meanwhile

    def f_and_gradient(x):  # jax.value_and_grad: f and ∇f in one pass
        answer = server.ask(command="grad", expr=ROSENBROCK, at={"x": x.tolist()}, with_value=True,
                            fields=["function_value", "value"])
        return answer["function_value"], np.array(answer["value"])

    def hessp(x, p):  # H·p, H never formed
        answer = server.ask(command="hvp", expr=ROSENBROCK, at={"x": x.tolist()}, v=p.tolist(), fields=["value"])
        return np.array(answer["value"])

    x0 = np.tile([-1.2, 1.0], n // 2)
    return minimize(f_and_gradient, x0, jac=True, hessp=hessp, method="trust-ncg",
                    options={"gtol": 1e-8, "maxiter": 10_000})


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if n < 2 or n % 2:
        raise SystemExit("n is even and at least 2")
    start = time.perf_counter()
    server = Server(jaccli_command())
    try:
        result = solve(n, server)
    finally:
        code = server.close()
    seconds = time.perf_counter() - start
    error = float(np.max(np.abs(result.x - 1)))
    print(f"trust-ncg, extended Rosenbrock, n = {n}: {result.message}")
    print(f"iterations {result.nit}, f and gradient {result.nfev}, Hessian-vector products {result.nhev}, "
          f"requests {server.requests}")
    print(f"f = {result.fun:.3e}, max |x - 1| = {error:.1e}, {seconds:.2f} s (server exit {code})")
    return 0 if result.success and error < 1e-6 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
