"""Reproducing published numbers: PCA's reconstructions (the classical baseline of Hinton &
Salakhutdinov), results over several seeds, and the summary table of demos/reproduce.py."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["over_seeds", "pca_comparison", "pca_reconstructions", "summary_lines"]


def pca_reconstructions(x_train: np.ndarray, x_test: np.ndarray,
                        components: int = 30) -> np.ndarray:
    """The test images projected on the first principal components of the training images
    and back; images flattened to (N, pixels)."""
    from sklearn.decomposition import PCA

    pca = PCA(components, random_state=0).fit(x_train)
    return pca.inverse_transform(pca.transform(x_test))


def over_seeds(runs: Sequence[Mapping], seeds: Sequence[int], deciding: str) -> dict:
    """One result from a target's ``runs``, one per seed (each with "published" and
    "measured" numbers, lower is better): the measured numbers are the means over the seeds;
    with several seeds also each seed's numbers and the standard error of the mean (sample
    standard deviation / sqrt(n)), and the summed times. ``deciding``: the measured number
    that decides whether the target passes (its mean at most the published one)."""
    result = {**runs[-1], "seeds": list(seeds)}
    keys = runs[0]["measured"]
    result["measured"] = {k: float(np.mean([r["measured"][k] for r in runs])) for k in keys}
    if len(runs) > 1:
        result["per_seed"] = {k: [r["measured"][k] for r in runs] for k in keys}
        result["standard_error"] = {k: float(np.std(v, ddof=1) / np.sqrt(len(v)))
                                    for k, v in result["per_seed"].items()}
        for key in ("train_minutes", "wall_minutes"):
            result[key] = sum(r[key] for r in runs)
    result["passed"] = bool(result["measured"][deciding] <= result["published"][deciding])
    return result


def summary_lines(summary: Mapping[str, Mapping], targets: Sequence[str]) -> list[str]:
    """The table printed at the end: per target the published and measured numbers, whether
    it passed and its training minutes, then each seed's numbers when there were several."""
    lines = ["", "target  published / measured                               passed  "
                 "training minutes"]
    for name in targets:
        row = summary[name]
        measured = {k: round(v, 2) for k, v in row["measured"].items()}
        lines.append(f"{name:<7} {json.dumps(row['published'])} / {json.dumps(measured)}  "
                     f"{str(row['passed']):<7} {row['train_minutes']:.1f}")
        for key, values in row.get("per_seed", {}).items():
            lines.append(f"        {key}: mean {row['measured'][key]:.2f} +- "
                         f"{row['standard_error'][key]:.2f} (standard error) over seeds "
                         f"{row['seeds'][0]}-{row['seeds'][-1]}: "
                         + ", ".join(f"{v:.2f}" for v in values))
    return lines


def pca_comparison(model, x_train: np.ndarray, x_test: np.ndarray, image_shape,
                   shown: int = 16) -> tuple[float, dict[str, np.ndarray]]:
    """Hinton & Salakhutdinov's comparison: PCA-30's squared error per test image (summed
    over the pixels), and the rows of their Fig. 2B for the first ``shown`` test images
    (test digits, the autoencoder's and PCA's reconstructions); images (N, pixels)."""
    from autoencoders.train import predict

    pca_recon = pca_reconstructions(x_train, x_test)
    error = float(np.mean(np.sum((pca_recon - x_test) ** 2, axis=1)))
    rows = {"test digits": x_test[:shown],
            "autoencoder": predict(model, x_test[:shown]),
            "PCA": pca_recon[:shown]}
    return error, {name: images.reshape(-1, *image_shape) for name, images in rows.items()}
