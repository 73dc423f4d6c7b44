"""The importance-weighted bound (Burda et al. 2016) as a training objective, and the dynamic
binarization it is trained with."""

import math

import numpy as np
import pytest

import minigrad as mg
from autoencoders.binarize import binarize_fixed, dynamic_binarize
from autoencoders.datasets import load_dataset
from autoencoders.models import VAE, iwae_loss, iwae_loss_fn, log_importance_weights, vae_loss
from autoencoders.train import Trainer
from minigrad import optim


def tiny_vae(likelihood="bernoulli"):
    mg.manual_seed(0)
    return VAE((5, 4, 2), activation="tanh").to("cpu", mg.float64)


def binary(n=4, d=5, seed=0):
    return mg.tensor((np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.float64))


def test_k1_equals_the_elbo_with_the_same_noise():
    """At k = 1 the bound is log w = log p(x|z) + log p(z) - log q(z|x) for the one z: the
    reconstruction of ``vae_loss`` with the same z plus the sampled KL term, exactly."""
    model, x = tiny_vae(), binary()
    eps = mg.tensor(np.random.default_rng(1).standard_normal((1, 4, 2)))
    loss, log_w = iwae_loss(model, x, 1, eps)
    logits, mu, logvar = model(x, eps[0])
    _, recon, _ = vae_loss(logits, x, mu, logvar)
    z = (mu + (0.5 * logvar).exp() * eps[0]).numpy()
    mu, logvar = mu.numpy(), logvar.numpy()
    log_q = (-0.5 * (np.log(2 * np.pi) + logvar + (z - mu) ** 2 / np.exp(logvar))).sum(1)
    log_p = (-0.5 * (np.log(2 * np.pi) + z**2)).sum(1)
    sampled_kl = (log_q - log_p).mean()
    assert loss.item() == pytest.approx(recon.item() + sampled_kl, rel=1e-13)
    assert log_w.shape == (1, 4)
    # The "vae" objective (mean of log w) is the same number at k = 1.
    assert iwae_loss(model, x, 1, eps, objective="vae")[0].item() == pytest.approx(
        loss.item(), rel=1e-14)


def test_k1_matches_the_closed_form_elbo_in_expectation():
    """-L_1 = recon + (log q - log p) per draw; the sampled KL term averages to the closed
    form KL that ``vae_loss`` uses (within 4 standard errors over 20000 draws), so the two
    objectives agree in expectation."""
    model, x = tiny_vae(), binary()
    k = 20000
    eps = mg.tensor(np.random.default_rng(3).standard_normal((k, 4, 2)))
    log_w = log_importance_weights(model, x, k, eps).numpy()  # (k, 4): k draws of L_1
    mu, logvar = model.encode(x)
    logits = model.decode_logits((mu + (0.5 * logvar).exp() * eps).reshape(-1, 2)).numpy()
    logits = logits.reshape(k, 4, 5)
    recon = -(x.numpy() * logits - np.logaddexp(0, logits)).sum(-1)  # (k, 4)
    sampled_kl = (-log_w - recon).mean(axis=1)  # per draw, mean over the 4 inputs
    closed_kl = vae_loss(model.decode_logits(mu), x, mu, logvar)[2].item()
    se = sampled_kl.std(ddof=1) / math.sqrt(k)
    assert abs(sampled_kl.mean() - closed_kl) < 4 * se, (sampled_kl.mean(), closed_kl, se)


def test_the_bound_increases_with_k_in_expectation():
    """E L_1 < E L_5 < E L_50 <= log p(x): 400 independent estimates of each, seeded; the
    differences of the means exceed 4 standard errors."""
    model, x = tiny_vae(), binary(n=6)
    mg.manual_seed(0)
    means, ses = [], []
    for k in (1, 5, 50):
        bounds = np.stack([-iwae_loss(model, x, k)[0].item() for _ in range(400)])
        means.append(bounds.mean())
        ses.append(bounds.std(ddof=1) / math.sqrt(len(bounds)))
    for i in range(2):
        assert means[i + 1] - means[i] > 4 * math.hypot(ses[i], ses[i + 1]), (means, ses)


@pytest.mark.parametrize("objective", ["iwae", "vae"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_gradcheck_with_fixed_noise(objective, likelihood):
    model, x = tiny_vae(), binary()
    eps = mg.tensor(np.random.default_rng(2).standard_normal((3, 4, 2)))

    def loss():
        return iwae_loss(model, x, 3, eps, likelihood=likelihood, sigma=0.7,
                         objective=objective)[0]

    assert mg.gradcheck(loss, (), params=list(model.parameters()), atol=1e-7, rtol=1e-5)


def test_gradcheck_through_the_noise_and_inputs():
    model, x = tiny_vae(), binary()
    eps = mg.tensor(np.random.default_rng(2).standard_normal((2, 4, 2)), requires_grad=True)
    assert mg.gradcheck(lambda e: iwae_loss(model, x, 2, e)[0], (eps,), atol=1e-7, rtol=1e-5)


def test_bad_arguments():
    model, x = tiny_vae(), binary()
    with pytest.raises(ValueError, match="eps must have shape"):
        iwae_loss(model, x, 2, mg.zeros(3, 4, 2, dtype=mg.float64))
    with pytest.raises(ValueError, match="objective"):
        iwae_loss(model, x, 2, objective="elbo")
    with pytest.raises(ValueError, match="k must be"):
        iwae_loss_fn(k=0)
    with pytest.raises(ValueError, match=r"\(x,\) batches"):
        iwae_loss_fn(k=2)(model, (x, x))


def test_dynamic_binarize(device):
    mg.manual_seed(0)
    p = np.linspace(0, 1, 11, dtype=np.float32)
    x = mg.tensor(np.tile(p, (4000, 1)), device=device)
    a, b = dynamic_binarize(x).numpy(), dynamic_binarize(x).numpy()
    assert a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}
    assert (a[:, 0] == 0).all() and (a[:, -1] == 1).all()
    np.testing.assert_allclose(a.mean(axis=0), p, atol=0.03)  # 4000 draws: SE <= 0.008
    assert (a != b).any()  # a new draw every call


def test_binarize_fixed_is_repeatable():
    images = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    a, b, c = binarize_fixed(images, 3), binarize_fixed(images, 3), binarize_fixed(images, 4)
    assert a.shape == images.shape and a.dtype == np.float32
    assert (a == b).all() and (a != c).any()
    assert set(np.unique(a)) <= {0.0, 1.0}


def test_trainer_with_iwae_and_dynamic_binarization():
    """Two epochs on the 8x8 digits: the training batches are binarized anew (augment runs in
    training mode only), the fixed binary test set is scored as is, and L_5 >= mean log w."""
    data = load_dataset("digits")
    x_train = data.x_train.reshape(-1, 64)
    x_test = binarize_fixed(data.x_test.reshape(-1, 64), seed=0)
    seen = []

    def augment(x):
        seen.append(1)
        return dynamic_binarize(x)

    mg.manual_seed(0)
    model = VAE((64, 32, 4), activation="tanh")
    trainer = Trainer(model, iwae_loss_fn(k=5, augment=augment),
                      optim.Adam(model.parameters(), lr=1e-3), progress=False, verbose=False)
    history = trainer.fit((x_train,), (x_test,), epochs=2, batch_size=100)
    assert len(seen) == 2 * math.ceil(len(x_train) / 100)  # training batches only
    assert history[1]["test_loss"] < history[0]["test_loss"]
    for row in history:
        assert row["test_iwae"] >= row["test_elbo"]
        assert row["test_loss"] == pytest.approx(-row["test_iwae"])


def test_burda_schedule():
    """1e-3 * 10^(-i/7) for the 3^i epochs of stage i: 1, 3, 9, ... epochs, 3280 in all."""
    from autoencoders.generative_runs import BurdaSchedule, burda_epochs

    optimizer = optim.Adam([mg.zeros(1, requires_grad=True)], lr=1e-3)
    schedule = BurdaSchedule(optimizer)
    rates = []
    for _ in range(burda_epochs()):
        rates.append(optimizer.param_groups[0]["lr"])
        schedule.step()
    assert burda_epochs() == 3280
    stages, counts = np.unique(np.round(-7 * np.log10(np.array(rates) / 1e-3)),
                               return_counts=True)
    assert stages.tolist() == list(range(8)) and counts.tolist() == [3**i for i in range(8)]


def test_the_long_run_command_runs_briefly(tmp_path):
    """``python -m autoencoders.generative_runs iwae`` on the digits for one epoch."""
    import json

    from autoencoders.generative_runs import main

    metrics = main(["iwae", "--data", "digits", "--hidden", "32", "--latent-dim", "4",
                    "--k", "3", "--epochs", "1", "--eval-k", "20", "--test-subset", "30",
                    "--out", str(tmp_path), "--no-progress"])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["k"] == 3 and saved["published_log_likelihood"] is None  # k = 3: no row
    assert saved["test_log_likelihood"]["n"] == 30
    assert metrics["test_log_likelihood"]["log_likelihood"] < 0
    assert (tmp_path / "checkpoint.npz").exists()


def test_the_long_run_anneals_by_cosine_when_asked(tmp_path):
    """--schedule cosine: epoch e (from 0) of E runs at min + (lr - min)(1 + cos(pi e / E)) / 2,
    PyTorch's CosineAnnealingLR stepped per epoch; the default stays the paper's stages."""
    import json

    from autoencoders.generative_runs import main

    flags = ["iwae", "--data", "digits", "--hidden", "16", "--latent-dim", "3", "--epochs", "4",
             "--eval-k", "0", "--test-subset", "20", "--no-progress"]
    main([*flags, "--schedule", "cosine", "--lr", "2e-3", "--min-lr", "1e-5",
          "--out", str(tmp_path / "cosine")])
    main([*flags, "--out", str(tmp_path / "burda")])

    def rates(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["lr"] for line in lines]

    expected = [1e-5 + (2e-3 - 1e-5) * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert rates("cosine") == pytest.approx(expected)
    assert rates("burda") == pytest.approx([1e-3] + [1e-3 * 10 ** (-1 / 7)] * 3)
    saved = json.loads((tmp_path / "cosine" / "metrics.json").read_text())
    assert saved["schedule"] == "cosine"


def test_the_long_run_trains_the_vae_with_its_kl_in_closed_form_when_asked(tmp_path):
    """--kl analytic: the VAE's loss is reconstruction + the closed-form KL, checked on the test
    set against -1/2 sum(1 + logvar - mu^2 - e^logvar) computed in NumPy from the saved model;
    only the one-sample VAE can ask for it."""
    import json

    from autoencoders.binarize import binarized_mnist
    from autoencoders.generative_runs import main

    flags = ["iwae", "--data", "digits", "--hidden", "16", "--latent-dim", "3", "--epochs", "1",
             "--eval-k", "0", "--curve-test-size", "0", "--test-subset", "40", "--no-progress"]
    metrics = main([*flags, "--objective", "vae", "--kl", "analytic", "--out", str(tmp_path)])
    assert metrics["kl"] == "analytic"
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    model = VAE((64, 16, 3), activation="tanh")
    model.load_state_dict(mg.load(tmp_path / "checkpoint.npz")["model"])
    x_test = binarized_mnist("digits", seed=0)[2][:40]
    with mg.no_grad():
        mu, logvar = (t.numpy().astype(np.float64) for t in model.eval().encode(mg.tensor(x_test)))
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1).mean()
    assert row["test_kl"] == pytest.approx(kl, rel=1e-5)
    assert row["test_loss"] == pytest.approx(row["test_recon"] + row["test_kl"], rel=1e-6)
    for wrong in (["--objective", "iwae"], ["--objective", "vae", "--k", "2"]):
        with pytest.raises(ValueError, match="--kl analytic"):
            main([*flags, *wrong, "--kl", "analytic", "--out", str(tmp_path / "wrong")])


def test_curve_epochs_are_the_stage_ends_before_the_last_epoch():
    from autoencoders.generative_runs import curve_epochs

    assert curve_epochs(200) == [1, 4, 13, 40, 121, 200]
    assert curve_epochs(121) == [1, 4, 13, 40, 121]
    assert curve_epochs(1) == [1]
    assert curve_epochs(5000) == [1, 4, 13, 40, 121, 364, 1093, 3280, 5000]


def test_the_long_run_measures_its_curve_and_resumes_past_it(tmp_path):
    """Each curve point is the log-likelihood of the model as it was at that epoch: a run
    stopped at epoch 4 measures what a run to 5 measured at 4. A resumed run skips the
    points it has passed (the run resumed at epoch 4 measures 4 again, then 5)."""
    import json

    from autoencoders.generative_runs import main

    flags = ["iwae", "--data", "digits", "--hidden", "16", "--latent-dim", "3", "--k", "2",
             "--eval-k", "30", "--test-subset", "40", "--curve-test-size", "20",
             "--no-progress"]
    five = main([*flags, "--epochs", "5", "--out", str(tmp_path / "five")])
    four = main([*flags, "--epochs", "4", "--out", str(tmp_path / "four")])
    assert [p["epoch"] for p in five["log_likelihood_curve"]] == [1, 4, 5]
    assert [p["n"] for p in five["log_likelihood_curve"]] == [20, 20, 20]
    assert five["log_likelihood_curve"][1]["log_likelihood"] == pytest.approx(
        four["log_likelihood_curve"][-1]["log_likelihood"])
    resumed = main([*flags, "--epochs", "5", "--out", str(tmp_path / "four"), "--resume"])
    assert [p["epoch"] for p in resumed["log_likelihood_curve"]] == [4, 5]
    assert resumed["log_likelihood_curve"][0] == four["log_likelihood_curve"][-1]
    assert resumed["test_log_likelihood"] == pytest.approx(five["test_log_likelihood"])
    assert json.loads((tmp_path / "five/metrics.json").read_text())["epochs"] == 5


def test_the_rate_distortion_command_writes_its_curve_and_samples(tmp_path):
    import json

    from autoencoders.generative_runs import main

    metrics = main(["rate-distortion", "--data", "digits", "--hidden", "16", "--latent-dim",
                    "3", "--betas", "0.5,1,4", "--epochs", "2", "--samples", "2",
                    "--out", str(tmp_path), "--no-progress"])
    assert [row["beta"] for row in metrics["rows"]] == [0.5, 1.0, 4.0]
    assert json.loads((tmp_path / "rate_distortion.json").read_text()) == metrics
    for name in ("rate_distortion.png", "samples.png", "beta_1/checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0
    rates = [row["rate"] for row in metrics["rows"]]
    assert rates[0] > rates[-1]  # a larger beta buys a lower rate
