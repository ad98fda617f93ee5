"""Alarms in replay judge on the session's virtual time: the same recording raises the same
alarms at the same virtual times at 1x and at 16x, and a seek starts the judgement afresh."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from conftest import PUMP_STATION
from replay_fixtures import S, write_recording

from runtime.alarms.board import AlarmBoard
from runtime.alarms.replay import ReplayAlarms
from runtime.app.build import replay_session
from runtime.recording.reader import open_recording
from runtime.scene import load_devices, load_scene
from runtime.world import build_world

FRAME_NS = 16_666_667


@pytest.fixture(scope="module")
def recording_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("alarm-rec")
    write_recording(folder, 40.0)
    return folder


def _play(folder: Path, speed: Fraction, until_s: float) -> tuple[list, AlarmBoard]:
    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    session = replay_session(world, open_recording(folder), speed=speed)
    alarms = ReplayAlarms.for_session(session)
    board = AlarmBoard()
    start = session.clock.now_ns
    wall = 0
    while session.clock.now_ns < start + until_s * S and not session.clock.paused:
        wall += FRAME_NS
        session.frame(wall)
        alarms.drain(board)
    transitions = list(alarms.transitions)
    session.seek(start + 2 * S)
    alarms.drain(board)
    assert alarms.transitions == [] and board.alarms == {}  # a seek starts afresh
    session.close()
    return transitions, board


def test_replayed_alarms_are_the_same_at_any_speed(recording_dir: Path) -> None:
    slow, _ = _play(recording_dir, Fraction(1), 30.0)
    fast, _ = _play(recording_dir, Fraction(16), 30.0)
    assert slow, "the recording raised no alarm"
    common_end = min(slow[-1][0], fast[-1][0])
    assert [t for t in slow if t[0] <= common_end] == [t for t in fast if t[0] <= common_end]
    assert {state for _, _, state in slow} >= {"unack"}
