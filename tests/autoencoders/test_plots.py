"""autoencoders.plots: the sample panels wrap into rows."""

import numpy as np
import pytest

from autoencoders import plots


@pytest.mark.parametrize(("panels", "rows", "cols"), [(2, 1, 2), (4, 1, 4), (7, 2, 4)])
def test_sample_panels_wrap_into_rows(tmp_path, monkeypatch, panels, rows, cols):
    shapes = []
    plt = plots.pyplot()
    subplots = plt.subplots

    def spy(nrows, ncols, **kwargs):
        shapes.append((nrows, ncols))
        return subplots(nrows, ncols, **kwargs)

    monkeypatch.setattr(plt, "subplots", spy)
    images = np.random.default_rng(0).random((16, 6, 6))
    samples = {f"sampler {i}": images for i in range(panels)}
    plots.save_sample_panels(samples, {name: "caption" for name in samples},
                             tmp_path / "panels.png", ncols=4)
    assert shapes == [(rows, cols)]
    assert (tmp_path / "panels.png").stat().st_size > 0
