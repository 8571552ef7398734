"""Error wording as a contract: every message is filled in, one sentence or two whole ones, with a hint line.

A corpus of bad inputs reaches (nearly) every `raise …Error(` in jaccli; each answer must be
exit 2 (or 1/3 where that is the contract), one `error:` line first, optional caret lines, at most
one `hint:` line, and text with no empty placeholder, no leaked None, no run-on sentence.
"""

import re
from pathlib import Path

import numpy as np

from jaccli.cli import main
from jaccli.env import Environment

PROPER = {"SymPy", "NumPy", "JAX", "Python", "JSON", "CSV", "README", "RAM", "Hessian", "Jacobian", "LaTeX", "MB",
          "GB", "KB", "TB", "UTF", "BOM", "NUL", "XLA", "I", "C", "JACCLI_NO_FILES", "TERM", "NO_COLOR"}
EMPTY = [r"(?<![\w])\(\)", r"\(\s*,", r" ,", r",,", r"''", r'""', r":\s*$", r"\s\.$", r"  \S", r"\bNone\b",
         r"--at\s*$", r"\{\}", r"\b1 arguments\b", r"\b1 values\b"]
QUOTED = re.compile(r"'[^']*'|`[^`]*`|\"[^\"]*\"")  # the user's own text, quoted: not ours to judge


def bad_inputs(d: Path):
    (d / "bad.csv").write_text("1,2\nq,3\n")
    (d / "ragged.csv").write_text("1,2\n3\n")
    (d / "junk.txt").write_text("@@@\n")
    np.save(d / "c.npy", np.ones(2, bool))
    return [
        ["eval", "sin(x", "--at", "1"], ["eval", "x +", "--at", "1"], ["eval", "x $ y", "--at", "1,2"],
        ["eval", "sinn(x)", "--at", "1"], ["eval", "x(1+y)", "--at", "1,2"], ["eval", "x²", "--at", "1"],
        ["eval", "x**2*y", "--at", "1"], ["eval", "x", "--at", "1,2"], ["eval", "sum(x)", "--at", "x=[1,2]", "--at", "3"],
        ["eval", "x", "--at", "y=1"], ["eval", "x+y", "--at", "x=1,2"], ["eval", "x", "--at", "x=1", "--at", "x=2"],
        ["eval", "x", "--at", "1,,2"], ["eval", "x[5]", "--at", "x=[1,2,3]"], ["eval", "x + y", "--at", "x=[1,2],y=[1,2,3]"],
        ["eval", "x", "--at", "x=@/nonexistent.npy"], ["eval", "x", "--at", f"x=@{d / 'junk.txt'}"],
        ["eval", "x", "--at", f"x=@{d / 'c.npy'}"], ["eval", "@/nonexistent.txt", "--at", "1"],
        ["eval", "", "--at", "1"], ["eval", "9**9**9**9", "--at", "1"], ["eval", "(" * 200 + "x" + ")" * 200],
        ["eval", "x", "--at", "zeros(10**12)"], ["eval", "x", "--at", "x=random(3, seed=1, bad=2)"],
        ["grad", "[x, y]", "--at", "1,2"], ["hvp", "[x, y]", "--at", "1,2", "--v", "1,0"],
        ["hvp", "x*y", "--at", "1,2"], ["hvp", "x*y", "--at", "1,2", "--v", "1"], ["vjp", "[x, y]", "--at", "1,2"],
        ["vjp", "[x, y]", "--at", "1,2", "--u", "x=1"], ["jvp", "[x]", "--at", "1", "--v", "y=1"],
        ["hessian", "sum(x**2)", "--at", "x=zeros(100000)", "--no-sparse"], ["jacobian", "x", "--at", "1", "--max-memory", "lots"],
        ["hessian", "1"], ["grad", "x*y", "--at", "1,2", "--wrt", "z"], ["grad", "x*y", "--at", "1,2", "--vars", "x"],
        ["grad", "x", "--at", f"@{d / 'bad.csv'}"], ["grad", "x*y", "--at", f"@{d / 'ragged.csv'}"],
        ["grad", "x", "--at", "-"], ["eval", "x", "--at", "1", "-f", "xml"], ["hessian", "x", "--at", "1", "--mode", "up"],
        ["eval", "x", "--at", "1", "--bogus"], ["derivative", "x**3", "--at", "1", "--order", "2", "--partial", "x"],
        ["derivative", "sum(x**3)", "--at", "x=[1,2]", "--partial", "x,x"],
        ["check", "x", "--at", "1", "--of", "eval"], ["check", "x", "--at", "1", "--of", "grad", "--expect", "missing.csv"],
        ["check", "x*y", "--at", "1,2", "--of", "grad", "--expect", "[1,2,3]"],
        ["eval", "x", "--at", "1", "-o", "/nonexistent/dir/out.json"], ["eval", "x", "--at", "1", "-f", "npy", "-o", str(d)],
        ["grad", "x", "--at", "1", "--symbolic", "-f", "latex", "--v", "1"], ["jvp", "[x]", "--at", "1", "--symbolic", "--v", "1"],
        ["inspect", "sin(x"], ["eval", "x", "--at", "1", "--device", "tpu"], ["--no-files", "eval", "@x.txt"],
        ["eval", "x", "--at", "x=linspace(0, 1)"], ["eval", "x", "--at", "x=arange(0, 1, 0)"],
        ["eval", "x", "--at", "x=full(3)"], ["eval", "where(x > 0, 1)", "--at", "1"], ["eval", "norm(x, axis=y)", "--at", "1,2"],
    ]


def check_text(text: str) -> list[str]:
    text = QUOTED.sub("Q", text)
    problems = [pattern for pattern in EMPTY if re.search(pattern, text)]
    for match in re.finditer(r"([a-z0-9)\]'`]) ([A-Z][A-Za-z_]*)", text):
        if match.group(2) not in PROPER and not match.group(2).isupper():
            problems.append(f"run-on before {match.group(2)!r}")
    return problems


def test_every_message_is_filled_in_and_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("JACCLI_NO_CACHE", "1")
    failures = []
    for argv in bad_inputs(tmp_path):
        env = Environment.capture()
        code = main(argv, env)
        lines = env.err_text().splitlines()
        if code not in (2, 3) or not lines or not lines[0].startswith("error: "):
            failures.append((argv[:3], code, lines[:2]))
            continue
        hints = [line for line in lines if line.startswith("hint: ")]
        others = [line for line in lines[1:] if not line.startswith("hint: ")]
        if len(hints) > 1 or any(not line.startswith("  ") for line in others) or "Traceback" in env.err_text():
            failures.append((argv[:3], "shape of stderr", lines))
        for line in [lines[0][len("error: "):], *(h[len("hint: "):] for h in hints)]:
            problems = check_text(line)
            if problems:
                failures.append((argv[:3], line, problems))
    assert not failures, "\n".join(map(str, failures))


def test_the_corpus_reaches_most_raise_sites(tmp_path):
    """The corpus is meant to cover the error classes; this keeps an eye on its size against the code's."""
    package = Path(__file__).resolve().parent.parent / "jaccli"
    sites = sum(len(re.findall(r"raise \w*(Error|error)\(", p.read_text())) for p in package.rglob("*.py"))
    assert sites > 50 and len(bad_inputs(tmp_path)) >= 55
