"""beta-VAE and the rate/distortion plane (Alemi et al., "Fixing a Broken ELBO", ICML 2018).

The negative ELBO splits into two measurable parts, both in nats per image:

    rate       R = E_x KL(q(z | x) || p(z))         (what the code says about x)
    distortion D = E_x E_q(z|x) [-log p(x | z)]     (how badly x is decoded from its code)
    -ELBO = D + R.

A beta-VAE minimises D + beta R (``vae_loss_fn(beta=...)``). Every beta gives one trained
model, one point (R, D); beta < 1 buys low distortion with a high rate (a near-autoencoder),
beta > 1 low rate at high distortion (at the extreme a decoder that ignores z, R = 0, the
"posterior collapse"). Points of equal ELBO lie on the lines D + R = const; the data's
entropy H bounds from below: D >= H - R. Models with equal ELBO can sit anywhere on such a
line, which is why the ELBO alone does not tell how much the code is used.

``rate_distortion`` measures one model; ``rate_distortion_curve`` a set of models, one per
beta (given as a mapping or as a function that trains one); ``plot_rate_distortion`` draws
the curve. The sweep itself (training one model per beta) is a long run: docs/generative.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

import minigrad as mg
from autoencoders.models.vae import vae_loss

__all__ = ["rate_distortion", "rate_distortion_curve", "plot_rate_distortion"]


def rate_distortion(model, x: np.ndarray, likelihood: str = "bernoulli", sigma: float = 1.0,
                    samples: int = 1, seed: int = 0, batch_size: int = 500) -> dict:
    """{"rate", "distortion", "neg_elbo"}: means over inputs x (N, ...), nats per image.

    The rate is the closed-form KL; the distortion -log p(x | z) is averaged over ``samples``
    codes z ~ q(z | x) per input, drawn on the host with ``default_rng(seed)`` (so repeated
    calls agree). In eval mode, without a graph, on the model's device.
    """
    weight = next(iter(model.parameters()))
    rng = np.random.default_rng(seed)
    x = np.asarray(x)
    was_training = model.training
    model.eval()
    rate = distortion = 0.0
    try:
        with mg.no_grad():
            for start in range(0, len(x), batch_size):
                batch = mg.tensor(x[start:start + batch_size], dtype=weight.dtype,
                                  device=weight.device)
                n = batch.shape[0]
                mu, logvar = model.encode(batch)
                for _ in range(samples):
                    eps = mg.tensor(rng.standard_normal(mu.shape), dtype=weight.dtype,
                                    device=weight.device)
                    logits = model.decode_logits(model.reparameterize(mu, logvar, eps))
                    _, recon, kl = vae_loss(logits, batch, mu, logvar, likelihood,
                                            from_logits=model.output == "sigmoid", sigma=sigma)
                    distortion += recon.item() * n / samples
                rate += kl.item() * n
    finally:
        model.train(was_training)
    rate, distortion = rate / len(x), distortion / len(x)
    return {"rate": rate, "distortion": distortion, "neg_elbo": rate + distortion}


def rate_distortion_curve(betas: Sequence[float],
                          models: Mapping[float, object] | Callable[[float], object],
                          x: np.ndarray, **kwargs) -> list[dict]:
    """One row {"beta", "rate", "distortion", "neg_elbo"} per beta, in the order given.

    models: {beta: trained model}, or a function ``train(beta) -> model`` called once per beta
    (e.g. one that builds a VAE and fits it with ``vae_loss_fn(beta=beta)``).
    kwargs: passed to ``rate_distortion`` (likelihood, samples, seed, batch_size).
    """
    rows = []
    for beta in betas:
        model = models[beta] if isinstance(models, Mapping) else models(beta)
        rows.append({"beta": float(beta), **rate_distortion(model, x, **kwargs)})
    return rows


def plot_rate_distortion(rows: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Distortion against rate, each point labelled with its beta and beta = 1 marked, with
    the line of equal -ELBO (D + R = const) through the best point. Written with matplotlib
    (Agg) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate = np.array([r["rate"] for r in rows])
    distortion = np.array([r["distortion"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(rate, distortion, "o-")
    for r in rows:
        ax.annotate(f"beta={r['beta']:g}", (r["rate"], r["distortion"]), fontsize=8,
                    textcoords="offset points", xytext=(4, 4))
    for r in rows:
        if r["beta"] == 1:  # the VAE's own objective, the ELBO
            ax.plot(r["rate"], r["distortion"], "*", color="crimson", markersize=14,
                    label="beta = 1: the VAE (ELBO)")
    best = float((rate + distortion).min())
    span = np.linspace(0, max(rate.max(), best) * 1.05, 2)
    ax.plot(span, best - span, "--", color="gray", lw=1, label=f"D + R = {best:.1f} (best -ELBO)")
    ax.set_xlabel("rate R = KL(q(z|x) || p(z))  [nats]")
    ax.set_ylabel("distortion D = -log p(x|z)  [nats]")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
