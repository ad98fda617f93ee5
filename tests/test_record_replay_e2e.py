"""Record the live plant with faults for 23 s, kill -9 a recorder mid-way, and replay.

Real processes on loopback: bus, virtual plant, adapter and two recorders (``twinstage
record``). Faults: P-101 trips, RTU-101 stops answering, then the adapter itself is stopped
(SIGSTOP) for a few seconds and resumed. One recorder is killed with SIGKILL half-way: its
file is torn, opens with a warning, has lost at most about the last second, and ``record
repair`` makes it whole. The other records the whole run: the plain ``mcap`` reader lists its
channels and schemas, every message validates against its schema, replay at 1x and 16x
reaches equal state hashes, seeks land where playing lands, and ``view --replay
--screenshot-at`` draws the plant as it was.
"""

from __future__ import annotations

import json
import os
import signal
import time
from fractions import Fraction
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import PUMP_STATION, run_cli
from e2e_fixtures import Watch, live_stack, wait_for
from mcap.reader import make_reader

from runtime.app.build import replay_session
from runtime.app.session import REPLAY_TICK_NS, state_hash
from runtime.recording.reader import open_recording
from runtime.scene import load_devices, load_scene
from runtime.staleness import apply_staleness
from runtime.world import build_world

S = 1_000_000_000
RECORD_S = 23.0
"""Long enough for 200 replay ticks of 100 ms (test_replay_of_the_live_recording_...)."""


def _png(path: Path) -> np.ndarray:
    from panda3d.core import Filename, PNMImage

    img = PNMImage(Filename.from_os_specific(str(path)))
    w, h = img.get_x_size(), img.get_y_size()
    return np.array([[tuple(img.get_xel(x, y)) for x in range(w)] for y in range(h)])


def _good(watch: Watch, point: str) -> bool | None:
    """Whether ``point`` is Good on the bus (None before its first reading)."""
    u = watch.value(point)
    return None if u is None else u.quality == 0


def _mcaps(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.mcap"))


def _world():
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def _hashes(folder: Path, speed: Fraction) -> dict[int, str]:
    world = _world()
    session = replay_session(world, open_recording(folder), speed=speed)
    out: dict[int, str] = {}

    def on_tick(t: int) -> None:
        apply_staleness(world, t)
        out[t] = state_hash(world, session.observer)

    session.on_tick.append(on_tick)
    wall = 0
    while not session.clock.paused:
        wall += 16_666_667
        session.frame(wall)
    session.close()
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("e2e-rec")
    full, killed = tmp / "full", tmp / "killed"
    audit_log = tmp / "adapter-audit.jsonl"
    with live_stack(tmp, adapter=False) as stack:
        stack.start_adapter("--audit-log", str(audit_log))
        ctl = str(15019 + stack.port_offset)
        sup = stack.sup
        rec_full = sup.start("record-full", ["record", "--bus", stack.bus_address,
                                             "--out", str(full), "--keyframe", "2s"])
        rec_killed = sup.start("record-killed", ["record", "--bus", stack.bus_address,
                                                 "--out", str(killed), "--keyframe", "2s"])
        wait_for(lambda: _mcaps(full) and _mcaps(killed), 60, "both recorders' files")
        started = time.monotonic()

        def after(s: float) -> None:  # the run's script, by seconds since the files appeared
            wait_for(lambda: time.monotonic() - started > s, s + 30, f"{s} s of recording")

        after(2.5)  # a stretch of normal running before the first fault (the +2s screenshot)
        wrote = run_cli("write", "LIC-102/setpoint_m", "3.1", "--bus", stack.bus_address)
        assert wrote.returncode == 0, wrote.stdout + wrote.stderr  # audited, head published
        assert run_cli("fault", "trip", "P-101", "--control-port", ctl).returncode == 0
        after(6)
        assert run_cli("fault", "silent", "RTU-101", "--control-port", ctl).returncode == 0
        after(9)
        killed_at_ns = time.time_ns()
        os.kill(rec_killed.process.pid, signal.SIGKILL)
        rec_killed.process.wait(timeout=10)
        sup.children.remove(rec_killed)
        after(10)
        assert run_cli("fault", "clear", "--control-port", ctl).returncode == 0
        # The adapter falls silent: a bus subscriber, judging by the recorder's rule, sees its
        # points go Bad, then the recorder has a second more of the silence.
        watch = Watch(stack.endpoints)
        try:
            wait_for(lambda: _good(watch, "FT-101/flow_m3_h"), 30, "FT-101 Good after the clear")
            adapter = stack.child("adapter").process.pid
            os.killpg(adapter, signal.SIGSTOP)
            try:
                wait_for(lambda: _good(watch, "FT-101/flow_m3_h") is False, 30,
                         "the stopped adapter's points Bad")
                bad = time.monotonic()
                wait_for(lambda: watch.pump() or time.monotonic() - bad > 1, 30,
                         "a second of the silence")
            finally:
                os.killpg(adapter, signal.SIGCONT)
            resumed = time.monotonic()
            wait_for(lambda: _good(watch, "FT-101/flow_m3_h"), 30, "the adapter heard again")
        finally:
            watch.close()
        wait_for(lambda: time.monotonic() - started > RECORD_S
                 and time.monotonic() - resumed > 2, 40, f"{RECORD_S} s of recording, 2 s after "
                 "resuming")
        os.killpg(rec_full.process.pid, signal.SIGINT)
        assert rec_full.process.wait(timeout=30) == 0
        sup.children.remove(rec_full)
    return {"full": full, "killed": killed, "killed_at_ns": killed_at_ns, "tmp": tmp,
            "audit_log": audit_log}


def test_the_killed_recorder_lost_at_most_the_last_second_and_repairs(recorded: dict) -> None:
    killed = recorded["killed"]
    rec = open_recording(killed)
    assert rec.warnings and "interrupted" in " ".join(rec.warnings)
    assert rec.end_ns >= recorded["killed_at_ns"] - int(1.5 * S)
    rec.close()
    (torn,) = _mcaps(killed)
    result = run_cli("record", "repair", str(torn))
    assert result.returncode == 0, result.stderr
    again = open_recording(killed)
    assert not again.warnings and again.end_ns >= recorded["killed_at_ns"] - int(1.5 * S)
    again.close()


def test_the_recording_opens_in_the_plain_mcap_reader_and_validates(recorded: dict) -> None:
    (path,) = _mcaps(recorded["full"])
    with path.open("rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        assert summary is not None
        topics = {c.topic for c in summary.channels.values()}
        assert {"/twinstage/readings", "/twinstage/snapshot", "/twinstage/source"} <= topics
        schemas = {s.id: s for s in summary.schemas.values()}
        validators = {
            c.topic: jsonschema.Draft202012Validator(json.loads(schemas[c.schema_id].data))
            for c in summary.channels.values()}
        counts: dict[str, int] = {}
        alive: list[bool] = []
        for _schema, channel, message in reader.iter_messages():
            doc = json.loads(message.data)
            validators[channel.topic].validate(doc)
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if channel.topic == "/twinstage/source":
                alive.append(doc["alive"])
    assert counts["/twinstage/readings"] > 100
    assert counts["/twinstage/source"] >= 2  # the stopped adapter fell silent and came back
    assert False in alive and True in alive[alive.index(False):], alive  # silent, then back


def test_replay_of_the_live_recording_is_deterministic_and_seeks_agree(recorded: dict) -> None:
    full = recorded["full"]
    slow, fast = _hashes(full, Fraction(1)), _hashes(full, Fraction(16))
    common = sorted(set(slow) & set(fast))
    assert len(common) > 200 and [slow[t] for t in common] == [fast[t] for t in common]

    world = _world()
    session = replay_session(world, open_recording(full), paused=True)
    start = session.clock.now_ns
    played = {}
    for t in common[::37]:
        world_p = _world()
        p = replay_session(world_p, open_recording(full))
        wall = 0
        while p.clock.now_ns < t:
            wall += 16_666_667
            p.frame(wall)
        assert (t - start) % REPLAY_TICK_NS == 0
        played[t] = state_hash(world_p) if p.clock.now_ns == t else None
        p.close()
    for t in sorted(played, reverse=True):
        session.seek(t)
        if played[t] is not None:
            assert state_hash(world) == played[t]
    session.close()


def test_view_replay_draws_the_plant_as_it_was(recorded: dict, tmp_path: Path) -> None:
    shots, stats = tmp_path / "shots", tmp_path / "stats.json"
    result = run_cli("view", "pump_station", "--replay", str(recorded["full"]), "--headless",
                     "--size", "320x180", "--screenshot-dir", str(shots),
                     "--screenshot-at", "+2s", "--screenshot-at", "+9s",
                     "--screenshot-at", "+2s", "--stats-json", str(stats), timeout_s=300)
    assert result.returncode == 0, result.stderr
    a, b, c = (_png(shots / f"at-{i:03d}.png") for i in range(3))
    changed, same = np.abs(a - b).mean(), np.abs(a - c).mean()
    # +9 s: P-101 tripped since >= 2.5 s, RTU-101 silent since >= 6 s, both before the fault
    # clear at >= 10 s (the recording starts no later than the fixture's clock)
    assert changed > 4 * same, (changed, same)  # the plant changed; the same instant draws
    # (nearly) the same picture (rotor blades and flow beads keep the phase they animated to)
    data = json.loads(stats.read_text())
    hashes = [e["state_hash"] for e in data["timeline"]]
    assert hashes[0] == hashes[2] != hashes[1]
    assert data["session"]["mode"] == "replay"
    (bar,) = [h for h in data["hud"] if h["kind"] == "timeline"]
    assert "REPLAY" in bar["text"] and bar["bbox"][2] > 300


def test_the_recording_keeps_the_audit_heads_that_catch_a_cut_log(recorded: dict,
                                                                   tmp_path: Path) -> None:
    log = recorded["audit_log"]
    ok = run_cli("audit", "verify", str(log), "--recording", str(recorded["full"]))
    assert ok.returncode == 0 and "matches all" in ok.stdout, ok.stdout + ok.stderr
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
    bad = run_cli("audit", "verify", str(cut), "--recording", str(recorded["full"]))
    assert bad.returncode == 1 and "cut short" in bad.stderr, bad.stdout + bad.stderr
