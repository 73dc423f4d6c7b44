"""The conditional samples and the classifier's verdict on them (autoencoders.generation), and
the conditional demo (demos/conditional.py) on the 8x8 digits."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from autoencoders import generation as G
from autoencoders.classifier import MNISTClassifier
from autoencoders.models import CVAE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "demos"))

import conditional  # noqa: E402  (the demos folder is not a package)


def test_conditional_samples_are_grouped_by_digit_and_seeded():
    mg.manual_seed(0)
    model = CVAE((12, 8, 3), num_classes=10)
    images, labels = G.conditional_samples(model, [7, 2, 5], 4, (3, 4), seed=3)
    assert images.shape == (12, 3, 4) and labels.dtype == np.int64
    assert labels.tolist() == [7] * 4 + [2] * 4 + [5] * 4
    assert ((images >= 0) & (images <= 1)).all()
    again, _ = G.conditional_samples(model, [7, 2, 5], 4, (3, 4), seed=3)
    assert np.array_equal(images, again)
    # The same seed draws the same codes; the images are their decodings with those labels.
    mg.manual_seed(3)
    z = mg.randn(12, 3)
    expected = model.decode(z, mg.tensor(labels)).numpy().reshape(12, 3, 4)
    assert np.allclose(images, expected, atol=1e-6)


def test_recognition_against_a_loop():
    mg.manual_seed(0)
    classifier = MNISTClassifier(in_features=16, hidden=(8,)).eval()
    rng = np.random.default_rng(0)
    images = rng.random((60, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 60)
    logits = classifier(mg.tensor(images.reshape(60, 16))).numpy()
    verdict = G.recognition(classifier, images, labels)
    hits = {d: [] for d in range(3)}
    for row, label in zip(logits, labels, strict=True):
        hits[int(label)].append(int(np.argmax(row)) == label)
    assert verdict["per_digit"] == pytest.approx({d: np.mean(h) for d, h in hits.items()})
    assert verdict["recognized"] == pytest.approx(np.mean(sum(hits.values(), [])))
    p = np.exp(logits - logits.max(1, keepdims=True))
    assert verdict["confidence"] == pytest.approx((p.max(1) / p.sum(1)).mean(), rel=1e-5)


@pytest.mark.parametrize("text, digits", [("0123456789", tuple(range(10))), ("7", (7,)),
                                          ("3,7", (3, 7)), ("0 9", (0, 9))])
def test_digit_list(text, digits):
    assert conditional.digit_list(text) == digits


@pytest.mark.parametrize("text", ["", "a", "1-3", ","])
def test_digit_list_refuses(text):
    with pytest.raises(Exception, match="expected digits"):
        conditional.digit_list(text)


def test_demo_draws_the_chosen_digits(tmp_path):
    metrics = conditional.main(["--dataset", "digits", "--epochs", "15", "--batch-size", "32",
                                "--classifier-epochs", "8", "--hidden", "64",
                                "--latent-dim", "4", "--digits", "3,7", "--columns", "5",
                                "--n-samples", "50", "--no-progress", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["recognized"] == metrics["recognized"]
    for name in ["samples.png", "classifier.npz", "checkpoint.npz", "metrics.jsonl"]:
        assert (tmp_path / name).stat().st_size > 0, name
    assert set(written["per_digit"]) == {str(d) for d in range(10)}
    # Chance is 10 %; after 15 epochs on the 8x8 digits the requested digit is seen in most.
    assert metrics["recognized"] > 0.7, metrics["per_digit"]
    assert metrics["classifier"]["test_accuracy"] > 0.85
