"""Shared fixtures: every engine test runs on each device the machine offers.

- "cpu": NumPy.
- "strict:device1": array_api_strict on a non-CPU device. It refuses implicit NumPy
  conversion and device mixing exactly where CuPy does, so passing here without a GPU is
  evidence that the CuPy path works.
- "strict:cpu": array_api_strict on its CPU device.
- "cuda:0": CuPy, only where a GPU is present.
"""

import numpy as np
import pytest

import minigrad as mg

DEVICES = ["cpu", "strict:device1", "strict:cpu"]
if mg.cuda_is_available():
    DEVICES.append("cuda:0")


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each available device name in turn."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def make(device):
    """make(array, requires_grad=False, dtype=None) -> a Tensor on the current device.

    Float data keeps its NumPy dtype (float64 for gradchecks) unless dtype is given.
    """

    def _make(array, requires_grad=False, dtype=None):
        return mg.tensor(np.asarray(array), dtype=dtype, device=device,
                         requires_grad=requires_grad)

    return _make


@pytest.fixture
def torch():
    """PyTorch, the reference of many tests: the test is skipped where it is not installed."""
    return pytest.importorskip("torch")
