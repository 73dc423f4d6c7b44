"""The Tensor class itself: description, host access, conversions, leaves and errors."""

import numpy as np
import pytest

import minigrad as mg


def test_description(device):
    t = mg.tensor(np.zeros((2, 3, 4), dtype=np.float32), device=device)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.dtype == mg.float32 and t.device is mg.device(device)
    assert t.is_leaf and not t.requires_grad and t.grad is None


def test_zero_dim_tensor(device):
    t = mg.tensor(2.5, device=device)
    assert t.shape == () and t.ndim == 0 and t.numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(t)


def test_item_and_python_conversions(device):
    t = mg.tensor([[2.5]], device=device)
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(t) == 2 and bool(t)
    assert mg.tensor([3, 4], device=device).tolist() == [3, 4]
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        mg.tensor([1.0, 2.0], device=device).item()


def test_repr_names_what_is_not_default(device):
    t = mg.tensor([1.0, 2.0], dtype=mg.float64, device=device, requires_grad=True)
    text = repr(t)
    assert text.startswith("tensor([1., 2.]")
    assert "dtype=float64" in text and "requires_grad=True" in text
    assert (f"device='{device}'" in text) == (device != "cpu")
    assert repr(mg.tensor([1.0], device="cpu")) == "tensor([1.])"


def test_unsupported_data_is_refused():
    with pytest.raises(TypeError, match="cannot make a tensor from"):
        mg.tensor("abc")
    with pytest.raises(TypeError, match="cannot make a tensor from"):
        mg.tensor({1: 2})


def test_conversion_methods(device):
    t = mg.tensor([1.5, 2.5], device=device)
    assert t.double().dtype == mg.float64
    assert t.double().float().dtype == mg.float32
    assert t.astype(mg.int64).dtype == mg.int64
    np.testing.assert_array_equal(t.astype(mg.int64).numpy(), [1, 2])
    assert t.cpu().device is mg.device("cpu")


def test_backward_checks_the_explicit_gradient(device):
    x = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):  # as PyTorch
        y.backward(mg.ones(3, device=device))
    other = "cpu" if device != "cpu" else "strict:device1"
    with pytest.raises(mg.DeviceError, match=other):
        y.backward(mg.ones(2, device=other))
