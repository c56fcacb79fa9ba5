"""The figures outside sim.plot.figures, checked on their drawn artists: the README's fault
study and the Redis calibration (both drawn from given numbers, no simulation or server)."""

from __future__ import annotations

import pytest

from sim.experiment.failover_study import DELAYS_S, MAX_LAGS_S, fault_study_figure
from sim.plot import style


def _ticks(fig, axis):
    fig.canvas.draw()
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_fault_study_figure_labels_legends_and_limits():
    data = {"seeds": 7, "lost_async": [1e3 * d for d in DELAYS_S],
            "lost_wait1": [0.0] * len(DELAYS_S),
            "lost_bounded": [250.0 * lag for lag in MAX_LAGS_S], "lost_unbounded": 2500.0}
    fig = fault_study_figure(data)
    left, right = fig.axes
    assert left.get_xlabel() == "replication delay d (ms, constant)"
    assert left.get_ylabel() == "lost acknowledged writes per crash"
    assert "mean of 7 seeds" in left.get_title()
    assert "network crash" in left.get_title()  # the mode that loses writes
    assert [t.get_text() for t in left.get_legend().get_texts()] == [
        "asynchronous (simulated)", "WAIT 1 (simulated)", "theory W (d - L)"]
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "min_replicas_to_write = 1", "min_replicas_to_write = 0",
        "bound: 250 writes/s x max lag"]
    assert left.get_ylim()[0] == 0 and right.get_ylim()[0] == 0
    assert "2,000" in _ticks(fig, right.yaxis)  # thousands separators
    assert not any("^" in t for t in _ticks(fig, left.xaxis))  # 1, 10, not 10^0
    assert left.lines[0].get_color() == style.OKABE_ITO[0]


def test_calibration_figure_labels_and_plain_ticks():
    pytest.importorskip("redis")
    from sim.redis.calibrate import calibration_figure, fit_closed_loop
    from tests.test_redis_calibrate import synthetic

    points = synthetic(noise=0.0)
    fig = calibration_figure(points, fit_closed_loop(points))
    tput, lat = fig.axes
    assert tput.get_ylabel() == "throughput (commands/s)"
    assert lat.get_ylabel() == "latency per message (ms)"
    assert tput.get_xlabel() == lat.get_xlabel() == "pipeline depth B (commands per message)"
    labels = [t.get_text() for t in tput.get_legend().get_texts()]
    assert any(label.startswith("model ") for label in labels)
    ticks = _ticks(fig, tput.yaxis)
    assert ticks and all("^" not in t for t in ticks) and any("," in t for t in ticks)
    assert "1" in _ticks(fig, tput.xaxis) and "2^" not in " ".join(_ticks(fig, tput.xaxis))
    assert "closed-loop fit" in fig._suptitle.get_text()
