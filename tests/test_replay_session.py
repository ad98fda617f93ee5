"""Replay on the session seam: determinism at any speed, seeks that land where playing lands,
and the recording source's liveness replay. Virtual time is driven by hand (no wall clock)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import PUMP_STATION
from replay_fixtures import S, write_recording

from runtime.app.build import replay_session
from runtime.app.session import REPLAY_TICK_NS, state_hash
from runtime.quality import Quality, Reason
from runtime.recording.reader import open_recording
from runtime.scene import load_devices, load_scene
from runtime.staleness import apply_staleness
from runtime.world import build_world

FRAME_NS = 16_666_667


@pytest.fixture(scope="module")
def recording_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rec")
    write_recording(folder, 60.0)
    return folder


def _world():
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def _play(folder: Path, speed: Fraction, until_s: float) -> dict[int, str]:
    """Play from the start at ``speed`` with 60 fps wall frames; hash at every tick end."""
    world = _world()
    session = replay_session(world, open_recording(folder), speed=speed)
    hashes: dict[int, str] = {}

    def on_tick(t_ns: int) -> None:
        apply_staleness(world, t_ns)
        hashes[t_ns] = state_hash(world, session.observer)

    session.on_tick.append(on_tick)
    start = session.clock.now_ns
    wall = 0
    while session.clock.now_ns < start + until_s * S and not session.clock.paused:
        wall += FRAME_NS
        session.frame(wall)
    session.close()
    return hashes


def test_replay_at_1x_and_16x_reaches_equal_state_hashes(recording_dir: Path) -> None:
    slow = _play(recording_dir, Fraction(1), 45.0)
    fast = _play(recording_dir, Fraction(16), 45.0)
    common = sorted(set(slow) & set(fast))
    assert len(common) >= 400  # every 100 ms tick of 45 s, on both
    assert [slow[t] for t in common] == [fast[t] for t in common]
    assert len({slow[t] for t in common}) > 100  # the state really moved


def test_a_seek_lands_in_the_state_that_playing_reaches(recording_dir: Path) -> None:
    world = _world()
    played = replay_session(world, open_recording(recording_dir))
    start = played.clock.now_ns
    marks = {start + k * 5 * REPLAY_TICK_NS for k in (7, 41, 69, 75, 99, 111)}
    at_marks: dict[int, str] = {}

    def on_tick(t_ns: int) -> None:
        if t_ns in marks:
            apply_staleness(world, t_ns)
            at_marks[t_ns] = state_hash(world)

    played.on_tick.append(on_tick)
    wall = 0
    while len(at_marks) < len(marks):
        wall += FRAME_NS
        played.frame(wall)
    played.close()

    other = _world()
    seeker = replay_session(other, open_recording(recording_dir), paused=True)
    for t in [*sorted(marks, reverse=True), *sorted(marks)]:  # backwards, then forwards
        assert seeker.seek(t) == t
        assert state_hash(other) == at_marks[t], f"seek to +{(t - start) / S:.1f} s"
    seeker.close()


def test_replayed_world_shows_the_device_failure_and_the_silent_source(
        recording_dir: Path) -> None:
    world = _world()
    session = replay_session(world, open_recording(recording_dir), paused=True)
    start = session.clock.now_ns
    fv = world.point_column["FV-101/position_pct"]
    lt = world.point_column["LT-102/level_m"]
    session.seek(start + 10 * S)
    assert world.state.quality[fv] == Quality.GOOD and world.state.quality[lt] == Quality.GOOD
    session.seek(start + 22 * S)
    assert world.state.quality[fv] == Quality.BAD
    assert world.state.reason[fv] == Reason.DEVICE_FAILURE
    assert world.state.quality[lt] == Quality.GOOD
    session.seek(start + 34 * S)
    assert world.state.quality[lt] == Quality.BAD
    assert world.state.reason[lt] == Reason.NO_COMMUNICATION
    assert np.isfinite(world.state.value[lt])  # the last value is held, marked Bad
    session.seek(start + 45 * S)
    assert world.state.quality[lt] == Quality.GOOD
    session.close()


def test_a_replay_that_cannot_keep_up_plays_slower_and_stays_deterministic(
        recording_dir: Path) -> None:
    world = _world()
    session = replay_session(world, open_recording(recording_dir), speed=Fraction(64))
    session.replay_budget_ns = 0  # one tick per frame: far behind 64x
    seen: dict[int, str] = {}
    session.on_tick.append(lambda t: seen.__setitem__(t, state_hash(world, session.observer)))
    start = session.clock.now_ns
    session.frame(0)
    frame = session.frame(FRAME_NS)
    assert frame.behind and frame.steps == 1 and frame.now_ns < start + 2 * REPLAY_TICK_NS
    assert session.behind_ns > 0
    session.close()
    reference = _play(recording_dir, Fraction(1), 1.0)
    assert seen and all(reference[t] == h for t, h in seen.items())


def test_speed_pause_and_the_end_of_the_recording(recording_dir: Path) -> None:
    world = _world()
    session = replay_session(world, open_recording(recording_dir), speed=Fraction(64))
    session.replay_budget_ns = 1 << 62  # this test counts ticks: no CPU budget
    start = session.clock.now_ns
    frame = session.frame(0)
    frame = session.frame(S // 4)
    assert frame.now_ns == start + 16 * S and frame.steps == 160 and not frame.paused
    session.clock.toggle_pause()
    assert session.frame(S).now_ns == frame.now_ns
    session.clock.toggle_pause()
    for k in range(10):
        frame = session.frame(S + (k + 1) * S // 4)
    assert frame.paused and frame.now_ns == session.source.end_ns
    session.close()
