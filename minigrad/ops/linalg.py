"""Matrix products."""

from __future__ import annotations

from minigrad.tensor import Tensor, _from_op, _lift

__all__ = ["matmul"]


def _axis_sum(dev, a, axis: int):
    """A 2-D array summed over axis 0 or 1, as a product with a vector of ones (the bias
    gradient of linear and conv layers): BLAS's matrix-vector product runs 3-4 times faster
    than NumPy's pairwise summation on these shapes."""
    ones = dev.xp.ones(a.shape[axis], dtype=a.dtype, device=dev.native)
    return a @ ones if axis == 1 else ones @ a


def _swap_last(xp, a):
    axes = list(range(a.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return xp.permute_dims(a, tuple(axes))


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules: (..., n, k) @ (..., k, m) -> (..., n, m), batch axes
    broadcast, and a 1-D operand is a row (left) or column (right) vector, its axis dropped.

    da = g @ b^T,  db = a^T @ g   (each summed over broadcast batch axes by the engine)
    """
    if not isinstance(a, Tensor):
        a = _lift(a, b, "matmul")
    b = _lift(b, a, "matmul")
    xp = a.device.xp
    out = a.data @ b.data

    def backward(g):
        A, B = a.data, b.data
        if A.ndim == 1 and B.ndim == 1:  # dot product: g is a scalar
            return (g * B if a.requires_grad else None, g * A if b.requires_grad else None)
        # Give vectors their matrix axis back, so one formula serves every case.
        A2 = A[None, :] if A.ndim == 1 else A
        B2 = B[:, None] if B.ndim == 1 else B
        if A.ndim == 1:
            g = xp.expand_dims(g, axis=-2)
        if B.ndim == 1:
            g = xp.expand_dims(g, axis=-1)
        ga = gb = None
        if a.requires_grad:
            ga = g @ (B2.T if B2.ndim == 2 else _swap_last(xp, B2))
            if A.ndim == 1:
                ga = xp.reshape(ga, (-1, A.shape[0]))
                ga = xp.sum(ga, axis=0) if ga.shape[0] != 1 else xp.reshape(ga, A.shape)
        if b.requires_grad:
            gb = (A2.T if A2.ndim == 2 else _swap_last(xp, A2)) @ g
            if B.ndim == 1:
                gb = xp.reshape(gb, (-1, B.shape[0]))
                gb = xp.sum(gb, axis=0) if gb.shape[0] != 1 else xp.reshape(gb, B.shape)
        return ga, gb

    return _from_op(out, (a, b), backward)
