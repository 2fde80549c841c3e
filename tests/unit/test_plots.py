"""The shared curve builder and the live-lane adapter."""

import numpy as np
import pytest

from core.plots.curves import MAX_POINTS, curves, thin
from core.plots.training import epoch_bars, lane_curves
from core.runs import smooth


def test_thin_keeps_ends_and_bounds_points():
    x = np.arange(10_000.0)
    tx, ty = thin(x, x * 2)
    assert len(tx) <= MAX_POINTS and tx[0] == 0 and tx[-1] == 9_999 and np.all(ty == 2 * tx)
    small = np.arange(5.0)
    assert thin(small, small)[0] is small


def test_curves_sort_drop_nonfinite_and_smooth_before_thinning():
    y = np.abs(np.sin(np.arange(5000.0))) + 0.1
    y[7] = np.nan
    fig = curves({"a": (np.arange(5000)[::-1], y[::-1])}, smoothing=0.9, log_y=True)
    raw, smoothed = fig.data
    assert raw.name == "a (raw)" and raw.showlegend is False and smoothed.name == "a"
    assert raw.x[0] == 0 and np.all(np.diff(raw.x) > 0) and len(smoothed.x) <= MAX_POINTS  # sorted, thinned
    full = smooth(np.delete(y, 7), 0.9)
    assert smoothed.y[-1] == pytest.approx(full[-1])  # smoothed over every point, then thinned
    assert fig.layout.yaxis.type == "log"
    assert len(curves({"empty": ([], [])}).data) == 0


def test_lane_curves_read_job_rows_and_use_optimizer_colours():
    rows = {"Adam": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}], "Momentum": [{"step": 1, "loss": 3.0}]}
    fig = lane_curves(rows)
    assert [t.name for t in fig.data] == ["Adam", "Momentum"]
    assert list(fig.data[0].y) == [2.0, 1.0] and fig.data[1].mode == "lines+markers"
    from core.colors import OPTIMIZER_COLORS

    assert fig.data[0].line.color == OPTIMIZER_COLORS["Adam"]
    epochs = lane_curves({"Adam": [{"epoch": 1, "loss": 1.0}, {"epoch": 2}]}, x="epoch", y="dev_accuracy")
    assert len(epochs.data) == 0  # rows without the metric are skipped
    per_epoch = lane_curves({"Adam": [{"epoch": e, "dev_accuracy": 0.5} for e in (1, 2, 3)]}, x="epoch", y="dev_accuracy")
    assert per_epoch.layout.xaxis.dtick == 1 and per_epoch.layout.xaxis.tickformat == "d"
    bars = epoch_bars({"Adam": 0.9, "GD": None, "RMSprop": 0.8}, title="t")
    assert list(bars.data[0].y) == ["RMSprop", "Adam"]
