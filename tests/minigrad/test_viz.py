"""minigrad.viz: the DOT text of a recorded graph (parsed back into nodes and edges) and its
rendering to files."""

import re
import shutil
import sys

import pytest

import minigrad as mg
import minigrad.viz as viz

# One node per line:  name [label="...", attr=value, ...];   one edge per line:  a -> b [...];
NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?;$")


class Graph:
    """The DOT text of to_dot, parsed: labels (unescaped), attributes and edges."""

    def __init__(self, dot: str):
        self.dot = dot
        self.labels: dict[str, str] = {}
        self.attrs: dict[str, str] = {}
        self.edges: list[tuple[str, str]] = []
        self.edge_attrs: list[str] = []
        for line in dot.splitlines():
            if m := NODE.match(line):
                name, label, attrs = m.groups()
                assert name not in self.labels, f"node {name} declared twice"
                self.labels[name] = re.sub(r"\\(.)", lambda c: "\n" if c[1] == "n" else c[1],
                                           label)
                self.attrs[name] = attrs
            elif m := EDGE.match(line):
                self.edges.append((m[1], m[2]))
                self.edge_attrs.append(m[3] or "")
        for a, b in self.edges:
            assert a in self.labels and b in self.labels, f"edge {a} -> {b} to an unknown node"

    def named(self, label: str) -> list[str]:
        """The nodes whose label is exactly ``label``."""
        return [n for n, lab in self.labels.items() if lab == label]

    def one(self, label: str) -> str:
        (node,) = self.named(label)
        return node

    def starting(self, prefix: str) -> list[str]:
        return [n for n, lab in self.labels.items() if lab.startswith(prefix)]

    def into(self, node: str) -> list[str]:
        """The sources of the edges into ``node``, in the order they appear."""
        return [a for a, b in self.edges if b == node]

    def out_of(self, node: str) -> list[str]:
        return [b for a, b in self.edges if a == node]


def graph(tensor, params=None) -> Graph:
    return Graph(viz.to_dot(tensor, params))


# -- structure -----------------------------------------------------------------------------

def test_mul_then_sum_has_two_ops_two_leaves_and_the_output():
    x = mg.randn(3, 4, requires_grad=True)
    w = mg.randn(3, 4, requires_grad=True)
    g = graph((x * w).sum())

    assert g.dot.startswith("digraph")
    assert len(g.labels) == 5
    assert sorted(g.labels.values()) == sorted(
        ["mul", "sum", "output\n()", "(3, 4)\nfloat32, cpu", "(3, 4)\nfloat32, cpu"])
    assert len(g.edges) == 4


def test_edges_point_the_way_data_flows():
    x = mg.randn(3, 4, requires_grad=True)
    w = mg.randn(3, 4, requires_grad=True)
    g = graph((x * w).sum())
    mul, total, out = g.one("mul"), g.one("sum"), g.one("output\n()")

    leaves = g.into(mul)  # x, then w: the order the op lists its inputs
    assert len(leaves) == 2 and all(g.labels[n] == "(3, 4)\nfloat32, cpu" for n in leaves)
    assert g.into(total) == [mul]
    assert g.into(out) == [total]
    assert g.out_of(out) == []  # nothing leaves the output
    for leaf in leaves:
        assert g.out_of(leaf) == [mul] and g.into(leaf) == []


def test_leaf_label_shows_shape_dtype_and_device(device):
    x = mg.randn(2, 5, dtype=mg.float64, device=device, requires_grad=True)
    g = graph(x * x)
    (leaf,) = g.starting("(2, 5)")
    assert g.labels[leaf] == f"(2, 5)\nfloat64, {mg.device(device)}"
    assert g.labels[g.starting("output")[0]] == "output\n(2, 5)"


def test_a_tensor_used_twice_is_one_node_with_two_out_edges():
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3, requires_grad=True)
    y = x * w
    g = graph((y + y).sum())

    mul, add = g.one("mul"), g.one("add")  # y's op drawn (and walked) once
    assert g.out_of(mul) == [add, add]
    assert g.into(add) == [mul, mul]
    assert len(g.starting("(3,)")) == 2  # x and w once each


def test_two_calls_of_one_op_are_two_nodes():
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3, requires_grad=True)
    g = graph((x * w) * w)

    muls = g.named("mul")
    assert len(muls) == 2
    (outer,) = g.into(g.one("output\n(3,)"))
    (inner,) = [n for n in muls if n != outer]
    assert g.out_of(inner) == [outer]
    (w_node,) = [n for n in g.starting("(3,)") if len(g.out_of(n)) == 2]
    assert sorted(g.out_of(w_node)) == sorted([inner, outer])


def test_diamond_visits_the_shared_part_once():
    x = mg.randn(4, requires_grad=True)
    a = x * x
    b = a.exp()
    c = a.tanh()
    g = graph((b + c).sum())

    assert [g.labels[n] for n in g.into(g.one("add"))] == ["exp", "tanh"]
    assert len(g.named("mul")) == 1
    assert sorted(g.out_of(g.one("mul"))) == sorted([g.one("exp"), g.one("tanh")])
    assert len(g.labels) == 7  # x, mul, exp, tanh, add, sum, output


def test_chain_of_10000_ops_needs_no_recursion():
    x = mg.randn(2, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk would fail long before 10,000 ops
    try:
        g = graph(y)
    finally:
        sys.setrecursionlimit(limit)

    assert len(g.named("mul")) == 10_000
    assert len(g.starting("(2,)")) == 1
    assert len(g.named("1.0")) == 10_000  # each multiplier is a constant of its own
    assert len(g.edges) == 2 * 10_000 + 1


def test_same_graph_gives_the_same_text():
    def build():
        mg.manual_seed(0)
        x = mg.randn(3, requires_grad=True)
        w = mg.randn(3, requires_grad=True)
        y = x * w
        return ((y + y.exp()) * w).sum()

    out = build()
    assert viz.to_dot(out) == viz.to_dot(out)
    assert viz.to_dot(out) == viz.to_dot(build())  # names come from the walk, not from id()


def test_a_leaf_on_its_own_is_drawn_with_the_output():
    x = mg.randn(2, 2, requires_grad=True)
    g = graph(x)
    assert len(g.labels) == 2
    assert g.edges == [(g.one("(2, 2)\nfloat32, cpu"), g.one("output\n(2, 2)"))]


# -- parameters and constants --------------------------------------------------------------

def mlp_and_loss():
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.ReLU())
    return model, model(mg.randn(2, 4)).sum()


def test_params_label_parameters_with_their_dotted_names():
    model, loss = mlp_and_loss()
    params = dict(model.named_parameters())
    g = graph(loss, params)

    weight, bias = g.starting("0.weight\n"), g.starting("0.bias\n")
    assert len(weight) == 1 and len(bias) == 1
    assert g.labels[weight[0]] == f"0.weight\n{tuple(params['0.weight'].shape)}\nfloat32, cpu"
    assert g.labels[bias[0]] == "0.bias\n(3,)\nfloat32, cpu"
    assert g.attrs[weight[0]] != g.attrs[g.one("relu")]  # parameters look unlike ops ...
    plain = graph(mg.randn(3, requires_grad=True) * 1)
    assert g.attrs[weight[0]] != plain.attrs[plain.one("(3,)\nfloat32, cpu")]  # ... and leaves
    # Both parameters feed, through whatever ops Linear uses, into relu.
    relu = g.one("relu")
    for p in (weight[0], bias[0]):
        seen, todo = set(), [p]
        while todo:
            todo.extend(n for n in g.out_of(todo.pop()) if n not in seen and not seen.add(n))
        assert relu in seen


def test_without_params_parameters_are_plain_leaves():
    _, loss = mlp_and_loss()
    g = graph(loss)
    assert not any("weight" in lab or "bias" in lab for lab in g.labels.values())
    assert "(3,)\nfloat32, cpu" in g.labels.values()


def test_constants_are_grey_dashed_inputs_that_are_not_expanded():
    x = mg.randn(3, requires_grad=True)
    c = mg.randn(3)  # does not require grad: data, not a leaf of the graph
    g = graph(x * c * 2)

    x_node, c_node = [n for n in g.starting("(3,)")]
    assert "dashed" in g.attrs[c_node] and "dashed" not in g.attrs[x_node]
    two = g.one("2")  # a lifted Python number shows its value
    assert "dashed" in g.attrs[two]
    assert g.into(c_node) == [] and g.into(two) == []
    for (a, _), attrs in zip(g.edges, g.edge_attrs, strict=True):
        assert ("dashed" in attrs) == (a in (c_node, two))


def test_a_lifted_float_shows_its_value_at_each_op_that_uses_it():
    # x * 0.5 holds 0.5 as a cached 0-d array of x's dtype (Device.constant): still drawn as
    # the number, once per op (two ops sharing the cached leaf are not tied together).
    x = mg.randn(3, requires_grad=True)
    g = graph((x * 0.5).tanh() * 0.5)
    halves = [n for n, label in g.labels.items() if label == "0.5"]
    assert len(halves) == 2
    assert all("dashed" in g.attrs[n] for n in halves)


def test_data_batch_into_a_model_is_a_constant():
    _, loss = mlp_and_loss()
    g = graph(loss)
    (batch,) = g.starting("(2, 4)")
    assert "dashed" in g.attrs[batch]


def test_labels_are_escaped_for_dot():
    w = mg.randn(2, requires_grad=True)
    name = 'odd "name"\\n with\nnewline'
    g = graph(w * 1, {name: w})
    assert name + "\n(2,)\nfloat32, cpu" in g.labels.values()
    assert r'odd \"name\"\\n with\nnewline' in g.dot
    if shutil.which("dot"):  # Graphviz itself accepts the text
        graphviz = pytest.importorskip("graphviz")
        assert b"<svg" in graphviz.Source(g.dot).pipe(format="svg")


# -- draw -----------------------------------------------------------------------------------

def small_graph():
    x = mg.randn(3, 4, requires_grad=True)
    w = mg.randn(3, 4, requires_grad=True)
    return (x * w).sum()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program not installed")
def test_draw_writes_exactly_the_svg_file(tmp_path):
    pytest.importorskip("graphviz")
    path = tmp_path / "graph.svg"
    assert viz.draw(small_graph(), path) == path
    text = path.read_text()
    assert text.startswith("<?xml") or "<svg" in text
    assert "mul" in text and "sum" in text
    assert list(tmp_path.iterdir()) == [path]  # no DOT source or other files left beside it


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program not installed")
def test_draw_writes_png_from_the_suffix(tmp_path):
    pytest.importorskip("graphviz")
    path = str(tmp_path / "graph.PNG")
    assert viz.draw(small_graph(), path) == path
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("name", ["graph.pdf", "graph", "graph.svg.dot"])
def test_draw_refuses_other_suffixes(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.svg.*\.png"):
        viz.draw(small_graph(), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_draw_without_the_graphviz_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(ImportError, match=re.escape('pip install -e ".[viz]"')):
        viz.draw(small_graph(), tmp_path / "graph.svg")


def test_draw_without_the_dot_program_says_to_install_graphviz(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # nowhere to find `dot`
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.draw(small_graph(), tmp_path / "graph.svg")
    assert list(tmp_path.iterdir()) == []
