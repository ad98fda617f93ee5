"""Bench suite ``history``: the historian's stores and the trend panel.

- sustained ingest into the embedded store and into PostgreSQL (a throwaway server from
  Debian's packages): readings/s through the historian's whole write path (policy, minute
  aggregates, current rows, one transaction per batch of 10,000), every reading kept (the
  worst case: no compression);
- one point x 7 days (1 Hz) aggregated to at most 1,000 buckets, per store;
- bytes per reading after compression on the pump station's own signals (the virtual plant's
  device points sampled at their poll periods for an hour of plant time, the scene's policy),
  and the resulting store size per point-year;
- the trend panel's cost per frame with 8 points (render thread only: draw from the worker's
  latest data).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tools.bench.row import Row

REPO = Path(__file__).resolve().parents[2]
T0_NS = 1_790_000_000_000_000_000
YEAR_S = 365 * 86400


def _pipeline(store, n: int, points: int = 40, batch: int = 10_000) -> float:  # noqa: ANN001
    """Readings/s through compressor + rollup + store.write, all readings kept."""
    from runtime.history.batch import Samples, rollup
    from runtime.history.compress import MODE_ALL, Compressor

    names = [f"B-{i:03d}/value_m" for i in range(points)]
    ids = store.point_ids(names)
    lookup = np.array([ids[x] for x in names], np.int64)
    comp = Compressor(points)
    for i in range(points):
        comp.configure(i, MODE_ALL, 0.0, 600 * 10**9)
    rng = np.random.default_rng(0)
    slots = np.tile(np.arange(points, dtype=np.int64), batch // points)
    q = np.zeros(batch, np.int64)
    comp.feed(slots[:points], np.full(points, T0_NS - 1, np.int64), np.zeros(points), q[:points],
              q[:points])  # compile outside the clock
    t0 = time.perf_counter()
    for k in range(n // batch):
        t = T0_NS + (k * (batch // points) + np.repeat(np.arange(batch // points), points)) \
            * 100_000_000
        v = rng.random(batch)
        kept = Samples(*comp.feed(slots, t, v, q, q))
        raw = Samples(slots, t, v, q, q)
        kept.point_id = lookup[kept.point_id]
        latest = raw.latest_per_point()
        latest.point_id = lookup[latest.point_id]
        agg = rollup(raw)
        agg.point_id = lookup[agg.point_id]
        store.write(kept, latest, agg)
    return (n // batch) * batch / (time.perf_counter() - t0)


def _week_query(store) -> float:  # noqa: ANN001
    """Best of 5: one point, 7 days at 1 Hz, aggregated to <= 1,000 buckets (ms)."""
    from runtime.history.batch import Samples, rollup
    from runtime.history.query import HistoryQuery

    name = "WEEK-1/level_m"
    pid = store.point_ids([name])[name]
    day = 86_400
    rng = np.random.default_rng(1)
    for d in range(7):
        t = T0_NS + (d * day + np.arange(day, dtype=np.int64)) * 1_000_000_000
        v = np.cumsum(rng.normal(0, 0.01, day))
        z = np.zeros(day, np.int64)
        s = Samples(np.full(day, pid, np.int64), t, v, z, z)
        store.write(Samples.empty(), s.latest_per_point(), rollup(s))  # aggregates only
    q = HistoryQuery(store)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        every, res = q.aggregate([name], T0_NS, T0_NS + 7 * day * 1_000_000_000)
        best = min(best, time.perf_counter() - t0)
    assert len(res[name].t_ns) <= 1000 and res[name].n.sum() == 7 * day
    return best * 1000


def _pump_station_bytes(quick: bool) -> tuple[float, float, float]:
    """(bytes per reading received, compression ratio, MB per point-year) on the plant's own
    device points, sampled at their poll periods."""
    from runtime.history.batch import Samples, rollup
    from runtime.history.compress import Compressor
    from runtime.history.policy import load_history_config
    from runtime.history.store import open_store
    from runtime.scene import load_devices, load_scene
    from runtime.sim.plant_model import PlantModel

    scene = load_scene(REPO / "scenes" / "pump_station")
    devices = load_devices(REPO / "scenes" / "pump_station" / "devices.yaml", scene)
    config = load_history_config(scene)
    model = PlantModel(scene, seed=0)
    model.warm_up()
    plan: list[tuple[str, int]] = []
    for d in devices.devices:
        for p in d.points:
            pid = getattr(p, "point", None) or getattr(p, "id", None)
            if pid and pid not in dict(plan):
                plan.append((pid, int(d.poll_period_ms)))
    names = [p for p, _ in plan]
    period_ms = np.array([ms for _, ms in plan])
    comp = Compressor(len(names))
    for i, name in enumerate(names):
        pol = config.policy(name)
        comp.configure(i, pol.mode, pol.dev, pol.max_gap_ns)
    seconds = 600 if quick else 3600
    step_ms = int(model.step_ns // 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "h")
        ids = store.point_ids(names)
        lookup = np.array([ids[n] for n in names], np.int64)
        base = store.size_bytes()
        received = kept_n = 0
        t_ms = 0
        buf: list[Samples] = []
        while t_ms < seconds * 1000:
            if t_ms == seconds * 500:
                model.write_point("LIC-102/setpoint_m", 2.0)  # a move halfway through
            due = np.flatnonzero(t_ms % period_ms == 0)
            vals = np.array([model.read_point(names[i]) for i in due])
            t = np.full(len(due), T0_NS + t_ms * 1_000_000, np.int64)
            z = np.zeros(len(due), np.int64)
            s = Samples(due.astype(np.int64), t, vals, z, z)
            kept = Samples(*comp.feed(s.point_id, t, vals, z, z))
            received += len(due)
            kept_n += len(kept)
            kept.point_id = lookup[kept.point_id]
            buf.append(kept)
            if len(buf) >= 50:
                allk = Samples.concat(buf)
                store.write(allk, allk.latest_per_point(), rollup(Samples.empty()))
                buf = []
            model.step(100 // step_ms)
            t_ms += 100
        held = Samples(*comp.held())
        held.point_id = lookup[held.point_id]
        allk = Samples.concat([*buf, held])
        store.write(allk, allk.latest_per_point(), rollup(Samples.empty()))
        size = store.size_bytes() - base
        store.close()
    per_reading = size / received
    readings_per_point_year = received / len(names) / seconds * YEAR_S
    return per_reading, received / max(1, kept_n), per_reading * readings_per_point_year / 1e6


def _trend_frame_ms() -> tuple[float, float]:
    from tools.bench.history_trend import trend_frame_ms

    return trend_frame_ms()


def run(quick: bool) -> list[Row]:
    from runtime.history.pg_cluster import PgCluster, server_bin
    from runtime.history.store import open_store

    n = 100_000 if quick else 1_000_000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "h")
        rows.append(Row("history", "embedded (SQLite WAL): sustained ingest",
                        _pipeline(store, n), "readings/s", 200_000, "higher",
                        "every reading kept, batches of 10,000"))
        rows.append(Row("history", "embedded: 1 point x 7 days -> <= 1,000 buckets",
                        _week_query(store), "ms", 100, "lower"))
        store.close()
    if server_bin() is None:
        print("bench history: PostgreSQL rows left out: its server binaries are not installed "
              "(apt-get install postgresql)", file=sys.stderr)
    else:
        cluster = PgCluster()
        try:
            store = open_store(cluster.start())
            rows.append(Row("history", "PostgreSQL: sustained ingest", _pipeline(store, n),
                            "readings/s", 200_000, "higher",
                            "binary COPY, day partitions, batches of 10,000"))
            rows.append(Row("history", "PostgreSQL: 1 point x 7 days -> <= 1,000 buckets",
                            _week_query(store), "ms", 100, "lower"))
            store.close()
        finally:
            cluster.destroy()
    per, ratio, mb_year = _pump_station_bytes(quick)
    rows.append(Row("history", "pump station signals: store bytes per reading received", per,
                    "B", None, "lower", f"compression {ratio:.0f}:1, embedded store"))
    rows.append(Row("history", "pump station: store size per point-year", mb_year, "MB", None,
                    "lower", "at the scene's poll periods"))
    mean_ms, worst_ms = _trend_frame_ms()
    rows.append(Row("history", "trend panel, 8 points: cost per frame", mean_ms, "ms",
                    1.0, "lower", "render thread, mean over 20 s of a live window"))
    rows.append(Row("history", "trend panel, 8 points: 99th percentile frame", worst_ms, "ms",
                    None, "lower", "frames redrawing 2 pens after new data or a window step"))
    return rows
