"""The record reader of many points: CSV and JSON lines, exact numbers, headers, line numbers, bad records."""

import io
import json
import math
import struct

import numpy as np
import pytest

from jaccli.errors import PointError
from jaccli.inputs.records import BadRecord, RecordReader

# the awkward doubles: shortest repr of a third, tiny, subnormal, negative zero, 17 significant digits, huge
EXACT = [1 / 3, 0.1, 1e-300, 5e-324, -0.0, 1.2345678901234567, 0.30000000000000004, -9007199254740993.0,
         1.7976931348623157e308, 2.2250738585072014e-308]


def items(data: bytes, **kw) -> list:
    """Everything the reader yields for `data` on an in-memory standard input."""
    return list(RecordReader("-", stdin=io.BytesIO(data), **kw).blocks())


def records(found: list, header: list[str] | None = None) -> list[tuple[int, list]]:
    """(line, values) of every good record, in order: a CSV row as floats (in `header` order when the
    reader read a header: such rows may come as objects of names), a JSON record as parsed."""
    out = []
    for item in found:
        if isinstance(item, BadRecord):
            continue
        rows = list(item.matrix) if item.matrix is not None else list(item.rows)
        for line, row in zip(item.lines, rows):
            row = row.tolist() if isinstance(row, np.ndarray) else row
            if header is not None and isinstance(row, dict):
                row = [row[name] for name in header]
            out.append((int(line), row))
    return out


def bits(values) -> list[bytes]:
    """The IEEE bit patterns: tells -0.0 from 0.0, and every ulp."""
    return [struct.pack("<d", float(v)) for v in values]


def csv_line(values) -> str:
    return ",".join(repr(float(v)) for v in values) + "\n"


@pytest.mark.parametrize("copies", [1, 100])  # a few lines parse in Python, many at once (over 64 lines)
def test_csv_numbers_round_trip_exactly(copies):
    found = records(items(csv_line(EXACT).encode() * copies))
    assert len(found) == copies
    for line, (number, row) in enumerate(found, start=1):
        assert number == line and bits(row) == bits(EXACT)


def test_json_numbers_round_trip_exactly():
    found = records(items((json.dumps(EXACT) + "\n").encode()))
    assert bits(found[0][1]) == bits(EXACT)
    assert math.copysign(1, found[0][1][4]) == -1.0


def test_exponent_and_sign_spellings():
    (row,) = [r for _, r in records(items(b"1E3,+2.5,-1e-3,  7 ,.5\n"))]
    assert row == [1000.0, 2.5, -0.001, 7.0, 0.5]


def test_a_header_line_is_kept_apart_and_counts_as_a_line():
    reader = RecordReader("-", stdin=io.BytesIO(b"x, y\n1,2\n3,4\n"))
    found = list(reader.blocks())
    assert reader.header == ["x", "y"] and reader.format == "csv"
    assert records(found, reader.header) == [(2, [1.0, 2.0]), (3, [3.0, 4.0])]


def test_no_header_when_the_first_line_is_numbers():
    reader = RecordReader("-", stdin=io.BytesIO(b"1,2\n"))
    assert records(list(reader.blocks())) == [(1, [1.0, 2.0])] and reader.header is None


def test_blank_lines_are_skipped_but_counted():
    assert records(items(b"1,2\n\n3,4\n   \n5,6\n")) == [(1, [1.0, 2.0]), (3, [3.0, 4.0]), (5, [5.0, 6.0])]


def test_windows_line_ends_and_a_last_line_without_newline():
    assert records(items(b"1,2\r\n3,4\r\n5,6")) == [(1, [1.0, 2.0]), (2, [3.0, 4.0]), (3, [5.0, 6.0])]


def test_json_lists_and_objects():
    data = b'[1, 2.5]\n{"x": 3, "y": [1, 2]}\n\n{"at": [1, 2], "v": [0, 1]}\n'
    reader = RecordReader("-", stdin=io.BytesIO(data))
    assert records(list(reader.blocks())) == [(1, [1, 2.5]), (2, {"x": 3, "y": [1, 2]}),
                                              (4, {"at": [1, 2], "v": [0, 1]})]
    assert reader.format == "json"


def test_a_bad_csv_line_is_a_bad_record_with_its_line_number_in_order():
    found = items(b"1,2\n3,4\n\n5,oops\n7,8\n")
    kinds = [("bad", f.line) if isinstance(f, BadRecord) else ("good", [int(n) for n in f.lines]) for f in found]
    assert kinds == [("good", [1, 2]), ("bad", 4), ("good", [5])]
    (bad,) = [f for f in found if isinstance(f, BadRecord)]
    assert bad.message == "not a number: 'oops'"


def test_a_bad_line_among_many_is_found_by_number():
    data = csv_line([1, 2]).encode() * 99 + b"1,x2\n" + csv_line([3, 4]).encode() * 50
    found = items(data)
    (bad,) = [f for f in found if isinstance(f, BadRecord)]
    assert bad.line == 100 and "'x2'" in bad.message
    assert [line for line, _ in records(found)] == [n for n in range(1, 151) if n != 100]


def test_bad_json_lines():
    found = items(b'[1, 2]\nnot json\n"a string"\n{"x": 1}\n')
    bad = [f for f in found if isinstance(f, BadRecord)]
    assert [b.line for b in bad] == [2, 3]
    assert bad[0].message.startswith("not valid JSON") and "list of numbers or an object" in bad[1].message
    assert [line for line, _ in records(found)] == [1, 4]


def test_blocks_hold_at_most_max_rows_in_order():
    found = items(b"".join(csv_line([i, -i]).encode() for i in range(10)), max_rows=4)
    assert [len(f) for f in found] == [4, 4, 2]
    assert [row for _, row in records(found)] == [[float(i), -float(i)] for i in range(10)]


def test_a_file_gives_the_same_records_and_its_size(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes(b"a,b\n" + csv_line(EXACT[:2]).encode() * 3)
    reader = RecordReader(str(path))
    found = list(reader.blocks())
    assert reader.header == ["a", "b"]
    found = records(found, reader.header)
    assert [line for line, _ in found] == [2, 3, 4] and all(bits(row) == bits(EXACT[:2]) for _, row in found)
    assert reader.total == reader.done == path.stat().st_size


def test_npy_rows_are_records(tmp_path):
    points = np.array([EXACT[:3], EXACT[3:6], EXACT[6:9]])
    np.save(tmp_path / "p.npy", points)
    found = list(RecordReader(str(tmp_path / "p.npy"), max_rows=2).blocks())
    assert [len(f) for f in found] == [2, 1]
    assert [line for line, _ in records(found)] == [1, 2, 3]
    assert bits(np.concatenate([f.matrix for f in found]).ravel()) == bits(points.ravel())


def test_a_missing_file_is_a_point_error(tmp_path):
    with pytest.raises(PointError, match="cannot read"):
        list(RecordReader(str(tmp_path / "missing.csv")).blocks())


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_an_input_without_records_is_a_point_error(data):
    with pytest.raises(PointError, match="no points in standard input"):
        items(data)
