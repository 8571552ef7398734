"""The terminal as people use it: tables that fit, colour only where it belongs, whole messages."""

import io
import re

import numpy as np
import pytest
from rich.console import Console

import jaccli
from jaccli.cli import main
from jaccli.env import Environment
from jaccli.output.tables import to_table

ANSI = re.compile(r"\x1b\[")
X12 = {"x": 0.5 + np.arange(12) / 7}
BIG = "sum(x**4)*prod(x) + 1e6*x[7]**3"  # its largest entry is at (7, 7), inside the matrix


def text(result, width, **kw):
    console = Console(record=True, width=width, file=io.StringIO())
    to_table(result, console, **kw)
    return console.export_text()


def cells(table_text: str) -> list[str]:
    return [c.strip() for line in table_text.splitlines() if line.startswith("│") for c in line.split("│")[1:-1]]


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("expr, at", [(BIG, X12), ("sum(x**3)*x[150]", {"x": np.linspace(1, 2, 200)}),
                                      ("[sum(x**3)*x[1], prod(x)]", X12)])
def test_tables_fit_keep_every_digit_and_the_largest_entry(width, expr, at):
    result = jaccli.hessian(expr, at=at)
    shown = text(result, width)
    assert all(len(line) <= width for line in shown.splitlines())
    numbers = [c for c in cells(shown) if re.fullmatch(r"-?[\d.]+(e[-+]\d+)?", c)]
    allowed = {f"{x:.10g}" if x else "0" for x in result.value.reshape(-1)}
    assert numbers and set(numbers) <= allowed  # no cell cut short: each is a whole number of the result
    peak = np.abs(result.value).max()
    assert f"{peak:.10g}" in numbers or "summarized" in shown and f"{peak:.6g}" in shown


def test_a_wide_terminal_shows_all_twelve_columns_and_a_narrow_one_keeps_the_peak():
    result = jaccli.hessian(BIG, at=X12)
    assert "…" not in text(result, 200) and "∂x[11]" in text(result, 200)
    narrow = text(result, 80)
    assert "∂x[7]" in narrow and "9000327.563" in narrow and "…" in narrow


def test_full_that_cannot_fit_prints_plain_rows_with_every_digit():
    result = jaccli.hessian(BIG, at=X12)
    shown = text(result, 80, full=True)
    assert "do not fit in 80 characters" in shown and "┃" not in shown
    assert shown.count("∂x[") >= 12 and "9000327.563" in shown


def run(argv, **kw):
    env = Environment.capture(**kw)
    code = main(argv, env)
    return code, env.out_text(), env.err_text()


def test_colour_on_a_terminal_none_under_no_color_and_ascii_under_term_dumb(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    argv = ["hessian", "x**2*y + y**3", "--at", "1,2"]
    _, coloured, _ = run(argv, tty=True)
    _, plain, _ = run(argv, tty=True, variables={"NO_COLOR": "1"})
    _, dumb, _ = run(argv, tty=True, variables={"TERM": "dumb"})
    assert ANSI.search(coloured) and not ANSI.search(plain) and not ANSI.search(dumb)
    assert "┏" in plain and "┏" not in dumb and "+--" in dumb
    _, piped, _ = run(argv + ["-f", "table"])
    assert not ANSI.search(piped)


def test_errors_are_red_on_a_terminal_and_plain_elsewhere(monkeypatch):
    _, _, err = run(["eval", "sin(x", "--at", "1"], tty=True)
    assert err.startswith("\x1b[1;31merror:\x1b[0m ") and "\x1b[1;31m" in err.splitlines()[2]
    _, _, err = run(["eval", "sin(x", "--at", "1"], tty=True, variables={"NO_COLOR": "1"})
    assert err.startswith("error: ") and not ANSI.search(err)
    _, _, err = run(["eval", "sin(x", "--at", "1"])
    assert not ANSI.search(err)


def test_symbolic_lines_are_aligned_and_numbers_at_table_precision_on_a_terminal(monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    argv = ["hessian", "x**2*y + sin(y)", "--symbolic", "--at", "1,2"]
    _, shown, _ = run(argv, tty=True, variables={"NO_COLOR": "1"})
    lines = shown.splitlines()
    assert len({line.index(" = ") for line in lines}) == 1 and len({line.rindex(" = ") for line in lines}) == 1
    assert lines[-1].endswith("= -0.9092974268")
    _, piped, _ = run(argv)
    assert piped.splitlines()[-1].endswith("= -0.9092974268256817")  # a pipe keeps every digit


def test_help_shows_expr_plainly_lists_every_at_form_and_the_example_in_its_own_paragraph():
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["hessian", "--help"], Environment.capture()) == 0
    text = out.getvalue()
    assert "Usage: jaccli hessian [OPTIONS] EXPR" in text and "{EXPR}" not in text
    assert "\n  Example: jaccli hessian" in text
    flat = " ".join(text.split())
    for form in ("x=1,y=2", "X=@x.npy", "@points.csv", "@points.jsonl", "- (CSV or JSON lines on standard input)"):
        assert form in flat, form
