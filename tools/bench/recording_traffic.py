"""Synthetic pump-station bus traffic, written straight into a RecordingWriter.

What ``twinstage record`` would see from the pump station's adapter: one readings batch per
device poll (the point names, grouping and poll periods of ``scenes/pump_station/devices.yaml``),
a heartbeat per source every second, now and then a command ack, an alarm-like event, a
source falling silent and coming back, and a publisher restart (new epoch). Values wander the
way plant values do, stored as float32 registers scaled to doubles (17-digit floats, the
expensive kind to write as text). Deterministic for a seed; times are driven, not read.

Used by the recording tests and the ``recording`` bench suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from runtime.bus.wire import PointLayout, columns, layout_of
from runtime.control.ack import Ack
from runtime.recording.writer import RecordingWriter

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVICES_YAML = REPO_ROOT / "scenes" / "pump_station" / "devices.yaml"
T0_NS = 1_764_000_000_000_000_000
"""2025-11-24 16:00:00 UTC: where synthetic recordings start."""
STEP_NS = 100_000_000
"""The traffic advances in 100 ms steps (the fastest poll period)."""
SOURCE = "adapter-pump_station"


@dataclass(slots=True)
class _Device:
    layout: PointLayout
    period_steps: int
    level: np.ndarray


@dataclass
class Traffic:
    """What was written, for tests to check against."""

    readings_batches: int = 0
    readings: int = 0
    acks: int = 0
    events: int = 0
    source_states: int = 0
    end_ns: int = 0
    epochs: list[int] = field(default_factory=list)


def pump_station_devices() -> list[tuple[str, list[str], int]]:
    """(device id, point names, poll period in ms) per device of the pump station."""
    doc = yaml.safe_load(DEVICES_YAML.read_text())
    return [(d["id"], [p["point"] for p in d["points"]], int(d["poll_period_ms"]))
            for d in doc["devices"]]


def write_pump_station(writer: RecordingWriter, duration_s: float, *, seed: int = 0,
                       start_ns: int = T0_NS, restart_at_s: float | None = None,
                       silence_s: tuple[float, float] | None = None,
                       ack_every_s: float = 7.0, event_every_s: float = 11.0) -> Traffic:
    """Write ``duration_s`` of pump-station traffic, calling ``writer.tick`` every step."""
    rng = np.random.default_rng(seed)
    devices = [_Device(layout_of(points), max(1, period_ms * 1_000_000 // STEP_NS),
                       rng.uniform(0, 100, len(points)))
               for _id, points, period_ms in pump_station_devices()]
    traffic = Traffic()
    epoch, seq = 1 + seed, 0
    traffic.epochs.append(epoch)
    steps = int(duration_s * 1e9 // STEP_NS)
    restart_step = None if restart_at_s is None else int(restart_at_s * 1e9 // STEP_NS)
    silent = (None if silence_s is None else
              (int(silence_s[0] * 1e9 // STEP_NS), int(silence_s[1] * 1e9 // STEP_NS)))
    ack_steps = max(1, int(ack_every_s * 1e9 // STEP_NS))
    event_steps = max(1, int(event_every_s * 1e9 // STEP_NS))
    for step in range(steps):
        t = start_ns + step * STEP_NS
        if step == restart_step:  # the adapter restarted: new epoch, seq from 1
            epoch, seq = epoch + 1000, 0
            traffic.epochs.append(epoch)
        if silent and step == silent[0]:
            writer.write_source_state(t, SOURCE, epoch, False, 3000)
            traffic.source_states += 1
        if silent and step == silent[1]:
            writer.write_source_state(t, SOURCE, epoch, True, (silent[1] - silent[0]) * 100)
            traffic.source_states += 1
        if not (silent and silent[0] <= step < silent[1]):
            for dev in devices:
                if step % dev.period_steps:
                    continue
                seq += 1
                writer.write_readings(t, SOURCE, epoch, seq, t - 2_000_000,
                                      _batch(rng, dev, t - 5_000_000))
                traffic.readings_batches += 1
                traffic.readings += len(dev.layout)
            if step % 10 == 0:
                seq += 1
                writer.note_heartbeat(t, SOURCE, epoch, seq, 1000)
        if step % ack_steps == ack_steps - 1:
            writer.write_ack(t, Ack(f"cmd-{step}", "P-101/speed_sp_rpm", "confirmed",
                                    "P-101/speed_sp_rpm set to 1200 rpm", 1200.0, "", False))
            traffic.acks += 1
        if step % event_steps == event_steps - 1:
            writer.write_event(t, "alarm", f"LT-101/level_m:HH:{step}", "LT-101 level high",
                               "high", {"value_m": 4.6})
            traffic.events += 1
        writer.tick(t)
        traffic.end_ns = t
    return traffic


def _batch(rng: np.random.Generator, dev: _Device, t_source_ns: int):  # noqa: ANN202
    """One poll: values wander; 1 in 50 polls has an Uncertain point, 1 in 200 a Bad one."""
    n = len(dev.layout)
    dev.level += rng.normal(0, 0.5, n)
    values = dev.level.astype(np.float32).astype(np.float64)
    quality = np.zeros(n, np.uint8)
    reason = np.zeros(n, np.uint8)
    draw = rng.random()
    if draw < 0.02:
        i = int(rng.integers(n))
        quality[i], reason[i] = (2, 2) if draw < 0.005 else (1, 1)
    return columns(dev.layout, values, quality, reason, np.full(n, t_source_ns, np.int64))


__all__ = ["SOURCE", "STEP_NS", "T0_NS", "Traffic", "pump_station_devices",
           "write_pump_station"]
