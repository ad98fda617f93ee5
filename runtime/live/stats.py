"""Frame timings and the ``--stats-json`` file the end-to-end tests read.

Timings are CPU time per phase per frame (``time.perf_counter_ns`` around each phase's work),
kept in a bounded ring so hours of running cost a fixed few hundred kilobytes. Percentiles are
computed once, at exit.

The stats file (``format: twinstage.viewer-stats/1``) holds, per point, the world's view of it
at exit (value, quality and reason as words and codes, age of the last good value, the model's
estimate and residual), per entity the quality the world and the 3D view show, the frame
timings, ingest and bus counters, and the latency records (:mod:`runtime.live.latency`).
JSON has no NaN: a missing number is ``null``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from runtime.quality import Quality, Reason

FORMAT = "twinstage.viewer-stats/1"
PHASES = ("ingest", "sim", "sync", "hud", "ui")
"""``hud``: badge layout and the inspector text; ``ui``: badge values, status bar, mini-map."""
DEFAULT_CAPACITY = 100_000


class FrameTimings:
    """Per-phase CPU nanoseconds for the last ``capacity`` frames, plus frame intervals."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._ns = np.zeros((capacity, len(PHASES)), dtype=np.int64)
        self._interval_ns = np.zeros(capacity, dtype=np.int64)
        self._end_ns = np.zeros(capacity, dtype=np.int64)
        self._cpu_ns = np.zeros(capacity, dtype=np.int64)
        """Process CPU time (every thread) at each frame's end."""
        self.frames = 0
        self._current = np.zeros(len(PHASES), dtype=np.int64)
        self._last_frame_end_ns = -1

    def add(self, phase: str, ns: int) -> None:
        """Add ``ns`` of work to ``phase`` in the frame in progress."""
        self._current[PHASES.index(phase)] += ns

    def end_frame(self, now_ns: int) -> None:
        """Close the frame in progress (call once a frame, after the render)."""
        i = self.frames % self.capacity
        self._ns[i] = self._current
        self._interval_ns[i] = now_ns - self._last_frame_end_ns if self._last_frame_end_ns >= 0 \
            else 0
        self._last_frame_end_ns = now_ns
        self._end_ns[i] = now_ns
        self._cpu_ns[i] = time.process_time_ns()
        self._current[:] = 0
        self.frames += 1

    def summary(self) -> dict[str, Any]:
        """p50/p99/max in ms per phase and for ingest+sim+sync, and frame interval stats."""
        n = min(self.frames, self.capacity)
        out: dict[str, Any] = {"frames": self.frames, "kept": n}
        if n == 0:
            return out
        ms = self._ns[:n] / 1e6
        for k, name in enumerate(PHASES):
            out[name] = _pcts(ms[:, k])
        out["ingest+sim+sync"] = _pcts(ms[:, 0] + ms[:, 1] + ms[:, 2])
        out["hud+ui"] = _pcts(ms[:, 3] + ms[:, 4])
        intervals = self._interval_ns[:n][self._interval_ns[:n] > 0] / 1e6
        if len(intervals):
            out["frame_interval"] = _pcts(intervals)
            out["fps_mean"] = round(1000.0 / float(intervals.mean()), 2)
        out["per_second"] = self.per_second()
        return out

    def per_second(self) -> list[dict[str, float]]:
        """Frames and process CPU (ms, every thread) per whole second of the kept frames, in
        order: ``t_s`` is the second's start on the monotonic clock. The last is partial."""
        n = min(self.frames, self.capacity)
        if n < 2:
            return []
        start = self.frames - n
        order = np.arange(start, self.frames) % self.capacity
        end, cpu = self._end_ns[order], self._cpu_ns[order]
        second = (end - end[0]) // 1_000_000_000
        bounds = np.searchsorted(second, np.arange(int(second[-1]) + 2))
        out = []
        for k in range(len(bounds) - 1):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            cpu_ms = (int(cpu[hi - 1]) - int(cpu[max(lo - 1, 0)])) / 1e6 if hi > lo else 0.0
            out.append({"t_s": round(end[0] / 1e9 + k, 3), "frames": hi - lo,
                        "cpu_ms": round(cpu_ms, 3)})
        return out


def _pcts(a: np.ndarray) -> dict[str, float]:
    p50, p99 = np.percentile(a, [50, 99])
    return {"p50": round(float(p50), 4), "p99": round(float(p99), 4),
            "max": round(float(a.max()), 4), "mean": round(float(a.mean()), 4)}


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _reason_name(code: int) -> str:
    try:
        return Reason(code).name.lower()
    except ValueError:
        return f"reason_{code}"


def world_snapshot(world: Any, now_ns: int, *, observer: Any = None,
                   visual_quality: np.ndarray | None = None) -> dict[str, Any]:
    """Per-point and per-entity state of ``world`` at ``now_ns`` (monotonic), JSON-ready."""
    s = world.state
    points = {}
    served = world.points.poll_period_ns >= 0
    for j, pid in enumerate(world.points.ids):
        t_good = int(s.good_t_receive_ns[j])
        t_recv = int(s.t_receive_ns[j])
        entry = {
            "value": _num(s.value[j]),
            "quality": Quality(int(s.quality[j])).name,
            "quality_code": int(s.quality[j]),
            "reason": _reason_name(int(s.reason[j])),
            "reason_code": int(s.reason[j]),
            "served": bool(served[j]),
            "good_value": _num(s.good_value[j]),
            "age_s": round((now_ns - t_good) / 1e9, 4) if t_good >= 0 else None,
            "since_reading_s": round((now_ns - t_recv) / 1e9, 4) if t_recv >= 0 else None,
            "t_source_ns": int(s.t_source_ns[j]),
            "seq": int(s.seq[j]),
        }
        if observer is not None:
            entry["estimate"] = _num(observer.display[j])
            entry["residual"] = _num(observer.residual[j])
            entry["held"] = bool(observer.held[j])
        points[pid] = entry
    entities = {}
    for i, eid in enumerate(world.entities.ids):
        q = int(world.entity_quality[i])
        entry = {"quality": Quality(q).name, "quality_code": q}
        if visual_quality is not None:
            entry["visual_quality"] = Quality(int(visual_quality[i])).name
        entities[eid] = entry
    return {"points": points, "entities": entities}


def write_stats(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` (with the format tag) as JSON, atomically (temp file then rename)."""
    out = Path(path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, **data}, indent=1, allow_nan=False))
    tmp.replace(out)
    return out
