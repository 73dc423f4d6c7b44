"""Gradient clipping, between ``backward()`` and ``step()``.

Both functions replace ``p.grad`` with a new tensor (gradients may alias other arrays, so they
are never changed in place) and never copy a value to the host: the clipping factor is
computed and applied on the device.
"""

from __future__ import annotations

import math

from minigrad.backend import DeviceError
from minigrad.tensor import Tensor, _leaf

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = ||(||g_1||, ..., ||g_n||)||  (the norm of all gradients as one vector; norm_type may
    be math.inf for the largest |g|), and each g <- g * min(1, max_norm / (total + 1e-6)).
    Returns total (before clipping) as a 0-d Tensor on the gradients' device, without
    synchronizing; call ``.item()`` on it only when you want to log it.
    error_if_nonfinite: raise RuntimeError, gradients untouched, when total is NaN or infinite
    (this reads total on the host, so it waits for the device).
    """
    params = _with_grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)  # NumPy scalars would meet CuPy
    if not params:
        return Tensor(0.0)
    dev = params[0].device
    if any(p.device is not dev for p in params):
        devices = sorted({str(p.device) for p in params})
        raise DeviceError(f"clip_grad_norm_ needs all gradients on one device, got {devices}")
    xp = dev.xp
    norms = [xp.linalg.vector_norm(p.grad.data, ord=norm_type) for p in params]
    dtype = xp.result_type(*norms)
    total = xp.linalg.vector_norm(xp.stack([xp.astype(n, dtype) for n in norms]), ord=norm_type)
    if error_if_nonfinite and not math.isfinite(value := _leaf(total, dev).item()):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {value}, so they cannot be clipped; they are left "
                           "as they are (error_if_nonfinite=False scales them anyway)")
    # min(1, ...) on the device: branching on the host would need the value there.
    scale = xp.clip(max_norm / (total + 1e-6), None, 1.0)
    for p in params:
        p.grad = _leaf(p.grad.data * xp.astype(scale, p.grad.data.dtype, copy=False), dev)
    return _leaf(total, dev)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0 or math.isnan(clip_value):
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        p.grad = _leaf(p.device.xp.clip(p.grad.data, -clip_value, clip_value), p.device)

