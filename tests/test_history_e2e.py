"""The historian as a real process against a real bus, plant and adapter: kill -9 and restart
keeps what was stored and fills the gap; a second bus client gets trends through the bus; the
command line gives the same rows through the bus and straight from the store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from conftest import run_cli
from e2e_fixtures import live_stack, wait_for
from plant_fixtures import PUMP_STATION
from security_fixtures import session_client

from runtime.bus.service_client import ServiceClient
from runtime.history.client import BusHistory

LEVEL = "LT-102/level_m"


def _rows(db_path: Path) -> set[tuple[int, int]]:
    """(point_id, t_ns) of every stored sample, read by another process (WAL readers)."""
    with sqlite3.connect(db_path, timeout=10) as db:
        return set(db.execute("select point_id, t_ns from samples").fetchall())


def _current(db_path: Path) -> dict[str, int]:
    """Each point's current row time ({} while the historian is still creating its tables)."""
    try:
        with sqlite3.connect(db_path, timeout=10) as db:
            return dict(db.execute("select p.name, c.t_ns from current c join points p on "
                                   "p.id = c.point_id").fetchall())
    except sqlite3.OperationalError:
        return {}


def test_historian_kill9_restart_and_trend_over_the_bus(tmp_path: Path) -> None:
    store = tmp_path / "history"
    db_path = store / "history.sqlite"
    with live_stack(tmp_path) as stack:
        args = ["historian", str(PUMP_STATION), "--bus", stack.bus_address, "--store",
                str(store), "--commit-every", "0.2"]
        first = stack.sup.start("historian", args)
        stack.sup.wait_until(first, lambda: db_path.exists() and len(_current(db_path)) >= 20,
                             120)
        wait_for(lambda: len(_rows(db_path)) >= 40, 30, "samples stored")
        before = _rows(db_path)  # committed, so acknowledged as stored
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        stack.sup.children.remove(first)
        killed_ns = time.time_ns()
        assert before <= _rows(db_path), "committed samples lost by kill -9"

        second = stack.sup.start("historian2", args)
        # the gap is filled from the bus's snapshot: every point has a reading after the kill
        points = set(_current(db_path))
        stack.sup.wait_until(second, lambda: all(t > killed_ns for t in _current(db_path)
                                                 .values()) and set(_current(db_path)) >= points,
                             60)
        assert before <= _rows(db_path)

        # a second bus client (a viewer's key) gets the trend through the bus
        hist = BusHistory(ServiceClient(stack.endpoints, security=session_client("viewer")),
                          timeout_s=10)
        try:
            now = time.time_ns()
            raw = hist.raw([LEVEL], now - 120 * 10**9, now)
            samples, unit = raw[LEVEL]
            assert unit == "m" and len(samples) >= 2
            every, agg = hist.aggregate([LEVEL], now - 120 * 10**9, now, 10 * 10**9)
            a, _unit = agg[LEVEL]
            assert every == 10 * 10**9 and a.n.sum() >= 1
            assert (a.vmin <= a.vmax).all()
            at = hist.at([LEVEL], now)[LEVEL][0]
            assert len(at) == 1 and 0.0 <= at.value[0] <= 10.0
        finally:
            hist.close()

        # the command line: the same rows through the bus and straight from the store
        end = datetime.fromtimestamp(time.time() - 1, tz=UTC).isoformat()
        key = str(Path(os.environ["TWINSTAGE_KEYS"]) / "viewer.key_secret")
        via_bus = run_cli("history", LEVEL, "--from", "-2m", "--to", end, "--csv",
                          "--bus", stack.bus_address, "--key", key)
        via_store = run_cli("history", LEVEL, "--from", "-2m", "--to", end, "--csv",
                            "--store", str(store))
        assert via_bus.returncode == 0, via_bus.stderr
        assert via_store.returncode == 0, via_store.stderr
        assert via_bus.stdout == via_store.stdout
        lines = via_bus.stdout.splitlines()
        # compressed storage: a slowly moving level may keep a single sample in two minutes
        assert lines[0] == "time,point,value,unit,quality" and len(lines) >= 2
        assert all(",LT-102/level_m," in line and ",m,Good" in line for line in lines[1:])

        # a viewer (another bus client) draws the trend from the historian through the bus
        hud = tmp_path / "hud.json"
        env = {"TWINSTAGE_TREND": LEVEL}
        view = stack.sup.start("viewer", ["view", str(PUMP_STATION), "--bus", stack.bus_address,
                                          "--key", key, "--headless", "--seconds", "10",
                                          "--select", "T-102", "--hud-json", str(hud)], env=env)
        assert view.process.wait(timeout=120) == 0
        stack.sup.children.remove(view)
        trends = [e for e in json.loads(hud.read_text())["elements"] if e["kind"] == "trend"]
        panel = next(e["text"] for e in trends if e["text"].startswith("Trend 10 min"))
        assert f"{LEVEL} " in panel and " m  Good" in panel, panel
        spark = next(e["text"] for e in trends if e["text"].startswith("sparkline"))
        assert "LT-102/level_m  last 10 min" in spark and spark.rstrip().endswith(" m"), spark
