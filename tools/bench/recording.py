"""Recording: how fast the flight recorder writes, how small its files are, how fast a seek is.

- Throughput: batches of 1,000 readings (8 device-like layouts, float32 sensor values: the
  17-digit kind, the most expensive to write as text) through ``RecordingWriter`` with its
  live policy (1 s flushes with fsync, 10 s keyframes), log time advancing 1 ms per batch, so
  one second of log time holds a million readings. Measured until the file is closed.
- Size: bytes on disk per million readings of that run (zstd chunks).
- Seek and open: one hour of synthetic pump-station traffic (the scene's 29 points at their
  poll periods, heartbeats, acks, events, a restart and a silence); random seeks, each
  returning the keyframe and what follows it up to the target time.

``--quick`` writes a few hundred batches and five minutes of pump-station traffic.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from runtime.bus.wire import ReadingColumns, columns, layout_of
from runtime.recording.reader import open_recording
from runtime.recording.records import RecordedReadings
from runtime.recording.writer import RecordingWriter
from tools.bench.recording_traffic import T0_NS, write_pump_station
from tools.bench.row import Row

SUITE = "recording"
TARGET_READINGS_PER_S = 1_000_000
TARGET_MB_PER_MILLION = 20.0
TARGET_SEEK_MS = 50.0
BATCH = 1000


def _batches(count: int, seed: int = 0) -> list[ReadingColumns]:
    """``count`` batches over 8 layouts; values wander like plant values read as float32."""
    rng = np.random.default_rng(seed)
    layouts = [layout_of([f"B-{k}/value_{j}" for k in range(BATCH)]) for j in range(8)]
    level = rng.uniform(0, 100, (8, BATCH))
    zeros = np.zeros(BATCH, np.uint8)
    out = []
    for i in range(count):
        j = i % 8
        level[j] += rng.normal(0, 0.5, BATCH)
        values = level[j].astype(np.float32).astype(np.float64)
        out.append(columns(layouts[j], values, zeros, zeros,
                           np.full(BATCH, T0_NS + i * 1_000_000, np.int64)))
    return out


def _read_back(out_dir: Path, end_ns: int | None = None) -> tuple[int, int, float]:
    """(messages, readings, seconds) to read and validate every message up to ``end_ns``."""
    messages = readings = 0
    start = time.perf_counter()
    with open_recording(out_dir) as recording:
        for record in recording.iter_messages(end_ns=end_ns):
            messages += 1
            if type(record) is RecordedReadings:
                readings += len(record.columns)
    return messages, readings, time.perf_counter() - start


def _throughput(out_dir: Path, batches: int) -> tuple[float, float, float]:
    """(readings per second, readings per CPU second, MB per million readings).

    The CPU-second rate is what the writer costs whatever else the machine is doing; the
    wall-clock rate is the row (it includes waiting for the disk)."""
    pool = _batches(min(batches, 256))
    start, start_cpu = time.perf_counter(), time.process_time()
    with RecordingWriter(out_dir) as writer:
        for i in range(batches):
            t = T0_NS + i * 1_000_000
            writer.write_readings(t, "bench", 1, i + 1, t, pool[i % len(pool)])
            writer.tick(t)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    size = sum(p.stat().st_size for p in out_dir.glob("*.mcap"))
    readings = batches * BATCH
    return readings / elapsed, readings / cpu, size / readings  # bytes/reading == MB/million


def _seek_rows(out_dir: Path, duration_s: float, seeks: int) -> list[Row]:
    with RecordingWriter(out_dir) as writer:
        traffic = write_pump_station(writer, duration_s, restart_at_s=duration_s / 2,
                                     silence_s=(duration_s / 6, duration_s / 6 + 30))
    label = "one-hour" if duration_s >= 3600 else f"{duration_s / 60:.0f}-minute"
    start = time.perf_counter()
    recording = open_recording(out_dir)
    open_ms = (time.perf_counter() - start) * 1e3
    rng = np.random.default_rng(1)
    times_ms = []
    with recording:
        for t in rng.integers(recording.start_ns, recording.end_ns + 1, seeks).tolist():
            start = time.perf_counter()
            recording.seek_messages(t)
            times_ms.append((time.perf_counter() - start) * 1e3)
    size = sum(p.stat().st_size for p in out_dir.glob("*.mcap"))
    messages, _, read_s = _read_back(out_dir, T0_NS + int(min(duration_s, 600.0) * 1e9))
    note = f"{seeks} random seeks, {traffic.readings_batches} batches"
    return [
        Row(SUITE, f"seek in a {label} pump-station recording, p50",
            float(np.median(times_ms)), "ms", TARGET_SEEK_MS, "lower", note),
        Row(SUITE, f"seek in a {label} pump-station recording, max", float(max(times_ms)),
            "ms", TARGET_SEEK_MS, "lower", note),
        Row(SUITE, f"open {label} recording", open_ms, "ms", None, "lower"),
        Row(SUITE, "bytes per million readings, pump station", size / traffic.readings,
            "MB", None, "lower", "29 points, ~25 messages per second"),
        Row(SUITE, "read back pump-station messages/s", messages / read_s, "messages/s",
            None, "higher", "decoded and validated, 4 to 19 points each"),
    ]


def run(quick: bool) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="twinstage-bench-recording-"))
    try:
        batches = 300 if quick else 5000
        rate, cpu_rate, mb_per_million = _throughput(work / "throughput", batches)
        _, readings, read_s = _read_back(work / "throughput")
        rows = [
            Row(SUITE, "record readings/s, batches of 1,000", rate, "readings/s",
                TARGET_READINGS_PER_S, "higher", f"{batches} batches, float32 values, "
                f"{cpu_rate / 1e6:.2f} M per CPU second"),
            Row(SUITE, "bytes per million readings", mb_per_million, "MB",
                TARGET_MB_PER_MILLION, "lower", "zstd, 1 s chunks"),
            Row(SUITE, "read back readings/s, batches of 1,000", readings / read_s,
                "readings/s", None, "higher", "decoded and validated"),
        ]
        rows += _seek_rows(work / "pump", 300.0 if quick else 3600.0, 20 if quick else 200)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["run"]
