"""The conditional VAE (Sohn et al. 2015): shapes, exact gradients, and that its samples are
the digits asked for."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders.datasets import load_dataset
from autoencoders.likelihood import log_likelihood
from autoencoders.models import CVAE, cvae_loss_fn, iwae_loss, vae_loss
from autoencoders.train import Trainer
from minigrad import optim


def test_shapes(device):
    mg.manual_seed(0)
    model = CVAE((12, 8, 3), num_classes=4).to(device)
    x = mg.rand(5, 3, 4, device=device)  # any (N, ...) input is flattened
    y = mg.tensor(np.array([0, 1, 2, 3, 0]), device=device)
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (5, 3)
    logits, mu, logvar = model(x, y)
    assert logits.shape == (5, 12)
    assert model.decode(mu, y).shape == (5, 12)
    assert model.sample([3, 3, 1]).shape == (3, 12)
    samples = model.sample(y).numpy()
    assert samples.shape == (5, 12) and ((samples >= 0) & (samples <= 1)).all()
    # One-hot labels given directly are the same as integer labels.
    one_hot = mg.one_hot(y, 4).to(dtype=mg.float32)
    assert np.allclose(model.encode(x, one_hot)[0].numpy(), mu.numpy())


def test_the_label_changes_the_decoding():
    mg.manual_seed(0)
    model = CVAE((6, 5, 2), num_classes=3)
    z = mg.randn(1, 2)
    a = model.decode(z, mg.tensor(np.array([0]))).numpy()
    b = model.decode(z, mg.tensor(np.array([2]))).numpy()
    assert not np.allclose(a, b)


@pytest.fixture
def tiny():
    """A float64 CVAE, binary inputs, labels and fixed noise."""
    mg.manual_seed(0)
    model = CVAE((5, 4, 2), num_classes=3, activation="tanh").to("cpu", mg.float64)
    rng = np.random.default_rng(0)
    x = mg.tensor((rng.random((4, 5)) < 0.5).astype(np.float64))
    y = mg.tensor(np.array([0, 2, 1, 2]))
    return model, x, y, rng


def test_loss_gradcheck_with_fixed_noise(tiny):
    model, x, y, rng = tiny
    eps = mg.tensor(rng.standard_normal((4, 2)))

    def loss():
        logits, mu, logvar = model(x, y, eps)
        return vae_loss(logits, x, mu, logvar)[0]

    assert mg.gradcheck(loss, (), params=list(model.parameters()), atol=1e-7, rtol=1e-5)


def test_iwae_bound_gradcheck_and_likelihood_with_labels(tiny):
    model, x, y, rng = tiny
    eps = mg.tensor(rng.standard_normal((3, 4, 2)))
    assert mg.gradcheck(lambda: iwae_loss(model, x, 3, eps, condition=y)[0], (),
                        params=list(model.parameters()), atol=1e-7, rtol=1e-5)
    # log p(x | y) estimates do not depend on the batching, with labels too.
    a = log_likelihood(model, x.numpy(), k=50, batch_size=4, labels=y.numpy())
    b = log_likelihood(model, x.numpy(), k=50, batch_size=3, k_batch=7, labels=y.numpy())
    np.testing.assert_allclose(a.per_example, b.per_example, rtol=0, atol=1e-10)


def _recognised(model, classifier, seed: int) -> np.ndarray:
    labels = np.repeat(np.arange(10), 50)
    mg.manual_seed(seed)
    with mg.no_grad():
        samples = model.sample(labels).numpy()
    return classifier.predict(samples) == labels


def test_samples_are_the_requested_digits():
    """A few epochs on scikit-learn's 8x8 digits; 500 samples (50 of each digit) judged by a
    logistic regression fitted on the real training digits (about 95 % accurate on the test
    digits). Threshold: 80 % recognised overall, and at least half of each digit. Chance is
    10 %; a perfect sampler would score about the classifier's own 95 %, so 80 % leaves room
    for seeds and platforms while being far from what a sampler that ignored the label could
    reach (the untrained model, checked too, scores near chance)."""
    from sklearn.linear_model import LogisticRegression

    data = load_dataset("digits")
    x_train, x_test = data.x_train.reshape(-1, 64), data.x_test.reshape(-1, 64)
    classifier = LogisticRegression(max_iter=2000).fit(x_train, data.y_train)
    assert classifier.score(x_test, data.y_test) > 0.9

    mg.manual_seed(0)
    model = CVAE((64, 128, 4), num_classes=10)
    before = _recognised(model, classifier, seed=1).mean()
    trainer = Trainer(model, cvae_loss_fn(), optim.Adam(model.parameters(), lr=3e-3),
                      progress=False, verbose=False)
    history = trainer.fit((x_train, data.y_train), (x_test, data.y_test), epochs=8,
                          batch_size=64)
    assert history[-1]["test_loss"] < history[0]["test_loss"]
    hits = _recognised(model, classifier, seed=1)
    per_digit = hits.reshape(10, 50).mean(axis=1)
    assert before < 0.3, before
    assert hits.mean() >= 0.8, (hits.mean(), per_digit)
    assert per_digit.min() >= 0.5, per_digit
