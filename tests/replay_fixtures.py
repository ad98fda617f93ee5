"""A synthetic pump-station recording written with the real RecordingWriter: three devices
polled at their periods, values moving with time, a device failure, a silent source and its
return; what replay tests need without running a plant."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from conftest import PUMP_STATION

from runtime.bus.wire import columns, layout_of
from runtime.quality import Quality, Reason
from runtime.recording.writer import RecordingWriter
from runtime.scene import load_devices, load_scene

S = 1_000_000_000
T0 = 1_767_225_600 * S
"""2026-01-01T00:00:00Z: recordings start here (log time, Unix ns)."""
SOURCE = "adapter-pump_station"


def device_points() -> dict[str, tuple[int, list[str]]]:
    scene = load_scene(PUMP_STATION)
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    return {d.id: (d.poll_period_ms, [p.point for p in d.points]) for d in devices.devices}


def value_at(point: str, t_s: float) -> float:
    """A plausible, moving value per point (levels drift, speeds step, flags toggle)."""
    h = (sum(map(ord, point)) % 97) / 97.0
    if point.endswith(("running", "tripped", "_cmd", "mode", "duty_pump")):
        return float(int(t_s / 7.0 + h * 3) % 2)
    return round(100.0 * h + 10.0 * math.sin(t_s / 5.0 + h * 6.0), 6)


def write_recording(folder: Path, seconds: float = 60.0, *, keyframe_s: float = 5.0,
                    split_s: float = 3600.0) -> tuple[int, int]:
    """Write ``seconds`` of traffic; returns (start_ns, end_ns) of the log times written.

    From 20 s to 25 s PLC-102 reports device failure (Bad); from 30 s to 38 s the source is
    silent (a source-state message, then nothing) and comes back.
    """
    devices = device_points()
    seq = 0
    t_ns = T0
    clock = [T0]
    end = T0 + int(seconds * S)
    next_poll = {d: T0 for d in devices}
    writer = RecordingWriter(folder, keyframe_s=keyframe_s, split_s=split_s, scene="pump_station",
                             clock=lambda: clock[0])
    silent = False
    with writer:
        while t_ns < end:
            t_s = (t_ns - T0) / S
            if 30.0 <= t_s < 38.0:
                if not silent:
                    writer.write_source_state(t_ns, SOURCE, 7, False, 3000)
                    silent = True
            else:
                if silent:
                    writer.write_source_state(t_ns, SOURCE, 7, True, 0)
                    silent = False
                for dev, (period_ms, points) in devices.items():
                    if t_ns < next_poll[dev]:
                        continue
                    next_poll[dev] += period_ms * 1_000_000
                    seq += 1
                    n = len(points)
                    failed = dev == "PLC-102" and 20.0 <= t_s < 25.0
                    q = np.full(n, Quality.BAD if failed else Quality.GOOD, np.uint8)
                    r = np.full(n, Reason.DEVICE_FAILURE if failed else Reason.NONE, np.uint8)
                    vals = [value_at(p, t_s) for p in points]
                    cols = columns(layout_of(points), vals, q, r, np.full(n, t_ns - 3_000_000))
                    writer.write_readings(t_ns + 1_000_000, SOURCE, 7, seq, t_ns, cols)
            t_ns += 50_000_000
            clock[0] = t_ns
            writer.tick(t_ns)
    return T0 + 1_000_000, t_ns
