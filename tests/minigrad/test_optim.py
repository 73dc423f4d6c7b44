"""Optimizers and gradient clipping, on every device, against update rules written out in NumPy
in this file (and against torch.optim when it is installed)."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.backend import device_of

SHAPES = [(3, 4), (4,)]
GRAD_SCALES = [1.0, 0.05, 0.5]  # varying sizes, so that AMSGrad's running max matters


def initial_params() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s) for s in SHAPES]


def grads_at(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [GRAD_SCALES[step % 3] * rng.standard_normal(s) for s in SHAPES]


def run(make_opt, device, steps, values=None, opt_state=None, dtype=None):
    """(parameter values as NumPy arrays, optimizer) after ``steps`` steps on the fixed
    gradients, starting from ``values`` and optionally from a loaded optimizer state."""
    values = initial_params() if values is None else values
    # Copies: on the CPU a tensor made from an array shares its memory, and steps are in place.
    params = [mg.tensor(v.copy(), dtype=dtype, device=device, requires_grad=True)
              for v in values]
    opt = make_opt(params)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    first = 0 if opt_state is None else 3
    for step in range(first, first + steps):
        for p, g in zip(params, grads_at(step), strict=True):
            p.grad = mg.tensor(g, dtype=p.dtype, device=device)
        opt.step()
    return [p.numpy() for p in params], opt


# -- the update rules, written out -----------------------------------------------------------

def sgd_reference(steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    ps, bufs = initial_params(), [None] * len(SHAPES)
    for step in range(steps):
        for i, g in enumerate(grads_at(step)):
            g = g + weight_decay * ps[i]
            if momentum:
                # The first buffer is the gradient itself (no dampening), as in PyTorch.
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * g
    return ps


def adam_reference(steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, decoupled=False):
    b1, b2 = betas
    ps = initial_params()
    m = [np.zeros(s) for s in SHAPES]
    v = [np.zeros(s) for s in SHAPES]
    v_max = [np.zeros(s) for s in SHAPES]
    for t in range(1, steps + 1):
        for i, g in enumerate(grads_at(t - 1)):
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            v_max[i] = np.maximum(v_max[i], v[i])
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = (v_max[i] if amsgrad else v[i]) / (1 - b2 ** t)
            ps[i] = ps[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ps


def rmsprop_reference(steps, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    ps = initial_params()
    sq = [np.zeros(s) for s in SHAPES]
    avg = [np.zeros(s) for s in SHAPES]
    buf = [np.zeros(s) for s in SHAPES]
    for step in range(steps):
        for i, g in enumerate(grads_at(step)):
            g = g + weight_decay * ps[i]
            sq[i] = alpha * sq[i] + (1 - alpha) * g ** 2
            avg[i] = alpha * avg[i] + (1 - alpha) * g
            rms = np.sqrt(sq[i] - avg[i] ** 2 if centered else sq[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / rms
                ps[i] = ps[i] - lr * buf[i]
            else:
                ps[i] = ps[i] - lr * g / rms
    return ps


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.5), "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-2}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.2, "betas": (0.8, 0.5), "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.02, "alpha": 0.9, "centered": True, "momentum": 0.5}),
]


def reference(name, options, steps):
    if name == "SGD":
        return sgd_reference(steps, **options)
    if name == "RMSprop":
        return rmsprop_reference(steps, **options)
    if name == "AdamW":
        return adam_reference(steps, decoupled=True, **{"weight_decay": 1e-2, **options})
    return adam_reference(steps, **options)


def case_id(case):
    name, options = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in options.items())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_three_steps_match_the_written_out_rule(device, case):
    name, options = case
    got, _ = run(lambda ps: getattr(optim, name)(ps, **options), device, steps=3)
    for g, want in zip(got, reference(name, options, steps=3), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


def test_amsgrad_case_exercises_the_running_max():
    plain = adam_reference(3, lr=0.01, betas=(0.8, 0.5))
    ams = adam_reference(3, lr=0.01, betas=(0.8, 0.5), amsgrad=True)
    assert not np.allclose(plain[0], ams[0])


def test_hand_computed_values():
    # SGD, momentum 0.9, lr 0.1, gradient 1 at every step: buffers 1, 1.9, 2.71.
    p = mg.tensor([1.0], dtype="float64", requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    seen = []
    for _ in range(3):
        p.grad = mg.tensor(np.ones(1), dtype="float64")
        opt.step()
        seen.append(p.item())
    np.testing.assert_allclose(seen, [0.9, 0.71, 0.439], rtol=1e-12)
    # Adam with a constant gradient g: m_hat = g and v_hat = g^2 at every step, so each step
    # moves by lr * g / (|g| + eps).
    p = mg.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
    opt = optim.Adam([p], lr=0.5, eps=1.0)
    for _ in range(3):
        p.grad = mg.tensor(np.array([2.0, -3.0]), dtype="float64")
        opt.step()
    np.testing.assert_allclose(p.numpy(), [-3 * 0.5 * 2 / 3, 3 * 0.5 * 3 / 4], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_matches_torch_optim(case, dtype):
    torch = pytest.importorskip("torch")
    name, options = case
    got, _ = run(lambda ps: getattr(optim, name)(ps, **options), "cpu", steps=3, dtype=dtype)
    params = [torch.tensor(v.astype(dtype), requires_grad=True) for v in initial_params()]
    opt = getattr(torch.optim, name)(params, **options)
    for step in range(3):
        for p, g in zip(params, grads_at(step), strict=True):
            p.grad = torch.tensor(g.astype(dtype))
        opt.step()
    tol = {"float64": 1e-10, "float32": 1e-5}[dtype]
    for g, p in zip(got, params, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=tol, atol=tol)


def test_param_groups_use_their_own_options(device):
    def make(ps):
        return optim.SGD([{"params": [ps[0]]},
                          {"params": [ps[1]], "lr": 0.01, "momentum": 0.5}],
                         lr=0.1, momentum=0.9)

    got, opt = run(make, device, steps=3)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0.5
    np.testing.assert_allclose(got[0], sgd_reference(3, lr=0.1, momentum=0.9)[0], rtol=1e-10)
    np.testing.assert_allclose(got[1], sgd_reference(3, lr=0.01, momentum=0.5)[1], rtol=1e-10)


STATEFUL = [c for c in CASES if c[0] != "SGD" or "momentum" in c[1]]


@pytest.mark.parametrize("case", STATEFUL, ids=[case_id(c) for c in STATEFUL])
def test_state_dict_resumes_exactly(device, case):
    name, options = case

    def make(ps):
        return getattr(optim, name)(ps, **options)

    straight, _ = run(make, device, steps=5)
    first, opt = run(make, device, steps=3)
    state = opt.state_dict()
    resumed, opt2 = run(make, device, steps=2, values=first, opt_state=state)
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # The loaded buffers are copies: stepping the new optimizer left the old one's alone.
    for p_old, p_new in zip(opt.param_groups[0]["params"], opt2.param_groups[0]["params"],
                            strict=True):
        for key, old in opt.state[p_old].items():
            if not isinstance(old, int):
                assert opt2.state[p_new][key] is not old


def test_state_dict_layout():
    w = mg.zeros(2, 3, requires_grad=True)
    b = mg.zeros(3, requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
    w.grad = mg.ones(2, 3)  # b gets no gradient, hence no state
    opt.step()
    state = opt.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in state["param_groups"]] == [0.01, 0.1]
    assert list(state["state"]) == [0]
    assert state["state"][0]["step"] == 1
    assert isinstance(state["state"][0]["exp_avg"], mg.Tensor)
    np.testing.assert_allclose(state["state"][0]["exp_avg"].numpy(), 0.1, rtol=1e-6)


def test_load_state_dict_moves_buffers_to_each_parameters_device(device):
    _, cpu_opt = run(lambda ps: optim.Adam(ps, lr=0.01), "cpu", steps=3)
    target = [mg.tensor(v, device=device, requires_grad=True) for v in initial_params()]
    opt = optim.Adam(target, lr=0.5)
    opt.load_state_dict(cpu_opt.state_dict())
    assert opt.param_groups[0]["lr"] == 0.01
    for p in target:
        assert device_of(opt.state[p]["exp_avg"]) is p.device
        assert p.device.canonical(opt.state[p]["exp_avg_sq"].dtype) == np.float64


def test_load_state_dict_accepts_string_positions():
    # As a JSON round trip of the state dict would give.
    _, opt = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), "cpu", steps=2)
    state = opt.state_dict()
    state["state"] = {str(k): v for k, v in state["state"].items()}
    for group in state["param_groups"]:
        group["params"] = [str(k) for k in group["params"]]
    params = [mg.tensor(v, requires_grad=True) for v in initial_params()]
    opt2 = optim.SGD(params, lr=0.1, momentum=0.9)
    opt2.load_state_dict(state)
    np.testing.assert_array_equal(
        opt2.state[params[1]]["momentum_buffer"],
        opt.state[opt.param_groups[0]["params"][1]]["momentum_buffer"])


def test_load_state_dict_errors():
    _, opt = run(lambda ps: optim.Adam(ps), "cpu", steps=1)
    state = opt.state_dict()
    one_group = optim.Adam([mg.zeros(3, 4, dtype="float64", requires_grad=True)])
    with pytest.raises(ValueError, match="group 0: the loaded state has 2 parameters, this "
                                         "optimizer has 1"):
        one_group.load_state_dict(state)
    ps = [mg.zeros(*s, dtype="float64", requires_grad=True) for s in SHAPES]
    two_groups = optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]]}])
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        opt.load_state_dict(two_groups.state_dict())
    swapped = optim.Adam([mg.zeros(4, dtype="float64", requires_grad=True),
                          mg.zeros(3, 4, dtype="float64", requires_grad=True)])
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3, 4\), the "
                                         r"parameter has shape \(4,\)"):
        swapped.load_state_dict(state)
    assert swapped.state == {}  # nothing changed by the failed load


def test_float32_stays_float32_and_state_lives_on_the_device(device):
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                 lambda ps: optim.Adam(ps, weight_decay=0.1, amsgrad=True),
                 lambda ps: optim.AdamW(ps), lambda ps: optim.RMSprop(ps, centered=True,
                                                                       momentum=0.9)):
        p = mg.randn(5, 3, device=device, requires_grad=True)
        opt = make([p])
        for _ in range(2):
            p.grad = mg.randn(5, 3, device=device)
            opt.step()
        assert p.dtype == np.float32
        for buf in opt.state[p].values():
            if not isinstance(buf, int):
                assert device_of(buf) is p.device
                assert p.device.canonical(buf.dtype) == np.float32


def test_gradients_are_not_modified(device):
    rng = np.random.default_rng(0)
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                 lambda ps: optim.Adam(ps, weight_decay=0.1), lambda ps: optim.AdamW(ps),
                 lambda ps: optim.RMSprop(ps, momentum=0.9, weight_decay=0.1)):
        p = mg.tensor(rng.standard_normal((4, 3)), device=device, requires_grad=True)
        opt = make([p])
        g = rng.standard_normal(3)
        for _ in range(2):
            # A broadcast gradient (as sum's backward makes) aliases one row 4 times.
            p.grad = mg.tensor(g, device=device).broadcast_to((4, 3))
            if device == "cpu":
                assert not p.grad.data.flags.writeable
            opt.step()
            np.testing.assert_array_equal(mg.to_numpy(p.grad), np.broadcast_to(g, (4, 3)))


def test_zero_grad_and_parameters_without_gradient(device):
    a = mg.ones(3, device=device, requires_grad=True)
    b = mg.ones(3, device=device, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.ones(3, device=device)
    opt.step()
    np.testing.assert_allclose(a.numpy(), 0.9, rtol=1e-6)
    np.testing.assert_array_equal(b.numpy(), 1.0)
    assert b not in opt.state or not opt.state[b]
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_with_closure():
    w = mg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(1)
        return loss

    with mg.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert calls == [1] and loss.item() == 9.0
    np.testing.assert_allclose(w.numpy(), [3.0 - 0.25 * 6.0])


def test_constructor_errors():
    w = mg.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([w, w])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([w * 2])
    with pytest.raises(TypeError, match="optimizers update tensors"):
        optim.Adam([np.zeros(2)])
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must be two numbers"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="alpha must be in"):
        optim.RMSprop([{"params": [w], "alpha": 2.0}])


def test_adam_on_a_quadratic_converges(device):
    # A real loop through backward: minimize |x - target|^2.
    target = np.array([1.0, -2.0, 3.0], np.float32)
    x = mg.zeros(3, device=device, requires_grad=True)
    t = mg.tensor(target, device=device)
    opt = optim.Adam([x], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        ((x - t) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(x.numpy(), target, atol=1e-3)


# -- gradient clipping ------------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_against_numpy(device, norm_type):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s) for s in [(4, 5), (5,), (2, 2, 2)]]
    flat = np.concatenate([g.ravel() for g in grads])
    total = (np.abs(flat).max() if norm_type == math.inf
             else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type))
    for max_norm in (total / 3, total * 2):
        params = [mg.zeros(*g.shape, dtype="float64", device=device, requires_grad=True)
                  for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = mg.tensor(g, device=device)
        got = optim.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        assert isinstance(got, mg.Tensor) and got.shape == () and got.device == device
        np.testing.assert_allclose(got.item(), total, rtol=1e-12)
        scale = min(1.0, max_norm / (total + 1e-6))
        for p, g in zip(params, grads, strict=True):
            np.testing.assert_allclose(mg.to_numpy(p.grad), g * scale, rtol=1e-12)


def test_clip_grad_norm_keeps_dtype_and_skips_missing_grads(device):
    a = mg.zeros(3, device=device, requires_grad=True)
    b = mg.zeros(2, device=device, requires_grad=True)
    a.grad = mg.tensor([3.0, 0.0, 4.0], device=device)
    original = a.grad
    total = optim.clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(total.item(), 5.0, rtol=1e-6)
    np.testing.assert_allclose(mg.to_numpy(a.grad), [0.6, 0.0, 0.8], rtol=1e-5)
    assert a.device.canonical(a.grad.dtype) == np.float32 and b.grad is None
    np.testing.assert_array_equal(mg.to_numpy(original), [3.0, 0.0, 4.0])  # replaced, not changed
    assert optim.clip_grad_norm_([b], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the default scales by inf
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_clip_grad_norm_error_if_nonfinite(device, bad):
    a = mg.zeros(3, device=device, requires_grad=True)
    a.grad = mg.tensor([3.0, bad, 4.0], device=device)
    with pytest.raises(RuntimeError, match=f"total norm of order 2.0 of the gradients is {bad}"):
        optim.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(mg.to_numpy(a.grad), [3.0, bad, 4.0])  # left as they were
    # The default, as PyTorch's: no error, the gradients scaled by the non-finite norm.
    assert not np.isfinite(optim.clip_grad_norm_([a], 1.0).item())
    a.grad = mg.tensor([3.0, 0.0, 4.0], device=device)
    assert optim.clip_grad_norm_([a], 10.0, error_if_nonfinite=True).item() == pytest.approx(5.0)


def test_clip_grad_value(device):
    rng = np.random.default_rng(2)
    g = rng.standard_normal((6, 3))
    p = mg.zeros(6, 3, dtype="float64", device=device, requires_grad=True)
    p.grad = mg.tensor(g, device=device)
    optim.clip_grad_value_([p], 0.5)
    np.testing.assert_array_equal(mg.to_numpy(p.grad), np.clip(g, -0.5, 0.5))
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        optim.clip_grad_value_([p], -1.0)
