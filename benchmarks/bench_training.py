"""Time one full training step of three autoencoders, against PyTorch when installed.

A step is: zero grads, forward, loss, backward, Adam update, loss read back to the host.
Batch 128, float32, median over ``--steps`` steps after ``--warmup`` steps.

- W1: MLP autoencoder 784-512-256-32-256-512-784, ReLU (code layer linear), sigmoid, MSE.
- W2: conv autoencoder: Conv2d(1,32,3,s2,p1)+ReLU, Conv2d(32,64,3,s2,p1)+ReLU, Flatten,
      Linear(3136,16), Linear(16,3136)+ReLU, Unflatten, ConvTranspose2d(64,32,3,s2,p1,op1)+ReLU,
      ConvTranspose2d(32,1,3,s2,p1,op1), sigmoid, MSE.
- W3: the VAE of PyTorch's examples: 784-400-(20,20), reparameterization, 20-400-784 sigmoid,
      loss BCE(sum) + KL.

    python benchmarks/bench_training.py [--device cpu] [--steps 30] [--threads N] [--clock cpu]

``--threads 1 --clock cpu`` (one BLAS / PyTorch thread each, CPU time of this process) gives
numbers that hold on a busy machine; wall-clock timings there mostly measure the neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import functional as F

BATCH = 128


def training_step(model, optimizer_class, loss_of):
    """One full step, written once for both libraries (their APIs agree): zero grads,
    forward + loss, backward, Adam update, loss read back to the host."""
    opt = optimizer_class(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_of(model)
        loss.backward()
        opt.step()
        return loss.item()

    return step


# -- the models in minigrad ------------------------------------------------------------------

def mlp_autoencoder(device):
    sizes = [784, 512, 256, 32, 256, 512, 784]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(n_in, n_out, device=device))
        if i == len(sizes) - 2:
            layers.append(nn.Sigmoid())
        elif n_out != 32:  # the code layer stays linear
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv_autoencoder(device):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2, padding=1, device=device), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, device=device), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 16, device=device),
        nn.Linear(16, 3136, device=device), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, device=device),
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1, device=device),
        nn.Sigmoid(),
    )


class VAE(nn.Module):
    def __init__(self, device):
        super().__init__()
        self.fc1 = nn.Linear(784, 400, device=device)
        self.fc_mu = nn.Linear(400, 20, device=device)
        self.fc_logvar = nn.Linear(400, 20, device=device)
        self.fc3 = nn.Linear(20, 400, device=device)
        self.fc4 = nn.Linear(400, 784, device=device)

    def forward(self, x):
        h = self.fc1(x).relu()
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + (0.5 * logvar).exp() * mg.randn(*mu.shape, device=mu.device)
        return self.fc4(self.fc3(z).relu()).sigmoid(), mu, logvar


def minigrad_steps(device):
    """name -> (model, step function), each step returning the loss as a Python float."""
    x_flat = mg.rand(BATCH, 784, device=device)
    x_img = mg.rand(BATCH, 1, 28, 28, device=device)

    def stepper(model, loss_of):
        return training_step(model, optim.Adam, loss_of)

    def vae_loss(model):
        recon, mu, logvar = model(x_flat)
        return (F.binary_cross_entropy(recon, x_flat, reduction="sum")
                + F.kl_divergence_normal(mu, logvar, reduction="sum"))

    return {
        "W1 MLP AE": stepper(mlp_autoencoder(device), lambda m: F.mse_loss(m(x_flat), x_flat)),
        "W2 conv AE": stepper(conv_autoencoder(device), lambda m: F.mse_loss(m(x_img), x_img)),
        "W3 VAE": stepper(VAE(device), vae_loss),
    }


# -- the same models in PyTorch ---------------------------------------------------------------

def torch_steps():
    import torch
    from torch import nn as tnn
    from torch.nn import functional as tF

    x_flat = torch.rand(BATCH, 784)
    x_img = torch.rand(BATCH, 1, 28, 28)
    sizes = [784, 512, 256, 32, 256, 512, 784]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(tnn.Linear(n_in, n_out))
        if i == len(sizes) - 2:
            layers.append(tnn.Sigmoid())
        elif n_out != 32:
            layers.append(tnn.ReLU())
    mlp = tnn.Sequential(*layers)
    conv = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, stride=2, padding=1), tnn.ReLU(),
        tnn.Conv2d(32, 64, 3, stride=2, padding=1), tnn.ReLU(),
        tnn.Flatten(), tnn.Linear(3136, 16), tnn.Linear(16, 3136), tnn.ReLU(),
        tnn.Unflatten(1, (64, 7, 7)),
        tnn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), tnn.ReLU(),
        tnn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), tnn.Sigmoid())

    def stepper(model, loss_of):
        return training_step(model, torch.optim.Adam, loss_of)

    return {
        "W1 MLP AE": stepper(mlp, lambda m: tF.mse_loss(m(x_flat), x_flat)),
        "W2 conv AE": stepper(conv, lambda m: tF.mse_loss(m(x_img), x_img)),
        "W3 VAE": stepper(torch_example_vae(), lambda m: torch_vae_loss(m, x_flat)),
    }


def torch_example_vae():
    """The model of PyTorch's examples/vae: 784-400-(20, 20), reparameterization, 20-400-784."""
    import torch
    from torch import nn as tnn

    class ExampleVAE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = (tnn.Linear(784, 400), tnn.Linear(400, 20),
                                              tnn.Linear(400, 20))
            self.fc3, self.fc4 = tnn.Linear(20, 400), tnn.Linear(400, 784)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return torch.sigmoid(self.fc4(torch.relu(self.fc3(z)))), mu, logvar

    return ExampleVAE()


def torch_vae_loss(model, x):
    """The example's loss: BCE summed over pixels and images, plus the analytic KL."""
    import torch
    from torch.nn import functional as tF

    recon, mu, logvar = model(x)
    bce = tF.binary_cross_entropy(recon, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def median_ms(steps: list, warmup: int, count: int, clock, turn: int = 5) -> list[float]:
    """The median time of each step function over ``count`` timed steps, in ms.

    The functions take turns, ``turn`` timed steps each after one untimed step that warms the
    caches back up for it. Timing one library after the other would let a change in the
    machine's speed during the run (other jobs, a neighbouring VM) slow only one of them;
    alternating single steps would time both with caches the other one just emptied.
    """
    for _ in range(warmup):
        for step in steps:
            step()
    times = [[] for _ in steps]
    while len(times[0]) < count:
        for step, samples in zip(steps, times, strict=True):
            step()
            for _ in range(min(turn, count - len(samples))):
                t0 = clock()
                step()
                samples.append(clock() - t0)
    return [statistics.median(samples) * 1e3 for samples in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", choices=["W1", "W2", "W3"], help="time one model only")
    parser.add_argument("--threads", type=int, help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock time, or CPU time of this process")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.threads:
        threadpool_limits(args.threads)
    for pool in threadpool_info():  # which BLAS kernels NumPy runs matters most here
        print(f"NumPy BLAS: {pool['internal_api']} {pool['version']}, kernels for "
              f"{pool.get('architecture')}, {pool['num_threads']} threads")
    mg.manual_seed(0)
    mg.backend.keep_freed_host_memory()  # as the trainer does
    ours = {k: v for k, v in minigrad_steps(args.device).items()
            if args.only is None or k.startswith(args.only)}
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        theirs = torch_steps()
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; NumPy "
              f"{np.__version__}; batch {BATCH}, float32, median {args.clock} time of "
              f"{args.steps} steps")
    except ImportError:
        theirs = {}
        print("PyTorch not installed: minigrad timings only")
    print(f"{'model':<12} {'minigrad ms':>12} {'PyTorch ms':>11} {'ratio':>6}")
    for name, step in ours.items():
        if name in theirs:
            ms, ref = median_ms([step, theirs[name]], args.warmup, args.steps, clock)
            print(f"{name:<12} {ms:>12.2f} {ref:>11.2f} {ms / ref:>6.2f}")
        else:
            (ms,) = median_ms([step], args.warmup, args.steps, clock)
            print(f"{name:<12} {ms:>12.2f}")

if __name__ == "__main__":
    main()
