"""A cached executable that calls LAPACK (inv, solve, eigvalsh, cholesky, det, norm) runs in a new process that
has lowered nothing: the kernels are loaded before it runs (they were not: a segfault, exit 139)."""

import json

import numpy as np

from conftest import jaccli_process

A = "A=[[2, 0.5], [0.3, 1]]"


def test_linear_algebra_from_the_cache_in_a_new_process(tmp_path):
    env = {"JACCLI_CACHE_DIR": str(tmp_path / "cache")}
    expr = "sum(inv(A)) + sum(solve(A, A[0])) + sum(eigvalsh(A @ A.T)) + det(A)*norm(A, 2) + sum(cholesky(A @ A.T))"
    answers = []
    for _ in range(2):
        ran = jaccli_process("grad", expr, "--at", A, "-f", "json", env=env)
        assert ran.returncode == 0, (ran.returncode, ran.stderr)
        answers.append(json.loads(ran.stdout))
    assert [a["cache"] for a in answers] == ["miss", "hit"]
    np.testing.assert_array_equal(answers[0]["value"], answers[1]["value"])
