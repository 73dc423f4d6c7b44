"""Tests of autoencoders.contraction: the measurements per model and their table."""

import numpy as np

import minigrad as mg
from autoencoders import contraction
from autoencoders.models import MLPAutoencoder


def test_measure_and_table():
    mg.manual_seed(0)
    models = {"a": MLPAutoencoder((16, 8, 3)), "b": MLPAutoencoder((16, 8, 3))}
    histories = {name: [{"test_bce": 1.0 + k, "test_sq_error": 0.5 + k}]
                 for k, name in enumerate(models)}
    x = np.random.default_rng(0).uniform(0, 1, (20, 16)).astype(np.float32)
    results, norms = contraction.measure(models, histories, x, (0.01, 0.1), seed=1)
    assert set(results) == set(norms) == {"a", "b"}
    assert norms["a"].shape == (20,) and np.all(norms["a"] > 0)
    assert results["b"]["test_bce_per_image"] == 2.0
    assert results["b"]["test_sq_error_per_image"] == 1.5
    assert set(results["a"]["noise"]) == {"0.01", "0.1"}
    table = contraction.contraction_table(results, (0.01, 0.1))
    assert "| a |" in table and "| b |" in table and "rel. disp. sigma=0.1" in table
