"""DataLoader: coverage of each epoch, seeded shuffling, drop_last, devices and dtypes."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import device_of
from minigrad.data import DataLoader

N = 23


def dataset():
    x = np.arange(N * 3, dtype=np.float64).reshape(N, 3)  # row i is 3i, 3i+1, 3i+2
    y = np.arange(N, dtype=np.int64)
    return x, y


def epoch(loader):
    """The labels of each batch of one epoch, checking that x and y stay paired."""
    batches = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy()[:, 0], 3 * yb.numpy())
        batches.append(yb.numpy())
    return batches


@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_covers_the_data_exactly_once(shuffle):
    loader = DataLoader(*dataset(), batch_size=5, shuffle=shuffle, seed=0)
    assert len(loader) == 5
    for _ in range(3):
        batches = epoch(loader)
        assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
        assert sorted(np.concatenate(batches)) == list(range(N))
        if not shuffle:
            np.testing.assert_array_equal(np.concatenate(batches), np.arange(N))


def test_shuffle_is_reproducible_with_a_seed_and_new_every_epoch():
    def three_epochs(seed):
        loader = DataLoader(*dataset(), batch_size=4, shuffle=True, seed=seed)
        return [np.concatenate(epoch(loader)) for _ in range(3)]

    a, b, c = three_epochs(1), three_epochs(1), three_epochs(2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], np.arange(N))
    # The permutations are the ones np.random.default_rng(seed) draws, epoch after epoch.
    rng = np.random.default_rng(1)
    for order in a:
        np.testing.assert_array_equal(order, rng.permutation(N))


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last(shuffle):
    loader = DataLoader(*dataset(), batch_size=5, shuffle=shuffle, drop_last=True, seed=3)
    assert len(loader) == 4
    batches = epoch(loader)
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert len(set(np.concatenate(batches))) == 20
    exact = DataLoader(np.zeros((10, 2)), batch_size=5, drop_last=True)
    assert len(exact) == 2 and len(list(exact)) == 2


def test_batches_are_tensors_on_the_device(device):
    x, y = dataset()
    loader = DataLoader(x, y, batch_size=8, shuffle=True, seed=0, device=device)
    for xb, yb in loader:
        assert isinstance(xb, mg.Tensor) and xb.device == device and yb.device == device
        assert device_of(xb.data) is mg.device(device)
        assert xb.dtype == np.float64 and yb.dtype == np.int64
        assert not xb.requires_grad


def test_dtype_casts_floating_arrays_only(device):
    x, y = dataset()
    loader = DataLoader(x, y, batch_size=N, dtype=mg.float32, device=device)
    xb, yb = next(iter(loader))
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), x.astype(np.float32))


def test_a_single_array_yields_tensors_and_lists_are_accepted():
    loader = DataLoader([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], batch_size=2)
    batches = list(loader)
    assert all(isinstance(b, mg.Tensor) for b in batches)
    np.testing.assert_array_equal(batches[1].numpy(), [[5.0, 6.0]])


def test_errors():
    with pytest.raises(ValueError, match=r"equal length .* got lengths \[23, 22\]"):
        DataLoader(np.zeros((23, 2)), np.zeros(22), batch_size=4)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DataLoader(np.zeros(4), batch_size=0)
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader(batch_size=4)
    with pytest.raises(ValueError, match="0-d array"):
        DataLoader(np.float32(1.0), batch_size=1)


# -- DistributedSampler ---------------------------------------------------------------------------

def shares(n, world, **kwargs):
    """Every rank's indices for one epoch, as lists."""
    from minigrad.data import DistributedSampler

    return [list(DistributedSampler(n, num_replicas=world, rank=r, **kwargs))
            for r in range(world)]


@pytest.mark.parametrize("n, world", [(23, 2), (23, 3), (24, 4), (2, 5), (1, 1)])
def test_distributed_sampler_shares_are_equal_disjoint_and_cover_the_epoch(n, world):
    parts = shares(n, world, seed=3)
    size = -(-n // world)
    assert [len(p) for p in parts] == [size] * world  # equal: every worker runs as many steps
    everything = sorted(i for p in parts for i in p)
    assert set(everything) == set(range(n))  # covering
    # Disjoint up to the padding: exactly size * world - n indices are repeats.
    assert len(everything) - len(set(everything)) == size * world - n


@pytest.mark.parametrize("n, world", [(23, 2), (23, 3), (24, 4)])
def test_distributed_sampler_drop_last_cuts_instead_of_padding(n, world):
    parts = shares(n, world, seed=3, drop_last=True)
    assert [len(p) for p in parts] == [n // world] * world
    everything = [i for p in parts for i in p]
    assert len(set(everything)) == len(everything) == n // world * world


def test_distributed_sampler_interleaves_one_seeded_permutation():
    """Rank r gets order[r::W] of the permutation of default_rng(seed + epoch), on every
    worker the same: batches of b per worker make up the global batches of b * W."""
    from minigrad.data import DistributedSampler

    order = np.random.default_rng(7 + 2).permutation(24)
    for r in range(3):
        sampler = DistributedSampler(24, num_replicas=3, rank=r, seed=7)
        sampler.set_epoch(2)
        np.testing.assert_array_equal(list(sampler), order[r::3])
    unshuffled = shares(10, 2, shuffle=False)
    assert unshuffled == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


def test_distributed_sampler_set_epoch_changes_the_order_and_the_same_epoch_repeats_it():
    from minigrad.data import DistributedSampler

    sampler = DistributedSampler(50, num_replicas=2, rank=0, seed=1)
    first = list(sampler)
    assert list(sampler) == first  # no set_epoch: the same order again (PyTorch's behaviour)
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_dataloader_batches_a_sampler_share():
    from minigrad.data import DistributedSampler

    x, y = dataset()
    per_rank = []
    for r in range(2):
        sampler = DistributedSampler(N, num_replicas=2, rank=r, seed=0)
        loader = DataLoader(x, y, batch_size=4, sampler=sampler)
        assert len(loader) == 3  # 12 indices per rank, 4 at a time
        per_rank.append(epoch(loader))
    order = np.resize(np.random.default_rng(0).permutation(N), 24)
    for k in range(3):  # batch k of the two ranks: global batch k of 8, interleaved
        np.testing.assert_array_equal(np.sort(np.concatenate([per_rank[0][k], per_rank[1][k]])),
                                      np.sort(order[8 * k:8 * (k + 1)]))


def test_distributed_sampler_defaults_and_errors():
    from minigrad.data import DistributedSampler

    sampler = DistributedSampler(np.zeros((5, 2)))  # no process group: a world of one
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (1, 0, 5)
    with pytest.raises(ValueError, match="rank must be in 0 .. 1"):
        DistributedSampler(5, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="exclude each other"):
        DataLoader(np.zeros(5), batch_size=2, shuffle=True, sampler=sampler)
