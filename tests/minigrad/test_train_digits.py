"""End to end: an MLP written with raw tensors, trained with Adam on mini-batches from the
DataLoader, classifies scikit-learn's 8x8 digits (bundled, no download) at >= 95% accuracy."""

import math
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import minigrad as mg
from minigrad import optim
from minigrad.data import DataLoader


# Matrices this small gain nothing from BLAS threads, and on a busy machine their
# synchronization made each matmul ~100x slower (15 s instead of 0.15 s for 10 epochs).
@threadpool_limits.wrap(limits=1, user_api="blas")
def test_mlp_on_digits_reaches_95_percent():
    digits = load_digits()
    x = digits.data / 16.0  # pixel values 0..16 -> [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, stratify=digits.target, random_state=0)

    mg.manual_seed(0)
    hidden = 128
    w1 = (mg.randn(64, hidden) * math.sqrt(2 / 64)).detach().requires_grad_()
    b1 = mg.zeros(hidden, requires_grad=True)
    w2 = (mg.randn(hidden, 10) * math.sqrt(1 / hidden)).detach().requires_grad_()
    b2 = mg.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]

    def logits(xb):
        return (xb @ w1 + b1).relu() @ w2 + b2

    def cross_entropy(out, yb):
        # mean over the batch of -log softmax(out)[i, y_i]
        log_p = out.log_softmax(axis=-1)
        return -log_p[mg.arange(len(yb)), yb].mean()

    loader = DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0,
                        dtype=mg.float32)
    opt = optim.Adam(params, lr=3e-3)
    x_all, y_all = mg.tensor(x_train, dtype=mg.float32), mg.tensor(y_train)
    with mg.no_grad():
        initial_loss = cross_entropy(logits(x_all), y_all).item()
    start = time.perf_counter()
    for _ in range(20):
        for xb, yb in loader:
            opt.zero_grad()
            loss = cross_entropy(logits(xb), yb)
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start

    with mg.no_grad():
        train_loss = cross_entropy(logits(x_all), y_all).item()
        predicted = logits(mg.tensor(x_test, dtype=mg.float32)).numpy().argmax(axis=1)
    accuracy = (predicted == y_test).mean()
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f}"
    assert train_loss < 0.05 * initial_loss, (initial_loss, train_loss)
    assert seconds < 10, f"training took {seconds:.1f} s"
