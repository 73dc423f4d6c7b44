"""Reliability of training: every bad input gets one clear error (PyTorch's exception type
where PyTorch defines one), nothing is half changed by a failure, no result is silently wrong,
and no file is lost or left behind: optimizers, schedulers, layer sizes, state dicts,
checkpoints (corrupted, killed while written, interrupted), the Trainer, IDX files."""

import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from autoencoders.datasets import DatasetError, parse_idx, read_idx
from autoencoders.models import MLPAutoencoder, autoencoder_loss_fn
from autoencoders.train import Trainer, TrainingDivergedError, predict
from minigrad import nn, optim
from minigrad.backend import device_of
from minigrad.data import DataLoader
from minigrad.optim import lr_scheduler as S

ROOT = Path(__file__).resolve().parents[2]
NAN, INF = float("nan"), float("inf")


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def raises_like_torch(ours, theirs, expected: type[Exception], match: str):
    """``ours()`` raises ``expected`` matching ``match``; where PyTorch refuses the same input
    with a ValueError or TypeError, it is the same type (where it accepts it, we are stricter:
    each such case says why below)."""
    with pytest.raises(expected, match=match):
        ours()
    torch = torch_or_none()
    if torch is None or theirs is None:
        return
    try:
        theirs(torch)
    except Exception as err:  # PyTorch's other kinds (IndexError ...) are accidents
        if isinstance(err, TypeError | ValueError):
            assert isinstance(err, expected), (type(err), expected)


# -- 2. hyperparameters ------------------------------------------------------------------------

def _w():
    return mg.zeros(2, requires_grad=True)


# (optimizer, keyword arguments, exception, message). PyTorch accepts some of these (SGD with
# lr=nan, momentum=nan; lr=inf; lr=True; an int for a flag): a NaN or infinite rate makes every
# parameter NaN at the first step, and a bool or a string is always a slip.
BAD_OPTIONS = [
    ("SGD", {"lr": NAN}, ValueError, r"Invalid learning rate: nan"),
    ("SGD", {"lr": -1}, ValueError, r"Invalid learning rate: -1(\.0)? \(lr must be >= 0"),
    ("SGD", {"lr": INF}, ValueError, r"Invalid learning rate: inf"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, ValueError, r"Invalid momentum value: -0\.5"),
    ("SGD", {"lr": 0.1, "momentum": NAN}, ValueError, r"Invalid momentum value: nan"),
    ("SGD", {"lr": 0.1, "weight_decay": NAN}, ValueError, r"Invalid weight_decay value: nan"),
    ("SGD", {"lr": 0.1, "dampening": NAN}, ValueError, r"Invalid dampening value: nan"),
    ("SGD", {"lr": 0.1, "nesterov": True}, ValueError, r"Nesterov momentum requires"),
    ("SGD", {"lr": "0.1"}, TypeError, r"lr must be a real number, got str '0\.1'"),
    ("SGD", {"lr": None}, TypeError, r"lr must be a real number, got NoneType"),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": "yes"}, TypeError, r"nesterov must be True "
                                                                    r"or False"),
    ("Adam", {"lr": NAN}, ValueError, r"Invalid learning rate: nan"),
    ("Adam", {"lr": True}, TypeError, r"lr must be a real number, got bool"),
    ("Adam", {"lr": mg.tensor(0.1)}, TypeError, r"lr must be a real number, got Tensor"),
    ("Adam", {"eps": NAN}, ValueError, r"Invalid epsilon value: nan"),
    ("Adam", {"eps": -1e-8}, ValueError, r"Invalid epsilon value: -1e-08"),
    ("Adam", {"weight_decay": NAN}, ValueError, r"Invalid weight_decay value: nan"),
    ("Adam", {"weight_decay": -0.1}, ValueError, r"Invalid weight_decay value: -0\.1"),
    ("Adam", {"betas": (1.0, 0.9)}, ValueError, r"Invalid beta parameter at index 0: 1\.0"),
    ("Adam", {"betas": (0.9, NAN)}, ValueError, r"Invalid beta parameter at index 1: nan"),
    ("Adam", {"betas": (-0.1, 0.9)}, ValueError, r"Invalid beta parameter at index 0: -0\.1"),
    ("Adam", {"betas": "ab"}, TypeError, r"betas must be a pair of numbers"),
    ("Adam", {"betas": (0.9,)}, TypeError, r"betas must be a pair of numbers \(beta1, beta2\), "
                                            r"got tuple \(0\.9,\)"),
    ("Adam", {"amsgrad": 1}, TypeError, r"amsgrad must be True or False, got int"),
    ("AdamW", {"weight_decay": NAN}, ValueError, r"Invalid weight_decay value: nan"),
    ("AdamW", {"lr": -1e-3}, ValueError, r"Invalid learning rate: -0\.001"),
    ("RMSprop", {"alpha": NAN}, ValueError, r"Invalid alpha value: nan"),
    ("RMSprop", {"alpha": -0.5}, ValueError, r"Invalid alpha value: -0\.5"),
    ("RMSprop", {"eps": NAN}, ValueError, r"Invalid epsilon value: nan"),
    ("RMSprop", {"momentum": -1}, ValueError, r"Invalid momentum value: -1"),
    ("RMSprop", {"weight_decay": NAN}, ValueError, r"Invalid weight_decay value: nan"),
    ("RMSprop", {"centered": None}, TypeError, r"centered must be True or False"),
]


@pytest.mark.parametrize("name, options, error, match", BAD_OPTIONS,
                         ids=[f"{n}-{'-'.join(map(str, o))}" for n, o, _, _ in BAD_OPTIONS])
def test_bad_hyperparameters_are_refused_as_pytorch_does(name, options, error, match):
    def theirs(torch):
        opts = {k: (0.1 if isinstance(v, mg.Tensor) else v) for k, v in options.items()}
        if isinstance(options.get("lr"), mg.Tensor):
            return None  # PyTorch takes a tensor lr; ours would meet CuPy arrays with it
        return getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **opts)

    raises_like_torch(lambda: getattr(optim, name)([_w()], **options), theirs, error, match)


def test_a_bad_group_is_refused_and_nothing_is_added():
    w, v = _w(), _w()
    opt = optim.Adam([w], lr=1e-3)
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        opt.add_param_group({"params": [v], "lr": NAN})
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.5"):
        optim.Adam([{"params": [w]}, {"params": [v], "betas": (0.9, 1.5)}])
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [w]
    # Numbers are stored as Python floats, whatever the caller passed.
    opt = optim.SGD([w], lr=np.float32(0.5), momentum=1)
    assert type(opt.param_groups[0]["lr"]) is float and opt.param_groups[0]["momentum"] == 1.0


BAD_SCHEDULES = [
    (lambda o, m: m.StepLR(o, step_size=0), ValueError, r"step_size must be >= 1, got 0"),
    (lambda o, m: m.StepLR(o, step_size=2.5), TypeError, r"step_size must be an int, got float"),
    (lambda o, m: m.StepLR(o, step_size="2"), TypeError, r"step_size must be an int, got str"),
    (lambda o, m: m.StepLR(o, step_size=True), TypeError, r"step_size must be an int, got bool"),
    (lambda o, m: m.StepLR(o, 2, gamma=NAN), ValueError, r"gamma must be a finite number >= 0, "
                                                         r"got nan"),
    (lambda o, m: m.StepLR(o, 2, gamma=-0.5), ValueError, r"gamma .* got -0\.5"),
    (lambda o, m: m.ExponentialLR(o, gamma=INF), ValueError, r"gamma .* got inf"),
    (lambda o, m: m.ExponentialLR(o, gamma="0.9"), TypeError, r"gamma must be a real number"),
    (lambda o, m: m.CosineAnnealingLR(o, T_max=NAN), TypeError, r"T_max must be an int, got "
                                                                r"float nan"),
    (lambda o, m: m.CosineAnnealingLR(o, T_max=0), ValueError, r"T_max must be >= 1, got 0"),
    (lambda o, m: m.CosineAnnealingLR(o, 10, eta_min=NAN), ValueError, r"eta_min .* got nan"),
    (lambda o, m: m.CosineAnnealingLR(o, 10, eta_min=-1), ValueError, r"eta_min .* got -1"),
    (lambda o, m: m.LinearLR(o, start_factor=0), ValueError, r"Starting multiplicative factor"),
    (lambda o, m: m.LinearLR(o, start_factor=NAN), ValueError, r"start_factor .* got nan"),
    (lambda o, m: m.LinearLR(o, start_factor=2.0), ValueError, r"start_factor .* in \[0, 1\], "
                                                               r"got 2\.0"),
    (lambda o, m: m.LinearLR(o, end_factor=NAN), ValueError, r"end_factor .* got nan"),
    (lambda o, m: m.LinearLR(o, end_factor=-0.1), ValueError, r"end_factor .* got -0\.1"),
    (lambda o, m: m.LinearLR(o, total_iters=0), ValueError, r"total_iters must be >= 1"),
    (lambda o, m: m.LinearLR(o, total_iters=2.5), TypeError, r"total_iters must be an int"),
    (lambda o, m: m.SequentialLR(o, [m.StepLR(o, 2), m.StepLR(o, 3)], milestones=[2.5]),
     TypeError, r"milestone must be an int, got float 2\.5"),
    (lambda o, m: m.SequentialLR(o, [m.StepLR(o, 2), m.StepLR(o, 3)], milestones=[0]),
     ValueError, r"milestone must be >= 1, got 0"),
    (lambda o, m: m.SequentialLR(o, [m.StepLR(o, 2), m.StepLR(o, 3), m.StepLR(o, 4)],
                                 milestones=[3, 2]), ValueError, r"increasing"),
]


@pytest.mark.parametrize("make, error, match", BAD_SCHEDULES)
def test_bad_schedule_options_are_refused(make, error, match):
    opt = optim.SGD([_w()], lr=0.1)
    with pytest.raises(error, match=match):
        make(opt, S)
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_refused_scheduler_leaves_the_optimizer_alone():
    opt = optim.SGD([_w()], lr=0.1)
    with pytest.raises(ValueError, match="gamma"):
        S.StepLR(opt, 2, gamma=NAN)
    assert opt.param_groups[0] == {**opt.param_groups[0], "lr": 0.1}
    assert "initial_lr" not in opt.param_groups[0]
    opt.param_groups[0]["initial_lr"] = NAN  # e.g. from a damaged optimizer state
    with pytest.raises(ValueError, match=r"initial_lr\[0\] must be a finite number"):
        S.ExponentialLR(opt, 0.9)
    assert opt.param_groups[0]["lr"] == 0.1


def test_schedule_errors_have_pytorchs_type_where_it_refuses():
    torch = pytest.importorskip("torch")
    t_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    for factor in (0.0, 2.0):
        with pytest.raises(ValueError):
            torch.optim.lr_scheduler.LinearLR(t_opt, start_factor=factor)
        with pytest.raises(ValueError):
            S.LinearLR(optim.SGD([_w()], lr=0.1), start_factor=factor)


# -- 3. sizes -----------------------------------------------------------------------------------

X8 = np.zeros((8, 2), np.float32)

# (ours, the same call in PyTorch or None, the argument's name, the type that came)
NON_INT_SIZES = [
    (lambda: nn.Linear(2.5, 3), lambda t: t.nn.Linear(2.5, 3), "in_features", "float"),
    (lambda: nn.Linear(2, "3"), lambda t: t.nn.Linear(2, "3"), "out_features", "str"),
    (lambda: nn.Linear(True, 3), None, "in_features", "bool"),
    (lambda: nn.Linear(np.float64(2), 3), None, "in_features", "float64"),
    (lambda: nn.Conv2d(1.0, 2, 3), lambda t: t.nn.Conv2d(1.0, 2, 3), "in_channels", "float"),
    (lambda: nn.Conv2d(1, 2, 2.5), lambda t: t.nn.Conv2d(1, 2, 2.5), "kernel_size", "float"),
    (lambda: nn.Conv2d(1, 2, (3, 2.5)), None, "kernel_size", "float"),
    (lambda: nn.Conv2d(1, 2, 3, stride=1.5), None, "stride", "float"),
    (lambda: nn.Conv2d(1, 2, 3, padding=0.5), None, "padding", "float"),
    (lambda: nn.Conv2d(1, 2, 3, groups=1.0), None, "groups", "float"),
    # (PyTorch: ValueError "in_channels must be divisible by groups", as 2.5 % 1 != 0)
    (lambda: nn.ConvTranspose2d(2.5, 2, 3), None, "in_channels", "float"),
    (lambda: nn.ConvTranspose2d(1, 2, 3, output_padding=0.5), None, "output_padding", "float"),
    (lambda: nn.MaxPool2d(2.5), None, "kernel_size", "float"),
    (lambda: nn.BatchNorm1d(2.5), lambda t: t.nn.BatchNorm1d(2.5), "num_features", "float"),
    (lambda: nn.BatchNorm2d("4"), None, "num_features", "str"),
    (lambda: mg.zeros(2.5), lambda t: t.zeros(2.5), "size", "float"),
    (lambda: mg.ones(2, 2.5), lambda t: t.ones(2, 2.5), "size", "float"),
    (lambda: mg.full((2.5,), 1.0), lambda t: t.full((2.5,), 1.0), "size", "float"),
    (lambda: mg.randn(True), None, "size", "bool"),
    (lambda: mg.rand("3"), None, "size", "str"),
    (lambda: mg.randint(5, size=(2.5,)), lambda t: t.randint(5, size=(2.5,)), "size", "float"),
    (lambda: mg.randint(5, size=2.0), None, "size", "float"),
    (lambda: mg.linspace(0, 1, 2.5), lambda t: t.linspace(0, 1, 2.5), "num", "float"),
    (lambda: mg.eye(2.0), None, "n", "float"),
    (lambda: DataLoader(X8, batch_size=2.5), None, "batch_size", "float"),
    (lambda: DataLoader(X8, batch_size="4"), None, "batch_size", "str"),
    (lambda: DataLoader(X8, batch_size=True), None, "batch_size", "bool"),
    (lambda: nn.Unflatten(1, (2, 1.5)), None, "unflattened_size", "float"),
]


@pytest.mark.parametrize("ours, theirs, name, came", NON_INT_SIZES)
def test_sizes_must_be_ints(ours, theirs, name, came):
    raises_like_torch(ours, theirs, TypeError, rf"{name}.* must be an int.*got {came}")


NEGATIVE_SIZES = [
    (lambda: nn.Linear(-1, 3), r"Linear: in_features must be >= 0, got -1"),
    (lambda: nn.Conv2d(1, -2, 3), r"Conv2d: out_channels must be >= 0, got -2"),
    (lambda: nn.Conv2d(1, 2, 0), r"Conv2d: kernel_size must be an int >= 1 .* got 0"),
    (lambda: nn.Conv2d(1, 2, 3, stride=0), r"Conv2d: stride must be an int >= 1 .* got 0"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), r"Conv2d: padding must be an int >= 0 .* got -1"),
    (lambda: nn.Conv2d(1, 2, 3, dilation=(1, 0)), r"Conv2d: dilation must be .* got \(1, 0\)"),
    (lambda: nn.Conv2d(2, 2, 3, groups=0), r"Conv2d: groups must be >= 1, got 0"),
    (lambda: nn.ConvTranspose2d(1, 2, (0, 3)), r"ConvTranspose2d: kernel_size .* got \(0, 3\)"),
    (lambda: nn.ConvTranspose2d(1, 2, 3, stride=0), r"ConvTranspose2d: stride .* got 0"),
    (lambda: nn.AvgPool2d(2, stride=0), r"AvgPool2d: stride must be an int >= 1 .* got 0"),
    (lambda: nn.BatchNorm1d(-1), r"BatchNorm1d: num_features must be >= 0, got -1"),
    (lambda: nn.BatchNorm1d(3, eps=NAN), r"BatchNorm1d: eps must be a finite number >= 0"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), r"BatchNorm2d: momentum .* in \[0, 1\], got 1.5"),
    (lambda: mg.zeros(3, -1), r"zeros: size 1 of \(3, -1\) must be >= 0, got -1"),
    (lambda: mg.randint(5, size=(-2,)), r"randint: size 0 of \(-2,\) must be >= 0, got -2"),
    (lambda: DataLoader(X8, batch_size=0), r"DataLoader: batch_size must be >= 1, got 0"),
]


@pytest.mark.parametrize("make, match", NEGATIVE_SIZES)
def test_sizes_out_of_range_raise_one_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_numpy_integers_are_sizes_and_come_out_as_python_ints():
    layer = nn.Linear(np.int64(3), np.int32(2))
    assert layer.weight.shape == (2, 3) and type(layer.in_features) is int
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"
    conv = nn.Conv2d(np.int64(1), 2, (np.int16(3), 3), stride=np.int64(2))
    assert conv.kernel_size == (3, 3) and conv.stride == (2, 2) and type(conv.stride[0]) is int
    assert mg.zeros(np.int64(2), 3).shape == (2, 3)
    assert DataLoader(X8, batch_size=np.int64(3)).batch_size == 3 and len(
        DataLoader(X8, batch_size=np.int64(3))) == 3


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("make", [
    lambda m: m.Linear(0, 5), lambda m: m.Linear(5, 0), lambda m: m.Conv2d(0, 4, 3),
    lambda m: m.Conv2d(4, 0, 3), lambda m: m.ConvTranspose2d(0, 4, 3), lambda m: m.BatchNorm1d(0),
])
def test_layers_with_zero_sizes_are_built_as_in_pytorch(make):
    layer = make(nn)
    torch = torch_or_none()
    if torch is not None:
        reference = make(torch.nn)
        assert layer.weight.shape == tuple(reference.weight.shape)
    if layer.bias is not None and layer.bias.shape[0]:
        assert np.all(np.isfinite(layer.bias.numpy()))


def test_empty_weights_are_left_alone_with_pytorchs_warning():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        layer = nn.Linear(0, 5)
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(5))  # U(-0, 0): fan_in is 0
    for init in (nn.init.xavier_uniform_, nn.init.xavier_normal_):
        assert init(mg.zeros(0, 0)).shape == (0, 0)  # fans 0 + 0: no division by zero


# -- 4. stepping after the model moved ---------------------------------------------------------

def _grads(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(50 + step)
    return [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal(3).astype(np.float32)]


def _train(model, opt, steps):
    params = list(model.parameters())
    for step in steps:
        for p, g in zip(params, _grads(step), strict=True):
            p.grad = mg.tensor(g, dtype=p.dtype, device=p.device)
        opt.step()


OPTIMIZERS = {
    "Adam": lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.1),
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
}


# array_api_strict's second device stands in for a GPU (it refuses device mixing as CuPy does).
TARGETS = ["strict:device1"] + (["cuda:0"] if mg.cuda_is_available() else [])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("make_opt", OPTIMIZERS.values(), ids=OPTIMIZERS)
def test_training_continues_after_the_model_moves_to_another_device(make_opt, target):
    """State made on the CPU follows the parameters to the new device at the next step, as
    PyTorch's load_state_dict puts state on the parameter's device: the numbers equal those of
    an optimizer that ran on that device from the start."""
    mg.manual_seed(0)
    moved = nn.Linear(4, 3)
    there = nn.Linear(4, 3)
    there.load_state_dict(moved.state_dict())
    there.to(target)
    opt_moved, opt_there = make_opt(list(moved.parameters())), make_opt(list(there.parameters()))
    _train(moved, opt_moved, range(3))
    _train(there, opt_there, range(3))
    moved.to(target)
    # Before the next step the state is still where it was made; state_dict says so truthfully.
    for t in opt_moved.state_dict()["state"][0].values():
        if isinstance(t, mg.Tensor):
            assert device_of(t.data) is t.device
    _train(moved, opt_moved, range(3, 6))
    _train(there, opt_there, range(3, 6))
    for a, b in zip(moved.parameters(), there.parameters(), strict=True):
        assert a.device == target
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    for p in moved.parameters():
        for value in opt_moved.state[p].values():
            if not isinstance(value, int | float):
                assert device_of(value) is mg.device(target)


def test_state_follows_a_cast_of_the_model():
    """After model.to(dtype=float64) the float32 buffers are cast at the next step: training
    continues in float64, close to the float32 run that was not cast."""
    mg.manual_seed(0)
    model, reference = nn.Linear(4, 3), nn.Linear(4, 3)
    reference.load_state_dict(model.state_dict())
    opt, opt_reference = optim.Adam(model.parameters(), lr=0.1), optim.Adam(
        reference.parameters(), lr=0.1)
    _train(model, opt, range(2))
    _train(reference, opt_reference, range(2))
    model.to(dtype=mg.float64)
    _train(model, opt, range(2, 4))
    _train(reference, opt_reference, range(2, 4))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert p.dtype == np.float64
        assert all(v.dtype == np.float64 for v in opt.state[p].values()
                   if not isinstance(v, int | float))
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5, atol=1e-6)


def test_a_gradient_on_the_wrong_device_fails_before_anything_changes():
    w, v = mg.ones(3, requires_grad=True), mg.ones(2, requires_grad=True)
    opt = optim.Adam([w, v], lr=0.1)
    w.grad, v.grad = mg.ones(3), mg.ones(2)
    opt.step()
    before = ([p.numpy().copy() for p in (w, v)],
              {id(p): {k: np.array(mg.to_numpy(b)) if not isinstance(b, int) else b
                       for k, b in s.items()} for p, s in opt.state.items()})
    # The parameter moved by hand, its gradient left behind (Module.to moves both).
    v.data, v.device = mg.backend.transfer(v.data, mg.device("strict:device1")), mg.device(
        "strict:device1")
    with pytest.raises(mg.DeviceError, match=r"on strict:device1 has its gradient on cpu; "
                                             r"nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(w.numpy(), before[0][0])
    for p, state in opt.state.items():
        for k, b in state.items():
            np.testing.assert_array_equal(mg.to_numpy(b), before[1][id(p)][k])


# -- 5. load_state_dict: all or nothing ----------------------------------------------------------

def _snapshot(module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("bad, match", [
    ("a string", r"cannot convert '1\.bias': expected a tensor or array of numbers, got str"),
    (np.array([None, 1, 2], dtype=object), r"cannot convert '1\.bias': .* array of object"),
    (np.array(["1", "2", "3"]), r"cannot convert '1\.bias': .* array of <U1"),
    (np.ones(3, np.complex64), r"cannot convert '1\.bias': .* array of complex64"),
    ([[1.0], [2.0, 3.0]], r"cannot convert '1\.bias': a list that is not an array"),
])
def test_module_load_state_dict_converts_everything_before_assigning(bad, match):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3))
    before = _snapshot(model)
    state = {k: np.full(v.shape, 7.0, np.float32) for k, v in before.items()}
    state["1.bias"] = bad  # the last entry: the others would have been written already
    with pytest.raises(RuntimeError, match=match):
        model.load_state_dict(state)
    for name, value in _snapshot(model).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    torch = torch_or_none()
    if torch is not None and isinstance(bad, str):
        with pytest.raises(RuntimeError):  # PyTorch's type for the same mistake
            torch.nn.Linear(2, 3).load_state_dict({"weight": torch.zeros(3, 2), "bias": bad})


def test_module_load_state_dict_lists_every_problem_and_refuses_a_non_dict():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["0.weight"], state["1.bias"] = "x", np.zeros(4)
    with pytest.raises(RuntimeError, match=r"(?s)'0\.weight'.*size mismatch for '1\.bias'"):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="expects a dict"):
        model.load_state_dict([("0.weight", np.zeros((3, 2)))])


def _trained_adam():
    w, v = mg.ones(3, requires_grad=True), mg.ones(2, requires_grad=True)
    opt = optim.Adam([w, v], lr=0.1)
    w.grad, v.grad = mg.ones(3), mg.ones(2)
    opt.step()
    return opt


def _opt_snapshot(opt):
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    state = {id(p): {k: (mg.to_numpy(b).copy() if not isinstance(b, int | float) else b)
                     for k, b in s.items()} for p, s in opt.state.items()}
    return groups, state


def _assert_same_opt(opt, snapshot):
    groups, state = _opt_snapshot(opt)
    assert groups == snapshot[0]
    assert state.keys() == snapshot[1].keys()
    for key, buffers in state.items():
        for name, value in buffers.items():
            np.testing.assert_array_equal(value, snapshot[1][key][name])


def _adam_state(**changes):
    source = _trained_adam()
    source.param_groups[0]["params"][0].grad = mg.full((3,), 5.0)
    source.param_groups[0]["params"][1].grad = mg.full((2,), 5.0)
    source.step()
    state = source.state_dict()
    for path, value in changes.items():
        where = state
        *keys, last = path.split(".")
        for key in keys:
            where = where[int(key) if key.isdigit() else key]
        where[int(last) if last.isdigit() else last] = value
    return state


@pytest.mark.parametrize("changes, error, match", [
    ({"param_groups.0.lr": NAN}, ValueError, r"parameter group 0 of the loaded state: Invalid "
                                             r"learning rate: nan"),
    ({"param_groups.0.betas": (0.9, 2.0)}, ValueError, r"group 0 .* index 1: 2\.0"),
    ({"param_groups.0.eps": "small"}, TypeError, r"group 0 .* eps must be a real number"),
    ({"state.1.exp_avg": "abc"}, TypeError, r"state 'exp_avg' of parameter 1: expected a "
                                             r"number, tensor or array, got str"),
    ({"state.1.exp_avg_sq": np.array(["a", "b"])}, TypeError, r"'exp_avg_sq' of parameter 1: "
                                                                r"expected numbers"),
    ({"state.1.step": NAN}, ValueError, r"state 'step' of parameter 1 is nan"),
    ({"state.1.exp_avg": np.zeros(5)}, ValueError, r"'exp_avg' of parameter 1 has shape \(5,\)"),
    ({"state.1": [1, 2]}, TypeError, r"state of parameter 1 must be a dict of buffers"),
    ({"param_groups.0.params": [0, "x"]}, ValueError, r"named by their position .* str 'x'"),
    ({"param_groups.0.params": [1, 1]}, ValueError, r"lists parameter 1 twice"),
    ({"state": [1]}, ValueError, r"'state' must be a dict"),
    ({"param_groups": "all"}, ValueError, r"'param_groups' must be a list of dicts"),
])
def test_optimizer_load_state_dict_checks_everything_first(changes, error, match):
    opt = _trained_adam()
    snapshot = _opt_snapshot(opt)
    with pytest.raises(error, match=match):
        opt.load_state_dict(_adam_state(**changes))
    _assert_same_opt(opt, snapshot)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    _assert_same_opt(opt, snapshot)
    opt.load_state_dict(_adam_state())  # and a good state still loads


def test_scheduler_load_state_dict_checks_everything_first():
    opt = optim.SGD([_w()], lr=0.1)
    warm, decay = S.LinearLR(opt, start_factor=0.5, total_iters=2), S.StepLR(opt, 2, gamma=0.5)
    schedule = S.SequentialLR(opt, [warm, decay], milestones=[2])
    for _ in range(3):
        schedule.step()
    good = schedule.state_dict()
    fresh_opt = optim.SGD([_w()], lr=0.1)
    fresh = S.SequentialLR(fresh_opt, [S.LinearLR(fresh_opt, start_factor=0.5, total_iters=2),
                                       S.StepLR(fresh_opt, 2, gamma=0.5)], milestones=[2])
    before = (fresh.state_dict(), fresh_opt.param_groups[0]["lr"])

    def broken(**changes):
        state = json.loads(json.dumps(good))
        for path, value in changes.items():
            where = state
            *keys, last = path.split(".")
            for key in keys:
                where = where[int(key) if key.isdigit() else key]
            where[last] = value
        return state

    cases = [
        (broken(**{"schedulers.1.gamma": NAN}), ValueError, r"StepLR.load_state_dict: gamma"),
        (broken(**{"schedulers.0.total_iters": 1.5}), TypeError, r"LinearLR.* total_iters must "
                                                                 r"be an int"),
        (broken(last_epoch="3"), TypeError, r"SequentialLR.load_state_dict: last_epoch must be "
                                            r"an int"),
        (broken(base_lrs=[NAN]), ValueError, r"base_lrs\[0\] must be a finite number"),
        (broken(_last_lr=[0.1, 0.2]), ValueError, r"_last_lr must be a list of 1 rates"),
        (broken(milestones=[0]), ValueError, r"milestone must be >= 1"),
        (broken(schedulers=[]), ValueError, r"'schedulers' must hold the states of its 2"),
        ({k: v for k, v in good.items() if k != "last_epoch"}, ValueError,
         r"missing key\(s\) \['last_epoch'\]"),
        ({**good, "extra": 1}, ValueError, r"unexpected key\(s\) \['extra'\]"),
    ]
    for state, error, match in cases:
        with pytest.raises(error, match=match):
            fresh.load_state_dict(state)
        assert fresh.state_dict() == before[0] and fresh_opt.param_groups[0]["lr"] == before[1]
    fresh.load_state_dict(broken())  # the good state, through JSON and back
    assert fresh.get_last_lr() == schedule.get_last_lr() and fresh.last_epoch == 3


# -- 6. damaged checkpoint files ----------------------------------------------------------------

def _checkpoint_file(tmp_path) -> tuple[Path, dict]:
    mg.manual_seed(0)
    obj = {"model": {"w": mg.randn(6, 5, requires_grad=True), "b": mg.zeros(5)},
           "optimizer": {"state": {0: {"step": 2}}, "param_groups": [{"lr": 0.1}]},
           "epoch": 3, "history": [{"loss": 0.5}], "host": np.arange(4)}
    path = tmp_path / "ckpt.npz"
    mg.save(obj, path)
    return path, obj


def _loads_intact_or_fails_naming_the_file(path: Path, original: dict, data: bytes) -> str:
    """'loaded' when ``data`` (written to ``path``) loads exactly as ``original``; else the
    ValueError's message, which must start with the path."""
    path.write_bytes(data)
    try:
        got = mg.load(path)
    except ValueError as err:
        assert str(err).startswith(f"{path}: "), str(err)
        return str(err)
    assert got["epoch"] == 3 and got["history"] == [{"loss": 0.5}]
    np.testing.assert_array_equal(got["model"]["w"].numpy(), original["model"]["w"].numpy())
    np.testing.assert_array_equal(got["host"], np.arange(4))
    return "loaded"


def test_truncated_checkpoints_fail_naming_the_file(tmp_path):
    path, obj = _checkpoint_file(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "cut.npz"
    rng = np.random.default_rng(0)
    # Every cut near the ends (headers, central directory) and a sample in between.
    offsets = {*range(0, 80), *range(len(data) - 120, len(data)),
               *rng.integers(0, len(data), 150).tolist()}
    for n in sorted(offsets):
        assert _loads_intact_or_fails_naming_the_file(bad, obj, data[:n]) != "loaded", n


def test_flipped_bytes_never_load_wrong_data(tmp_path):
    path, obj = _checkpoint_file(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "flipped.npz"
    rng = np.random.default_rng(1)
    outcomes = []
    for position, bit in zip(rng.integers(0, len(data), 600), rng.integers(0, 8, 600),
                             strict=True):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(bit)
        outcomes.append(_loads_intact_or_fails_naming_the_file(bad, obj, bytes(damaged)))
    # Flips in fields nobody checks (timestamps, versions) load the intact data; all else fails.
    assert 0 < outcomes.count("loaded") < len(outcomes) / 2


def _central_entries(data: bytes) -> list[int]:
    """Offsets of the zip's central directory records (signature PK\\1\\2)."""
    end = data.rindex(b"PK\x05\x06")
    count, _, start = struct.unpack("<HII", data[end + 10:end + 20])
    offsets, at = [], start
    for _ in range(count):
        assert data[at:at + 4] == b"PK\x01\x02"
        offsets.append(at)
        names, extra, comment = struct.unpack("<HHH", data[at + 28:at + 34])
        at += 46 + names + extra + comment
    return offsets


@pytest.mark.parametrize("field, value, match", [
    ("method", 99, r"NotImplementedError: That compression method is not supported"),
    ("method", 8, r"corrupt or unreadable minigrad file"),      # deflate on stored bytes
    ("method", 12, r"corrupt or unreadable minigrad file"),     # bzip2
    ("flags", 0x1, r"RuntimeError: File .* is encrypted"),      # the encryption bit
    ("flags", 0x40, r"NotImplementedError: strong encryption"),
])
def test_unsupported_zip_features_fail_naming_the_file(tmp_path, field, value, match):
    path, obj = _checkpoint_file(tmp_path)
    data = bytearray(path.read_bytes())
    for at in _central_entries(bytes(data)):
        if field == "method":
            struct.pack_into("<H", data, at + 10, value)
        else:
            flags, = struct.unpack_from("<H", data, at + 8)
            struct.pack_into("<H", data, at + 8, flags | value)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*{match}") as info:
        mg.load(path)
    assert info.type is ValueError


def test_empty_file_directory_and_missing_file(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(empty))}: not a minigrad file"):
        mg.load(empty)
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    with pytest.raises(OSError, match="folder.npz"):  # IsADirectoryError (Windows: Permission)
        mg.load(folder)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        mg.load(tmp_path / "missing.npz")


def _zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _npy(array=None, header: dict | None = None, data: bytes = b"") -> bytes:
    import io

    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, array)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(data)
    return buffer.getvalue()


def _minigrad_header(node) -> bytes:
    return _npy(np.array(json.dumps({"format": "minigrad", "version": 1, "object": node})))


@pytest.mark.parametrize("entries, match", [
    # An entry whose header claims 8 TB: refused from the sizes, nothing is allocated.
    ({"~minigrad.npy": _minigrad_header({"tensor": "w", "requires_grad": False}),
      "w.npy": _npy(header={"descr": "<f8", "fortran_order": False, "shape": (10**12,)},
                    data=b"\0" * 16)},
     r"the entry 'w' should hold 8000000000000 bytes of data .* but holds 16"),
    ({"~minigrad.npy": _minigrad_header({"tensor": "w", "requires_grad": False})},
     r"the entry 'w' is missing"),
    ({"~minigrad.npy": _minigrad_header({"weird": 1})}, r"malformed structure: \{\"weird\""),
    ({"~minigrad.npy": _minigrad_header({"dict": [[1.5, 2]]})}, r"malformed dict node"),
    ({"~minigrad.npy": _minigrad_header({"tensor": "w", "requires_grad": True}),
      "w.npy": _npy(np.arange(3))}, r"malformed tensor node"),   # integers cannot need grads
    ({"~minigrad.npy": _minigrad_header({"tensor": "w", "requires_grad": False}),
      "w.npy": _npy(np.array(["a"]))}, r"the tensor 'w' has dtype <U1"),
    ({"~minigrad.npy": _npy(np.arange(3))}, r"the '~minigrad' entry is not a text"),
    ({"~minigrad.npy": _npy(np.array("{not json"))}, r"JSONDecodeError"),
])
def test_malformed_archives_fail_naming_the_file(tmp_path, entries, match):
    path = tmp_path / "odd.npz"
    _zip(path, entries)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*{match}"):
        mg.load(path)


# -- 7. saves killed midway, leftovers, Ctrl-C during training ----------------------------------

fcntl = pytest.importorskip("fcntl") if os.name == "posix" else None
posix_only = pytest.mark.skipif(os.name != "posix", reason="flock and fork are POSIX")


@posix_only
def test_the_next_save_removes_only_leftovers_nobody_writes(tmp_path):
    path = tmp_path / "ckpt.npz"
    dead = tmp_path / ".ckpt.npz.0123abcd.tmp"            # a killed save's: removed
    alive = tmp_path / ".ckpt.npz.89abcdef.tmp"           # a running save's (locked): kept
    others = [".other.npz.0123abcd.tmp", ".ckpt.npz.tmp", ".ckpt.npz.0123abcz.tmp",
              "ckpt.npz.0123abcd.tmp", ".ckpt.npz.0123abcd.tmp.bak", ".x.ckpt.npz.0123abcd.tmp"]
    for name in [dead.name, alive.name, *others]:
        (tmp_path / name).write_bytes(b"partial")
    with open(alive, "rb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        mg.save({"epoch": 1}, path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["ckpt.npz", alive.name, *others])
    mg.save({"epoch": 2}, path)  # the writer has gone: its file is a leftover now
    assert not alive.exists() and mg.load(path) == {"epoch": 2}


@posix_only
def test_a_save_whose_new_file_is_taken_for_a_leftover_starts_again(tmp_path, monkeypatch):
    """Between creating its temporary file and locking it, a save can lose the file to
    another save's cleanup; it notices (the name no longer leads to its file) and retries."""
    import minigrad.io as mio

    real_lock, calls = mio._try_lock, []

    def lock_after_a_cleanup(fd):
        if not calls:  # the first new file: another process removes it just before the lock
            os.unlink(os.readlink(f"/proc/self/fd/{fd}"))
        calls.append(fd)
        return real_lock(fd)

    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc to find the file of a descriptor")
    monkeypatch.setattr(mio, "_try_lock", lock_after_a_cleanup)
    mg.save({"epoch": 5}, tmp_path / "ckpt.npz")
    monkeypatch.undo()
    assert len(calls) == 2 and mg.load(tmp_path / "ckpt.npz") == {"epoch": 5}
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def _version(k: int) -> dict:
    return {"version": k, "w": np.full(2**19, k, np.float32), "b": mg.full((1000,), float(k))}


@posix_only
def test_saves_killed_at_random_moments_leave_the_old_or_the_new_file(tmp_path):
    """20 child processes each save new versions in a loop until SIGKILL, at a random moment
    (seeded). After each kill the file loads whole as one version; the temporary files the
    kills left behind are removed by the next save."""
    path = tmp_path / "ckpt.npz"
    mg.save(_version(0), path)
    rng = np.random.default_rng(0)
    written, leftovers = 0, 0
    started = time.perf_counter()
    for kill in range(20):
        first = 1000 * (kill + 1)
        pid = os.fork()
        if pid == 0:  # the child: save until killed
            try:
                k = first
                while True:
                    mg.save(_version(k), path)
                    k += 1
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.005, 0.06))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        got = mg.load(path)
        k = got["version"]
        assert k == written or first <= k, (k, written)  # the old file or one of the new
        assert np.all(got["w"] == k) and np.all(got["b"].numpy() == k)
        written = k
        leftovers += len(list(tmp_path.glob(".ckpt.npz.*.tmp")))
        if kill % 5 == 4:  # now and then a save by a live process cleans up
            mg.save(_version(-1), path)
            written = -1
            assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    assert leftovers > 0  # most kills hit a save in the middle
    assert time.perf_counter() - started < 20


SIGINT_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import minigrad as mg
    from autoencoders.models import MLPAutoencoder, autoencoder_loss_fn
    from autoencoders.train import Trainer
    from minigrad import optim

    x = np.random.default_rng(0).random((256, 16), dtype=np.float32)
    mg.manual_seed(0)
    model = MLPAutoencoder((16, 8, 4))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, autoencoder_loss_fn("mse"), opt, out_dir=sys.argv[1],
                      progress=False, verbose=True)
    trainer.fit((x,), (x[:64],), epochs=10**6, batch_size=16)
""")


def _tiny_trainer(out_dir):
    mg.manual_seed(0)
    model = MLPAutoencoder((16, 8, 4))
    return Trainer(model, autoencoder_loss_fn("mse"), optim.Adam(model.parameters(), lr=1e-3),
                   out_dir=out_dir, progress=False, verbose=False)


@posix_only
def test_ctrl_c_during_training_saves_a_checkpoint_that_resumes(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", SIGINT_SCRIPT, str(tmp_path)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.monotonic() + 60
    try:
        while not (metrics.exists() and metrics.read_text().count("\n") >= 1):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no epoch finished within 60 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)  # after the first epoch, somewhere in a later one
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    assert "interrupted in epoch" in out and "saved" in out, out
    state = mg.load(tmp_path / "checkpoint.npz")
    done = state["epoch"]
    assert done >= 1 and len(state["history"]) == done
    assert [p.name for p in tmp_path.glob(".*.tmp")] == []
    rows = metrics.read_text().splitlines()
    assert len(rows) == done  # the log and the checkpoint agree

    resumed = _tiny_trainer(tmp_path)
    x = np.random.default_rng(0).random((256, 16), dtype=np.float32)
    resumed.fit((x,), (x[:64],), epochs=done + 1, batch_size=16, resume=True)
    assert resumed.epoch == done + 1
    assert [row["epoch"] for row in resumed.history] == list(range(1, done + 2))


# -- 1. the trainer ------------------------------------------------------------------------------

X_TRAIN = np.random.default_rng(0).random((96, 16), dtype=np.float32)
X_TEST = np.random.default_rng(1).random((40, 16), dtype=np.float32)


def _poisoned_loss(poison_calls: set[int], interrupt_at: int | None = None):
    """The MSE loss; at the given calls (counted from 1, evaluations included) it stays finite
    but makes the first weight's gradient NaN (sqrt at 0 has an infinite slope, times 0); at
    call ``interrupt_at`` it raises KeyboardInterrupt, as Ctrl-C would."""
    base, calls = autoencoder_loss_fn("mse"), []

    def loss_fn(model, batch):
        calls.append(1)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        loss, metrics = base(model, batch)
        if len(calls) in poison_calls:
            weight = next(iter(model.parameters()))
            loss = loss + mg.sqrt((weight * 0).sum())
        return loss, metrics

    return loss_fn


def _trainer(out_dir, loss_fn=None, **kwargs):
    mg.manual_seed(123)
    model = MLPAutoencoder((16, 8, 4))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    options = {"progress": False, "verbose": False, "log_every": 100, **kwargs}
    return Trainer(model, loss_fn or autoencoder_loss_fn("mse"), opt, sched, out_dir=out_dir,
                   **options)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on the NaN arrays
def test_non_finite_parameters_are_never_checkpointed(tmp_path):
    """A finite loss at the last step of epoch 2 but NaN gradients, no test set: the loss
    checks cannot see it, the parameter check before the checkpoint does."""
    t = _trainer(tmp_path, _poisoned_loss({12}))  # 96 / 16 = 6 steps per epoch
    with pytest.raises(TrainingDivergedError, match=r"epoch 2: parameter\(s\) .*weight.* hold "
                                                    r"NaN or infinite values .* the checkpoint "
                                                    r"of epoch 1 is kept"):
        t.fit((X_TRAIN,), None, epochs=3, batch_size=16)
    assert t.epoch == 1 and len(t.history) == 1
    assert t.scheduler.get_last_lr() == [5e-3]  # stepped once, after epoch 1
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1
    assert all(np.all(np.isfinite(v.numpy())) for v in state["model"].values())
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "metrics.jsonl"]
    # Nor can a direct save write them.
    with pytest.raises(TrainingDivergedError, match="checkpoint of epoch 1 is kept"):
        t.save_checkpoint()
    assert mg.load(tmp_path / "checkpoint.npz")["epoch"] == 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ctrl_c_after_a_bad_step_keeps_the_good_checkpoint(tmp_path):
    # Epoch 1 is 6 steps and 3 evaluation batches; step 1 of epoch 2 is bad, then Ctrl-C.
    t = _trainer(tmp_path, _poisoned_loss({10}, interrupt_at=11))
    with pytest.raises(KeyboardInterrupt) as info:
        t.fit((X_TRAIN,), (X_TEST,), epochs=3, batch_size=16)
    assert any("NaN or infinite" in note for note in info.value.__notes__)
    assert mg.load(tmp_path / "checkpoint.npz")["epoch"] == 1


def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path):
    done = _trainer(tmp_path / "done")
    done.fit((X_TRAIN,), None, epochs=2, batch_size=32)
    state = mg.load(tmp_path / "done/checkpoint.npz")
    fresh = _trainer(tmp_path / "fresh")
    fresh.fit((X_TRAIN,), None, epochs=1, batch_size=32)
    before = (_opt_snapshot(fresh.optimizer), fresh.scheduler.state_dict(),
              {k: v.numpy().copy() for k, v in fresh.model.state_dict().items()})

    def unchanged():
        _assert_same_opt(fresh.optimizer, before[0])
        assert fresh.scheduler.state_dict() == before[1] and fresh.epoch == 1
        for name, value in fresh.model.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), before[2][name])

    # The optimizer and the scheduler load, then the model fails: both are undone.
    bad = {**state, "model": {**state["model"], "decoder.0.bias": "x"}}
    mg.save(bad, tmp_path / "bad.npz")
    with pytest.raises(RuntimeError, match=r"cannot convert 'decoder\.0\.bias'"):
        fresh.load_checkpoint(tmp_path / "bad.npz")
    unchanged()
    mg.save({k: v for k, v in state.items() if k != "history"}, tmp_path / "part.npz")
    with pytest.raises(ValueError, match=r"part\.npz: not a Trainer checkpoint \(it lacks "
                                         r"\['history'\]\)"):
        fresh.load_checkpoint(tmp_path / "part.npz")
    mg.save({**state, "epoch": 5}, tmp_path / "epochs.npz")
    with pytest.raises(ValueError, match=r"after epoch 5 needs one history row per epoch"):
        fresh.load_checkpoint(tmp_path / "epochs.npz")
    unchanged()
    fresh.load_checkpoint(tmp_path / "done/checkpoint.npz")
    assert fresh.epoch == 2 and fresh.scheduler.get_last_lr() == [2.5e-3]


def test_empty_or_malformed_sets_are_refused_before_training(tmp_path):
    t = _trainer(tmp_path / "run")
    before = {k: v.numpy().copy() for k, v in t.model.state_dict().items()}
    empty = np.zeros((0, 16), np.float32)
    with pytest.raises(ValueError, match=r"the training set is empty: its arrays have 0 "
                                         r"samples \(shapes \[\(0, 16\)\]\)"):
        t.fit((empty,), (X_TEST,), epochs=1)
    with pytest.raises(ValueError, match="the test set is empty"):
        t.fit((X_TRAIN,), (empty,), epochs=1)
    with pytest.raises(ValueError, match="the evaluation set is empty"):
        t.evaluate((empty,))
    with pytest.raises(ValueError, match="the prediction set is empty"):
        predict(t.model, empty)
    with pytest.raises(TypeError, match=r"training set must be a tuple of arrays such as "
                                        r"\(x,\) .* got a ndarray"):
        t.fit(X_TRAIN, epochs=1)
    with pytest.raises(ValueError, match=r"equal length"):
        t.fit((X_TRAIN, X_TEST), epochs=1)
    with pytest.raises(TypeError, match="fit: epochs must be an int, got float"):
        t.fit((X_TRAIN,), epochs=2.5)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        t.fit((X_TRAIN,), epochs=1, batch_size=0)
    assert not (tmp_path / "run").exists() and t.epoch == 0  # nothing ran, nothing written
    for name, value in t.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])
    assert t.fit((X_TRAIN,), epochs=0) == []  # zero epochs: nothing to do, as range(0)
    for options, error, match in [({"log_every": 0}, ValueError, "log_every must be >= 1"),
                                  ({"log_every": 2.5}, TypeError, "log_every must be an int"),
                                  ({"max_grad_norm": NAN}, ValueError, "max_grad_norm must be"),
                                  ({"seed": 1.5}, TypeError, "seed must be an int")]:
        with pytest.raises(error, match=match):
            _trainer(None, **options)


def test_demos_refuse_zero_epochs_with_an_argparse_error(capsys):
    sys.path.insert(0, str(ROOT / "demos"))
    try:
        import common
    finally:
        sys.path.remove(str(ROOT / "demos"))
    parser = common.base_parser("d", out="o", latent_dim=2, hidden="8", epochs=1, lr=1e-3)
    for flag, value in [("--epochs", "0"), ("--batch-size", "-1"), ("--latent-dim", "0"),
                        ("--hidden", "8,0")]:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([flag, value])
        assert exit_info.value.code == 2
        assert f"argument {flag}:" in capsys.readouterr().err
    assert parser.parse_args(["--epochs", "3"]).epochs == 3


# -- 8. IDX files -------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [(2**31, 2**31, 2**31), (65536,) * 4, (2**32 - 1,) * 3])
def test_idx_headers_claiming_huge_sizes_fail_naming_the_file(tmp_path, dims):
    """NumPy's product of these dimensions wraps around (to 0 or a negative count); the
    check uses exact integers and names the file and both sizes."""
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(header + bytes(100))
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: truncated") and f"need {math.prod(dims)} data" in message
    assert "found 100" in message and "-" not in message.split(": ", 1)[1]
    with pytest.raises(DatasetError, match="x.idx: truncated"):
        parse_idx(header + bytes(100), "x.idx")
