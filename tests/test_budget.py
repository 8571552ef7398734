"""The memory budget: sizes like 4GB, the guard against results that would not fit, directions a block."""

import pytest

from jaccli.compute.budget import block_size, guard_size, parse_size
from jaccli.errors import PointError, TooLargeError


@pytest.mark.parametrize("text,size", [
    ("1000", 1000), ("0", 0), ("10 bytes", 10), ("1 byte", 1), ("7b", 7),
    ("4GB", 4 * 10**9), ("4gb", 4 * 10**9), ("4G", 4 * 10**9), ("1.5k", 1500), ("2MB", 2 * 10**6), ("3TB", 3 * 10**12),
    ("512MiB", 512 * 2**20), (" 2 gib ", 2 * 2**30), ("1Ki", 1024), ("1TiB", 2**40), ("0.5KiB", 512),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "", "-1", "4 GBs", "1e9", "GB", "4 PB", "1,000"])
def test_parse_size_refuses_what_it_cannot_read(text):
    with pytest.raises(PointError) as info:
        parse_size(text)
    assert info.value.message == f"cannot read the size {text!r}"
    assert "4GB" in info.value.hint


def test_guard_size_lets_a_result_that_fits_through():
    guard_size("hessian", (100, 100), 8, budget=80_000)  # exactly the budget
    guard_size("hessian", (), 8, budget=8)


def test_guard_size_refuses_with_the_size_the_shape_and_the_alternative():
    with pytest.raises(TooLargeError) as info:
        guard_size("hessian", (100_000, 100_000), 8, budget=10, alternative="use `hvp`")
    assert info.value.message == ("the hessian result would take 80.0 GB (shape (100000, 100000)), "
                                  "more than the memory budget of 10 bytes")
    assert info.value.hint == "use `hvp`, or raise --max-memory"
    with pytest.raises(TooLargeError, match=r"would take 808 bytes"):
        guard_size("jacobian", (101,), 8, budget=800)


def test_block_size_only_for_jacobian_and_hessian():
    for command in ("grad", "hvp", "jvp", "vjp", "eval", "derivative"):
        assert block_size(command, "rev", 4, 1000, (), 8, 10**9) is None


def test_a_requested_block_is_capped_by_the_directions():
    assert block_size("hessian", "fwd-rev", 16, 50, (), 8, 10**12) == 16
    assert block_size("hessian", "fwd-rev", 50, 50, (), 8, 10**12) is None  # all at once
    assert block_size("hessian", "fwd-rev", 64, 7, (3,), 8, 10**12) is None
    assert block_size("jacobian", "fwd", 2, 6, (4,), 8, 10**12) == 2  # forward: one direction an input
    assert block_size("jacobian", "rev", 2, 6, (4,), 8, 10**12) == 2  # reverse: one an output
    assert block_size("jacobian", "rev", 5, 6, (4,), 8, 10**12) is None  # 4 outputs: one block


def test_the_default_block_keeps_an_eighth_of_the_budget():
    # hessian, n = 1000, scalar f: a column is 1000 × 8 bytes, below the 16·n·8 = 128 kB of work a direction
    budget = 8 * 10 * 128_000  # an eighth holds 10 directions
    assert block_size("hessian", "fwd-rev", None, 1000, (), 8, budget) == 10
    assert block_size("hessian", "fwd-rev", None, 1000, (), 8, 8 * 1000 * 128_000) is None  # all 1000 fit
    # hessian of 50 outputs: a column is 50 × 1000 × 8 = 400 kB
    assert block_size("hessian", "fwd-rev", None, 1000, (50,), 8, 8 * 3 * 400_000) == 3
    # too small a budget still makes progress: one direction a block
    assert block_size("hessian", "fwd-rev", None, 1000, (), 8, 8) == 1
    # jacobian in reverse mode: one direction an output; float32 halves the bytes
    assert block_size("jacobian", "rev", None, 10_000, (100,), 4, 8 * 16 * 10_000 * 4 * 20) == 20
    assert block_size("jacobian", "fwd", None, 10_000, (100,), 4, 8 * 16 * 10_000 * 4 * 20) == 20
