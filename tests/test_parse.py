"""The parser: grammar, precedence, exact numbers, names, and bounded work on hostile input."""

import pytest

from jaccli.errors import ParseError, UnknownNameError
from jaccli.language.nodes import Num
from jaccli.language.parse import MAX_DEPTH, natural_key, parse_expression, parse_text


@pytest.mark.parametrize("text", [
    "x**2*y + y**3", "[x**2*y, sin(z)]", "x[0]**2*x[1] + x[1]**3", "-x**2", "(-2)**x", "x**-y**2",
    "sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)", "where(x > 0 and y < 1, sqrt(x), 0)",
    "a < b <= c", "not x > 1", "X[1:, :-1]", "x[::2]", "sum(X, axis=0)", "[[1, 2], [3, x]]", "x - (y - z)",
    "x/(y*z)", "(1/8)*x", "log(x, 2)",
])
def test_formatting_round_trips(text):
    expression = parse_expression(text)
    assert parse_expression(str(expression)).root == expression.root


def test_caret_is_power_with_power_precedence():
    assert parse_expression("x^2+1").root == parse_expression("x**2 + 1").root
    assert parse_expression("-x^2").root == parse_expression("-(x**2)").root
    assert parse_expression("2^3^2").root == Num(512)  # right-associative, like **


def test_numbers_are_exact_fractions():
    assert parse_text("2/3").value.numerator == 2
    assert parse_text("0.1 + 0.2").value == parse_text("3/10").value
    assert parse_text("1e-3").value == parse_text("1/1000").value


def test_variables_in_natural_order():
    assert parse_expression("x10 + x2 + x1").variables == ("x1", "x2", "x10")
    assert sorted(["b10", "b9", "a"], key=natural_key) == ["a", "b9", "b10"]


def test_constants_are_not_variables():
    assert parse_expression("pi*r**2 + E + π").variables == ("r",)


def test_a_function_name_without_call_is_a_variable():
    assert parse_expression("gamma*lambda + gamma(x)").variables == ("gamma", "lambda", "x")


def test_aliases_resolve():
    assert parse_expression("arcsin(x) + ln(x)").root == parse_expression("asin(x) + log(x)").root


def test_index_sizes_are_inferred():
    uses = parse_expression("x[0] + x[3] + y[1:] + z").uses
    assert (uses["x"].size_known, uses["x"].min_size) == (True, 4)
    assert uses["y"].size_known is False and uses["y"].rank == 1
    assert uses["z"].rank == 0


@pytest.mark.parametrize("text,message,position", [
    ("sin(x", "expected ')'", 5),
    ("x +", "unexpected end of expression", 3),
    ("x $ y", "unexpected character '$'", 2),
    ("x = 1", "'x' is defined, but no expression follows", 5),
    ("x[y]", "an index must be a constant integer", 2),
    ("x**2 +* 3", "unexpected '*'", 6),
    ("1e99999", "out of range", 0),
    ("9**9**9**9", "number too large", 4),
])
def test_syntax_errors_point_at_the_position(text, message, position):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert message in info.value.message
    assert info.value.position == position
    caret = info.value.lines()[-1]
    assert caret.index("^") - 2 == position  # two spaces of indent before the text


def test_unknown_function_suggests_close_names():
    with pytest.raises(UnknownNameError) as info:
        parse_expression("sinn(x)")
    assert "unknown function 'sinn'" in info.value.message
    assert "sin" in info.value.hint and "sinh" in info.value.hint


def test_call_on_a_variable_suggests_a_product():
    with pytest.raises(UnknownNameError) as info:
        parse_expression("x(1+y)")
    assert "x*(" in info.value.hint


def test_wrong_argument_counts():
    with pytest.raises(ParseError, match=r"sin\(\) takes 1 argument, but got 2"):
        parse_expression("sin(x, y)")
    with pytest.raises(ParseError, match=r"where\(\) takes 3 arguments"):
        parse_expression("where(x > 0, x)")
    with pytest.raises(ParseError, match="takes no argument 'axis'"):
        parse_expression("sin(x, axis=1)")


@pytest.mark.parametrize("payload", [
    "__import__('os').system('ls')", "x.__class__", "lambda: 1", "[i for i in x]", "exec('1')",
    "eval(\"1\")", "open('/etc/passwd')", "x if y else z", "{1: 2}", "f'{x}'", "x; y", "`ls`", "x.real", "x @= y", "x.T.__class__",
])
def test_python_code_is_not_in_the_grammar(payload):
    with pytest.raises(ParseError):
        parse_expression(payload)


@pytest.mark.parametrize("text", [
    "(" * 100_000 + "x" + ")" * 100_000,
    "-" * 100_000 + "x",
    "x**" * 50_000 + "x",
    "sin(" * 10_000 + "x" + ")" * 10_000,
    "[" * 10_000 + "x" + "]" * 10_000,
])
def test_deep_nesting_is_refused(text):
    with pytest.raises(ParseError, match=f"more than ({MAX_DEPTH} levels|32 deep)"):
        parse_expression(text)


@pytest.mark.parametrize("text", ["x" * 10_000_000, "x+" * 200_000 + "x", "[" + "1," * 1_000_000 + "1]", "x+" * 600_000 + "x"])
def test_huge_inputs_are_refused(text):
    with pytest.raises(ParseError, match="too long|too large"):
        parse_expression(text)


def test_the_lexer_stops_at_its_token_limit_without_reading_the_rest():
    from jaccli.language.lexer import tokenize

    text = "x+" * 5_000 + "x"
    with pytest.raises(ParseError, match="more than 1,000 tokens") as caught:
        tokenize(text, max_tokens=1_000)
    assert caught.value.position == 1_000  # the 1,001st token's: one character a token
    assert len(tokenize(text, max_tokens=20_000)) == 10_002  # every token and the end


def test_many_terms_are_flat_not_deep():
    expression = parse_expression(" + ".join(f"x{i}" for i in range(5000)))
    assert len(expression.variables) == 5000


def test_unicode_names_as_in_python():
    assert parse_expression("r*cos(θ) + α1*β_2").variables == ("r", "α1", "β_2", "θ")


@pytest.mark.parametrize("text,position", [("x²", 1), ("x½ + 1", 1), ("²", 0)])
def test_superscripts_are_not_part_of_names(text, position):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert info.value.position == position and "unexpected character" in info.value.message
