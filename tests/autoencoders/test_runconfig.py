"""Tests of autoencoders.runconfig: epochs matched to full MNIST's steps, the data line, and
the BLAS thread default."""

import pytest

from autoencoders.runconfig import data_note, default_threads, matched_epochs, steps_per_epoch


def test_matched_epochs_give_as_many_steps_as_full_mnist():
    full_steps = 5 * steps_per_epoch(60_000, 128)  # 5 x 469
    epochs = matched_epochs(5, 4000, 128)
    assert epochs == 74
    assert epochs * steps_per_epoch(4000, 128) >= full_steps
    assert (epochs - 1) * steps_per_epoch(4000, 128) < full_steps
    assert matched_epochs(5, 60_000, 128) == 5  # full MNIST: unchanged
    assert matched_epochs(5, 100_000, 128) == 5  # never fewer epochs than asked for


def test_data_note_says_what_the_numbers_mean():
    note = data_note("mnist5k", 4000, 1000, 74, 5, 128)
    assert note.count("\n") == 0
    assert "5,000" in note and "not full MNIST" in note and "74 epochs = 2,368 steps" in note
    assert "as many as 5 epochs of full MNIST" in note
    assert "comparable with the README" in data_note("mnist", 60_000, 10_000, 5, 5, 128)
    assert "not comparable" in data_note("mnist", 2000, 500)  # a subset of full MNIST
    assert "not comparable" in data_note("digits", 1437, 360, 1, 10, 64)


@pytest.mark.parametrize(("cores", "load", "expected"),
                         [(1, 0.0, 1), (2, 0.0, 1), (2, 5.0, 1), (16, 0.0, 16), (16, 3.5, 12),
                          (8, 20.0, 1)])
def test_default_threads(cores, load, expected):
    assert default_threads(cores, load) == expected


def test_data_note_explains_only_matched_epochs():
    assert "as many as" not in data_note("mnist5k", 4000, 1000, 3, 5, 128)  # --epochs 3
    assert "1 epoch = 23 steps" in data_note("digits", 1437, 360, 1, 10, 64)
