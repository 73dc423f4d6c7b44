"""Pictures of the recorded graph: which ops made a tensor, from which inputs.

Every tensor made by an op while grad mode is on keeps a ``grad_fn`` (see autograd.py): the op's
name and its input tensors. Following those links from a result back to the leaves gives the
graph that ``backward()`` will walk, in reverse. ``to_dot`` writes that graph as Graphviz DOT
text and ``draw`` renders it to an .svg or .png file:

    import minigrad as mg
    import minigrad.viz

    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU())
    loss = model(mg.randn(2, 4)).sum()
    minigrad.viz.draw(loss, "graph.svg", params=dict(model.named_parameters()))

How to read the picture (arrows point the way data flows, from the inputs to the result;
gradients flow back against them):

- blue boxes are ops (``mul``, ``matmul``, ``relu`` ...): one box per op call, even when two
  calls are of the same op. An op's result is not drawn on its own: it is the arrow leaving the
  box. A result used twice gives two arrows out of one box.
- yellow ellipses are leaves that require grad: the tensors ``backward()`` fills ``.grad`` of,
  labelled with shape, dtype and device.
- green ellipses are the same, for the parameters named in ``params`` (a model's weights),
  labelled with their dotted names (``0.weight``) above shape, dtype and device.
- grey dashed ellipses are constants: inputs that do not require grad (a data batch, the 2 of
  ``x * 2``). No gradient reaches them; they are drawn so that each op shows all its inputs.
  A Python number that an op lifted to a tensor is labelled with its value.
- the orange octagon is the tensor you asked about, labelled "output" and its shape.

The text is deterministic (the same graph gives the same text), so it can be compared or kept
under version control. Drawing needs the ``graphviz`` Python package (``pip install -e
".[viz]"``) and Graphviz's ``dot`` program (e.g. ``apt-get install graphviz``); ``to_dot`` needs
neither.
"""

from __future__ import annotations

import os

from minigrad.autograd import Node
from minigrad.tensor import lifted_number

__all__ = ["to_dot", "draw"]

# Fill colours (ColorBrewer pastels, readable with black text) and shapes of each kind of node.
_OP_STYLE = 'shape=box, style="rounded,filled", fillcolor="#c6dbef"'
_LEAF_STYLE = 'shape=ellipse, style=filled, fillcolor="#ffffb3"'
_PARAM_STYLE = 'shape=ellipse, style=filled, fillcolor="#c7e9c0"'
_CONST_STYLE = 'shape=ellipse, style=dashed, color="#969696", fontcolor="#737373"'
_OUTPUT_STYLE = 'shape=doubleoctagon, style=filled, fillcolor="#fdd0a2"'
_CONST_EDGE_STYLE = 'style=dashed, color="#969696"'

# The suffixes draw() accepts, each with the Graphviz output format it asks for.
_FORMATS = {".svg": "svg", ".png": "png"}


def _quote(text: str) -> str:
    """``text`` as a DOT double-quoted string. Backslashes are doubled because Graphviz reads
    ``\\n``, ``\\l``, ``\\N`` ... in labels as escapes; quotes are escaped; a line break becomes
    ``\\n`` (a centred line break)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r\n", "\n").replace("\n", "\\n") + '"'


def _describe(t) -> str:
    """The lines shape / dtype, device of a tensor (or the value of a lifted Python number)."""
    # Ops lift a Python number (the 2 in x * 2) to a constant tensor: its value says more than
    # a shape would.
    number = lifted_number(t)
    if number is not None:
        return str(number)
    return f"{tuple(t.shape)}\n{t.dtype}, {t.device}"


def to_dot(tensor, params: dict | None = None) -> str:
    """Return the Graphviz DOT text of the graph that produced ``tensor``.

    params: optional names for leaves, e.g. ``dict(model.named_parameters())``; a leaf found
    among its values is drawn as a parameter and labelled with its name.
    """
    # Tensors are matched by identity: == on tensors is elementwise, and a shape or a value
    # does not tell two tensors apart.
    names = {}
    for name, p in (params or {}).items():
        names.setdefault(id(p), name)  # a tensor under two names (tied weights): the first

    node_lines: list[str] = []
    edge_lines: list[str] = []
    ids: dict[int, str] = {}  # id(Node) for an op, id(Tensor) for a leaf -> DOT node name
    keep_alive = []  # the objects behind ids, so no id is reused while we walk

    def node_of(vertex, key=None) -> tuple[str, bool]:
        """The DOT name of the node drawing ``vertex`` (an op's Node, or a tensor: a leaf or a
        constant), and whether it is new. Adds the node's line the first time. key: what
        identifies the node (default: the vertex itself)."""
        key = id(vertex) if key is None else key
        if key in ids:
            return ids[key], False
        ids[key] = dot_name = f"n{len(ids)}"
        keep_alive.append(vertex)
        if isinstance(vertex, Node):
            label, style = vertex.name, _OP_STYLE
        elif not vertex.requires_grad:
            label, style = _describe(vertex), _CONST_STYLE
        elif id(vertex) in names:
            label, style = f"{names[id(vertex)]}\n{_describe(vertex)}", _PARAM_STYLE
        else:
            label, style = _describe(vertex), _LEAF_STYLE
        node_lines.append(f"    {dot_name} [label={_quote(label)}, {style}];")
        return dot_name, True

    # The output is a node of its own, fed by the node of whatever made it.
    output_label = _quote(f"output\n{tuple(tensor.shape)}")
    node_lines.append(f"    output [label={output_label}, {_OUTPUT_STYLE}];")
    root = tensor.grad_fn if tensor.grad_fn is not None else tensor
    first, _ = node_of(root)
    edge_lines.append(f"    {first} -> output;")

    # Depth-first from the output towards the leaves, with a stack of our own rather than
    # recursion: a chain of 10,000 ops would overflow Python's call stack. Each op is expanded
    # once, when its node is first seen, so a shared subexpression is drawn (and walked) once.
    # An op's inputs are followed along its edges (``Node.next``): the node that made each
    # input when the op ran, even if an in-place op gave that tensor a new one since.
    stack = [root] if isinstance(root, Node) else []
    while stack:
        node = stack.pop()
        op = ids[id(node)]
        new_ops = []
        for k, (x, target) in enumerate(zip(node.inputs, node.next, strict=True)):
            # A Python number (the 2 in x * 2) is drawn at each op that uses it: ops share one
            # object for equal numbers, which would otherwise tie unrelated ops together.
            number = target is None and lifted_number(x) is not None
            src, is_new = node_of(x if target is None else target,
                                  key=(id(node), k) if number else None)
            edge_style = "" if target is not None else f" [{_CONST_EDGE_STYLE}]"
            edge_lines.append(f"    {src} -> {op}{edge_style};")
            if is_new and isinstance(target, Node):
                new_ops.append(target)
        # Reversed, so that the first input is expanded first: the text then reads in the
        # order the ops list their inputs, which keeps it stable and easy to follow.
        stack.extend(reversed(new_ops))

    return "\n".join([
        "digraph minigrad {",
        "    // arrows point the way data flows: inputs -> ops -> output",
        '    node [fontname="Helvetica", fontsize=11];',
        *node_lines,
        *edge_lines,
        "}",
        "",
    ])


def draw(tensor, path, params: dict | None = None):
    """Render the graph that produced ``tensor`` (see ``to_dot``) to ``path``, an .svg or .png
    file (the format comes from the suffix), and return ``path``.

    Needs the ``graphviz`` Python package and Graphviz's ``dot`` program.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in _FORMATS:
        accepted = ", ".join(_FORMATS)
        raise ValueError(f"draw() writes {accepted} files; got {os.fspath(path)!r}")
    # Imported here, not at the top, so that importing minigrad.viz (and to_dot) works without
    # the optional dependency.
    try:
        import graphviz
    except ImportError as err:
        raise ImportError('minigrad.viz.draw needs the graphviz Python package: '
                          'pip install -e ".[viz]"') from err

    dot = to_dot(tensor, params)
    # pipe() returns the rendered bytes; writing them ourselves leaves exactly `path` behind
    # (render() would also leave the DOT source file next to it).
    try:
        data = graphviz.Source(dot).pipe(format=_FORMATS[suffix])
    except graphviz.ExecutableNotFound as err:
        raise RuntimeError("minigrad.viz.draw needs Graphviz's `dot` program on the PATH; "
                           "install Graphviz (e.g. `apt-get install graphviz` or "
                           "`brew install graphviz`)") from err
    with open(path, "wb") as f:
        f.write(data)
    return path
