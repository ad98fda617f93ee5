"""Latency records and the stats file, without a window."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from conftest import PUMP_STATION

from runtime.live.latency import FIELDS, LatencyProbe
from runtime.live.stats import FORMAT, FrameTimings, world_snapshot, write_stats
from runtime.quality import Quality, Reason
from runtime.render.inspector import Selection, inspector_lines
from runtime.scene import load_devices, load_scene
from runtime.world import build_world


def _world():  # noqa: ANN202
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def test_probe_closes_one_record_per_applied_point_at_the_next_frame() -> None:
    world = _world()
    probe = LatencyProbe(world, capacity=3)
    now = time.monotonic_ns()
    cols = np.array([world.point_column["LT-102/level_m"], world.point_column["P-101/speed_rpm"]])
    world.write(cols, [4.0, 1480.0], [0, 0], [0, 0], [111, 222], now)
    assert probe.applied(now) == 2
    assert probe.frame_done(7, t_wall_ns=999, t_monotonic_ns=now + 5) == 2
    assert probe.frame_done(8) == 0, "a value is recorded once, at the first frame showing it"
    rec = {r.point: r for r in probe.records}
    assert rec["LT-102/level_m"] == ("LT-102/level_m", 111, now, now + 5, 999, 7)
    world.write(cols, [4.1, 1470.0], [0, 0], [0, 0], [333, 444], now + 10)
    probe.applied(now + 10)
    probe.frame_done(9)
    assert len(probe.records) == 3 and probe.dropped == 1  # bounded
    assert probe.to_json()["fields"] == list(FIELDS)


def test_stats_file_is_strict_json_with_words_and_codes(tmp_path: Path) -> None:
    world = _world()
    now = time.monotonic_ns()
    c = world.point_column["LT-102/level_m"]
    world.write(np.array([c]), [3.0], [Quality.GOOD], [Reason.NONE], [1], now - 2 * 10**9)
    world.state.quality[c] = Quality.BAD
    world.state.reason[c] = Reason.NO_COMMUNICATION
    timings = FrameTimings(capacity=4)
    for k in range(6):
        timings.add("ingest", 100_000 * k)
        timings.end_frame(now + k * 16_000_000)
    out = write_stats(tmp_path / "s.json", {"timings_ms": timings.summary(),
                                            **world_snapshot(world, now)})
    data = json.loads(out.read_text())
    assert data["format"] == FORMAT
    lt = data["points"]["LT-102/level_m"]
    assert lt["quality"] == "BAD" and lt["reason"] == "no_communication"
    assert lt["good_value"] == 3.0 and abs(lt["age_s"] - 2.0) < 1e-6
    assert data["points"]["T-102/level_m"]["value"] is None  # NaN -> null
    assert data["timings_ms"]["frames"] == 6 and data["timings_ms"]["kept"] == 4


def test_inspector_lines_and_tab_order() -> None:
    world = _world()
    now = time.monotonic_ns()
    c = world.point_column["LT-102/level_m"]
    world.write(np.array([c]), [3.25], [Quality.GOOD], [Reason.NONE], [1], now - 12 * 10**9)
    world.state.quality[c] = Quality.BAD
    world.state.reason[c] = Reason.NO_COMMUNICATION
    row = world.entity_row["T-102"]
    residual = np.full(len(world.points), np.nan)
    residual[c] = 0.125
    lines = inspector_lines(world, row, [*range(28, 31), c], now, residual=residual,
                            visual_quality=Quality.BAD, visual_reason=Reason.NO_COMMUNICATION,
                            visual_age_s=12.0)
    assert lines[0].startswith("T-102  Clearwell")
    assert lines[1] == "BAD no communication - 12 s"
    lt = next(line for line in lines if line.startswith("LT-102/level_m"))
    assert "3.250" in lt and "BAD no communication (held)" in lt and "+0.125" in lt
    sel = Selection(["A", "B", "C"])
    assert sel.cycle(1) == "A" and sel.cycle(1) == "B" and sel.cycle(-1) == "A"
    assert sel.cycle(-1) == "C" and sel.clear() and not sel.clear()


def test_frame_timings_count_frames_and_cpu_per_second() -> None:
    timings = FrameTimings(capacity=100)
    t0 = 5_000_000_000
    for k in range(25):  # 10 frames in the first second, 15 in the next, 0 in the third
        t = t0 + (k * 100_000_000 if k < 10 else 1_000_000_000 + (k - 10) * 60_000_000)
        timings.end_frame(t)
    timings.end_frame(t0 + 3_100_000_000)
    per_second = timings.summary()["per_second"]
    assert [s["frames"] for s in per_second] == [10, 15, 0, 1]
    assert all(s["cpu_ms"] >= 0 for s in per_second)
    assert per_second[1]["t_s"] - per_second[0]["t_s"] == 1.0
