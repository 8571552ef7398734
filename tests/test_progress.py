"""Progress on a terminal's stderr, erased before stdout's first line; Ctrl-C's one line, true to the file.

Real processes: stderr (and in one test stdout) on a pseudo-terminal, SIGINT sent to a run under way.
Every wait is bounded; nothing is timed."""

import os
import re
import select
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from conftest import JACCLI, jaccli, process_env

EXPR = "[x0**2*x1, sin(x2)]"
ERASE = re.compile(rb"\r|\x1b\[2K|\x1b\[\d*[AK]")  # carriage return, erase line, cursor up
ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
PERCENT = re.compile(rb"\d+%")

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals and SIGINT are POSIX")


@pytest.fixture(scope="module")
def many_points(tmp_path_factory):
    """A file of 100,000 points: many chunks of --chunk-size 1000, so that the run is watched."""
    path = tmp_path_factory.mktemp("progress") / "points.csv"
    np.savetxt(path, np.random.default_rng(0).random((100_000, 3)), delimiter=",")
    return path


def on_terminal(*args: str, stdout_too: bool = False, timeout: float = 120) -> tuple[int, bytes, bytes]:
    """Run jaccli with stderr (and stdout, when `stdout_too`) on a pseudo-terminal: (code, terminal, stdout)."""
    master, slave = os.openpty()
    env = process_env({"COLUMNS": "120", "TERM": "xterm"})
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([JACCLI, *args], stdin=subprocess.DEVNULL, stderr=slave,
                               stdout=slave if stdout_too else subprocess.PIPE, env=env)
    os.close(slave)
    screen, deadline = bytearray(), time.monotonic() + timeout
    piped = threading.Thread(target=lambda: setattr(process, "piped", process.stdout.read() if process.stdout else b""))
    piped.start()
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # EIO: every end of the slave is closed
                    break
                if not data:
                    break
                screen += data
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    piped.join(timeout=30)
    return code, bytes(screen), getattr(process, "piped", b"")


def visible(data: bytes) -> bytes:
    """What is left of `data` once escape sequences and carriage returns/newlines are taken out."""
    return ESCAPE.sub(b"", data).replace(b"\r", b"").replace(b"\n", b"").strip()


def test_a_file_shows_a_bar_and_erases_it_before_the_table_on_the_same_terminal(many_points):
    code, screen, _ = on_terminal("jacobian", EXPR, "--at", f"@{many_points}", "--chunk-size", "1000",
                                  stdout_too=True)
    assert code == 0, screen
    table = screen.index("┏".encode())
    before = screen[:table]
    assert PERCENT.search(before) and b"points" in before and b"/s" in before, "the bar was drawn before the table"
    assert before.rfind(b"\x1b[2K") > max(m.end() for m in PERCENT.finditer(before)), "and erased"
    assert not visible(before.rsplit(b"\x1b[2K", 1)[1]), "the table starts on a clean line"
    assert b"100000 points" in screen  # the table's last line


def test_nothing_of_it_when_stderr_is_not_a_terminal(many_points, tmp_path):
    out = tmp_path / "out.csv"
    ran = jaccli("jacobian", EXPR, "--at", f"@{many_points}", "--chunk-size", "1000", "-o", str(out))
    assert ran.returncode == 0 and ran.stderr == ""
    assert len(out.read_text().splitlines()) == 100_001


def test_a_stream_shows_a_counter_with_its_rate(tmp_path):
    """`--at -` fed line by line: a count of points and a rate, no percentage (the total is not known)."""
    master, slave = os.openpty()
    process = subprocess.Popen([JACCLI, "jacobian", EXPR, "--at", "-", "-o", str(tmp_path / "out.csv")],
                               stdin=subprocess.PIPE, stderr=slave, env=process_env({"COLUMNS": "120"}))
    os.close(slave)
    screen = bytearray()
    try:
        for _ in range(600):  # until a redraw shows a counter
            process.stdin.write(b"1,2,3\n" * 50)
            process.stdin.flush()
            if select.select([master], [], [], 0.05)[0]:
                screen += os.read(master, 1 << 16)
            if re.search(rb"[\d,]+ points, [\d,]+/s", screen):
                break
        process.stdin.close()
        assert process.wait(timeout=60) == 0
        while select.select([master], [], [], 1)[0]:
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break
            if not data:
                break
            screen += data
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert re.search(rb"[\d,]+ points, [\d,]+/s", screen), screen
    assert not PERCENT.search(screen)
    assert not visible(screen.rsplit(b"\x1b[2K", 1)[1])


def interrupt_a_stream(tmp_path, *options: str, name: str = "part.csv", rows_before: int = 2000, fed: int = 0):
    """Feed `--at -` until the output holds `rows_before` lines (and `fed` were sent), send SIGINT.

    Returns (exit code, stderr, the output's path)."""
    part = tmp_path / name
    sent = [0]
    process = subprocess.Popen([JACCLI, "jacobian", EXPR, "--at", "-", "-o", str(part), *options],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env())
    stop = threading.Event()

    def feed():
        try:
            while not stop.is_set():
                process.stdin.write(b"0.5,2,3\n" * 100)
                process.stdin.flush()
                sent[0] += 100
                time.sleep(0.002)
        except (BrokenPipeError, OSError, ValueError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if sent[0] >= fed and (not rows_before or part.exists() and part.read_bytes().count(b"\n") > rows_before):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        stderr = process.stderr.read().decode()
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
        feeder.join(timeout=10)
    return code, stderr, part


def test_ctrl_c_says_how_many_results_the_file_holds(tmp_path):
    code, stderr, part = interrupt_a_stream(tmp_path)
    assert code == 130
    said = re.fullmatch(r"interrupted after ([\d,]+) points; (.+) holds the first ([\d,]+) results\n", stderr)
    assert said, stderr
    points, name, results = int(said[1].replace(",", "")), said[2], int(said[3].replace(",", ""))
    assert name == str(part) and 2000 <= results <= points
    data = part.read_bytes()
    assert data.endswith(b"\n"), "only complete rows"
    rows = data.splitlines()[1:]
    assert len(rows) == results
    assert all(len(row.split(b",")) == 6 for row in rows)


def test_ctrl_c_counts_the_rows_of_an_npy_file(tmp_path):
    code, stderr, _ = interrupt_a_stream(tmp_path, name="part.npy", rows_before=0, fed=30_000)
    assert code == 130
    said = re.fullmatch(r"interrupted after ([\d,]+) points; (.+) holds (no results|the first ([\d,]+) results?)\n",
                        stderr)
    assert said, stderr
    array = np.load(said[2])
    assert array.shape[1:] == (2, 3) and len(array) == int((said[4] or "0").replace(",", ""))


def test_ctrl_c_during_one_point_says_interrupted(monkeypatch):
    from jaccli.output import write

    def interrupted(*args, **kw):
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(write, "write_result", interrupted)
    ran = jaccli("grad", "x**2*y", "--at", "1,2")
    assert (ran.returncode, ran.stderr) == (130, "interrupted\n")
