"""Layout: where each variable sits in the flat vectors z (differentiated) and c (held), and entry labels."""

import numpy as np
import pytest

from jaccli.inputs.layout import Layout, entry_label, output_labels

SHAPES = {"a": (), "X": (2, 3), "v": (4,)}


def test_offsets_follow_variable_order_and_sizes():
    layout = Layout.build(["a", "X", "v"], SHAPES)
    assert [(s.name, s.shape, s.offset, s.wrt) for s in layout.slots] == [
        ("a", (), 0, True), ("X", (2, 3), 1, True), ("v", (4,), 7, True)]
    assert layout.names == ("a", "X", "v") and layout.z_size == 11 and layout.c_size == 0
    assert layout.in_shape == (11,)  # several variables: flattened and concatenated


def test_in_shape_of_one_variable_is_its_own_shape():
    assert Layout.build(["X"], {"X": (2, 3)}).in_shape == (2, 3)
    assert Layout.build(["a"], {"a": ()}).in_shape == ()
    assert Layout.build(["a", "X"], SHAPES, wrt=["X"]).in_shape == (2, 3)


def test_flatten_is_c_order_concatenation():
    X = np.arange(6.0).reshape(2, 3)
    values = {"a": 0.5, "X": X, "v": np.array([7, 8, 9, 10])}
    z, c = Layout.build(["a", "X", "v"], SHAPES).flatten(values)
    assert z.dtype == np.float64 and z.tolist() == [0.5, 0, 1, 2, 3, 4, 5, 7, 8, 9, 10]
    assert c.shape == (0,)


def test_wrt_holds_the_other_variables_in_their_own_vector():
    layout = Layout.build(["a", "X", "v"], SHAPES, wrt=["v", "a"])
    assert [(s.name, s.offset, s.wrt) for s in layout.slots] == [("a", 0, True), ("X", 0, False), ("v", 1, True)]
    assert [s.name for s in layout.wrt] == ["a", "v"] and [s.name for s in layout.held] == ["X"]
    assert (layout.z_size, layout.c_size, layout.in_shape) == (5, 6, (5,))
    z, c = layout.flatten({"a": 2.0, "X": np.ones((2, 3)), "v": np.arange(4.0)})
    assert z.tolist() == [2.0, 0, 1, 2, 3] and c.tolist() == [1.0] * 6


def test_labels_name_each_entry_of_z():
    labels = Layout.build(["a", "X", "v"], SHAPES).in_labels()
    assert len(labels) == 11
    assert list(labels) == ["a", "X[0,0]", "X[0,1]", "X[0,2]", "X[1,0]", "X[1,1]", "X[1,2]",
                            "v[0]", "v[1]", "v[2]", "v[3]"]
    assert labels[-1] == "v[3]" and labels[1:3] == ["X[0,0]", "X[0,1]"]
    with pytest.raises(IndexError):
        labels[11]


def test_labels_of_held_variables_are_left_out():
    labels = Layout.build(["a", "X", "v"], SHAPES, wrt=["v"]).in_labels()
    assert list(labels) == ["v[0]", "v[1]", "v[2]", "v[3]"]


def test_labels_are_made_on_demand_for_huge_variables():
    labels = Layout.build(["x"], {"x": (10**9,)}).in_labels()
    assert len(labels) == 10**9 and labels[123456789] == "x[123456789]"


def test_entry_and_output_labels():
    assert entry_label("X", (2, 3), 5) == "X[1,2]" and entry_label("s", (), 0) == "s"
    assert list(output_labels(())) == ["f"]
    assert list(output_labels((3,))) == ["f0", "f1", "f2"]
    assert list(output_labels((2, 2))) == ["f[0,0]", "f[0,1]", "f[1,0]", "f[1,1]"]


@pytest.mark.parametrize("command, expr, at, extra", [
    ("hessian", "x**2*y + y**3", ("1,2",), {}),
    ("hessian", "sum(X**2)*y", ("X=[[1,2],[3,4]]", "y=2"), {}),
    ("jacobian", "[X, X]", ("X=[[1,2],[3,4]]",), {}),
    ("jacobian", "x*1j", ("x=[1,2]",), {}),
    ("derivative", "x**3*y", ("1,2",), {"order": 3}),
    ("grad", "sum(x**2)", ("x=[1,2,3]",), {}),
])
def test_every_entry_name_at_once_is_each_entry_named_alone(command, expr, at, extra):
    """entry_names builds a derivative's names from its labels made once (CSV headers of millions); entry_namer
    names one entry by its flat index: the two agree everywhere."""
    import math

    from jaccli.compute.prepare import Request, bind, plan
    from jaccli.output.labels import entry_names, entry_namer

    the_plan = plan(bind(Request(command, expr, at=at, **extra)))
    name = entry_namer(the_plan)
    out_shape, in_shape = the_plan.result_shapes
    count = the_plan.command.count(math.prod(out_shape), math.prod(in_shape), the_plan.axes)
    assert entry_names(the_plan) == [name(k) for k in range(count)]
