"""`check` as CI uses it, and symbolic output: exit codes, the entries listed, formulas that parse back.

In this process through `main`; the CI sample script runs the installed command."""

import json
import subprocess

import numpy as np
import pytest

from conftest import SAMPLES, JACCLI, compute, jaccli

CASES = [
    ("jacobian", "[x**2*y, sin(z)]", "1,2,pi/2", []),
    ("grad", "x**2*y + exp(y)", "1.5,0.5", []),
    ("hessian", "x**2*y + y**3", "1,2", []),
    ("hvp", "x**2*y + y**3", "1,2", ["--v", "1,0.5"]),
    ("jvp", "[x**2*y, sin(x*y)]", "1,2", ["--v", "1,-1"]),
    ("vjp", "[x**2*y, sin(x*y)]", "1,2", ["--u", "0.5,2"]),
]


@pytest.mark.parametrize("of,expr,at,extra", CASES)
def test_check_passes_on_the_right_numbers_and_fails_on_perturbed_ones(tmp_path, of, expr, at, extra):
    options = {"v": (extra[1],)} if extra[:1] == ["--v"] else {"u": (extra[1],)} if extra else {}
    right = compute(of, expr, at, **options)
    np.save(tmp_path / "right.npy", right)
    done = jaccli("check", expr, "--at", at, "--of", of, *extra, "--expect", str(tmp_path / "right.npy"))
    assert done.returncode == 0 and done.stdout.startswith("ok:"), done.stdout + done.stderr
    wrong = right.copy().reshape(-1)
    wrong[-1] += 1e-3 * max(1.0, abs(wrong[-1]))
    np.save(tmp_path / "wrong.npy", wrong.reshape(right.shape))
    done = jaccli("check", expr, "--at", at, "--of", of, *extra, "--expect", str(tmp_path / "wrong.npy"), "-f", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    (mismatch,) = report["references"][0]["mismatches"]
    assert not report["ok"] and mismatch["got"] == right.reshape(-1)[-1]
    assert mismatch["index"] == list(np.unravel_index(right.size - 1, right.shape))


@pytest.mark.parametrize("of,expr,at,extra", CASES)
def test_check_without_expect_agrees_with_finite_differences_and_sympy(of, expr, at, extra):
    done = jaccli("check", expr, "--at", at, "--of", of, *extra, "-f", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"]
    assert [r["reference"] for r in report["references"]] == ["finite differences", "SymPy"]
    assert report["references"][0]["max_abs_error"] < 1e-8


def test_finite_difference_corpus_of_random_expressions():
    from hypothesis import Phase, given, settings, strategies as st

    from jaccli.compute.check import check
    from jaccli.compute.prepare import Request

    terms = st.sampled_from(["sin(x*y)", "exp(x/3)*y", "x**3", "log(1 + y**2)", "tanh(x - y)", "sqrt(2 + x**2)",
                             "x/(1.5 + cos(y))", "atan(x*y)"])

    @settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # a check compiles
    @given(st.lists(terms, min_size=1, max_size=4), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5),
           st.sampled_from(["grad", "hessian"]))
    def run(chosen, x, y, of):
        (report,) = check(Request(of, " + ".join(chosen) + " + 0*x + 0*y", (f"x={x!r},y={y!r}",)), expect=None)
        assert report.ok, [(c.reference, report.mismatches(c)) for c in report.comparisons]

    run()


def test_check_order_three_like_check_grads():
    done = jaccli("check", "x**3*y + sin(x)*y**2", "--at", "0.5,1.5", "--order", "3", "-f", "json")
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and [r["of"] for r in reports] == [f"derivative of order {k}" for k in (1, 2, 3)]
    assert all(r["ok"] for r in reports)


def test_check_many_points_checks_every_point(tmp_path):
    (tmp_path / "points.csv").write_text("1,2\n0.5,-1\n3,0.25\n")
    done = jaccli("check", "x**2*y + sin(y)", "--at", f"@{tmp_path / 'points.csv'}", "--of", "hessian")
    assert done.returncode == 0 and done.stdout.count("ok:") == 3


def test_check_expect_forms(tmp_path):
    assert jaccli("check", "x**2*y", "--at", "1,2", "--of", "grad", "--expect", "[4, 1]").returncode == 0
    assert jaccli("check", "x**2*y", "--at", "1,2", "--of", "grad", "--expect", "-", input="4 1\n").returncode == 0
    ours = jaccli("grad", "x**2*y", "--at", "1,2", "-f", "json").stdout  # jaccli's own JSON is a valid --expect
    assert jaccli("check", "x**2*y", "--at", "1,2", "--of", "grad", "--expect", "-", input=ours).returncode == 0
    done = jaccli("check", "x**2*y", "--at", "1,2", "--of", "grad", "--expect", "[4, 1, 0]")
    assert done.returncode == 2 and "--expect has 3 numbers, but the result has 2" in done.stderr


def test_ci_sample_script_fails_the_job_on_one_wrong_entry():
    """The script as CI runs it, on the wrong file (exit 1); its jaccli call, run here, passes on the right one."""
    import shlex

    script = str(SAMPLES / "check_jacobian.sh")
    text = (SAMPLES / "check_jacobian.sh").read_text().replace("\\\n", " ")
    (call,) = [line for line in text.splitlines() if line.startswith('"$jaccli"')]
    call = call.replace("$here", str(SAMPLES)).replace("$expected", str(SAMPLES / "robot_arm_jacobian.csv"))
    good = jaccli(*shlex.split(call)[1:])
    assert good.returncode == 0 and "4 of 4" in good.stdout, good.stdout + good.stderr
    bad = subprocess.run(["bash", script, str(SAMPLES / "robot_arm_jacobian_wrong.csv"), JACCLI],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "df1/dtheta1" in bad.stdout and "FAIL: 3 of 4" not in bad.stdout and "3 of 4 agree" in bad.stdout


@pytest.mark.parametrize("command,expr", [("grad", "exp(x)*sin(y) + x**3*y"), ("jacobian", "[x**2*y, sin(x*y)]"),
                                          ("hessian", "x**2*y + log(1 + y**2)")])
def test_symbolic_output_parses_back_and_equals_the_ad_numbers(command, expr):
    import sympy

    document = json.loads(jaccli(command, expr, "--at", "0.7,-1.2", "--symbolic", "-f", "json").stdout)
    x, y = sympy.symbols("x y", real=True)
    formulas = np.array(document["symbolic"], dtype=object).reshape(-1)
    numbers = [float(sympy.sympify(text, locals={"x": x, "y": y}).subs({x: 0.7, y: -1.2}).evalf(30))
               for text in formulas]
    np.testing.assert_allclose(numbers, np.array(document["value"]).reshape(-1), rtol=1e-12, atol=1e-14)


def test_latex_is_balanced_pmatrix():
    latex = jaccli("hessian", "x**2*y + y**3", "-f", "latex").stdout.strip()
    assert latex.startswith(r"\begin{pmatrix}") and latex.endswith(r"\end{pmatrix}")
    assert latex.count(r"\begin{") == latex.count(r"\end{") and latex.count("{") == latex.count("}")
    assert latex.count(r"\\") == 1  # two rows


def test_symbolic_refuses_array_reductions_with_a_message():
    done = jaccli("grad", "sum(x**2)", "--at", "x=[1,2]", "--symbolic")
    assert done.returncode == 2 and "scalar variables" in done.stderr and "Traceback" not in done.stderr
