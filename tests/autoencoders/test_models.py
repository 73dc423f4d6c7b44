"""The autoencoders: shapes, gradients by finite differences on every device (the project's
end-to-end proof), the reparameterization trick and the VAE loss against NumPy."""

import math

import numpy as np
import pytest
from scipy import integrate

import minigrad as mg
from autoencoders.models import (
    VAE,
    ConvAutoencoder,
    ConvVAE,
    MLPAutoencoder,
    autoencoder_loss_fn,
    vae_loss,
    vae_loss_fn,
)


def _images(rng, device, shape, dtype=mg.float64):
    return mg.tensor(rng.random(shape), dtype=dtype, device=device, requires_grad=True)


def _stable_bce_logits(logits, x):
    """-x log sigmoid(l) - (1 - x) log(1 - sigmoid(l)) in NumPy, via logaddexp."""
    return np.logaddexp(0, -logits) * x + np.logaddexp(0, logits) * (1 - x)


# -- shapes ---------------------------------------------------------------------------------------

def test_mlp_autoencoder_shapes_and_mirror():
    model = MLPAutoencoder((784, 1000, 500, 250, 30))
    x = mg.rand(5, 28, 28)  # any shape (N, ...) is flattened
    z = model.encode(x)
    assert z.shape == (5, 30)
    out = model(x)
    assert out.shape == (5, 784)
    assert 0 <= out.numpy().min() and out.numpy().max() <= 1
    n_params = sum(p.numel() for p in model.parameters())
    one_way = 784 * 1000 + 1000 * 500 + 500 * 250 + 250 * 30
    assert n_params == 2 * one_way + (1000 + 500 + 250 + 30) + (250 + 500 + 1000 + 784)


def test_mlp_autoencoder_other_output_size_and_linear_output():
    model = MLPAutoencoder((196, 64, 8), out_features=784, output="linear")
    out = model(mg.rand(3, 196))
    assert out.shape == (3, 784)
    assert out.numpy().min() < 0  # no sigmoid


@pytest.mark.parametrize("size, channels", [(28, (32, 64)), (8, (2, 3)), (7, (4,)),
                                            ((12, 10), (3, 5, 6))])
def test_conv_autoencoder_returns_input_size(size, channels):
    model = ConvAutoencoder(1, channels, latent_dim=5, image_size=size)
    h, w = (size, size) if isinstance(size, int) else size
    x = mg.rand(2, 1, h, w)
    assert model.encode(x).shape == (2, 5)
    assert model(x).shape == (2, 1, h, w)


def test_conv_autoencoder_other_channels_and_size():
    color = ConvAutoencoder(in_channels=1, out_channels=3, channels=(8, 16), latent_dim=32,
                            image_size=32)
    assert color(mg.rand(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    upscale = ConvAutoencoder(1, (8, 16), 10, image_size=14, out_image_size=28)
    assert upscale(mg.rand(2, 1, 14, 14)).shape == (2, 1, 28, 28)


def test_vae_shapes():
    vae = VAE((784, 400, 20))
    x = mg.rand(4, 784)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, 20)
    logits, mu, logvar = vae(x)
    assert logits.shape == (4, 784)
    assert vae.sample(3).shape == (3, 784)
    conv = ConvVAE(1, (4, 8), latent_dim=2, image_size=28)
    logits, mu, logvar = conv(mg.rand(2, 1, 28, 28))
    assert logits.shape == (2, 1, 28, 28) and mu.shape == (2, 2)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPAutoencoder((4, 3, 2), activation="swish")
    with pytest.raises(ValueError, match="output must be one of"):
        MLPAutoencoder((4, 2), output="softmax")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        vae_loss(mg.zeros(1, 2), mg.zeros(1, 2), mg.zeros(1, 1), mg.zeros(1, 1), "poisson")
    linear = MLPAutoencoder((4, 2), output="linear")
    with pytest.raises(ValueError, match="needs a model with output=\"sigmoid\""):
        autoencoder_loss_fn("bce")(linear, (mg.rand(2, 4),))


# -- gradients: the end-to-end proof --------------------------------------------------------------

def _check(device, loss_of, model, x, fast):
    """gradcheck of the scalar loss w.r.t. the input and every parameter."""
    params = list(model.parameters())
    assert all(p.dtype == mg.float64 and p.device == mg.device(device) for p in params)
    assert mg.gradcheck(loss_of, (x,), params=params, fast=fast, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kind", ["bce", "mse"])
def test_gradcheck_mlp_autoencoder(device, rng, kind):
    mg.manual_seed(1)
    model = MLPAutoencoder((16, 8, 4)).to(device, mg.float64)
    x = _images(rng, device, (3, 16))
    loss_fn = autoencoder_loss_fn(kind)
    _check(device, lambda x: loss_fn(model, (x,))[0], model, x, fast=device != "cpu")


def test_gradcheck_mlp_autoencoder_with_other_targets(device, rng):
    mg.manual_seed(2)
    model = MLPAutoencoder((4, 6, 3), out_features=16, activation="tanh").to(device, mg.float64)
    x = _images(rng, device, (2, 4))
    target = mg.tensor(rng.random((2, 16)), device=device)
    loss_fn = autoencoder_loss_fn("bce")
    _check(device, lambda x: loss_fn(model, (x, target))[0], model, x, fast=device != "cpu")


def test_gradcheck_conv_autoencoder(device, rng):
    mg.manual_seed(3)
    model = ConvAutoencoder(1, (2, 3), latent_dim=3, image_size=8).to(device, mg.float64)
    x = _images(rng, device, (2, 1, 8, 8))
    loss_fn = autoencoder_loss_fn("bce")
    _check(device, lambda x: loss_fn(model, (x,))[0], model, x, fast=device != "cpu")


def test_gradcheck_conv_autoencoder_colour_odd_size(device, rng):
    mg.manual_seed(4)
    model = ConvAutoencoder(1, (2,), latent_dim=2, image_size=5, out_channels=3)
    model.to(device, mg.float64)
    x = _images(rng, device, (2, 1, 5, 5))
    target = mg.tensor(rng.random((2, 3, 5, 5)), device=device)
    loss_fn = autoencoder_loss_fn("mse")
    _check(device, lambda x: loss_fn(model, (x, target))[0], model, x, fast=True)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_gradcheck_vae_with_fixed_noise(device, rng, likelihood):
    mg.manual_seed(5)
    model = VAE((16, 8, 2)).to(device, mg.float64)
    x = _images(rng, device, (3, 16))
    eps = mg.tensor(rng.standard_normal((3, 2)), device=device)

    def loss_of(x):
        logits, mu, logvar = model(x, eps=eps)
        return vae_loss(logits, x, mu, logvar, likelihood, sigma=0.3)[0]

    _check(device, loss_of, model, x, fast=device != "cpu")


def test_gradcheck_conv_vae_with_fixed_noise(device, rng):
    mg.manual_seed(6)
    model = ConvVAE(1, (2, 3), latent_dim=2, image_size=8).to(device, mg.float64)
    x = _images(rng, device, (2, 1, 8, 8))
    eps = mg.tensor(rng.standard_normal((2, 2)), device=device)

    def loss_of(x):
        logits, mu, logvar = model(x, eps=eps)
        return vae_loss(logits, x, mu, logvar)[0]

    _check(device, loss_of, model, x, fast=device != "cpu")


# -- the VAE against NumPy -----------------------------------------------------------------------

def test_reparameterization_with_injected_noise(device, rng):
    mg.manual_seed(7)
    model = VAE((16, 8, 3)).to(device, mg.float64)
    x = mg.tensor(rng.random((4, 16)), device=device)
    eps = rng.standard_normal((4, 3))
    mu, logvar = (t.numpy() for t in model.encode(x))
    z = model.reparameterize(*model.encode(x), eps=mg.tensor(eps, device=device))
    np.testing.assert_allclose(z.numpy(), mu + np.exp(logvar / 2) * eps, rtol=1e-12)
    logits, _, _ = model(x, eps=mg.tensor(eps, device=device))
    np.testing.assert_allclose(logits.numpy(), model.decode_logits(z).numpy(), rtol=1e-12)
    # Without eps, the noise comes from the device's seeded generator: repeatable.
    mg.manual_seed(3)
    first = model(x)[0].numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(model(x)[0].numpy(), first)
    assert not np.allclose(model(x)[0].numpy(), first)


def test_vae_loss_matches_numpy(device, rng):
    n, d, k = 5, 12, 3
    logits = rng.standard_normal((n, d)) * 4
    x = rng.random((n, d))
    mu, logvar = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    kl = 0.5 * np.sum(mu**2 + np.exp(logvar) - 1 - logvar) / n
    t = {name: mg.tensor(a, device=device) for name, a in
         dict(logits=logits, x=x, mu=mu, logvar=logvar).items()}

    loss, recon, kl_t = vae_loss(t["logits"], t["x"], t["mu"], t["logvar"])
    bce = _stable_bce_logits(logits, x).sum() / n
    np.testing.assert_allclose([loss.item(), recon.item(), kl_t.item()], [bce + kl, bce, kl],
                               rtol=1e-12)

    probs = 1 / (1 + np.exp(-logits))
    _, recon_p, _ = vae_loss(mg.tensor(probs, device=device), t["x"], t["mu"], t["logvar"],
                             from_logits=False)
    np.testing.assert_allclose(recon_p.item(), bce, rtol=1e-9)

    sigma = 0.2
    _, recon_g, _ = vae_loss(t["logits"], t["x"], t["mu"], t["logvar"], "gaussian", sigma=sigma)
    gauss = -np.sum(-((x - probs) ** 2) / (2 * sigma**2) - np.log(sigma * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(recon_g.item(), gauss / n, rtol=1e-12)


def test_kl_term_is_the_kl_divergence_by_numerical_integration():
    """KL(N(mu, s^2) || N(0, 1)) as the integral of q log(q / p), independent of the formula."""
    mu, logvar = np.array([[0.7, -1.2]]), np.array([[-0.5, 0.9]])
    expected = 0.0
    for m, lv in zip(mu[0], logvar[0], strict=True):
        s = math.exp(lv / 2)

        def integrand(z, m=m, s=s):
            log_q = -0.5 * ((z - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))
            log_p = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
            return math.exp(log_q) * (log_q - log_p)

        expected += integrate.quad(integrand, m - 12 * s, m + 12 * s)[0]
    zeros = mg.zeros(1, 2, dtype=mg.float64)
    _, _, kl = vae_loss(zeros, zeros, mg.tensor(mu), mg.tensor(logvar), "gaussian")
    assert kl.item() == pytest.approx(expected, rel=1e-8)


def test_vae_loss_fn_metrics_and_beta(rng):
    mg.manual_seed(8)
    model = VAE((16, 8, 2)).to("cpu", mg.float64)
    x = mg.tensor(rng.random((4, 16)))
    mg.manual_seed(0)
    loss1, m1 = vae_loss_fn()(model, (x,))
    mg.manual_seed(0)
    loss4, m4 = vae_loss_fn(beta=4.0)(model, (x,))
    assert loss1.item() == pytest.approx(m1["recon"].item() + m1["kl"].item(), rel=1e-12)
    assert loss4.item() == pytest.approx(m4["recon"].item() + 4 * m4["kl"].item(), rel=1e-12)
    assert m1["elbo"].item() == pytest.approx(-loss1.item(), rel=1e-12)


def test_autoencoder_loss_fn_per_image_metrics(rng):
    mg.manual_seed(9)
    model = MLPAutoencoder((16, 8, 4)).to("cpu", mg.float64)
    x = rng.random((6, 16))
    loss, metrics = autoencoder_loss_fn("bce")(model, (mg.tensor(x),))
    logits = model.decode_logits(model.encode(mg.tensor(x))).numpy()
    out = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(metrics["sq_error"].item(), np.sum((out - x) ** 2) / 6,
                               rtol=1e-12)
    np.testing.assert_allclose(loss.item(), _stable_bce_logits(logits, x).sum() / 6, rtol=1e-12)
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(), out, rtol=1e-12)
