"""PyTorch's examples/vae, run over several seeds on the same MNIST arrays as minigrad's
reproduction, to tell how far the published test loss (about 105.6 nats) is one draw from the
seed-to-seed spread. PyTorch is the reference here, never a dependency: without it this
script says so and stops.

    python benchmarks/vae_reference_torch.py --seeds 10 [--data-dir ../shared/data/mnist]
    python demos/reproduce.py --target vae --seeds 10          # the same for minigrad

The setting is the example's: 784-400-(20, 20)-400-784, ReLU, sigmoid output, Adam 1e-3,
batch 128 with the training set shuffled each epoch, 10 epochs, loss BCE summed over pixels
plus the analytic KL, pixels in [0, 1] not binarized; the test loss is that loss summed over
the test set (one latent sample per image, as the example's eval does) divided by its size,
evaluated after every epoch as in the example; the last one is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_training import torch_example_vae, torch_vae_loss

from autoencoders.datasets import load_dataset


def trained_test_loss(seed: int, x_train, x_test, epochs: int = 10) -> float:
    import torch

    torch.manual_seed(seed)
    model = torch_example_vae()

    def evaluate():
        model.eval()
        with torch.no_grad():
            return sum(torch_vae_loss(model, x).item() for x in x_test.split(128)) / len(x_test)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x_train)).split(128):
            optimizer.zero_grad()
            loss = torch_vae_loss(model, x_train[batch])
            loss.backward()
            optimizer.step()
        test_loss = evaluate()  # after every epoch, as the example (its noise draws count too)
    return test_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. seeds-1")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is not installed: this reference needs it "
                         "(pip install torch==2.13.0 on the project's machine)") from None
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist", root=args.data_dir)
    x_train = torch.tensor(data.x_train.reshape(len(data.x_train), -1))
    x_test = torch.tensor(data.x_test.reshape(len(data.x_test), -1))
    losses = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        losses.append(trained_test_loss(seed, x_train, x_test))
        print(f"seed {seed}: test loss {losses[-1]:.2f} nats per image "
              f"({(time.perf_counter() - start) / 60:.1f} min)", flush=True)
    if len(losses) > 1:
        error = statistics.stdev(losses) / len(losses) ** 0.5
        print(f"PyTorch {torch.__version__}: mean {statistics.mean(losses):.2f} +- {error:.2f} "
              f"(standard error) over {len(losses)} seeds; {sum(v <= 105.6 for v in losses)} "
              "of them at or below 105.6")


if __name__ == "__main__":
    main()
