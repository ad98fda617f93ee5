"""Store down or disk full: a clear error, bounded buffering, the bus unaffected, and resume."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import history_fixtures
import numpy as np
from bus_fixtures import wait_until
from live_fixtures import live_bus
from security_fixtures import session_client

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.subscriber import Subscriber
from runtime.history.ingest import Historian
from runtime.history.pg_cluster import PgCluster
from runtime.history.policy import HistoryConfig
from runtime.history.store import open_store

LEVEL = "LT-102/level_m"
pg_cluster = history_fixtures.pg_cluster


def test_database_down_buffers_then_resumes(pg_cluster: PgCluster) -> None:
    said: list[str] = []
    with live_bus(period_s=0.05) as (address, plant):
        sub = Subscriber(BusEndpoints.from_address(address), security=session_client("viewer"))
        hist = Historian(sub, open_store(pg_cluster.url), HistoryConfig(),
                         commit_every_s=0.1, max_buffer_samples=50_000, on_state=said.append)

        def turn(pred) -> bool:  # noqa: ANN001
            hist.run_once()
            return pred()

        try:
            wait_until(lambda: turn(lambda: hist.counts.stored > 20), 30)
            pg_cluster.stop_server()
            down_ns = time.time_ns()
            wait_until(lambda: turn(lambda: bool(hist.error)), 30)
            assert "history store unavailable" in said[-1]
            stored = hist.counts.stored
            received = hist.counts.received
            for i in range(40):  # readings keep arriving, the value moves, nothing is stored
                plant.values["RTU-101"][LEVEL] = 2.0 + 0.01 * i
                _more_received(turn, hist, received)
                received = hist.counts.received
            assert hist.counts.stored == stored and hist.counts.kept > stored
            up_ns = time.time_ns()
            pg_cluster.start_server()
            wait_until(lambda: turn(lambda: not hist.error and hist.counts.stored
                                    == hist.counts.kept), 60)
            assert said[-1] == "history store available again: resumed writing"
            assert hist.counts.dropped == 0
        finally:
            sub.close()
            hist.close()
    store = open_store(pg_cluster.url)
    try:
        pid = store.points()[LEVEL][0]
        during = store.read_raw(pid, down_ns, up_ns, 10_000)
        assert len(during) >= 10, "readings from while the database was down were not kept"
        assert np.all(np.diff(during.value) > 0)
    finally:
        store.close()


def _more_received(turn, hist: Historian, before: int) -> None:  # noqa: ANN001
    wait_until(lambda: turn(lambda: hist.counts.received > before), 10)


DISK_FULL_CHILD = r"""
import resource, signal, sys, numpy as np
from pathlib import Path
from runtime.history.store import open_store
from runtime.history.batch import Samples, rollup
from runtime.history.errors import StoreUnavailableError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
folder = Path(sys.argv[1])
store = open_store(folder)
pid = store.point_ids(["LT-102/level_m"])["LT-102/level_m"]
size = sum(p.stat().st_size for p in folder.iterdir())
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 256 * 1024, resource.RLIM_INFINITY))
t0 = 1_790_000_000_000_000_000
def batch(k):
    t = t0 + (k * 5000 + np.arange(5000, dtype=np.int64)) * 1_000_000
    s = Samples(np.full(5000, pid, np.int64), t, np.random.rand(5000),
                np.zeros(5000, np.int64), np.zeros(5000, np.int64))
    return s
stored = 0
for k in range(200):
    try:
        s = batch(k)
        store.write(s, s.latest_per_point(), rollup(s))
        stored += 1
    except StoreUnavailableError as exc:
        print("FULL", stored, exc, flush=True)
        break
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
s = batch(1000)
store.write(s, s.latest_per_point(), rollup(s))
n = len(store.read_raw(pid, 0, 2**62, 10**7))
print("RESUMED", n, (stored + 1) * 5000, flush=True)
"""


def test_disk_full_is_a_clear_error_and_nothing_committed_is_lost(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(tmp_path / "h")],
                         capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr
    full = next(line for line in res.stdout.splitlines() if line.startswith("FULL"))
    assert "full" in full.lower() or "too large" in full.lower(), full
    resumed = next(line for line in res.stdout.splitlines() if line.startswith("RESUMED"))
    _word, n, expected = resumed.split()
    assert int(n) == int(expected)


def test_a_full_buffer_drops_the_oldest_and_says_so_once(pg_cluster: PgCluster) -> None:
    said: list[str] = []
    with live_bus(period_s=0.02) as (address, plant):
        sub = Subscriber(BusEndpoints.from_address(address), security=session_client("viewer"))
        hist = Historian(sub, open_store(pg_cluster.url), HistoryConfig(), commit_every_s=0.05,
                         max_buffer_samples=200, on_state=said.append)
        try:
            wait_until(lambda: hist.run_once() >= 0 and hist.counts.stored > 0, 30)
            pg_cluster.stop_server()
            deadline = time.monotonic() + 60
            i = 0
            while hist.counts.dropped <= 100 and time.monotonic() < deadline:
                i += 1  # every published reading moves: each one is a sample to keep
                plant.values["RTU-101"][LEVEL] = 1.0 + 0.001 * i
                plant.values["PLC-102"]["FT-101/flow_m3_h"] = 100.0 + 0.01 * i
                hist.run_once()
                time.sleep(0.005)
            assert hist.counts.dropped > 100
            assert hist._n_samples <= 200  # bounded
            assert sum("dropping the oldest" in line for line in said) == 1
        finally:
            sub.close()
            hist.store.close()
