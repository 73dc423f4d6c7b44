"""How far an autoencoder's codes move under input noise: the losses compared, the
measurements, the table and the reconstructions of the contractive-autoencoder demo (plain vs
contractive), built on autoencoders.metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autoencoders import metrics as M
from autoencoders import tasks
from autoencoders.models import autoencoder_loss_fn, contractive_loss_fn
from autoencoders.train import predict

__all__ = ["contraction_table", "loss_fns", "measure", "reconstruction_rows"]


def loss_fns(weight: float, method: str, n_samples: int, probe: str) -> dict:
    """The Trainer losses compared, per image with the binary cross-entropy: "autoencoder"
    (plain) and "contractive" (+ weight * ||J_f(x)||_F^2, estimated as ``method``, ``n_samples``
    and ``probe`` say; see models.contractive)."""
    return {"autoencoder": autoencoder_loss_fn("bce"),
            "contractive": contractive_loss_fn(weight, "bce", method, n_samples, probe)}


def measure(models: Mapping[str, object], histories: Mapping[str, list[dict]],
            x: np.ndarray, sigmas: Sequence[float], seed: int
            ) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """For each named model: its contraction under Gaussian input noise of each sigma on the
    images ``x`` (metrics.contraction), with its final test BCE and squared error per image
    from its Trainer history; also each model's ||J_f(x)||_F per image."""
    results, norms = {}, {}
    for name, model in models.items():
        norms[name] = M.encoder_jacobian_norms(model, x)
        results[name] = M.contraction(model, x, sigmas, seed=seed, jacobian_norms=norms[name])
        final = histories[name][-1]  # the last epoch's test evaluation: the final weights
        results[name]["test_bce_per_image"] = final["test_bce"]
        results[name]["test_sq_error_per_image"] = final["test_sq_error"]
    return results, norms


def contraction_table(results: dict[str, dict], sigmas) -> str:
    """A Markdown table, one row per model: reconstruction errors, Jacobian norm, and the
    displacement (absolute and relative to the code spread) at each sigma."""
    rows = {}
    for name, result in results.items():
        row = {"test BCE": result["test_bce_per_image"],
               "test sq. error": result["test_sq_error_per_image"],
               "mean ||J||_F": result["jacobian_frobenius"],
               "code spread": result["code_spread"]}
        for s in sigmas:
            row[f"disp. sigma={s}"] = result["noise"][str(s)]["displacement"]
            row[f"rel. disp. sigma={s}"] = result["noise"][str(s)]["relative_displacement"]
        rows[name] = row
    return tasks.scores_table(rows, digits=4)


def reconstruction_rows(models: Mapping[str, object], x: np.ndarray) -> dict[str, np.ndarray]:
    """For plots.save_image_rows: the images x (N, C, H, W) and each named model's
    reconstructions of them, in the plots' layout (N, H, W) (or (N, H, W, C))."""
    rows = {"test digits": tasks.channels_last(x)}
    for name, model in models.items():
        rows[name] = tasks.channels_last(predict(model, x).reshape(x.shape))
    return rows
