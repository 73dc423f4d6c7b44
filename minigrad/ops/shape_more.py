"""More shape ops, under PyTorch's names: flip, roll, repeat, tile, repeat_interleave, tril,
triu, diag, diagonal, meshgrid, movedim, swapaxes, narrow, unfold; and the products einsum,
outer and bmm.

All of them are linear in each input. The ones that move values (flip, roll, repeat, tril
...) are ``_linear`` pairs (the map and its adjoint, each the other's derivative); the rest are
compositions of differentiable ops (reshape, permute, indexing, matmul), so gradients of any
order follow.
"""

from __future__ import annotations

import math
import string

import numpy as np

from minigrad.ops.elementwise import _not_a_tensor, mul
from minigrad.ops.linalg import matmul
from minigrad.ops.reduce import sum as _sum
from minigrad.ops.shape import _axis, broadcast_to, getitem, permute, reshape, transpose
from minigrad.tensor import Tensor, _linear

__all__ = ["flip", "roll", "repeat", "tile", "repeat_interleave", "tril", "triu", "diag",
           "diagonal", "meshgrid", "movedim", "swapaxes", "narrow", "unfold", "einsum", "outer",
           "bmm"]


def _check(x, op: str):
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "x", x)
    return x.device.xp


def _dims(dims, ndim: int, op: str) -> tuple[int, ...]:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    result = tuple(_axis(d, ndim, op) for d in dims)
    if len(set(result)) != len(result):
        raise RuntimeError(f"{op}: dims has a repeated dimension: {dims}")
    return result


def flip(x: Tensor, dims) -> Tensor:
    """x with the order of its elements reversed along ``dims``.   dx = flip(g, dims)"""
    xp = _check(x, "flip")
    if x.ndim == 0:
        _dims(dims, 1, "flip")
        return reshape(x, ())  # (a 0-d tensor has nothing to reorder)
    dims = _dims(dims, x.ndim, "flip")

    def f(a):
        return xp.flip(a, axis=dims) if dims else a * 1

    return _linear(x, f, f, "flip")


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """x with its elements moved ``shifts`` places along ``dims``, wrapping around; dims None:
    along the flattened x, then reshaped back.   dx = roll(g, -shifts, dims)"""
    xp = _check(x, "roll")
    shift_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shift_t) != 1:
            raise RuntimeError("roll: give dims with more than one shift")
        shape = tuple(x.shape)
        return reshape(roll(reshape(x, (-1,)), shift_t[0], 0), shape)
    dims_t = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(dims_t) != len(shift_t):
        raise RuntimeError(f"roll: shifts and dims must align, got {len(shift_t)} shifts and "
                           f"{len(dims_t)} dims")
    if x.ndim == 0:
        return reshape(x, ())  # (a 0-d tensor has nothing to reorder)
    axes = tuple(_axis(d, x.ndim, "roll") for d in dims_t)
    back = tuple(-s for s in shift_t)
    return _linear(x, lambda a: xp.roll(a, shift_t, axis=axes),
                   lambda g: xp.roll(g, back, axis=axes), "roll")


def repeat(x: Tensor, *sizes) -> Tensor:
    """x tiled ``sizes`` times along each dimension (PyTorch's Tensor.repeat; at least
    x.ndim sizes, extra ones add leading dimensions).

    out has shape (s_0 n_0, s_1 n_1, ...).  dx = g reshaped to (s_0, n_0, s_1, n_1, ...) and
    summed over the s axes: each element gets the gradients of all its copies
    """
    xp = _check(x, "repeat")
    if len(sizes) == 1 and isinstance(sizes[0], tuple | list):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} sizes for a tensor with {x.ndim} dimensions; "
                           "give at least one per dimension")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: sizes cannot be negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)  # x with leading ones
    interleaved = tuple(n for pair in zip(sizes, shape, strict=True) for n in pair)
    out_shape = tuple(s * n for s, n in zip(sizes, shape, strict=True))

    def f(a):
        a = xp.reshape(a, tuple(n for n_ in shape for n in (1, n_)))
        return xp.reshape(xp.broadcast_to(a, interleaved), out_shape)

    def f_adjoint(g):
        summed = xp.sum(xp.reshape(g, interleaved), axis=tuple(range(0, len(interleaved), 2)))
        return xp.reshape(summed, tuple(x.shape))

    return _linear(x, f, f_adjoint, "repeat")


def tile(x: Tensor, dims) -> Tensor:
    """x repeated ``dims`` times along each dimension; fewer dims than x has are padded with
    ones in front (torch.tile), then as repeat."""
    _check(x, "tile")
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


def repeat_interleave(x: Tensor, repeats, dim: int | None = None) -> Tensor:
    """Each element (dim None: of the flattened x) or slice along ``dim`` repeated
    ``repeats`` times in place (an int, or a 1-D int tensor with one count per slice).

    dx = g summed over the copies of each element (an index_select with repeated indices)
    """
    _check(x, "repeat_interleave")
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    elif x.ndim == 0:
        x, dim = reshape(x, (1,)), _axis(dim, 1, "repeat_interleave")
    dim = _axis(dim, x.ndim, "repeat_interleave")
    n = x.shape[dim]
    counts = (np.asarray(repeats.numpy()) if isinstance(repeats, Tensor)
              else np.asarray(repeats)).reshape(-1)
    if counts.size == 1:
        counts = np.full(n, int(counts[0]))
    if counts.size != n:
        raise RuntimeError(f"repeat_interleave: repeats has {counts.size} entries for a "
                           f"dimension of size {n}")
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats cannot be negative")
    index = np.repeat(np.arange(n), counts)  # host work: the counts decide the output size
    key = (slice(None),) * dim + (Tensor(index.astype(np.int64), device=x.device),)
    return getitem(x, key)


def _triangle(x: Tensor, diagonal: int, lower: bool, op: str) -> Tensor:
    xp = _check(x, op)
    if x.ndim < 2:
        raise RuntimeError(f"{op}: expected a tensor with at least 2 dimensions, got {x.ndim}")
    rows, cols = x.shape[-2:]
    i = xp.reshape(xp.arange(rows, device=x.device.native), (rows, 1))
    j = xp.reshape(xp.arange(cols, device=x.device.native), (1, cols))
    keep = (j - i <= diagonal) if lower else (j - i >= diagonal)

    def f(a):  # masking is its own adjoint
        return xp.where(keep, a, xp.zeros_like(a))

    return _linear(x, f, f, op)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: x[..., i, j] where j - i <= diagonal,
    else 0.   dx = tril(g, diagonal)"""
    return _triangle(x, diagonal, True, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: x[..., i, j] where j - i >= diagonal,
    else 0.   dx = triu(g, diagonal)"""
    return _triangle(x, diagonal, False, "triu")


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal x[..., i, i + offset] of the (dim1, dim2) planes, as the last dimension
    (the others keep their order), as torch.diagonal.

    dx = zeros with g written back on that diagonal
    """
    xp = _check(x, "diagonal")
    if x.ndim < 2:
        raise RuntimeError(f"diagonal: expected a tensor with at least 2 dimensions, got "
                           f"{x.ndim}")
    d1, d2 = _axis(dim1, x.ndim, "diagonal"), _axis(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be equal ({dim1})")
    rest = [d for d in range(x.ndim) if d not in (d1, d2)]
    planes = permute(x, (*rest, d1, d2))  # (..., rows, cols)
    rows, cols = x.shape[d1], x.shape[d2]
    first_row, first_col = max(0, -offset), max(0, offset)
    length = max(0, min(rows - first_row, cols - first_col))
    batch = tuple(planes.shape[:-2])
    native = x.device.native
    flat_index = ((xp.arange(length, device=native) + first_row) * cols
                  + xp.arange(length, device=native) + first_col)
    # Where each entry of the plane sits on the diagonal (clipped where it is not on it),
    # and whether it is.
    i = xp.reshape(xp.arange(rows, device=native), (rows, 1))
    j = xp.reshape(xp.arange(cols, device=native), (1, cols))
    on = j - i == offset
    along = xp.clip(i - first_row, 0, max(length - 1, 0)) + 0 * j

    def f(a):
        flat = xp.reshape(a, batch + (rows * cols,))
        return xp.take(flat, flat_index, axis=len(batch))

    def f_adjoint(g):
        if length == 0:
            return xp.zeros(batch + (rows, cols), dtype=g.dtype, device=native)
        spread = xp.take(g, xp.reshape(along, (-1,)), axis=len(batch))
        spread = xp.reshape(spread, batch + (rows, cols))
        return xp.where(on, spread, xp.zeros_like(spread))

    return _linear(planes, f, f_adjoint, "diagonal")


_diagonal = diagonal  # (for diag, whose argument takes PyTorch's name "diagonal")


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """1-D x: the square matrix with x on its ``diagonal`` (zeros elsewhere); 2-D x: that
    diagonal of x, as a vector (torch.diag).

    dx = the adjoint: the diagonal of g (1-D x) or g placed on the diagonal (2-D x)
    """
    xp = _check(x, "diag")
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    if x.ndim != 1:
        raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got {x.ndim} dimensions")
    n = x.shape[0] + abs(diagonal)
    # The matrix is the adjoint of taking the diagonal of an n x n matrix, and vice versa.
    first_row, first_col = max(0, -diagonal), max(0, diagonal)
    native = x.device.native
    i = xp.reshape(xp.arange(n, device=native), (n, 1))
    j = xp.reshape(xp.arange(n, device=native), (1, n))
    on = j - i == diagonal
    along = xp.clip(i - first_row, 0, max(x.shape[0] - 1, 0)) + 0 * j
    flat_index = ((xp.arange(x.shape[0], device=native) + first_row) * n
                  + xp.arange(x.shape[0], device=native) + first_col)

    def f(a):
        if a.shape[0] == 0:
            return xp.zeros((n, n), dtype=a.dtype, device=native)
        spread = xp.reshape(xp.take(a, xp.reshape(along, (-1,)), axis=0), (n, n))
        return xp.where(on, spread, xp.zeros_like(spread))

    def f_adjoint(g):
        return xp.take(xp.reshape(g, (n * n,)), flat_index, axis=0)

    return _linear(x, f, f_adjoint, "diag")


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: the k-th output is tensors[k] broadcast along
    every other dimension. indexing="ij" (PyTorch's default): shape (n_0, n_1, ...); "xy":
    the first two dimensions swapped.   d tensors[k] = g_k summed over the other dimensions"""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise _not_a_tensor("meshgrid", "tensors", t)
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-d or 1-D tensors, got {t.ndim}-D")
    sizes = [int(math.prod(t.shape)) for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[k] for k in order)
    grids = []
    for k, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(k)] = sizes[k]
        grids.append(broadcast_to(reshape(t, tuple(view)), shape))
    return tuple(grids)


def movedim(x: Tensor, source, destination) -> Tensor:
    """x with dimensions ``source`` moved to positions ``destination`` (the others keep their
    order).   dx = g with the dimensions moved back"""
    _check(x, "movedim")
    src = _dims(source, x.ndim, "movedim")
    dst = _dims(destination, x.ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: {len(src)} source and {len(dst)} destination dims")
    order = [None] * x.ndim
    for s, d in zip(src, dst, strict=True):
        order[d] = s
    others = iter(d for d in range(x.ndim) if d not in src)
    order = [next(others) if o is None else o for o in order]
    return permute(x, tuple(order))


def swapaxes(x: Tensor, axis0: int, axis1: int) -> Tensor:
    """x with two dimensions exchanged (transpose).   dx = swapaxes(g)"""
    _check(x, "swapaxes")
    return transpose(x, axis0, axis1)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """x[..., start : start + length, ...] along ``dim`` (start may count from the end), a
    view.   dx = zeros with g written back in the slice"""
    _check(x, "narrow")
    if x.ndim == 0:
        raise RuntimeError("narrow: cannot be applied to a 0-d tensor")
    dim = _axis(dim, x.ndim, "narrow")
    n = x.shape[dim]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start ({start}) out of range for a dimension of size {n}")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n})")
    return getitem(x, (slice(None),) * dim + (slice(start, start + length),))


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` elements, ``step`` apart, along ``dimension`` (Tensor.unfold):
    that dimension becomes the window count (n - size) // step + 1 and a new last dimension
    of ``size`` holds each window.

    dx = g of each window added back at its elements (windows may overlap)
    """
    _check(x, "unfold")
    if x.ndim == 0:  # PyTorch: one window of the one element, as a 1-D tensor
        _axis(dimension, 1, "unfold")
        if size not in (0, 1) or step <= 0:
            raise RuntimeError(f"unfold: size {size} and step {step} for a 0-d tensor")
        return getitem(reshape(x, (1,)), slice(0, size))
    dim = _axis(dimension, x.ndim, "unfold")
    n = x.shape[dim]
    if size < 0 or size > n:
        raise RuntimeError(f"unfold: size ({size}) out of range for a dimension of size {n}")
    if step <= 0:
        raise RuntimeError(f"unfold: step must be positive, got {step}")
    windows = (n - size) // step + 1
    index = np.arange(windows)[:, None] * step + np.arange(size)[None, :]
    key = (slice(None),) * dim + (Tensor(index.astype(np.int64), device=x.device),)
    picked = getitem(x, key)  # (..., windows, size, ...)
    return movedim(picked, dim + 1, -1)


# -- products --------------------------------------------------------------------------------

def outer(a: Tensor, b: Tensor) -> Tensor:
    """The outer product of two vectors: out[i, j] = a_i b_j.   da = g b,  db = g^T a"""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise _not_a_tensor("outer", name, t)
        if t.ndim != 1:
            raise RuntimeError(f"outer: expected 1-D tensors, got {t.ndim}-D for {name}")
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of (B, n, m) and (B, m, p) tensors: (B, n, p), no broadcasting.
    da = g b^T,  db = a^T g (per batch)"""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise _not_a_tensor("bmm", name, t)
        if t.ndim != 3:
            raise RuntimeError(f"bmm: expected 3-D tensors, got {t.ndim}-D for {name}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"bmm: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match")
    return matmul(a, b)


def _parse_einsum(equation: str, operands) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output, with "..." replaced by letters the
    equation does not use (one per broadcast dimension, aligned from the right) and the
    implicit output (the broadcast dimensions, then the letters seen once, sorted) made
    explicit."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {len(terms)} subscripts for {len(operands)} operands")
    ellipsis_dims = 0
    for term, t in zip(terms, operands, strict=True):
        if "..." in term:
            ellipsis_dims = max(ellipsis_dims, t.ndim - (len(term) - 3))
    unused = [c for c in string.ascii_letters if c not in equation]  # for the "..." dims
    if ellipsis_dims > len(unused):
        raise ValueError("einsum: too many dimensions under '...'")
    extra = "".join(unused[:ellipsis_dims])
    letters = []
    for term, t in zip(terms, operands, strict=True):
        if "..." in term:
            own = t.ndim - (len(term) - 3)
            term = term.replace("...", extra[ellipsis_dims - own:])
        if not term.isalpha() and term:
            raise ValueError(f"einsum: invalid subscripts {term!r}")
        if len(term) != t.ndim:
            raise ValueError(f"einsum: subscripts {term!r} for a tensor with {t.ndim} "
                             "dimensions")
        letters.append(term)
    if arrow:
        output = output.replace("...", extra)
    else:
        counts = {}
        for term in letters:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = extra + "".join(sorted(c for c, k in counts.items()
                                        if k == 1 and c not in extra))
    if len(set(output)) != len(output) or any(c not in "".join(letters) for c in output):
        raise ValueError(f"einsum: invalid output subscripts {output!r}")
    return letters, output


def _einsum_diagonals(t: Tensor, term: str) -> tuple[Tensor, str]:
    """A repeated letter within one operand ("ii") takes its diagonal, until none repeat."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        first = term.index(c)
        second = term.index(c, first + 1)
        t = diagonal(t, 0, first, second)  # the diagonal goes last
        term = "".join(ch for k, ch in enumerate(term) if k not in (first, second)) + c
    return t, term


def _einsum_sum_out(t: Tensor, term: str, keep: set[str]) -> tuple[Tensor, str]:
    """Sum over the letters of t that appear nowhere else (not in ``keep``)."""
    gone = tuple(k for k, c in enumerate(term) if c not in keep)
    if not gone:
        return t, term
    return _sum(t, gone), "".join(c for c in term if c in keep)


def _einsum_pair(a: Tensor, ta: str, b: Tensor, tb: str, keep: set[str]):
    """Contract two operands with one batched matmul: letters in both and kept are batch
    letters, in both and not kept are summed (the matmul's inner dimension), the rest free."""
    sizes = {}
    for t, term in ((a, ta), (b, tb)):
        for c, n in zip(term, t.shape, strict=True):
            sizes[c] = max(sizes.get(c, 1), n)  # size-1 broadcast dimensions
    batch = [c for c in ta if c in tb and c in keep]
    inner = [c for c in ta if c in tb and c not in keep]
    free_a = [c for c in ta if c not in tb]
    free_b = [c for c in tb if c not in ta]

    def arrange(t, term, groups):
        order = [term.index(c) for group in groups for c in group]
        t = permute(t, tuple(order))
        target = tuple(sizes[c] for group in groups for c in group)
        if tuple(t.shape) != target:
            t = broadcast_to(t, target)
        return reshape(t, tuple(math.prod(sizes[c] for c in group) for group in groups))

    left = arrange(a, ta, (batch, free_a, inner))  # (B, L, C)
    right = arrange(b, tb, (batch, inner, free_b))  # (B, C, R)
    product = matmul(left, right)  # (B, L, R)
    term = "".join(batch + free_a + free_b)
    return reshape(product, tuple(sizes[c] for c in term)), term


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as torch.einsum: "ij,jk->ik" is a matrix product, "ii->i" a
    diagonal, "bij,bjk->bik" a batched product, "...ij->...ji" a batched transpose; without
    "->" the output is the letters seen once, in alphabetical order.

    Computed by differentiable ops: within each operand, diagonals for repeated letters and
    sums over letters used nowhere else; then the operands are contracted left to right, two
    at a time, each pair with one batched matmul (permute and reshape to (batch, free,
    summed) @ (batch, summed, free)); last, a permute into the output order. The gradient
    of each operand, an einsum of g with the others, comes from those ops.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    for t in operands:
        if not isinstance(t, Tensor):
            raise _not_a_tensor("einsum", "operands", t)
    terms, output = _parse_einsum(equation, operands)
    tensors = []
    for t, term in zip(operands, terms, strict=True):
        t, term = _einsum_diagonals(t, term)
        tensors.append((t, term))

    def needed(skip: int) -> set[str]:  # letters still used by the output or other operands
        used = set(output)
        for k, (_, term) in enumerate(tensors):
            if k != skip:
                used |= set(term)
        return used

    for k in range(len(tensors)):
        tensors[k] = _einsum_sum_out(*tensors[k], needed(k))
    acc, acc_term = tensors[0]
    for k in range(1, len(tensors)):
        keep = set(output)
        for _, term in tensors[k + 1:]:
            keep |= set(term)
        acc, acc_term = _einsum_pair(acc, acc_term, *tensors[k], keep)
        acc, acc_term = _einsum_sum_out(acc, acc_term, keep)
    acc, acc_term = _einsum_sum_out(acc, acc_term, set(output))
    if acc_term != output:
        acc = permute(acc, tuple(acc_term.index(c) for c in output))
    return acc
