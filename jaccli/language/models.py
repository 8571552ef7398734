"""Checks of a model as a whole: what its definitions refer to, and how deep they nest through their uses."""

from __future__ import annotations

from ..errors import ParseError
from .nodes import Definition, Node, Var, children, walk

MAX_MODEL_DEPTH = 500  # nesting through definitions: XLA compile time grows fast with the depth of a chain


def check_references(text: str, definitions: tuple[Definition, ...], root: Node) -> None:
    """A definition uses variables and earlier definitions only: not itself, not a later one."""
    order = {d.name: i for i, d in enumerate(definitions)}
    for i, definition in enumerate(definitions):
        for node in walk(definition.value):
            if isinstance(node, Var) and order.get(node.name, -1) >= i:
                if node.name == definition.name:
                    raise ParseError(f"the definition of {node.name!r} refers to itself", text, node.pos,
                                     hint="a definition is computed once from variables and earlier definitions")
                raise ParseError(f"{node.name!r} is used before its definition", text, node.pos,
                                 hint=f"move the definition of {node.name!r} before this one")


def check_model_depth(text: str, definitions: tuple[Definition, ...], root: Node) -> None:
    """The depth of the model with its definitions put in (a use of a definition is as deep as its value):
    a chain of thousands of definitions is a program thousands of operations deep, which XLA takes minutes
    to compile, so it is refused as deep nesting in one statement is."""
    if not definitions:
        return
    depth: dict[str, int] = {}

    def deepest(top: Node) -> int:
        found, stack = 0, [(top, 1)]
        while stack:
            node, level = stack.pop()
            if isinstance(node, Var) and node.name in depth:
                level += depth[node.name] - 1
            found = max(found, level)
            stack.extend((child, level + 1) for child in children(node))
        return found

    for definition in definitions:
        depth[definition.name] = deepest(definition.value)
        if depth[definition.name] > MAX_MODEL_DEPTH:
            raise ParseError(f"the definitions nest more than {MAX_MODEL_DEPTH} levels deep here (with each "
                             "definition put in its uses)", text, definition.pos,
                             hint="XLA's compile time grows fast with depth: use array variables and reductions")
    if deepest(root) > MAX_MODEL_DEPTH:
        raise ParseError(f"the model nests more than {MAX_MODEL_DEPTH} levels deep (with each definition put "
                         "in its uses)", text, root.pos, hint="use array variables and reductions")
