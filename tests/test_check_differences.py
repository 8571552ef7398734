"""check's finite differences: no false alarms where AD is right, and a real error still fails."""

import numpy as np
import pytest

from jaccli.compute import check as check_module
from jaccli.compute.check import check
from jaccli.compute.prepare import Request
from jaccli.output.report import summarize


def checked(expr: str, at: str, of: str = "grad", **kw):
    (report,) = check(Request(of, expr, (at,), **kw))
    return report, summarize(report)


@pytest.mark.parametrize("expr, at", [
    ("log(x)", "0.003"),  # h = 1e-3 alone spans a third of x
    ("sqrt(x)", "1e-4"),  # the largest steps would go below 0: smaller ones, or one-sided
    ("log(x) + sqrt(y)", "1e-6, 2e-7"),  # every central step crosses 0: one-sided differences
    ("acos(x)", "0.99999"),  # near the edge of the domain on the other side
    ("exp(30*x)", "1"),  # large values, large curvature
    ("x**3 - 3*x", "1"),  # a zero of the derivative
])
def test_no_false_alarm_where_ad_is_right(expr, at):
    report, data = checked(expr, at)
    assert report.ok, data


def test_an_infinite_derivative_is_inconclusive_for_differences_not_a_failure():
    report, data = checked("sqrt(x)*y", "0, 2")
    assert report.ok and data["references"][0]["inconclusive"] == 1 and np.isinf(report.result.value[0])


@pytest.mark.parametrize("relative", [1e-3, 1e-2])
def test_a_wrong_derivative_at_a_smooth_point_still_fails(monkeypatch, relative):
    real_run = check_module.run

    def wrong(request, spec=None):
        result = real_run(request, spec)
        result.value = result.value.copy()
        result.value.flat[1] *= 1 + relative
        return result

    monkeypatch.setattr(check_module, "run", wrong)
    report, data = checked("sin(x*y) + x**2*y", "0.7, -1.3", of="hessian")
    fd = data["references"][0]
    assert not report.ok and fd["inconclusive"] == 0 and [m["index"] for m in fd["mismatches"]] == [[0, 1]]


def test_random_expressions_near_edges_never_false_alarm():
    from hypothesis import given, settings, strategies as st

    terms = st.sampled_from(["sin(x*y)", "exp(x/3)*y", "x**3", "log(1 + y**2)", "tanh(x - y)", "sqrt(x)",
                             "log(x)", "x/(1.5 + cos(y))", "atan(x*y)", "abs(y)*x", "y*sign(y)*x**2"])

    @settings(max_examples=12, deadline=None)
    @given(st.lists(terms, min_size=1, max_size=3), st.sampled_from([1e-6, 3e-3, 0.5, 2.0, 40.0]),
           st.floats(0.05, 3) | st.floats(-3, -0.05), st.sampled_from(["grad", "hessian"]))
    def run(chosen, x, y, of):
        report, data = checked(" + ".join(chosen) + " + 0*x + 0*y", f"x={x!r},y={y!r}", of)
        assert report.ok, data

    run()
