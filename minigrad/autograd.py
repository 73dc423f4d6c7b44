"""Reverse-mode automatic differentiation: grad mode and the backward pass.

Every tensor produced by a differentiable op remembers its ``_parents`` and a ``_backward``
closure that maps the gradient of the output to the gradients of the parents (the
vector-Jacobian product). ``backward`` below visits the graph once, children before parents,
and hands each node the sum of the gradients flowing into it.
"""

from __future__ import annotations

import functools

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "backward"]

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


def _graph_freed(_grad):
    raise RuntimeError(
        "Trying to backward through the graph a second time: its intermediate values were "
        "freed by the first backward(). Call backward(retain_graph=True) the first time if "
        "you need to backward twice."
    )


def _topological_order(root) -> list:
    """Tensors that require grad and lead to ``root``, each after all of its parents.

    An explicit stack instead of recursion, so that a chain of 100,000 ops is fine.
    """
    order = []
    visited = {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent.requires_grad and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def sum_to_shape(grad, shape: tuple[int, ...], xp):
    """Sum a broadcast gradient back to ``shape``: undo the broadcasting of the forward pass.

    Broadcasting prepends axes and stretches size-1 axes, so its adjoint sums over the
    prepended axes and over the stretched ones (keeping them as size 1).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead:
        grad = xp.sum(grad, axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = xp.sum(grad, axis=stretched, keepdims=True)
    return grad


def backward(root, grad, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) * grad into every leaf's ``.grad``.

    root: the tensor to differentiate; grad: an array of root's shape (the seed gradient).
    Gradients of each node are summed before its own backward runs (the multivariate chain
    rule); leaves and tensors that called ``retain_grad()`` keep theirs in ``.grad``. Unless
    ``retain_graph``, each node's closure (and the arrays it holds) is dropped right after use.
    """
    order = _topological_order(root)
    grads = {id(root): grad}
    for position in range(len(order) - 1, -1, -1):
        node = order[position]
        order[position] = None  # let the intermediate tensor go once nothing else holds it
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._backward is None or node._retains_grad:
            node.grad = g if node.grad is None else node.grad + g
            if node._backward is None:
                continue
        parent_grads = node._backward(g)
        for parent, pg in zip(node._parents, parent_grads, strict=True):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.data.shape:
                pg = sum_to_shape(pg, parent.data.shape, parent.device.xp)
            if pg.dtype != parent.data.dtype:  # after a mixed-dtype op (float32 * float64)
                pg = parent.device.xp.astype(pg, parent.data.dtype)
            key = id(parent)
            previous = grads.get(key)
            # Out of place: a backward may hand the same array to several parents.
            grads[key] = pg if previous is None else previous + pg
        if not retain_graph:
            node._parents = ()
            node._backward = _graph_freed
