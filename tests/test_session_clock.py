"""The session's virtual clock, instants as people type them, and the timeline's arithmetic:
time is data, driven by hand here (no wall clock is read)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.time.parse import parse_duration_ns, parse_instant
from runtime.time.virtual_clock import MAX_SPEED, MIN_SPEED, VirtualClock, parse_speed
from runtime.ui.timeline_model import fraction_at, span_text, time_at

S = 1_000_000_000


@given(st.lists(st.integers(0, 200_000_000), max_size=200),
       st.sampled_from([Fraction(1, 64), Fraction(1, 3), Fraction(1), Fraction(16), Fraction(64)]))
def test_virtual_time_is_exactly_wall_time_times_speed(deltas: list[int], speed: Fraction) -> None:
    clock = VirtualClock(now_ns=10 * S, speed=speed)
    total = sum(clock.advance(d) for d in deltas)
    exact = sum(deltas) * speed
    assert clock.now_ns == 10 * S + total
    assert exact - 1 < total <= exact  # only the fraction of a nanosecond is carried over


def test_pause_stops_time_and_a_stall_counts_at_most_the_cap() -> None:
    clock = VirtualClock(now_ns=0, max_frame_wall_ns=250_000_000)
    assert clock.advance(5 * S) == 250_000_000
    clock.toggle_pause()
    assert clock.advance(S) == 0 and clock.now_ns == 250_000_000
    clock.toggle_pause()
    assert clock.advance(100) == 100


def test_the_clock_stops_at_the_end_and_play_starts_again_from_the_start() -> None:
    clock = VirtualClock(now_ns=0, start_ns=0, end_ns=S, speed=Fraction(4))
    assert clock.advance(200_000_000) == 800_000_000
    assert clock.advance(200_000_000) == 200_000_000 and clock.paused and clock.now_ns == S
    clock.toggle_pause()
    assert clock.now_ns == 0 and not clock.paused


def test_seek_clamps_to_the_recording_and_speed_steps_double_within_bounds() -> None:
    clock = VirtualClock(now_ns=5, start_ns=0, end_ns=100)
    assert clock.seek(-7) == 0 and clock.seek(1000) == 100 and clock.seek(42) == 42
    for _ in range(10):
        clock.faster()
    assert clock.speed == MAX_SPEED
    for _ in range(20):
        clock.slower()
    assert clock.speed == MIN_SPEED
    assert parse_speed("16x") == 16 and parse_speed("1/4") == Fraction(1, 4)
    for bad in ("0", "100", "fast", "-1"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_instants_as_people_type_them() -> None:
    start, end = 1_700_000_000 * S, 1_700_003_600 * S
    assert parse_instant("+90s", start, end) == start + 90 * S
    assert parse_instant("-2m", start, end) == end - 120 * S
    assert parse_instant("50%", start, end) == start + 1800 * S
    assert parse_duration_ns("250ms") == 250_000_000
    with pytest.raises(ValueError, match="outside the recording"):
        parse_instant("+2h", start, end)
    with pytest.raises(ValueError, match="expected"):
        parse_instant("yesterday", start, end)
    iso = parse_instant("2023-11-14T22:23:20+00:00", start, end)
    assert iso == start + 600 * S


def test_timeline_fraction_and_click_are_inverse() -> None:
    start, end = 1000, 1000 + 3600 * S
    for f in (0.0, 0.25, 0.5, 1.0):
        assert fraction_at(time_at(f, start, end), start, end) == pytest.approx(f)
    assert time_at(-1.0, start, end) == start and time_at(2.0, start, end) == end
    assert span_text(3723 * S) == "1:02:03" and span_text(59 * S) == "0:59"
