"""`repsim calibrate --seconds` bounds the whole measurement: slices share the time left."""

from __future__ import annotations

import pytest

pytest.importorskip("redis")

from sim.redis import measure  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_loop(clock: FakeClock, setup_s: float, windows: list[float]):
    def measure_closed_loop(address, command, depth, clients, seconds, value_size=100):
        windows.append(seconds)
        clock.now += setup_s + seconds
        return measure.LoopPoint(command, depth, clients, 100, seconds, 1000.0, 1e-4, 1e-4)

    return measure_closed_loop


@pytest.mark.parametrize("setup_s", [0.0, 0.01, 0.05])
def test_slices_end_by_the_deadline_whatever_the_set_up_costs(monkeypatch, setup_s):
    clock, windows = FakeClock(), []
    monkeypatch.setattr(measure, "measure_closed_loop", fake_loop(clock, setup_s, windows))
    points = measure.measure_curve(("h", 1), [1, 2, 4, 8], [1, 8], ("SET", "GET"), rounds=3,
                                   deadline=10.0, clock=clock)
    assert len(points) == 16 and len(windows) == 48
    # The first slice cannot know the set-up cost; from the second on it is accounted for.
    assert clock.now <= 10.0 + setup_s
    assert clock.now >= 10.0 - setup_s  # and the budget is used, not wasted
    assert min(windows) >= measure.MIN_SLICE_S


def test_a_budget_too_short_is_refused_with_what_to_change(monkeypatch):
    clock, windows = FakeClock(), []
    monkeypatch.setattr(measure, "measure_closed_loop", fake_loop(clock, 0.05, windows))
    with pytest.raises(measure.BudgetError) as error:
        measure.measure_curve(("h", 1), [1, 2, 4, 8], [1, 8], ("SET", "GET"), rounds=3,
                              deadline=2.0, clock=clock)
    text = str(error.value)
    assert "too short" in text and error.value.needed_s > 2.0
    assert clock.now <= 2.0  # it stopped before overrunning


def test_without_a_deadline_each_slice_gets_its_share_of_the_point(monkeypatch):
    clock, windows = FakeClock(), []
    monkeypatch.setattr(measure, "measure_closed_loop", fake_loop(clock, 0.0, windows))
    measure.measure_curve(("h", 1), [1, 2], [1], ("SET",), seconds_per_point=0.3, rounds=3,
                          clock=clock)
    assert windows == pytest.approx([0.1] * 6)
