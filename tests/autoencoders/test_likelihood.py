"""The importance-weighted log-likelihood, checked against log p(x) integrated numerically
over the latent space of models small enough for it; and the other generative measures:
rate/distortion and the aggregate-posterior mixture prior."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp

import minigrad as mg
from autoencoders import metrics
from autoencoders.aggregate_prior import (
    fit_aggregate_posterior,
    posterior_codes,
    prior_log_likelihoods,
    sample_aggregate_posterior,
)
from autoencoders.datasets import load_dataset
from autoencoders.likelihood import log_likelihood
from autoencoders.models import VAE, vae_loss_fn
from autoencoders.rate_distortion import (
    plot_rate_distortion,
    rate_distortion,
    rate_distortion_curve,
)
from autoencoders.train import Trainer
from minigrad import optim


def small_vae(latent: int, seed: int = 0, device="cpu"):
    mg.manual_seed(seed)
    return VAE((6, 16, latent), activation="tanh").to(device, mg.float64)


def binary(n: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 6)) < 0.5).astype(np.float64)


def exact_log_likelihood(model, x: np.ndarray, latent: int, likelihood: str = "bernoulli",
                         sigma: float = 0.5) -> np.ndarray:
    """log p(x) = log integral p(x | z) N(z; 0, I) dz by the rectangle rule on a grid over
    [-8, 8]^latent (the prior's mass outside is below 1e-14; the integrand is smooth, so the
    rule's error is far below the tolerances used)."""
    points = 4001 if latent == 1 else 401
    axis = np.linspace(-8, 8, points)
    grid = np.stack(np.meshgrid(*[axis] * latent, indexing="ij"), -1).reshape(-1, latent)
    with mg.no_grad():
        logits = model.decode_logits(mg.tensor(grid)).numpy()
    if likelihood == "bernoulli":
        log_px_z = x @ logits.T - np.logaddexp(0, logits).sum(1)  # (N, G)
    else:  # N(x; sigmoid(logits), sigma^2 I)
        mean = 1 / (1 + np.exp(-logits))
        log_px_z = (-((x[:, None] - mean[None]) ** 2).sum(-1) / (2 * sigma**2)
                    - x.shape[1] * math.log(sigma * math.sqrt(2 * math.pi)))
    log_pz = -0.5 * (grid**2).sum(1) - 0.5 * latent * math.log(2 * math.pi)
    cell = (axis[1] - axis[0]) ** latent
    return logsumexp(log_px_z + log_pz, axis=1) + math.log(cell)


@pytest.mark.parametrize("latent, likelihood", [(1, "bernoulli"), (2, "bernoulli"),
                                                (1, "gaussian")])
def test_converges_to_the_numerical_integral(latent, likelihood):
    model = small_vae(latent)
    x = binary(8) if likelihood == "bernoulli" else np.random.default_rng(2).random((8, 6))
    exact = exact_log_likelihood(model, x, latent, likelihood, sigma=0.5)
    errors = {}
    for k in (10, 100, 20000):
        estimate = log_likelihood(model, x, k=k, batch_size=4, k_batch=2000,
                                  likelihood=likelihood, sigma=0.5)
        errors[k] = np.abs(estimate.per_example - exact)
    # With many samples, each estimate is within 5 of its own standard errors (plus the bias,
    # about se^2 / 2). (With few, the SE is no guide: a sample that missed the rare large
    # weights underestimates both log p(x) and the weights' spread.)
    assert (errors[20000] <= 5 * estimate.se + estimate.se**2).all(), (errors[20000],
                                                                      estimate.se)
    assert errors[20000].max() < 0.02
    assert errors[20000].mean() < errors[100].mean() < errors[10].mean()


def test_k_samples_on_average_bound_from_below():
    """log p_k is biased low (Jensen): averaged over 200 seeds at k = 3, below log p(x)."""
    model, x = small_vae(1), binary(4)
    exact = exact_log_likelihood(model, x, 1)
    runs = np.stack([log_likelihood(model, x, k=3, seed=s).per_example for s in range(200)])
    gap = exact - runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / math.sqrt(len(runs))
    assert (gap > -3 * se).all() and gap.mean() > 0, (gap, se)


def test_batching_equals_one_batch(device):
    model, x = small_vae(2, device=device), binary(7)
    one = log_likelihood(model, x, k=300, batch_size=7, k_batch=300, seed=5)
    for batch_size, k_batch in [(1, 300), (3, 7), (2, 128), (7, 1)]:
        other = log_likelihood(model, x, k=300, batch_size=batch_size, k_batch=k_batch, seed=5)
        np.testing.assert_allclose(other.per_example, one.per_example, rtol=0, atol=1e-10)
        np.testing.assert_allclose(other.se, one.se, rtol=0, atol=1e-10)
    # A different seed draws other samples; a prefix of x gets the same numbers.
    assert not np.allclose(log_likelihood(model, x, k=300, seed=6).per_example,
                           one.per_example)
    np.testing.assert_allclose(log_likelihood(model, x[:3], k=300, seed=5).per_example,
                               one.per_example[:3], rtol=0, atol=1e-10)


def test_standard_error_matches_the_spread_of_repeated_estimates():
    """The delta-method SE of one estimate (k = 200) predicts the standard deviation of 300
    repeated estimates with other seeds to within 20 %."""
    model, x = small_vae(1), binary(3)
    runs = [log_likelihood(model, x, k=200, seed=s) for s in range(300)]
    spread = np.stack([r.per_example for r in runs]).std(axis=0, ddof=1)
    predicted = np.stack([r.se for r in runs]).mean(axis=0)
    np.testing.assert_allclose(predicted, spread, rtol=0.2)


def test_summary_and_reexport():
    assert metrics.log_likelihood is log_likelihood
    model, x = small_vae(1), binary(5)
    result = metrics.log_likelihood(model, x, k=50)
    summary = result.summary()
    assert summary["k"] == 50 and summary["n"] == 5
    assert summary["log_likelihood"] == pytest.approx(result.per_example.mean())
    assert summary["mc_se"] == pytest.approx(np.sqrt((result.se**2).sum()) / 5)
    assert summary["data_se"] > 0
    assert np.isnan(log_likelihood(model, x, k=1).se).all()  # no spread from one sample
    assert model.training  # the mode is restored


# -- rate / distortion and the sampling gap: one small VAE trained on the 8x8 digits ----------

@pytest.fixture(scope="module")
def digits_vae():
    data = load_dataset("digits")
    x_train, x_test = data.x_train.reshape(-1, 64), data.x_test.reshape(-1, 64)
    models = {}
    for beta in (0.5, 4.0):
        mg.manual_seed(0)
        model = VAE((64, 64, 4))
        Trainer(model, vae_loss_fn(beta=beta), optim.Adam(model.parameters(), lr=3e-3),
                progress=False, verbose=False).fit((x_train,), epochs=6, batch_size=64)
        models[beta] = model
    return models, x_train, x_test


def test_rate_distortion(digits_vae, tmp_path):
    models, _, x_test = digits_vae
    rows = rate_distortion_curve([0.5, 4.0], models, x_test, samples=2)
    low, high = rows
    assert [r["beta"] for r in rows] == [0.5, 4.0]
    # A larger beta trades distortion for rate.
    assert high["rate"] < low["rate"] and high["distortion"] > low["distortion"]
    for r in rows:
        assert r["neg_elbo"] == pytest.approx(r["rate"] + r["distortion"])
    # It is the negative ELBO the trainer reports (the rate exactly, the distortion to MC).
    trainer = Trainer(models[0.5], vae_loss_fn(), optim.SGD(models[0.5].parameters(), lr=0),
                      progress=False, verbose=False)
    evaluated = trainer.evaluate((x_test,))
    assert low["rate"] == pytest.approx(evaluated["kl"], rel=1e-4)
    assert low["distortion"] == pytest.approx(evaluated["recon"], rel=0.05)
    # Repeatable (seeded), and a callback works like a mapping.
    assert rate_distortion(models[4.0], x_test, samples=2) == {
        k: v for k, v in high.items() if k != "beta"}
    assert rate_distortion_curve([4.0], models.__getitem__, x_test, samples=2) == [high]
    assert plot_rate_distortion(rows, tmp_path / "rd.png").stat().st_size > 0


def test_aggregate_posterior_mixture_beats_the_standard_normal(digits_vae):
    models, x_train, x_test = digits_vae
    model = models[0.5]
    mixture = fit_aggregate_posterior(model, x_train, components=10, use="mean")
    samples = sample_aggregate_posterior(model, mixture, 30, seed=0)
    assert samples.shape == (30, 64) and ((samples >= 0) & (samples <= 1)).all()
    np.testing.assert_array_equal(samples, sample_aggregate_posterior(model, mixture, 30, 0))
    # On held-out codes (the test digits' means) the mixture is the better density.
    scores = prior_log_likelihoods(posterior_codes(model, x_test), mixture)
    assert scores["mixture"] > scores["standard_normal"], scores
    sampled = posterior_codes(model, x_test, use="sample", seed=0)
    assert sampled.shape == (len(x_test), 4) and not np.allclose(sampled,
                                                                 posterior_codes(model, x_test))
