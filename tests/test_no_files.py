"""--no-files (and JACCLI_NO_FILES=1): a program passing untrusted strings to jaccli can forbid every file read."""

import pytest

from jaccli.cli import main
from jaccli.env import Environment

SECRET = "s3cr3t-line-of-a-private-file"


@pytest.fixture
def secret(tmp_path):
    for name, text in (("f.txt", f"{SECRET}\n"), ("p.csv", "1,2\n"), ("x.npy", None), ("e.json", "[1, 2]")):
        path = tmp_path / name
        if text is None:
            import numpy as np

            np.save(path, np.ones(2))
        else:
            path.write_text(text)
    return tmp_path


def argv_cases(d):
    return [
        ["eval", f"@{d / 'f.txt'}", "--at", "1"],  # EXPR from a file
        ["eval", "sum(x)", "--at", f"x=@{d / 'x.npy'}"],  # a value from a file
        ["eval", "x", "--at", f"x=@{d / 'f.txt'}"],
        ["grad", "x*y", "--at", f"@{d / 'p.csv'}"],  # many points
        ["jvp", "[x, y]", "--at", "1,2", "--v", f"@{d / 'x.npy'}"],
        ["check", "x*y", "--at", "1,2", "--of", "grad", "--expect", str(d / "e.json")],
        ["inspect", f"@{d / 'f.txt'}"],
    ]


@pytest.mark.parametrize("how", ["option first", "option last", "environment"])
def test_every_file_read_is_refused_and_nothing_of_the_file_is_quoted(secret, monkeypatch, how):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    if how == "environment":
        monkeypatch.setenv("JACCLI_NO_FILES", "1")
    for argv in argv_cases(secret):
        argv = ["--no-files", *argv] if how == "option first" else [*argv, "--no-files"] if how == "option last" \
            else argv
        env = Environment.capture()
        assert main(argv, env) == 2, argv
        err = env.err_text()
        assert err.startswith("error: cannot read ") and "reading files is off (--no-files)" in err, err
        assert SECRET not in err and env.out_text() == ""


def test_without_the_option_a_model_file_error_names_file_line_and_column(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    model = tmp_path / "model.txt"
    model.write_text("\n\n  sin(x) + cos(y\n")
    env = Environment.capture()
    assert main(["eval", f"@{model}", "--at", "1,2"], env) == 2
    first, line, caret = env.err_text().splitlines()[:3]
    assert first.startswith(f"error: {model}:3:") and "expected ')'" in first
    assert line.strip() == "sin(x) + cos(y" and caret.strip() == "^"


def test_an_error_quotes_one_line_of_a_file_cut_to_about_80_characters(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    model = tmp_path / "long.txt"
    model.write_text("x + " * 200 + "$ + y\n" + "second line\n")
    env = Environment.capture()
    assert main(["eval", f"@{model}", "--at", "1,2"], env) == 2
    lines = env.err_text().splitlines()
    assert all(len(line) <= 84 for line in lines[1:3]) and "second line" not in env.err_text()
