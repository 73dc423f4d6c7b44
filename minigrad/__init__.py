"""minigrad: a from-scratch autograd engine on NumPy (CPU) or CuPy (GPU).

Reading order for learners: tensor.py -> autograd.py -> ops/ (elementwise.py first) ->
gradcheck.py, then backend.py (where arrays live) and nn/.
"""

from minigrad import data, nn, ops, optim, viz
from minigrad.autograd import (
    Function,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from minigrad.backend import (
    Device,
    DeviceError,
    bool_,
    cuda_is_available,
    device,
    float16,
    float32,
    float64,
    int32,
    int64,
    manual_seed,
    to_numpy,
    uint8,
)
from minigrad.creation import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from minigrad.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigrad.io import load, save
from minigrad.ops import *  # noqa: F403  (the functional forms: minigrad.exp(x), ...)
from minigrad.tensor import Tensor

__version__ = "0.1.0"
