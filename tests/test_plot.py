"""`--plot`: pictures read back at the size asked for, colours centred at 0, and the heatmap in a terminal."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

import jaccli
from jaccli.cli import main
from jaccli.env import Environment
from jaccli.output import plot
from tests.conftest import jaccli as run_cli

ANSI = re.compile(r"\x1b\[[0-9;]*m")
HESSIAN = "x**2*y + y**3"
BAND = "sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)"


def test_a_png_has_the_size_asked_for_and_the_numbers_still_go_to_stdout(tmp_path):
    from PIL import Image

    target = tmp_path / "h.png"
    done = run_cli("hessian", HESSIAN, "--at", "1,2", "--plot", str(target), "--plot-size", "320x240", "-f", "plain")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4.0 2.0\n2.0 12.0\n"
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (320, 240)
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10  # something was drawn


def test_an_svg_and_a_pdf_of_a_jacobian(tmp_path):
    svg, pdf = tmp_path / "j.svg", tmp_path / "j.pdf"
    for target in (svg, pdf):
        done = run_cli("jacobian", "[x**2*y, sin(z)]", "--at", "1,2,pi/2", "--plot", str(target), "-f", "json")
        assert done.returncode == 0 and '"command": "jacobian"' in done.stdout
    root = ElementTree.parse(svg).getroot()
    points = [float(root.attrib[key].removesuffix("pt")) for key in ("width", "height")]
    assert [p * plot.DPI / 72 for p in points] == pytest.approx(list(plot.DEFAULT_SIZE))  # 640×480 px
    assert pdf.read_bytes().startswith(b"%PDF")


def test_the_heatmap_is_centred_at_zero_with_names_and_a_colour_bar():
    result = jaccli.hessian("x**2 - 3*y**2 + x*y", at=[0.5, 1])  # [[2, 1], [1, -6]]
    figure = plot.draw_figure(plot.picture_matrix(result), "heatmap", (400, 300))
    axes, bar = figure.axes
    image = axes.images[0]
    assert image.norm.vcenter == 0 and image.norm.vmin == -6 and image.norm.vmax == 6
    assert image.get_cmap().name.startswith("RdBu")
    names = [[t.get_text() for t in labels] for labels in (axes.get_xticklabels(), axes.get_yticklabels())]
    assert names == [["x", "y"], ["x", "y"]]
    assert bar.get_ylim() == (-6, 6)
    assert sorted(t.get_text() for t in axes.texts) == ["-6", "1", "1", "2"]  # a small matrix: its numbers too


def test_large_results_get_a_spy_plot_with_index_ticks(tmp_path):
    result = jaccli.hessian(BAND, at="x=random(300, seed=1)")
    matrix = plot.picture_matrix(result)
    assert plot.default_kind(matrix.values.shape) == "spy" and plot.default_kind((20, 20)) == "heatmap"
    figure = plot.draw_figure(matrix, "spy", (300, 300))
    axes = figure.axes[0]
    assert "nonzero" in axes.get_title() and axes.get_xlabel().endswith("(index)")
    done = run_cli("hessian", BAND, "--at", "x=random(300, seed=1)", "--plot", str(tmp_path / "s.png"),
                   "--plot-kind", "heatmap", "-o", str(tmp_path / "h.npy"))
    assert done.returncode == 0 and (tmp_path / "s.png").stat().st_size > 0


def test_pooling_keeps_the_peak_and_a_lone_nonzero():
    values = np.zeros((1000, 900))
    values[3, 899], values[500, 500] = -7.0, 2.0
    cells, fr, fc = plot.pool(values, 40, 30)
    assert cells.shape == (40, 30) and (fr, fc) == (25, 30)
    assert cells[0, 29] == -7.0 and cells[20, 16] == 2.0 and np.count_nonzero(cells) == 2
    assert plot.pool(values[:5, :5], 40, 30)[1:] == (1, 1)  # small enough: as it is


def test_the_terminal_heatmap_fits_80_columns_and_uses_symbols_off_a_terminal():
    done = run_cli("hessian", BAND, "--at", "x=random(60, seed=2)", "--plot", "-", "-f", "json",
                   env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    first, *drawing = done.stdout.splitlines()
    assert first.startswith('{"command": "hessian"')  # the numbers first, as usual
    assert drawing and all(len(line) <= 80 for line in drawing) and not ANSI.search(done.stdout)
    assert "##" in done.stdout and "--" in done.stdout and "== ≤" in drawing[-1]
    assert "a cell: the largest |entry| of 2×2" in done.stdout  # 60 columns pooled into 30


def test_the_terminal_heatmap_in_colour_and_under_no_color():
    argv = ["hessian", "x**2 - 3*y**2 + x*y", "--at", "0.5,1", "--plot", "-", "-f", "plain"]
    env = Environment.capture(tty=True, variables={"COLUMNS": "80"})
    assert main(argv, env) == 0
    coloured = env.out_text()
    assert ANSI.search(coloured) and all(len(line) <= 80 for line in ANSI.sub("", coloured).splitlines())
    assert "columns: 0 x, 1 y" in ANSI.sub("", coloured)
    env = Environment.capture(tty=True, variables={"COLUMNS": "80", "NO_COLOR": "1"})
    assert main(argv, env) == 0
    plain = env.out_text()
    assert not ANSI.search(plain)
    rows = [line for line in plain.splitlines() if line.lstrip().startswith(("x ", "y "))]
    assert rows == ["x ++++", "y ++=="]  # 2 and 1 are below 6/2: ++; −6 is ==


def test_plot_mistakes_are_exit_2_before_anything_is_computed(tmp_path, samples):
    points = tmp_path / "points.csv"
    points.write_text("1,2\n3,4\n")
    cases = [
        (("--plot", str(tmp_path / "h.txt")), "ends in .png, .svg or .pdf"),
        (("--plot", "-", "--plot-size", "10"), "--plot-size takes WIDTHxHEIGHT"),
        (("--plot", str(tmp_path / "missing" / "h.png")), "cannot write"),
        (("--plot", "-", "--symbolic"), "--symbolic gives formulas"),
    ]
    for extra, message in cases:
        done = run_cli("hessian", HESSIAN, "--at", "1,2", *extra)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (extra, done)
    done = run_cli("jacobian", HESSIAN, "--at", f"@{points}", "--plot", "-")
    assert done.returncode == 2 and "--plot draws the matrix of one point" in done.stderr and not done.stdout


def test_help_does_not_import_matplotlib():
    code = ("import sys; from jaccli.cli import main; main(['hessian', '--help']); main(['analyze', '--help']); "
            "print(sorted(m for m in ('matplotlib', 'jax', 'numpy', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "--plot" in done.stdout and "--lanczos" in done.stdout
