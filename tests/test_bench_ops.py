"""benchmarks/bench_ops.py: its ratio is the median of each round's ratio, and it runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_bench_ops():
    spec = importlib.util.spec_from_file_location("bench_ops", ROOT / "benchmarks/bench_ops.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ratio_pairs_rounds_so_a_slow_spell_divides_out():
    bench = _load_bench_ops()
    # Rounds 3 and 4 ran while the machine was three times slower, for both libraries:
    ours, theirs = [1.0, 1.0, 3.0, 3.0, 1.0], [2.0, 2.0, 6.0, 6.0, 2.0]
    assert bench.paired_ratio(ours, theirs) == 0.5
    # Here minigrad's turn of round 2 was caught by a slow moment too: the two medians (3.0
    # against 2.0) would say 1.5; the rounds' ratios still say 0.5.
    ours, theirs = [1.0, 3.0, 3.0, 3.0, 1.0], [2.0, 2.0, 6.0, 6.0, 2.0]
    assert bench.paired_ratio(ours, theirs) == 0.5
    with pytest.raises(ValueError):
        bench.paired_ratio([1.0], [1.0, 2.0])


def test_bench_ops_runs_and_prints_microseconds_and_the_ratio(monkeypatch, capsys):
    bench = _load_bench_ops()
    monkeypatch.setattr(sys, "argv", ["bench_ops.py", "--ops", "12", "--repeats", "2"])
    bench.main()
    out = capsys.readouterr().out
    assert "minigrad: forward" in out and "us/op" in out
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "PyTorch not installed" in out
    else:
        assert "ratio minigrad/PyTorch (median of the 2 rounds' ratios)" in out
