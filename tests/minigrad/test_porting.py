"""PyTorch programs run on minigrad with only the import changed.

Each model below is PyTorch's own code (pytorch/examples: mnist/main.py's ``Net``, vae/main.py's
``VAE`` and ``loss_function``), written once inside a function of the library
(``make_net(torch, nn, F)``) and built twice: with ``torch`` and with ``minigrad``. minigrad's
copy gets PyTorch's initial weights; then the loss, every parameter's gradient, and the
parameters after two optimizer steps must agree.

Also here, the two PyTorch behaviours those programs (and others) lean on that minigrad added
for them: ``sum``'s result dtypes and ``dtype=`` argument, and ``where(condition)``.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as mnn
import minigrad.nn.functional as MF

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

# Tolerances of the comparisons with PyTorch: float64 agrees to rounding; float32 (PyTorch's
# default dtype, what an unchanged program computes in) to its precision, the sums of the
# convolutions and of 9216-long dot products being taken in different orders.
RTOL = {"float64": 1e-9, "float32": 1e-5}


def _close(actual, expected, dtype: str, what: str = "", atol: float | None = None) -> None:
    """actual (a minigrad tensor) against expected (a torch tensor); for the elements near 0,
    ``atol`` (by default relative to the largest magnitude of expected)."""
    expected = expected.detach().numpy()
    if atol is None:
        atol = RTOL[dtype] * (float(np.max(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=RTOL[dtype], atol=atol,
                               err_msg=what)


# -- sum: PyTorch's result dtypes, and dtype= ---------------------------------------------------

INT_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_sum_of_integers_and_bools_is_int64(device, dtype):
    # PyTorch sums every integer and bool dtype to int64 (NumPy: uint64 for unsigned ints, the
    # array API: no bool at all)
    a = np.array([[True, False, True], [True, True, False]]).astype(dtype)
    x, t = mg.tensor(a, device=device), torch.from_numpy(a)
    for args, kwargs in [((), {}), ((0,), {}), ((), {"dim": 1, "keepdim": True})]:
        got, want = x.sum(*args, **kwargs), t.sum(*args, **kwargs)
        assert got.dtype == np.dtype("int64") and want.dtype == torch.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert mg.sum(x).item() == torch.sum(t).item()


@pytest.mark.parametrize("source, target", [
    ("float32", "float64"), ("float64", "float32"), ("int32", "float32"), ("int64", "int32"),
    ("float32", "int64"), ("bool", "float64"), ("uint8", "int64"), ("int32", "bool"),
    ("float64", "bool"),
])
def test_sum_dtype_casts_before_summing(device, source, target):
    # torch.sum(x, dtype=d) casts x to d first: 2.9 + 2.9 summed in int64 is 4, not int(5.8)
    a = np.array([[2.9, 0.0, 2.9], [1.0, 300.0, -0.5]])
    if source == "bool" or source.startswith("u"):
        a = np.abs(a)
    a = a.astype(source)
    x, t = mg.tensor(a, device=device), torch.from_numpy(a)
    for axis in [None, 0, (0, 1)]:
        kw = {} if axis is None else {"dim": axis}
        got = mg.sum(x, dtype=getattr(mg, target) if target != "bool" else "bool", **kw)
        want = torch.sum(t, dtype=getattr(torch, target), **kw)
        assert got.dtype == np.dtype(target)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    # the method, and minigrad's own spelling of the arguments
    want = t.sum(dim=1, keepdim=True, dtype=getattr(torch, target)).numpy()
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True, dtype=target).numpy(), want, rtol=1e-6)


def test_sum_dtype_is_differentiable_between_floats(device):
    # float32 summed in float64: the gradient comes back in float32, as PyTorch's
    a = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    x = mg.tensor(a, device=device, requires_grad=True)
    t = torch.from_numpy(a).requires_grad_()
    got = x.sum(dim=0, dtype=mg.float64)
    want = t.sum(dim=0, dtype=torch.float64)
    assert got.dtype == np.dtype("float64")
    (got * mg.tensor(np.arange(4.0), device=device)).sum().backward()
    (want * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    assert x.grad.dtype == np.dtype("float32")
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_sum_gradcheck(device):
    x = mg.tensor(np.random.default_rng(1).standard_normal((2, 3, 4)), device=device,
                  requires_grad=True)
    assert mg.gradcheck(lambda t: t.sum(dim=(0, 2), keepdim=True, dtype=mg.float64) ** 2, (x,))
    assert mg.gradcheck(lambda t: mg.sum(t, 1, dtype="float64"), (x,))
    # the cast inside: float64 -> float32 -> float64 (values in float32 precision, so the
    # finite differences need a larger step)
    assert mg.gradcheck(lambda t: t.to(mg.float32).sum(dim=1, dtype=mg.float64), (x,),
                        eps=1e-3, atol=1e-3)
    assert mg.gradgradcheck(lambda t: (t * t).sum(dim=-1, dtype=mg.float64), (x,))


def test_sum_to_an_integer_dtype_refuses_a_tensor_that_requires_grad(device):
    x = mg.tensor(np.array([1.5, 2.5]), device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.sum(dtype=mg.int64)
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.tensor([1.5, 2.5], requires_grad=True).sum(dtype=torch.int64)
    with mg.no_grad():
        assert x.sum(dtype=mg.int64).item() == 3
    assert x.detach().sum(dtype="int64").item() == 3


# -- where(condition) = nonzero(condition, as_tuple=True) ---------------------------------------

@pytest.mark.parametrize("values", [
    [[0, 1, 0], [2, 0, 3]], [[True, False], [False, True]], [0.0, -1.5, 0.0, 2.0], [[0, 0]], 5,
    0,
])
def test_where_with_only_a_condition_gives_the_indices(device, values):
    a = np.array(values)
    got = mg.where(mg.tensor(a, device=device))
    want = torch.where(torch.from_numpy(a))
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.dtype("int64")
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_where_needs_both_values_or_neither(device):
    c = mg.tensor(np.array([True, False]), device=device)
    with pytest.raises(TypeError, match="both a and b"):
        mg.where(c, mg.tensor(np.array([1.0, 2.0]), device=device))
    with pytest.raises(TypeError):
        mg.where([True, False])  # not a tensor


def test_pow_method(device):
    # the VAE's mu.pow(2): the method PyTorch code writes beside x ** 2
    a = np.array([[-1.5, 0.0, 2.0]])
    x = mg.tensor(a, device=device, requires_grad=True)
    t = torch.from_numpy(a).requires_grad_()
    x.pow(2).sum().backward()
    t.pow(2).sum().backward()
    np.testing.assert_array_equal(x.pow(3).detach().numpy(), t.pow(3).detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# -- the programs -------------------------------------------------------------------------------

def make_net(torch, nn, F):
    """pytorch/examples mnist/main.py's Net, verbatim: ``torch`` is torch or minigrad."""

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()  # noqa: UP008  (the example's spelling)
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    return Net


def make_vae(torch, nn, F):
    """pytorch/examples vae/main.py's VAE and loss_function, verbatim."""

    class VAE(nn.Module):
        def __init__(self):
            super(VAE, self).__init__()  # noqa: UP008

            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5*logvar)
            eps = torch.randn_like(std)
            return mu + eps*std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    # Reconstruction + KL divergence losses summed over all elements and batch
    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

        # see Appendix B from VAE paper:
        # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
        # https://arxiv.org/abs/1312.6114
        # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

        return BCE + KLD

    return VAE, loss_function


class FixedNoise:
    """The library as the program sees it (``torch``), except that ``randn_like`` returns the
    test's noise ``eps``: the same numbers in both libraries, so the two runs can agree."""

    def __init__(self, library, as_tensor):
        self._library = library
        self._as_tensor = as_tensor  # (array, like) -> a tensor of the library like ``like``
        self.eps = None

    def __getattr__(self, name):
        return getattr(self._library, name)

    def randn_like(self, like):
        assert self.eps.shape == tuple(like.shape)
        return self._as_tensor(self.eps, like)


def _twin(torch_model: "tnn.Module", mg_model: mnn.Module, dtype: str, device: str):
    """Both models in ``dtype``, minigrad's on ``device`` with PyTorch's weights."""
    torch_model.to(getattr(torch, dtype))
    mg_model.to(device, getattr(mg, dtype))
    state = {name: t.detach().numpy() for name, t in torch_model.state_dict().items()}
    assert list(state) == list(mg_model.state_dict())  # the same names, in the same order
    mg_model.load_state_dict(state)


def _same_parameters(mg_model, torch_model, dtype, what: str, grads: bool = False,
                     atol: float | None = None) -> None:
    mine = dict(mg_model.named_parameters())
    for name, p in torch_model.named_parameters():
        if grads:
            _close(mine[name].grad, p.grad, dtype, f"{what}: gradient of {name}", atol)
        else:
            _close(mine[name], p, dtype, f"{what}: {name}", atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mnist_convnet_matches_pytorch(device, dtype):
    torch.manual_seed(0)
    torch_net = make_net(torch, tnn, TF)()
    mg_net = make_net(mg, mnn, MF)()
    _twin(torch_net, mg_net, dtype, device)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((8, 1, 28, 28)).astype(dtype)
    labels = rng.integers(0, 10, 8)
    x_t, y_t = torch.from_numpy(images), torch.from_numpy(labels)
    x_m, y_m = mg.tensor(images, device=device), mg.tensor(labels, device=device)

    # eval mode: dropout off; the loss and every gradient
    torch_net.eval()
    mg_net.eval()
    want = TF.nll_loss(torch_net(x_t), y_t)
    got = MF.nll_loss(mg_net(x_m), y_m)
    _close(got, want, dtype, "eval loss")
    want.backward()
    got.backward()
    _same_parameters(mg_net, torch_net, dtype, "eval", grads=True)

    # train mode with dropout p = 0 (its masks are random: no two libraries draw the same),
    # two steps of SGD with momentum (the example's Adadelta is not in minigrad)
    for model in (torch_net, mg_net):
        model.train()
        model.dropout1.p = model.dropout2.p = 0.0
    torch_opt = torch.optim.SGD(torch_net.parameters(), lr=0.05, momentum=0.9)
    mg_opt = mg.optim.SGD(mg_net.parameters(), lr=0.05, momentum=0.9)
    for step in range(2):
        torch_opt.zero_grad()
        mg_opt.zero_grad()
        want = TF.nll_loss(torch_net(x_t), y_t)
        got = MF.nll_loss(mg_net(x_m), y_m)
        _close(got, want, dtype, f"train loss, step {step}")
        want.backward()
        got.backward()
        _same_parameters(mg_net, torch_net, dtype, f"train step {step}", grads=True)
        torch_opt.step()
        mg_opt.step()
        _same_parameters(mg_net, torch_net, dtype, f"after SGD step {step}")


def _vae_pair(dtype, device):
    """(torch's VAE, loss_function, noise), (minigrad's ...), with PyTorch's weights in both."""
    torch_lib = FixedNoise(torch, lambda a, like: torch.from_numpy(a).to(like.dtype))
    mg_lib = FixedNoise(mg, lambda a, like: mg.tensor(a, dtype=like.dtype, device=like.device))
    torch.manual_seed(0)
    torch_vae, torch_loss = make_vae(torch_lib, tnn, TF)
    mg_vae, mg_loss = make_vae(mg_lib, mnn, MF)
    torch_model, mg_model = torch_vae(), mg_vae()
    _twin(torch_model, mg_model, dtype, device)
    return (torch_model, torch_loss, torch_lib), (mg_model, mg_loss, mg_lib)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vae_matches_pytorch(device, dtype):
    (torch_model, torch_loss, torch_lib), (mg_model, mg_loss, mg_lib) = _vae_pair(dtype, device)
    rng = np.random.default_rng(0)
    images = rng.random((8, 1, 28, 28)).astype(dtype)  # pixel intensities in [0, 1], as MNIST
    x_t, x_m = torch.from_numpy(images), mg.tensor(images, device=device)
    lr = 1e-3
    torch_opt = torch.optim.Adam(torch_model.parameters(), lr=lr)  # the example's optimizer
    mg_opt = mg.optim.Adam(mg_model.parameters(), lr=lr)
    # Adam moves each weight by about lr * g / (|g| + eps): for a gradient element near 0,
    # where float32's rounding (the two libraries sum in different orders) is a large
    # relative error, that is a visibly different fraction of lr (about 1% of it on one weight
    # of fc1 here). float32's parameters are therefore compared to within 5% of one step;
    # float64's at the tight tolerance.
    step_atol = 0.05 * lr if dtype == "float32" else None
    for step in range(2):
        torch_lib.eps = mg_lib.eps = rng.standard_normal((8, 20)).astype(dtype)
        torch_opt.zero_grad()
        mg_opt.zero_grad()
        recon_t, mu_t, logvar_t = torch_model(x_t)
        recon_m, mu_m, logvar_m = mg_model(x_m)
        _close(recon_m, recon_t, dtype, f"reconstruction, step {step}")
        want = torch_loss(recon_t, x_t, mu_t, logvar_t)
        got = mg_loss(recon_m, x_m, mu_m, logvar_m)
        _close(got, want, dtype, f"loss, step {step}")
        want.backward()
        got.backward()
        _same_parameters(mg_model, torch_model, dtype, f"step {step}", grads=True)
        torch_opt.step()
        mg_opt.step()
        _same_parameters(mg_model, torch_model, dtype, f"after Adam step {step}", atol=step_atol)


def test_vae_runs_unchanged_with_minigrads_own_noise(device):
    # without the test's fixed noise: minigrad's own randn_like, as the ported program runs
    VAE, loss_function = make_vae(mg, mnn, MF)
    mg.manual_seed(0)
    model = VAE().to(device)
    x = mg.tensor(np.random.default_rng(0).random((4, 1, 28, 28)).astype("float32"),
                  device=device)
    recon, mu, logvar = model(x)
    loss = loss_function(recon, x, mu, logvar)
    assert recon.shape == (4, 784) and loss.dtype == np.dtype("float32")
    loss.backward()
    assert all(p.grad is not None and np.all(np.isfinite(p.grad.numpy()))
               for p in model.parameters())
