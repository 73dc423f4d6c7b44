"""DistributedSampler across real workers: rank and world size from the process group, the
same permutation on every rank, disjoint shares that together cover the epoch."""

import numpy as np
import pytest

from minigrad.data import DataLoader, DistributedSampler


@pytest.mark.parametrize("n", [37, 64])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shares_are_disjoint_equal_and_cover_the_epoch(world, gather_numpy, n, drop_last):
    rank, size = world
    sampler = DistributedSampler(n, seed=5, drop_last=drop_last)  # rank, W from the group
    assert (sampler.rank, sampler.num_replicas) == (rank, size)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        mine = np.array(list(sampler))
        everyone = gather_numpy(mine)  # fails unless every rank has as many indices
        assert everyone.shape == (size, len(sampler))
        # Rank r holds order[r::W] of one permutation: interleaving the shares gives it back.
        order = everyone.T.ravel()
        expected = np.random.default_rng(5 + epoch).permutation(n)
        if drop_last:
            np.testing.assert_array_equal(order, expected[:len(order)])
        else:
            np.testing.assert_array_equal(order, np.resize(expected, len(order)))
            assert set(order.tolist()) == set(range(n))


def test_set_epoch_changes_the_shares(world, gather_numpy):
    sampler = DistributedSampler(40, seed=0)
    first = gather_numpy(np.array(list(sampler)))
    sampler.set_epoch(1)
    second = gather_numpy(np.array(list(sampler)))
    assert not np.array_equal(first, second)


def test_dataloader_with_the_sampler_gives_each_rank_its_part_of_each_global_batch(
        world, gather_numpy):
    rank, size = world
    x = np.arange(48, dtype=np.float64).reshape(48, 1)
    sampler = DistributedSampler(len(x), seed=2)
    sampler.set_epoch(4)
    batches = [b.numpy()[:, 0] for b in DataLoader(x, batch_size=4, sampler=sampler)]
    order = np.random.default_rng(2 + 4).permutation(48)
    global_batch = 4 * size
    for k, mine in enumerate(batches):
        everyone = gather_numpy(mine)
        np.testing.assert_array_equal(np.sort(everyone.ravel()),
                                      np.sort(order[k * global_batch:(k + 1) * global_batch]))
