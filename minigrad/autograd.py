"""Reverse-mode automatic differentiation: grad mode, the recorded graph, the backward pass,
``grad``, and ``Function`` for ops of your own.

Every tensor made by a differentiable op while grad mode is on keeps a ``grad_fn``: a ``Node``
that remembers the op's inputs, the values its backward will read (``saved``) and the backward
itself, a function from the gradient of the output to one gradient per input (the
vector-Jacobian product). ``backward`` visits the graph once, outputs before inputs, and hands
each node the sum of the gradients flowing into it.

One formula, two interpreters. A backward is written once, with Python operators and the
array-API functions of ``ctx.xp``:

    def backward(ctx, g):                        # tanh:  dx = g * (1 - out^2)
        (out,) = ctx.saved
        return (g * (1 - out * out),)

On an ordinary backward, ``g`` and ``ctx.saved`` are arrays and ``ctx.xp`` is the device's
array namespace: fast, nothing is recorded. With ``create_graph=True`` they are tensors and
``ctx.xp`` is minigrad's own namespace of ops (``minigrad.ops.namespace``), so the same formula
records a graph of its own, which can be differentiated again: gradients of gradients.

Saved values carry the version of their tensor at the time of the op; an in-place change
since then (``x += 1``, an optimizer step) makes the backward raise instead of computing a
gradient from the new values.
"""

from __future__ import annotations

import functools
import heapq
import itertools

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "inference_mode",
           "register_multi_grad_hook",
           "backward", "grad", "Function", "FunctionCtx", "Node", "OUTPUT"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _grad_enabled


class _GradMode:
    """Base of the grad-mode context managers: the mode holds inside the ``with`` block (or
    the decorated function), and the previous mode comes back on exit."""

    mode = True

    def __init__(self):
        self._previous: list[bool] = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with no_grad(): ...`` computes without recording a graph (inference, updates)."""

    mode = False


class inference_mode(no_grad):
    """PyTorch's spelling of no_grad for inference (no separate tensor kind here)."""

    def __init__(self, mode: bool = True):
        super().__init__()
        self.mode = not mode


class enable_grad(_GradMode):
    """Turns graph recording back on inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: at once when called (``set_grad_enabled(False)``),
    and back to the previous mode at the end of a ``with set_grad_enabled(...):`` block."""

    def __init__(self, mode: bool):
        global _grad_enabled
        super().__init__()
        self.mode = bool(mode)
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __enter__(self):
        pass  # the mode was already set on construction

    def __call__(self, fn):
        global _grad_enabled
        _grad_enabled = self._previous.pop()  # as a decorator, it changes nothing until called
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


# -- the recorded graph -------------------------------------------------------------------------

OUTPUT = "output"
"""Marker in ``saved`` for the op's own output (the node keeps its array, not the tensor:
that would be a reference cycle between the output tensor and its grad_fn)."""

# minigrad's namespace of ops under array-API names, installed by minigrad.ops (autograd must
# not import the ops: they are built on it).
tensor_namespace = None


@functools.cache
def _freed_backward(qualname: str):
    """The backward of a node whose graph a backward pass freed: it raises, and keeps the
    op's name (``Node.name`` reads the qualname). One per op name, made once."""
    def backward(ctx, g):
        raise RuntimeError(
            "Trying to backward through the graph a second time (or to read its saved values "
            "after they were freed): the first backward() freed them. Call backward("
            "retain_graph=True) the first time if you need to backward twice.")

    backward.__qualname__ = qualname
    return backward


class Node:
    """One recorded op (``tensor.grad_fn``): a vertex of the graph that backward walks.

    backward: function (ctx, g) -> one gradient (or None) per input; ctx is this node.
    inputs:   the op's input tensors, in the order of the gradients backward returns.
    next:     where each input's gradient goes: the node that made the input, or the input
              itself when it is a leaf (None: it needs no gradient). Taken when the op runs,
              as PyTorch's edges: an in-place op that later gives an input a new grad_fn does
              not change what this op computed from.
    saved:    while backward runs, the values it reads (arrays, or tensors with
              create_graph), in the order the op listed them; see ``_unpack``.
    xp:       while backward runs, the namespace to compute with (arrays or tensors).
    sequence: the node's place in the order nodes were made; the backward pass runs them
              newest first.
    """

    __slots__ = ("backward", "inputs", "next", "device", "sequence", "_saved", "_versions",
                 "saved", "xp", "__dict__")
    # Rarely set (a saved output, retain_grad()): class defaults, so that
    # creating a node, once per op, does not pay for them (the __dict__ slot holds them).
    _output = _retained = None

    def __init__(self, backward, inputs: tuple, saved: tuple, output):
        self.backward = backward
        self.inputs = inputs
        self.next = _edges(inputs)
        self.device = output.device
        self.sequence = next(_sequence)
        self._saved = saved
        if saved:
            versions = []
            for t in saved:
                if t is OUTPUT:
                    self._output = (output.data, output._version_counter)
                    versions.append(output._version_counter[0])
                else:
                    versions.append(None if t is None else t._version_counter[0])
            self._versions = tuple(versions)
        else:
            self._versions = ()

    @property
    def name(self) -> str:
        """The op's name: the function that defined the backward (``mul``, ``conv2d`` ...)."""
        parts = self.backward.__qualname__.replace(".<locals>", "").split(".")
        return parts[-2] if len(parts) > 1 and parts[-1] == "backward" else parts[-1]

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(target is not None for target in self.next)

    def __repr__(self) -> str:
        return f"<{self.name} backward>"

    def _unpack(self, create_graph: bool) -> tuple:
        """The saved values for one backward call: tensors when recording, else their arrays
        (OUTPUT: the output's array, or a tensor made by this node). Raises if a saved tensor
        changed in place since the op ran."""
        if not self._saved:
            return ()
        values = []
        # strict=False: one version per saved value by construction (strict costs per node)
        for t, version in zip(self._saved, self._versions, strict=False):
            if t is None:
                values.append(None)
                continue
            if t is OUTPUT:
                data, counter = self._output
                if counter[0] != version:
                    self._raise_modified(tuple(data.shape), counter[0], version)
                values.append(self._output_tensor() if create_graph else data)
                continue
            if t._version_counter[0] != version:
                self._raise_modified(t.shape, t._version_counter[0], version)
            # A lifted Python number (2 in x * 2) stays a number: a constant either way.
            values.append(t if create_graph and type(t.data) not in (int, float) else t.data)
        return values  # (a list: formulas only unpack it, and tuple() costs per node)

    def _output_tensor(self):
        """The output as a tensor whose grad_fn is this node (for formulas under create_graph
        that read the output, as tanh's 1 - out^2)."""
        from minigrad.tensor import _leaf

        data, counter = self._output
        t = _leaf(data, self.device)
        t.grad_fn, t.requires_grad, t._version_counter = self, True, counter
        return t

    def _raise_modified(self, shape, version: int, expected: int):
        raise RuntimeError(
            f"one of the tensors needed for gradient computation has been modified by an "
            f"in-place operation: a tensor of shape {shape} that '{self.name}' saved is at "
            f"version {version}; expected version {expected}. Make a copy (x * 1) before "
            "changing it in place, or change it after the backward pass.")

    def _rebase_output(self, output) -> None:
        """This node's output is now ``output`` (an in-place op wrote the node's result into
        it): its saved OUTPUT is output's memory, at output's current version."""
        if self._output is not None:
            self._output = (output.data, output._version_counter)
            self._versions = tuple(output._version if t is OUTPUT else v
                                   for t, v in zip(self._saved, self._versions, strict=True))

    def _release(self) -> None:
        """Free what the backward holds and the edges (so that intermediate tensors go) after
        a backward without retain_graph; the output stays a non-leaf."""
        self.backward = _freed_backward(self.backward.__qualname__)
        self.inputs = self.next = self._saved = self._versions = ()
        if self._output is not None:  # (an unset one is the class's: no instance dict made)
            self._output = None


_sequence = itertools.count()  # numbers the nodes as they are made (Node.sequence)


def _edges(inputs: tuple) -> tuple:
    """Node.next for these inputs: (t.grad_fn or t) for each t that requires grad, else None.
    (Spelled out for one and two inputs, nearly every op: this runs once per recorded op.)"""
    if len(inputs) == 1:
        t = inputs[0]
        return ((t.grad_fn or t) if t.requires_grad else None,)
    if len(inputs) == 2:
        a, b = inputs
        return ((a.grad_fn or a) if a.requires_grad else None,
                (b.grad_fn or b) if b.requires_grad else None)
    return tuple([(t.grad_fn or t) if t.requires_grad else None for t in inputs])


def _vertex(t):
    """Where a tensor's gradient is collected: its node, or the tensor itself for a leaf."""
    return t.grad_fn if t.grad_fn is not None else t


# -- the backward pass --------------------------------------------------------------------------

def _topological_order(roots) -> list:
    """The vertices (nodes, and leaves that require grad) that lead to a root vertex, each
    after all of those it reads from.

    An explicit stack instead of recursion, so that a chain of 100,000 ops is fine.
    """
    order = []
    visited = set()
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(root.next if type(root) is Node else ()))]
        while stack:
            vertex, edges = stack[-1]
            for target in edges:
                if target is not None and id(target) not in visited:
                    visited.add(id(target))
                    stack.append((target, iter(target.next if type(target) is Node else ())))
                    break
            else:
                stack.pop()
                order.append(vertex)
    return order


def sum_to_shape(grad, shape: tuple[int, ...], xp):
    """Sum a broadcast gradient back to ``shape``: undo the broadcasting of the forward pass.

    Broadcasting prepends axes and stretches size-1 axes, so its adjoint sums over the
    prepended axes and over the stretched ones (keeping them as size 1). ``grad`` is an array
    (xp its namespace) or a tensor (xp minigrad's namespace).
    """
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead:
        grad = xp.sum(grad, axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = xp.sum(grad, axis=stretched, keepdims=True)
    return grad


def _fitted(g, parent, create_graph: bool):
    """An input's gradient in that input's shape and dtype (after broadcasting, or an op that
    mixed float32 and float64)."""
    if create_graph:
        if g.shape != parent.shape:
            g = sum_to_shape(g, parent.shape, tensor_namespace)
        return g if g.dtype == parent.dtype else g.to(dtype=parent.dtype)
    xp = parent.device.xp
    if g.shape != parent.data.shape:
        g = sum_to_shape(g, parent.data.shape, xp)
    return g if g.dtype == parent.data.dtype else xp.astype(g, parent.data.dtype)


def _needed(order, inputs: set) -> set:
    """The vertices on a path to one of the input vertices (they alone need a backward)."""
    needed = set(inputs)
    for vertex in order:  # inputs before outputs
        if type(vertex) is Node:
            for target in vertex.next:
                if target is not None and target in needed:
                    needed.add(vertex)
                    break
    return needed


def _run(roots, seeds, retain_graph: bool, create_graph: bool, inputs=None,
         accumulate: bool = True) -> dict:
    """The backward pass from the tensors ``roots`` (seeded with ``seeds``: arrays, or tensors
    when ``create_graph``). accumulate: add into the ``.grad`` of leaves (of ``inputs`` only,
    when given) and of tensors that retain_grad(). Returns {vertex: gradient} for the vertices
    of ``inputs``.

    Nodes run newest first, as in PyTorch's engine: a node's inputs were made before it, so
    by the time the newest waiting node runs, every gradient that flows into it has arrived.
    ``waiting`` is a heap of the nodes that have received a gradient, keyed by -sequence; the
    graph needs no sort beforehand. Leaves have nothing to run: their gradients are complete
    when no node is left, and only then reach ``.grad``. Vertices (nodes and leaf tensors) key
    the dicts and sets themselves: both hash by identity (ops/__init__.py for Tensor).
    """
    wanted = set() if inputs is None else {_vertex(t) for t in inputs}
    # With inputs, only the nodes on a path to one of them need to run their backward.
    needed = None
    if inputs is not None:
        needed = _needed(_topological_order([_vertex(root) for root in roots]), wanted)
    grads: dict = {}  # vertex -> the sum of the gradients it has received
    waiting: list = []  # heap of (-node.sequence, node)
    leaves: list = []  # leaves that have received a gradient, in order of arrival
    for root, seed in zip(roots, seeds, strict=True):
        _receive(_vertex(root), seed, grads, waiting, leaves)
    captured = {}
    while waiting:
        node = heapq.heappop(waiting)[1]
        g = grads.pop(node)
        if wanted and node in wanted:
            captured[node] = g
        if node._retained is not None and accumulate and inputs is None:
            retained = node._retained()
            if retained is not None:
                _accumulate(retained, g, create_graph)
        if needed is not None and node not in needed:
            continue
        node.saved = node._unpack(create_graph) if node._saved else ()
        node.xp = tensor_namespace if create_graph else node.device.xp
        input_grads = node.backward(node, g)
        node.saved = node.xp = None
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"the backward of '{node.name}' returned {len(input_grads)} "
                               f"gradients for {len(node.inputs)} inputs")
        for parent, target, pg in zip(node.inputs, node.next, input_grads,
                                      strict=False):  # lengths checked just above
            if pg is None or target is None:
                continue
            array = pg.data if create_graph else pg
            if array.shape != parent.data.shape or array.dtype != parent.data.dtype:
                pg = _fitted(pg, parent, create_graph)
            _receive(target, pg, grads, waiting, leaves)
        if not retain_graph:
            node._release()
    for leaf in leaves:
        g = grads.pop(leaf)
        if wanted and leaf in wanted:
            captured[leaf] = g
        if accumulate and (inputs is None or leaf in wanted):
            _accumulate(leaf, g, create_graph)
    return captured


def _receive(vertex, g, grads: dict, waiting: list, leaves: list) -> None:
    """Hand gradient g to a vertex: the first one it receives (a node then starts waiting to
    run, a leaf to be filled), or one more to add to its sum."""
    if vertex in grads:  # out of place: a backward may hand the same array to several inputs
        grads[vertex] = grads[vertex] + g
        return
    grads[vertex] = g
    if type(vertex) is Node:
        heapq.heappush(waiting, (-vertex.sequence, vertex))
    else:
        leaves.append(vertex)


def _accumulate(tensor, g, create_graph: bool) -> None:
    """tensor.grad += g, as PyTorch: the first gradient becomes ``.grad`` (a tensor on the
    tensor's device); later ones are added (in the graph when create_graph)."""
    from minigrad.tensor import _leaf

    if _multi_grad_hooks:
        _accumulated.add(id(tensor))

    if create_graph:
        tensor.grad = g if tensor.grad is None else tensor.grad + g
    elif tensor.grad is None:
        tensor.grad = _leaf(g, tensor.device)
    elif tensor.grad.requires_grad:  # the last one was recorded: add to it in that graph
        with enable_grad():
            tensor.grad = tensor.grad + _leaf(g, tensor.device)
    else:
        tensor.grad.data = tensor.grad.data + g  # a new array: g may alias other arrays
        tensor.grad._bump_version()


# -- hooks: code that runs when a backward pass has filled some gradients ------------------------

_multi_grad_hooks: dict[int, tuple] = {}  # handle id -> (ids of the tensors, the tensors, fn)
_accumulated: set[int] = set()  # ids of the tensors whose .grad the running backward() filled
_handle_keys = itertools.count()


class RemovableHandle:
    """What registering a hook returns: ``handle.remove()`` unregisters it."""

    def __init__(self, key: int):
        self.key = key

    def remove(self) -> None:
        _multi_grad_hooks.pop(self.key, None)


def register_multi_grad_hook(tensors, fn) -> RemovableHandle:
    """Call ``fn(grads)`` at the end of every ``backward()`` that filled the ``.grad`` of at
    least one of ``tensors`` (PyTorch's ``torch.autograd.graph.register_multi_grad_hook``,
    mode "all"): grads holds each tensor's gradient, None for those this backward did not
    reach. DistributedDataParallel averages gradients over workers this way, right after
    backward, as PyTorch's does. (``autograd.grad`` fills no ``.grad`` and calls no hook.)"""
    tensors = tuple(tensors)
    handle = RemovableHandle(next(_handle_keys))
    _multi_grad_hooks[handle.key] = (frozenset(id(t) for t in tensors), tensors, fn)
    return handle


def _call_multi_grad_hooks() -> None:
    filled = set(_accumulated)
    _accumulated.clear()
    for ids, tensors, fn in list(_multi_grad_hooks.values()):
        if ids & filled:
            fn(tuple(t.grad if id(t) in filled else None for t in tensors))


def _seeds(outputs, grad_outputs, create_graph: bool, op: str) -> list:
    """One seed gradient per output, checked: ones for single-element outputs, else given."""
    from minigrad.tensor import Tensor, _leaf

    seeds = []
    for k, (out, given) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: outputs must be tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"{op}: output {k} (shape {out.shape}) does not require grad: "
                               "no input had requires_grad=True, or it was computed under "
                               "no_grad()")
        if given is None:
            if out.numel() != 1:
                raise RuntimeError(f"{op}: grad can be implicitly created only for outputs "
                                   f"with one element; output {k} has shape {out.shape}, so "
                                   "give a gradient of that shape")
            seed = _leaf(out.device.xp.ones_like(out.data), out.device)
        else:
            if not isinstance(given, Tensor):
                raise TypeError(f"{op}: the gradient for output {k} must be a Tensor (as "
                                f"PyTorch's), got {type(given).__name__}")
            if given.device is not out.device:
                from minigrad.backend import DeviceError

                raise DeviceError(f"{op}: gradient on {given.device} for an output on "
                                  f"{out.device}")
            if given.shape != out.shape:
                raise RuntimeError(f"{op}: mismatch in shape: gradient of shape {given.shape} "
                                   f"for an output of shape {out.shape}")
            seed = given if given.dtype == out.dtype else given.to(dtype=out.dtype)
        seeds.append(seed if create_graph else seed.data)
    return seeds


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (PyTorch's
    ``torch.autograd.backward``).

    grad_tensors: one seed gradient per tensor (None: 1 for single-element tensors).
    retain_graph: keep the graph for another backward (default: create_graph).
    create_graph: record the backward pass itself, so ``.grad`` can be differentiated again.
    inputs: accumulate only into these tensors' ``.grad`` (and compute only what they need).
    """
    tensors = _as_tuple(tensors)
    grad_tensors = (None,) * len(tensors) if grad_tensors is None else _as_tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: {len(grad_tensors)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _checked_inputs("backward", inputs)
    seeds = _seeds(tensors, grad_tensors, create_graph, "backward")
    _accumulated.clear()
    with set_grad_enabled(create_graph):
        _run(tensors, seeds, retain_graph, create_graph, inputs)
    if _multi_grad_hooks:
        _call_multi_grad_hooks()


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple of tensors
    (PyTorch's ``torch.autograd.grad``); no ``.grad`` is touched.

    grad_outputs: the seed gradient of each output (None: 1 for single-element outputs).
    create_graph: the returned gradients are recorded, so they can be differentiated again.
    allow_unused: an input that no output depends on gives None instead of an error.
    """
    from minigrad.tensor import _leaf

    outputs = _as_tuple(outputs)
    inputs = _checked_inputs("grad", inputs)
    grad_outputs = ((None,) * len(outputs) if grad_outputs is None
                    else _as_tuple(grad_outputs))
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seeds(outputs, grad_outputs, create_graph, "grad")
    with set_grad_enabled(create_graph):
        captured = _run(outputs, seeds, retain_graph, create_graph, inputs, accumulate=False)
    result = []
    for k, t in enumerate(inputs):
        g = captured.get(_vertex(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {k} (shape {t.shape}) was not used to compute "
                                   "the outputs; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(g if create_graph else _leaf(g, t.device))
    return tuple(result)


def _checked_inputs(op: str, inputs) -> tuple:
    from minigrad.tensor import Tensor

    inputs = _as_tuple(inputs)
    if not inputs:
        raise ValueError(f"{op}: inputs must name at least one tensor")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: input {k} must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"{op}: input {k} (shape {t.shape}) does not require grad")
    return inputs


# -- ops of your own ------------------------------------------------------------------------------

class FunctionCtx:
    """What a ``Function``'s forward leaves for its backward: ``save_for_backward(*tensors)``
    (read back in backward as ``saved_tensors``, checked against in-place changes),
    ``needs_input_grad`` (one bool per argument of forward),
    ``mark_non_differentiable(*outputs)``, and any attribute you set (``ctx.alpha = 2``)."""

    def __init__(self):
        self.needs_input_grad: tuple[bool, ...] = ()
        self._to_save: tuple = ()
        self._non_differentiable: tuple = ()
        self._saved_tensors: tuple | None = None  # while backward runs

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or others; None allowed) for backward. Use this rather
        than attributes for tensors: then an in-place change of one before backward raises, and
        under create_graph saved inputs and outputs stay connected to the graph."""
        self._to_save = _only_tensors("save_for_backward", tensors)

    def mark_non_differentiable(self, *outputs) -> None:
        """These outputs of forward get no gradient: they are returned outside the graph
        (requires_grad False) and backward receives zeros for them."""
        self._non_differentiable = _only_tensors("mark_non_differentiable", outputs)

    @property
    def saved_tensors(self) -> tuple:
        if self._saved_tensors is None:
            raise RuntimeError("saved_tensors can only be read inside backward (and only before "
                               "the graph was freed by a backward without retain_graph)")
        return self._saved_tensors


def _only_tensors(method: str, values) -> tuple:
    from minigrad.tensor import Tensor

    for t in values:
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{method} takes tensors (or None), got {type(t).__name__}; keep "
                            "other values as attributes of ctx")
    return tuple(values)


class Function:
    """An op of your own, as PyTorch's ``torch.autograd.Function``::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2

        y = Cube.apply(x)

    forward(ctx, *args, **kwargs) gets the arguments as given and runs without recording (it
    is the op); arguments given by keyword count as arguments, in forward's order. It returns
    a tensor, or a tuple of outputs: tensors get gradients (unless marked non-differentiable,
    or not floating-point), other values are passed through.
    backward(ctx, *grad_outputs) gets one gradient per output of forward (a tensor; zeros for
    an output that did not reach the loss, None for a non-tensor output) and returns one
    gradient (a tensor, or None) per argument of forward; a single one may be returned bare,
    and extra trailing Nones are allowed. Written with minigrad ops, backward also works with
    create_graph=True (gradients of gradients).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function defines a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function defines a static backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args, **kwargs):
        from minigrad.tensor import Tensor

        args, kwargs = _bound_arguments(cls.forward, args, kwargs)
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        if single and not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple of "
                            f"outputs, got {type(out).__name__}")
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        if not _grad_enabled or not any(t.requires_grad for t in inputs):
            return out
        outputs = (out,) if single else out
        differentiable = tuple(
            isinstance(o, Tensor) and o.dtype.kind == "f"
            and not any(o is n for n in ctx._non_differentiable) for o in outputs)
        if not any(differentiable):
            return out
        call = _CustomCall(cls, ctx, args, inputs)
        if single:
            return call.single_output(out)
        return call.several_outputs(outputs, differentiable)


def _bound_arguments(forward, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """(arguments, keyword-only rest): arguments given by keyword count as arguments too, in
    forward's order (as in PyTorch: they get gradients, and backward returns one for each)."""
    if not kwargs:
        return args, kwargs
    import inspect

    try:
        bound = inspect.signature(forward).bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return args, kwargs  # a call forward does not accept: let forward say so
    return tuple(bound.args[1:]), bound.kwargs


class _CustomCall:
    """One recorded call of a Function: builds the output(s) in the graph and runs the
    Function's backward for them.

    One output: the output's node is the Function's. Several: the Function's node makes a
    hidden flat tensor, one segment per differentiable output, and each output is a slice of
    it. The engine then adds up the gradients of all outputs in that hidden tensor (zeros for
    segments no gradient reached), and the Function's backward is called once, with every
    output's gradient.
    """

    def __init__(self, cls, ctx: FunctionCtx, args: tuple, inputs: tuple):
        from minigrad.tensor import Tensor

        self.cls = cls
        self.ctx = ctx
        self.inputs = inputs
        self.n_args = len(args)
        self.positions = tuple(k for k, a in enumerate(args) if isinstance(a, Tensor))
        self.name = cls.__name__
        # Per output of forward: (shape, dtype, device, segment start, size) of a
        # differentiable tensor, ("zeros", shape, dtype, device) of another tensor, or None.
        self.layout: list = []
        self.saved_outputs: dict[int, int] = {}  # position in saved -> differentiable output

    def _named(self, run):
        """``run`` as the node's backward, named after the Function (for errors and graphs)."""
        run.__qualname__ = self.name + ".backward"
        return run

    # -- one output -------------------------------------------------------------------------
    def single_output(self, out):
        from minigrad.tensor import Tensor, _from_op, _leaf

        # A saved output is the output itself (OUTPUT), so that under create_graph it stays
        # connected to the graph.
        saved = tuple(OUTPUT if t is out else t for t in self.ctx._to_save)
        devices = tuple(None if t is None else out.device if t is OUTPUT else t.device
                        for t in saved)
        device = out.device

        def run(node, g):
            recording = isinstance(g, Tensor)
            values = node.saved
            if not recording:  # an ordinary backward: tensors for the user, arrays back
                g = _leaf(g, device)
                values = tuple(None if v is None else _leaf(v, d)
                               for v, d in zip(values, devices, strict=True))
            return self._call(node, (g,), values, recording)

        # The output shares forward's version counter: changing it in place invalidates a
        # saved output (and an input returned as is counts as changed too).
        return _from_op(out.data, self.inputs, self._named(run), saved=saved,
                        device=device, view_of=out)

    # -- several outputs --------------------------------------------------------------------
    def several_outputs(self, outputs: tuple, differentiable: tuple) -> tuple:
        import numpy as np

        from minigrad.backend import DeviceError
        from minigrad.tensor import Tensor, _from_op, _leaf

        chosen = [o for o, d in zip(outputs, differentiable, strict=True) if d]
        device = chosen[0].device
        if any(o.device is not device for o in chosen):
            raise DeviceError(f"{self.name}.forward returned outputs on several devices "
                              f"({', '.join(str(o.device) for o in chosen)})")
        xp = device.xp
        dtype = functools.reduce(np.promote_types, [o.dtype for o in chosen])
        start = 0
        for o, d in zip(outputs, differentiable, strict=True):
            if d:
                self.layout.append((o.shape, o.dtype, device, start, o.numel()))
                start += o.numel()
            elif isinstance(o, Tensor):
                self.layout.append(("zeros", o.shape, o.dtype, o.device))
            else:
                self.layout.append(None)
        self.total, self.dtype = start, dtype
        saved = []
        for k, t in enumerate(self.ctx._to_save):
            index = next((i for i, o in enumerate(outputs) if t is not None and o is t
                          and differentiable[i]), None)
            if index is not None:
                self.saved_outputs[k] = index
            saved.append(t)
        saved.append(OUTPUT)  # the hidden tensor, to rebuild saved outputs under create_graph
        devices = tuple(None if t is None else t.device for t in saved[:-1])

        def run(node, g):
            recording = isinstance(g, Tensor)
            *values, hidden = node.saved
            if recording:
                for k, i in self.saved_outputs.items():
                    values[k] = self._slice(hidden, i, values[k].data)
            grads = [self._output_grad(g, i, recording) for i in range(len(self.layout))]
            if not recording:
                values = [None if v is None else _leaf(v, d)
                          for v, d in zip(values, devices, strict=True)]
            return self._call(node, tuple(grads), tuple(values), recording)

        zero = xp.zeros((), dtype=device.xp_dtype(dtype), device=device.native)
        hidden = _from_op(xp.broadcast_to(zero, (self.total,)), self.inputs,
                          self._named(run), saved=tuple(saved), device=device)
        result = []
        for i, (o, d) in enumerate(zip(outputs, differentiable, strict=True)):
            if not d:
                result.append(o)
                continue
            backward = self._slice_backward(i)
            result.append(_from_op(o.data, (hidden,), backward, view_of=o))
        return tuple(result)

    def _segment(self, i):
        """(gather, scatter): output i's values from the hidden flat array, and the flat array
        that is output i's array in its segment and zero elsewhere (gather's adjoint)."""
        shape, dtype, device, start, size = self.layout[i]
        xp, native = device.xp, device.native
        total, flat_dtype = self.total, device.xp_dtype(self.dtype)
        out_dtype = device.xp_dtype(dtype)

        def gather(a):
            return xp.astype(xp.reshape(a[start:start + size], shape), out_dtype)

        def scatter(g):
            parts = [xp.zeros((start,), dtype=flat_dtype, device=native),
                     xp.reshape(xp.astype(g, flat_dtype), (-1,)),
                     xp.zeros((total - start - size,), dtype=flat_dtype, device=native)]
            return xp.concat(parts)

        return gather, scatter

    def _slice_backward(self, i):
        """The backward of output i = its segment of the hidden tensor: scatter g back."""
        from minigrad.tensor import Tensor, _linear

        gather, scatter = self._segment(i)
        name = f"{self.name}[{i}]"

        def backward(ctx, g):
            if isinstance(g, Tensor):
                return (_linear(g, scatter, gather, name),)
            return (scatter(g),)

        backward.__qualname__ = name + ".backward"
        return backward

    def _slice(self, hidden, i, values):
        """Output i as a tensor in the graph (a slice of ``hidden``) holding ``values``."""
        from minigrad.tensor import _linear

        gather, scatter = self._segment(i)
        return _linear(hidden, gather, scatter, f"{self.name}[{i}]", data=values)

    def _output_grad(self, g, i, recording: bool):
        """The gradient of output i as a tensor, cut from the hidden tensor's gradient ``g``
        (an array, or a tensor when recording)."""
        from minigrad.tensor import _leaf, _linear

        entry = self.layout[i]
        if entry is None:
            return None
        if entry[0] == "zeros":
            _, shape, dtype, device = entry
            return _leaf(device.xp.zeros(shape, dtype=device.xp_dtype(dtype),
                                         device=device.native), device)
        gather, scatter = self._segment(i)
        if recording:
            return _linear(g, gather, scatter, f"{self.name}[{i}]")
        return _leaf(gather(g), entry[2])

    # -- calling the user's backward --------------------------------------------------------
    def _call(self, node, grad_outputs: tuple, saved: tuple, recording: bool) -> tuple:
        """cls.backward(ctx, *grad_outputs) with ``saved`` as ctx.saved_tensors; checks what it
        returns and gives one gradient per node input (tensors when recording, else arrays)."""
        from minigrad.backend import DeviceError
        from minigrad.tensor import Tensor

        name, ctx = self.name, self.ctx
        ctx._saved_tensors = tuple(saved)
        try:
            with set_grad_enabled(recording):
                grads = self.cls.backward(ctx, *grad_outputs)
        finally:
            ctx._saved_tensors = None
        grads = tuple(grads) if isinstance(grads, tuple | list) else (grads,)
        n = self.n_args
        if len(grads) < n or any(gk is not None for gk in grads[n:]):
            raise RuntimeError(f"{name}.backward returned {len(grads)} gradients, but forward "
                               f"took {n} arguments: return one per argument (None for those "
                               "without a gradient)")
        for k, gk in enumerate(grads[:n]):
            if gk is not None and k not in self.positions:
                raise RuntimeError(f"{name}.backward returned a gradient for argument {k}, "
                                   "which is not a tensor; return None for it")
        result = []
        for position, t in zip(self.positions, node.inputs, strict=True):
            gk = grads[position]
            if gk is not None:
                if not isinstance(gk, Tensor):
                    raise TypeError(f"{name}.backward returned a {type(gk).__name__} for "
                                    f"argument {position}; return a Tensor or None")
                if gk.device is not t.device:
                    raise DeviceError(f"{name}.backward returned a gradient on {gk.device} "
                                      f"for argument {position} on {t.device}")
                if gk.shape != t.shape:
                    raise RuntimeError(f"{name}.backward returned a gradient of shape "
                                       f"{gk.shape} for argument {position} of shape {t.shape}")
                gk = gk if recording else gk.data
            result.append(gk)
        return tuple(result)
