"""Variational autoencoders (Kingma & Welling 2014) and their loss, the negative ELBO.

The encoder outputs, for each input x, the mean mu and log-variance logvar of a diagonal
Gaussian q(z | x). A code is drawn with the reparameterization trick,

    z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I),

so that z is a differentiable function of mu and logvar, and the decoder gives p(x | z).
Training minimises, per image, the negative evidence lower bound

    -ELBO = E_q[-log p(x | z)] + KL(q(z | x) || N(0, I)),
    KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))   (closed form),

with the expectation estimated by the one sample z. In nats per image it is the number that
PyTorch's examples/vae prints as "test set loss" (BCE summed over pixels + KL).

The importance-weighted bound (Burda, Grosse & Salakhutdinov, ICLR 2016) draws k codes
z_1..z_k ~ q(z | x) and averages the importance weights w_i = p(x, z_i) / q(z_i | x) inside
the log:

    L_k = E[log (1/k) sum_i w_i],   ELBO = L_1 <= L_k <= L_{k+1} <= log p(x),

(``log_importance_weights``, ``iwae_loss``, ``iwae_loss_fn``); L_k -> log p(x) as k grows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import minigrad as mg
from autoencoders.models.base import Autoencoder, _inputs_and_targets, mlp_layers
from autoencoders.models.conv import conv_encoder_decoder
from minigrad import nn
from minigrad.nn import functional as F

__all__ = ["VAE", "ConvVAE", "VariationalAutoencoder", "iwae_loss", "iwae_loss_fn",
           "log_importance_weights", "vae_loss", "vae_loss_fn"]

LIKELIHOODS = ("bernoulli", "gaussian")


class VariationalAutoencoder(Autoencoder):
    """An autoencoder whose encoder outputs 2 * latent_dim numbers per input: (mu, logvar)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int,
                 output: str = "sigmoid"):
        super().__init__(encoder, decoder, output)
        self.latent_dim = latent_dim

    def encode(self, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(mu, logvar) of q(z | x), each (N, latent_dim)."""
        h = self.encoder(x)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    @staticmethod
    def reparameterize(mu: mg.Tensor, logvar: mg.Tensor,
                       eps: mg.Tensor | None = None) -> mg.Tensor:
        """z = mu + exp(logvar / 2) * eps; eps ~ N(0, I) from mu's device unless given."""
        if eps is None:
            eps = mg.randn(*mu.shape, dtype=mu.dtype, device=mu.device)
        return mu + (0.5 * logvar).exp() * eps

    def forward(self, x: mg.Tensor, eps: mg.Tensor | None = None):
        """(logits, mu, logvar): the decoder's pre-activation output for one sampled z."""
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar, eps)), mu, logvar

    def sample(self, n: int) -> mg.Tensor:
        """n images decoded from z ~ N(0, I) (the prior), on the model's device."""
        weight = next(iter(self.parameters()))
        return self.decode(mg.randn(n, self.latent_dim, dtype=weight.dtype,
                                    device=weight.device))


class VAE(VariationalAutoencoder):
    """The fully connected VAE of PyTorch's examples: 784-400-(20, 20), decoder 20-400-784.

    layer_sizes:  input, hidden sizes and latent size, e.g. (784, 400, 20); the encoder's last
                  linear layer outputs mu and logvar together (2 * 20 numbers).
    out_features: size of the output when it differs from the input (default layer_sizes[0]).
    Outputs are flat, (N, out_features).
    """

    def __init__(self, layer_sizes: Sequence[int] = (784, 400, 20), activation: str = "relu",
                 output: str = "sigmoid", out_features: int | None = None):
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs an input and a latent size, got {layer_sizes}")
        latent = sizes[-1]
        out_features = sizes[0] if out_features is None else int(out_features)
        encoder = nn.Sequential(nn.Flatten(), *mlp_layers((*sizes[:-1], 2 * latent),
                                                          activation))
        decoder = nn.Sequential(*mlp_layers((*sizes[:0:-1], out_features), activation))
        super().__init__(encoder, decoder, latent, output)
        self.layer_sizes = sizes


class ConvVAE(VariationalAutoencoder):
    """The convolutional VAE: ``ConvAutoencoder``'s encoder and decoder around (mu, logvar).

    Arguments as for ``ConvAutoencoder``.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64),
                 latent_dim: int = 16, image_size: int | Sequence[int] = 28,
                 out_channels: int | None = None,
                 out_image_size: int | Sequence[int] | None = None, activation: str = "relu",
                 output: str = "sigmoid"):
        encoder, decoder = conv_encoder_decoder(in_channels, channels, latent_dim, image_size,
                                                out_channels, out_image_size, activation,
                                                code_features=2 * latent_dim)
        super().__init__(encoder, decoder, latent_dim, output)


def vae_loss(x_hat: mg.Tensor, x: mg.Tensor, mu: mg.Tensor, logvar: mg.Tensor,
             likelihood: str = "bernoulli", from_logits: bool = True, sigma: float = 1.0):
    """The negative ELBO per image, averaged over the batch: (loss, reconstruction, kl).

    x_hat:       the decoder's output, reshaped to x's shape (N, ...); logits when
                 ``from_logits`` (the mean is sigmoid(x_hat)), else the mean itself.
    x:           targets (pixels in [0, 1] for "bernoulli"; need not be binary).
    likelihood:  "bernoulli": reconstruction = sum over pixels of the binary cross-entropy;
                 "gaussian":  -log N(x; mean, sigma^2 I) = sum (x - mean)^2 / (2 sigma^2)
                              + D log(sigma sqrt(2 pi)), D pixels per image.
    All three are scalar Tensors in nats per image; loss = reconstruction + kl = -ELBO.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    n = x.shape[0]
    x_hat = x_hat.reshape(x.shape)
    if likelihood == "bernoulli":
        bce = F.binary_cross_entropy_with_logits if from_logits else F.binary_cross_entropy
        recon = bce(x_hat, x, reduction="sum") / n
    else:
        mean = x_hat.sigmoid() if from_logits else x_hat
        pixels = x.numel() // n
        recon = (F.mse_loss(mean, x, reduction="sum") / (2 * sigma**2 * n)
                 + pixels * math.log(sigma * math.sqrt(2 * math.pi)))
    kl = F.kl_divergence_normal(mu, logvar, reduction="sum") / n
    return recon + kl, recon, kl


def vae_loss_fn(likelihood: str = "bernoulli", beta: float = 1.0,
                corrupt: Callable[[mg.Tensor], mg.Tensor] | None = None, sigma: float = 1.0,
                augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer: reconstruction + beta * KL per image.

    batch: (x,) or (x_in, x_target) as in ``autoencoder_loss_fn``; corrupt, augment likewise.
    Metrics: "recon", "kl" and "elbo" (= -(recon + kl), nats per image, whatever beta).
    """

    def loss_fn(model: VariationalAutoencoder, batch):
        x_in, target = _inputs_and_targets(batch, corrupt, augment, model.training)
        if likelihood == "bernoulli" and model.output != "sigmoid":
            raise ValueError('the "bernoulli" likelihood needs a model with output="sigmoid"')
        logits, mu, logvar = model(x_in)
        _, recon, kl = vae_loss(logits, target, mu, logvar, likelihood,
                                from_logits=model.output == "sigmoid", sigma=sigma)
        return recon + beta * kl, {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    return loss_fn


# -- the importance-weighted bound (IWAE) -------------------------------------------------------

def _log_likelihood_terms(logits: mg.Tensor, x: mg.Tensor, likelihood: str, mean_of_logits,
                          sigma: float) -> mg.Tensor:
    """log p(x | z) summed over pixels: logits (k, N, D), x (N, D) -> (k, N).

    bernoulli: sum_d x_d l_d - softplus(l_d)   (= -BCE with logits, exact for x in {0, 1});
    gaussian:  -sum_d (x_d - m_d)^2 / (2 sigma^2) - D log(sigma sqrt(2 pi)), m = mean(l).
    """
    if likelihood == "bernoulli":
        return (x * logits - mg.softplus(logits)).sum(axis=-1)
    mean = mean_of_logits(logits)
    pixels = x.shape[-1]
    return (-((x - mean) ** 2).sum(axis=-1) / (2 * sigma**2)
            - pixels * math.log(sigma * math.sqrt(2 * math.pi)))


def log_normal_diag(z: mg.Tensor, mu: mg.Tensor, logvar: mg.Tensor) -> mg.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last axis:
    -1/2 sum_j (log 2 pi + logvar_j + (z_j - mu_j)^2 exp(-logvar_j))."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 * (-logvar).exp()).sum(axis=-1)


def log_importance_weights(model, x: mg.Tensor, k: int, eps: mg.Tensor | None = None,
                           likelihood: str = "bernoulli", sigma: float = 1.0,
                           condition: mg.Tensor | None = None) -> mg.Tensor:
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x) for k codes per input: (k, N).

    model:     a ``VariationalAutoencoder`` (or a ``CVAE``, then ``condition`` holds its
               labels, and encoder and decoder both see them).
    x:         (N, ...) inputs as the model takes them; for "bernoulli", values in [0, 1]
               (log p(x | z) is a probability only for binary x).
    eps:       (k, N, latent_dim) standard normal noise; None: drawn on x's device. Passing it
               makes the result a deterministic, differentiable function of the parameters
               (gradchecks; the same noise for two objectives).
    z_i = mu + exp(logvar / 2) eps_i (reparameterized); p(z) = N(0, I); q = N(mu, diag
    exp(logvar)); the decoder runs once on all k * N codes. Differentiable in everything.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if likelihood == "bernoulli" and model.output != "sigmoid":
        raise ValueError('the "bernoulli" likelihood needs a model with output="sigmoid"')
    n = x.shape[0]
    mu, logvar = model.encode(x) if condition is None else model.encode(x, condition)
    d = mu.shape[1]
    if eps is None:
        eps = mg.randn(k, n, d, dtype=mu.dtype, device=mu.device)
    if tuple(eps.shape) != (k, n, d):
        raise ValueError(f"eps must have shape (k, N, latent_dim) = {(k, n, d)}, "
                         f"got {tuple(eps.shape)}")
    z = mu + (0.5 * logvar).exp() * eps  # (k, N, d): broadcasting repeats mu, logvar k times
    flat_z = z.reshape(k * n, d)
    if condition is None:
        logits = model.decode_logits(flat_z)
    else:  # the k copies of each input's label, in z's (sample, input) order
        logits = model.decode_logits(flat_z, mg.cat([condition] * k, axis=0))
    logits = logits.reshape(k, n, -1)
    target = x.reshape(n, -1)

    def mean_of_logits(l):
        return l.sigmoid() if model.output == "sigmoid" else l

    log_px_z = _log_likelihood_terms(logits, target, likelihood, mean_of_logits, sigma)
    log_pz = log_normal_diag(z, mg.zeros_like(z), mg.zeros_like(z))
    log_qz_x = log_normal_diag(z, mu, logvar)
    return log_px_z + log_pz - log_qz_x


def iwae_bound(log_w: mg.Tensor) -> mg.Tensor:
    """The k-sample bound of each input from its log weights (k, N): log (1/k) sum_i w_i, (N,),
    as a log-sum-exp (stable: the largest weight is factored out before exponentiating)."""
    return mg.logsumexp(log_w, axis=0) - math.log(log_w.shape[0])


OBJECTIVES = ("iwae", "vae")


def iwae_loss(model, x: mg.Tensor, k: int, eps: mg.Tensor | None = None,
              likelihood: str = "bernoulli", sigma: float = 1.0, objective: str = "iwae",
              condition: mg.Tensor | None = None):
    """The negative k-sample bound, nats per image averaged over the batch: (loss, log_w).

    objective: "iwae": loss = -mean_n log (1/k) sum_i w_ni   (Burda et al.'s L_k);
               "vae":  loss = -mean_n (1/k) sum_i log w_ni   (the ELBO estimated with k samples,
                       the paper's "VAE" rows with k > 1).
    At k = 1 both are -log w_1 = -(log p(x|z) + log p(z) - log q(z|x)): the single-sample ELBO
    estimate with the KL term sampled too (``vae_loss`` uses the closed-form KL instead: equal
    in expectation, not sample by sample). log_w: the (k, N) log weights (detach to report).
    Other arguments as for ``log_importance_weights``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    log_w = log_importance_weights(model, x, k, eps, likelihood, sigma, condition)
    per_input = iwae_bound(log_w) if objective == "iwae" else log_w.mean(axis=0)
    return -per_input.mean(), log_w


def iwae_loss_fn(k: int = 5, likelihood: str = "bernoulli", objective: str = "iwae",
                 sigma: float = 1.0, augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer: the negative k-sample bound (``iwae_loss``).

    batch: (x,), the images whose p(x) is bounded (no (x_in, target) pairs: a bound on the
    likelihood has no separate target). augment: applied in training mode only, as in
    ``vae_loss_fn``; ``binarize.dynamic_binarize`` resamples binary pixels for every batch.
    Metrics, nats per image: "iwae" (L_k of these samples), "elbo" (mean_i log w_i, the ELBO
    estimated from the same k samples); the loss is -"iwae" or -"elbo" by ``objective``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")

    def loss_fn(model: VariationalAutoencoder, batch):
        if len(batch) != 1:
            raise ValueError(f"iwae_loss_fn bounds log p(x) of the images themselves: give (x,) "
                             f"batches, got {len(batch)} arrays")
        x, _ = _inputs_and_targets(batch, None, augment, model.training)
        loss, log_w = iwae_loss(model, x, k, None, likelihood, sigma, objective)
        log_w = log_w.detach()
        return loss, {"iwae": iwae_bound(log_w).mean(), "elbo": log_w.mean()}

    return loss_fn
