"""Matrix products."""

from __future__ import annotations

from array_api_compat import array_namespace

from minigrad.ops.reduce import sum
from minigrad.tensor import Tensor, _from_op, _lift

__all__ = ["matmul"]


def _axis_sum(a, axis: int):
    """A 2-D array (or tensor) summed over axis 0 or 1: the bias gradient of linear and conv
    layers. For arrays a product with a vector of ones, since BLAS's matrix-vector product runs
    3-4 times faster than NumPy's pairwise summation on these shapes."""
    if isinstance(a, Tensor):
        return sum(a, axis=axis)
    xp = array_namespace(a)
    ones = xp.ones(a.shape[axis], dtype=a.dtype, device=a.device)
    return a @ ones if axis == 1 else ones @ a


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules: (..., n, k) @ (..., k, m) -> (..., n, m), batch axes
    broadcast, and a 1-D operand is a row (left) or column (right) vector, its axis dropped.

    da = g @ b^T,  db = a^T @ g   (each summed over broadcast batch axes by the engine)
    """
    if not isinstance(a, Tensor):
        a = _lift(a, b, "matmul")
    b = _lift(b, a, "matmul")

    a_shape, b_shape = tuple(a.data.shape), tuple(b.data.shape)

    def backward(ctx, g):
        A, B = ctx.saved  # A only when b needs a gradient, B only when a does
        xp = ctx.xp
        if len(a_shape) == 1 and len(b_shape) == 1:  # dot product: g is a scalar
            return (g * B if a.requires_grad else None, g * A if b.requires_grad else None)
        # Give vectors their matrix axis back, so one formula serves every case.
        if len(a_shape) == 1:
            g = xp.expand_dims(g, axis=-2)
        if len(b_shape) == 1:
            g = xp.expand_dims(g, axis=-1)
        ga = gb = None
        if a.requires_grad:
            ga = g @ xp.matrix_transpose(B[:, None] if B.ndim == 1 else B)
            if len(a_shape) == 1:
                ga = xp.reshape(ga, (-1, a_shape[0]))
                ga = xp.sum(ga, axis=0) if ga.shape[0] != 1 else xp.reshape(ga, a_shape)
        if b.requires_grad:
            gb = xp.matrix_transpose(A[None, :] if A.ndim == 1 else A) @ g
            if len(b_shape) == 1:
                gb = xp.reshape(gb, (-1, b_shape[0]))
                gb = xp.sum(gb, axis=0) if gb.shape[0] != 1 else xp.reshape(gb, b_shape)
        return ga, gb

    return _from_op(a.data @ b.data, (a, b), backward,
                    saved=(a if b.requires_grad else None, b if a.requires_grad else None))
