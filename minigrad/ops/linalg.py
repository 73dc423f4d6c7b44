"""Matrix products."""

from __future__ import annotations

from array_api_compat import array_namespace

from minigrad.ops.elementwise import _type_name
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


def _shape_text(shape: tuple[int, ...]) -> str:
    """A shape as PyTorch's matmul errors write it: 2x3 (a vector: 3)."""
    return "x".join(str(n) for n in shape)


def _check_matmul_shapes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """Raise ValueError naming both shapes, in PyTorch's words, where a @ b is undefined."""
    if not a_shape or not b_shape:
        raise ValueError(f"matmul: both operands need at least one axis, got shapes {a_shape} "
                         f"and {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[-2] if len(b_shape) > 1 else b_shape[0]
    both = f"({_shape_text(a_shape)} and {_shape_text(b_shape)})"
    if k_a != k_b:
        raise ValueError(f"matmul: mat1 and mat2 shapes cannot be multiplied {both}: the last "
                         f"axis of mat1 ({k_a}) must match the "
                         f"{'second-to-last' if len(b_shape) > 1 else 'only'} axis of mat2 "
                         f"({k_b})")
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    for n, m in zip(reversed(batch_a), reversed(batch_b), strict=False):
        if n != m and 1 not in (n, m):
            raise ValueError(f"matmul: the batch axes of mat1 and mat2 do not broadcast {both}: "
                             f"batch shapes {batch_a} and {batch_b}")


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules: (..., n, k) @ (..., k, m) -> (..., n, m), batch axes
    broadcast, and a 1-D operand is a row (left) or column (right) vector, its axis dropped.

    da = g @ b^T,  db = a^T @ g   (each summed over broadcast batch axes by the engine)
    """
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"matmul: expected a Tensor for argument 'a' or 'b', got "
                            f"{_type_name(a)} and {_type_name(b)}")
        a = _lift(a, b, "matmul")
    b = _lift(b, a, "matmul")

    a_shape, b_shape = tuple(a.data.shape), tuple(b.data.shape)
    try:
        out = a.data @ b.data
    except (ValueError, TypeError):  # shapes checked on failure only (not on every product)
        _check_matmul_shapes(a_shape, b_shape)
        raise

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
            if len(a_shape) == 1:  # (..., 1, k): drop the row axis, sum over b's batch axes
                ga = _vector_gradient(xp, ga, a_shape)
        if b.requires_grad:
            gb = xp.matrix_transpose(A[None, :] if A.ndim == 1 else A) @ g
            if len(b_shape) == 1:  # (..., k, 1), likewise
                gb = _vector_gradient(xp, gb, b_shape)
        return ga, gb

    return _from_op(out, (a, b), backward,
                    saved=(a if b.requires_grad else None, b if a.requires_grad else None))


def _vector_gradient(xp, g, shape: tuple[int]):
    """The gradient of a 1-D operand of shape (k,) from its matrix form (..., 1, k) or
    (..., k, 1): the unit axis dropped (by an explicit shape: a -1 would be ambiguous when k
    is 0) and the batch axes summed."""
    g = xp.reshape(g, tuple(g.shape[:-2]) + shape)
    return xp.sum(g, axis=tuple(range(g.ndim - 1))) if g.ndim > 1 else g
