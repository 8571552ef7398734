"""Never exit 0 with a misleading answer: nothing to differentiate is an error; a nan f or an overflow warns."""

import pytest

from jaccli.cli import main
from jaccli.env import Environment


def run(*argv):
    env = Environment.capture()
    return main(list(argv), env), env.out_text(), env.err_text()


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")


@pytest.mark.parametrize("argv", [
    ("hessian", "1"), ("grad", "2*pi"), ("jacobian", "[1, 2]"),
    ("hessian", "x**2", "--at", "1", "--wrt", ""), ("grad", "x**2", "--at", "1", "--wrt", ","),
    ("jvp", "[x, y]", "--at", "1,2", "--wrt", "", "--v", "1"),
])
def test_nothing_to_differentiate_is_an_error_not_an_empty_answer(argv):
    code, out, err = run(*argv)
    assert code == 2 and out == "" and "has nothing to differentiate" in err and "Traceback" not in err


def test_variables_of_no_entries_are_named_as_such():
    code, out, err = run("grad", "sum(x**2)", "--at", "x=zeros(0)")
    assert code == 2 and out == "" and "the variables hold no entries (x has shape (0,))" in err


def test_eval_of_a_constant_is_fine():
    assert run("eval", "2*pi")[:2] == (0, "6.283185307179586\n")


@pytest.mark.parametrize("argv", [("grad", "log(x)", "--at", "-1"), ("hessian", "sqrt(x)*y", "--at", "-1,2"),
                                  ("jacobian", "[x, 1/y]", "--at", "1,0")])
def test_a_derivative_where_f_is_not_finite_warns(argv):
    code, out, err = run(*argv)
    assert code == 0 and out and err.startswith("warning: f itself is not finite") and err.count("\n") == 1


def test_a_finite_f_does_not_warn():
    assert run("grad", "log(x)", "--at", "2")[2] == ""


def test_a_point_that_overflows_float32_warns_in_jaccli_words():
    code, out, err = run("eval", "x", "--at", "1e39", "--dtype", "float32")
    assert code == 0 and out == "inf\n" and err == "warning: 1e+39 overflows float32 (it becomes inf); use --dtype float64\n"


@pytest.mark.parametrize("argv, message", [
    (("grad", "x**2", "--vars", "x,y"), "--vars names 'y'"),  # an option's mistake, not line 1's
    (("grad", "[x, x]"), "needs a scalar expression"),
    (("hessian", "[x, x, x]", "--max-memory", "16"), "memory budget"),
])
def test_a_mistake_of_the_options_over_many_points_is_a_usage_error_and_leaves_no_file(tmp_path, argv, message):
    points = tmp_path / "p.csv"
    points.write_text("1\n2\n")
    out = tmp_path / "out.npy"
    code, _, err = run(*argv[:2], "--at", f"@{points}", *argv[2:], "-o", str(out))
    assert code == 2 and message in err and "line 1" not in err and "results before it" not in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (("eval", "sum(x)", "--at", "x=zeros(1e400)"), "a shape is a whole number"),
    (("eval", "sum(x)", "--at", "x=arange(1e308)"), "a shape is a whole number"),
    (("eval", "sum(x)", "--at", "x=random(3, seed=-1)"), "seed is a whole number"),
    (("derivative", "x**2*y", "--at", "1,2", "--partial", "x,q"), "--partial names 'q'"),
])
def test_review_findings_are_usage_errors_naming_the_right_option(argv, message):
    code, _, err = run(*argv)
    assert code == 2 and message in err and "internal error" not in err, err


def test_symbolic_over_many_points_is_refused(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("1,2\n3,4\n")
    code, _, err = run("grad", "x*y", "--at", f"@{points}", "--symbolic")
    assert code == 2 and "take one point" in err


def test_check_order_k_with_expect_checks_the_order_k_tensor():
    code, out, _ = run("check", "x**3*y", "--at", "1,2", "--order", "2", "--expect", "[[12, 3], [3, 0]]", "-f", "json")
    assert code == 0 and out.count("\n") == 1 and '"derivative of order 2"' in out


def test_the_api_checks_a_partial_and_takes_chunk_size():
    import jaccli

    checked = jaccli.check("x**3*y**2", at=[1, 2], of="jacobian", partial="x,x,y", expect=24.0)
    assert checked.ok and checked.reports[0]["of"] == "∂/∂x∂x∂y"
    assert jaccli.hessian("sum(x**3)", at={"x": [1.0, 2.0, 3.0]}, chunk_size=1).value.tolist() == \
        [[6.0, 0, 0], [0, 12.0, 0], [0, 0, 18.0]]
