"""Fixed clock properties, driven by hand: no wall clock anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.clock import FixedClock

frames = st.lists(st.integers(min_value=0, max_value=400_000_000), max_size=200)


@given(frames, st.integers(min_value=1, max_value=50_000_000))
def test_time_is_conserved(deltas: list[int], step_ns: int) -> None:
    """Every nanosecond received is simulated, still accumulated, or counted as dropped."""
    clock = FixedClock(step_ns=step_ns, max_frame_ns=250_000_000, max_steps_per_frame=8)
    for dt in deltas:
        clock.advance(dt)
    assert clock.sim_time_ns + clock.accumulator_ns + clock.dropped_ns == sum(deltas)


@given(frames)
def test_steps_and_alpha_stay_in_bounds(deltas: list[int]) -> None:
    clock = FixedClock(step_ns=16_666_667, max_steps_per_frame=5)
    for dt in deltas:
        steps, alpha = clock.advance(dt)
        assert 0 <= steps <= 5
        assert 0.0 <= alpha < 1.0
        assert 0 <= clock.accumulator_ns < clock.step_ns


@given(st.lists(st.integers(min_value=0, max_value=20_000_000), max_size=300))
def test_no_time_lost_below_the_caps(deltas: list[int]) -> None:
    """Frames shorter than the caps lose nothing: simulated time tracks wall time to a step."""
    clock = FixedClock(step_ns=10_000_000, max_frame_ns=250_000_000, max_steps_per_frame=8)
    for dt in deltas:
        clock.advance(dt)
    assert clock.dropped_ns == 0
    assert sum(deltas) - clock.sim_time_ns < clock.step_ns


@given(st.integers(min_value=0, max_value=10**12))
def test_a_stall_is_capped(stall_ns: int) -> None:
    clock = FixedClock(step_ns=10_000_000, max_frame_ns=100_000_000, max_steps_per_frame=4)
    steps, _ = clock.advance(stall_ns)
    assert steps <= 4


def test_exact_steps_and_alpha() -> None:
    clock = FixedClock(step_ns=10)
    assert clock.advance(25) == (2, 0.5)
    assert clock.advance(5) == (1, 0.0)
    assert clock.steps_total == 3
    clock.advance(7)
    clock.reset()
    assert clock.alpha == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        FixedClock(step_ns=0)
    with pytest.raises(ValueError):
        FixedClock().advance(-1)
