"""Helpers for the recording tests: a driven clock, state comparison, writing small files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runtime.recording.records import Record, RecordedReadings, RecordedSourceState
from runtime.recording.state import SourcesState
from runtime.recording.writer import RecordingWriter
from tools.bench.recording_traffic import T0_NS, Traffic, write_pump_station

REPO_ROOT = Path(__file__).resolve().parent.parent


def fixed_clock() -> int:
    """The writer's fsync pacing clock, standing still (tests drive log times themselves)."""
    return 0


def points_of(state: SourcesState) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(source, point) -> (value bits, quality, reason, t_source_ns): bit-exact and order-free."""
    out = {}
    for source, s in state.sources.items():
        cols = s.cache.columns()
        bits = cols.values.view(np.int64).tolist()
        for name, v, q, r, t in zip(cols.points, bits, cols.quality.tolist(),
                                    cols.reason.tolist(), cols.t_source_ns.tolist(),
                                    strict=True):
            out[(source, name)] = (v, q, r, t)
    return out


def full_state_of(state: SourcesState) -> dict[str, object]:
    """Everything a replay keeps per source: epoch, seq, alive, period and points."""
    return {source: (s.epoch, s.seq, s.alive, s.period_ms) for source, s in
            state.sources.items()} | {"points": points_of(state)}


def state_after(records: list[Record]) -> SourcesState:
    state = SourcesState()
    for record in records:
        state.apply(record)
    return state


def state_from_updates(records: list[Record]) -> SourcesState:
    """The state from readings and source changes only (snapshots ignored): the truth the
    snapshots must agree with."""
    state = SourcesState()
    for record in records:
        if type(record) is RecordedReadings or type(record) is RecordedSourceState:
            state.apply(record)
    return state


def write_traffic(out_dir: Path, duration_s: float, **writer_kwargs: object) -> Traffic:
    """A pump-station recording of ``duration_s`` (restart and silence included)."""
    traffic_kwargs = {k: writer_kwargs.pop(k) for k in ("restart_at_s", "silence_s", "seed")
                      if k in writer_kwargs}
    writer_kwargs.setdefault("clock", fixed_clock)
    with RecordingWriter(out_dir, **writer_kwargs) as writer:  # type: ignore[arg-type]
        return write_pump_station(writer, duration_s, **traffic_kwargs)  # type: ignore[arg-type]


__all__ = ["REPO_ROOT", "T0_NS", "fixed_clock", "full_state_of", "points_of", "state_after",
           "state_from_updates", "write_traffic"]
