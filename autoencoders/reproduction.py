"""Reproducing published numbers: PCA's reconstructions (the classical baseline of Hinton &
Salakhutdinov), results over several seeds, and the summary of demos/reproduce.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["hinton_comparison", "over_seeds", "pca_comparison", "pca_reconstructions",
           "record", "run_targets", "summary_lines", "timing"]


def pca_reconstructions(x_train: np.ndarray, x_test: np.ndarray,
                        components: int = 30) -> np.ndarray:
    """The test images projected on the first principal components of the training images
    and back; images flattened to (N, pixels)."""
    from sklearn.decomposition import PCA

    pca = PCA(components, random_state=0).fit(x_train)
    return pca.inverse_transform(pca.transform(x_test))


def over_seeds(runs: Sequence[Mapping], seeds: Sequence[int],
               passes: Callable[[Mapping, Mapping], bool]) -> dict:
    """One result from a target's ``runs``, one per seed (each with "published" and
    "measured" numbers): the measured numbers are the means over the seeds; with several
    seeds also each seed's numbers and the standard error of the mean (sample standard
    deviation / sqrt(n)), and the summed times. ``passes(measured, published)`` decides, on
    the means, whether the target is met ("passed")."""
    result = {**runs[-1], "seeds": list(seeds)}
    keys = runs[0]["measured"]
    result["measured"] = {k: float(np.mean([r["measured"][k] for r in runs])) for k in keys}
    if len(runs) > 1:
        result["per_seed"] = {k: [r["measured"][k] for r in runs] for k in keys}
        result["standard_error"] = {k: float(np.std(v, ddof=1) / np.sqrt(len(v)))
                                    for k, v in result["per_seed"].items()}
        for key in ("train_minutes", "wall_minutes"):
            result[key] = sum(r[key] for r in runs)
    result["passed"] = bool(passes(result["measured"], result["published"]))
    return result


def timing(metrics: Mapping) -> dict:
    """A demo's epochs and times as a target reports them: the training time summed over the
    epochs (so it survives --resume), and this run's wall time, in minutes."""
    return {"epochs": metrics["epochs"], "seconds_per_epoch": metrics["seconds_per_epoch"],
            "train_minutes": metrics["train_seconds"] / 60,
            "wall_minutes": metrics["wall_seconds"] / 60, "device": metrics["device"]}


def record(path: str | Path, name: str, result: Mapping) -> dict:
    """Add target ``name``'s ``result`` to the summary JSON at ``path`` (read just before
    writing, since another target may have finished meanwhile); returns the summary."""
    path = Path(path)
    summary = json.loads(path.read_text()) if path.exists() else {}
    summary[name] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def run_targets(targets: Mapping[str, tuple[Callable, Callable[[Mapping, Mapping], bool]]],
                options, seeds: Sequence[int], out: str | Path) -> dict:
    """Run every target ``name: (target, passes)`` once per seed as ``target(options, seed,
    folder)``, with folder out/<name> (out/<name>/seed_<s> for several seeds); record each
    target's result (``over_seeds``) in out/metrics.json as soon as it is done; print the
    summary table; return the summary."""
    seeds = list(seeds)
    for name, (target, passes) in targets.items():
        runs = [target(options, seed, Path(out) / name / (f"seed_{seed}" if len(seeds) > 1
                                                          else "")) for seed in seeds]
        summary = record(Path(out) / "metrics.json", name, over_seeds(runs, seeds, passes))
    print("\n".join(summary_lines(summary, list(targets))))
    return summary


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
        if "target" in row:
            lines.append(f"        target: {row['target']}")
        for key, values in row.get("per_seed", {}).items():
            lines.append(f"        {key}: mean {row['measured'][key]:.2f} +- "
                         f"{row['standard_error'][key]:.2f} (standard error) over seeds "
                         f"{row['seeds'][0]}-{row['seeds'][-1]}: "
                         + ", ".join(f"{v:.2f}" for v in values))
    return lines


def hinton_comparison(model, data, path: str | Path) -> float:
    """PCA-30's squared error per test image of ``data`` (a datasets.Dataset), and Hinton &
    Salakhutdinov's Fig. 2B (test digits, the autoencoder's and PCA's reconstructions) saved
    at ``path``."""
    from autoencoders import plots

    flat = [x.reshape(len(x), -1) for x in (data.x_train, data.x_test)]
    pca, rows = pca_comparison(model, *flat, data.image_shape)
    plots.save_image_rows(rows, path, title="30 numbers per digit")
    return pca


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
