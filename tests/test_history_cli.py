"""``twinstage history`` and ``historian`` from the command line: output and bad input."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from history_fixtures import series, write_all

from runtime.history.store import open_store

LEVEL = "LT-102/level_m"


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "history"
    store = open_store(folder)
    ids = store.point_ids([LEVEL, "P-101/running"], {LEVEL: "m", "P-101/running": "bool"})
    now = time.time_ns()
    s = series(ids[LEVEL], 500, t0_ns=now - 500 * 10**9)
    s.quality[100:105] = 2
    s.reason[100:105] = 2
    write_all(store, s)
    store.close()
    return folder


def test_raw_csv_from_a_store(store_dir: Path) -> None:
    res = run_cli("history", LEVEL, "--from", "-5m", "--csv", "--store", str(store_dir))
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["time", "point", "value", "unit", "quality"]
    assert 290 <= len(rows) - 1 <= 301
    assert {r[3] for r in rows[1:]} == {"m"}


def test_aggregated_and_value_at(store_dir: Path, tmp_path: Path) -> None:
    res = run_cli("history", LEVEL, "--from", "-10m", "--every", "1m", "--store",
                  str(store_dir), "--csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0][:6] == ["bucket", "point", "min", "max", "avg", "last"]
    assert sum(int(r[6]) for r in rows[1:]) == 495 and sum(int(r[7]) for r in rows[1:]) == 5
    res = run_cli("history", LEVEL, "--at", "-1m", "--store", str(store_dir))
    assert res.returncode == 0 and "Good" in res.stdout
    out = tmp_path / "x.parquet"
    res = run_cli("history", LEVEL, "--from", "-10m", "--parquet", str(out), "--store",
                  str(store_dir))
    assert res.returncode == 0, res.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 500
    assert all(q.startswith("Bad") for q in table["quality"].to_pylist()[100:105])
    assert np.isfinite(table["value"].to_numpy()).all()


@pytest.mark.parametrize(("args", "message"), [
    (["LT-999/level_m", "--from", "-5m"], "unknown point LT-999/level_m"),
    ([LEVEL, "--from", "-1m", "--to", "-5m"], "range is reversed"),
    ([LEVEL, "--from", "yesterday"], "--from 'yesterday'"),
    ([LEVEL, "--every", "soon"], "--every"),
])
def test_bad_queries_exit_2_with_one_line(store_dir: Path, args: list, message: str) -> None:
    res = run_cli("history", *args, "--store", str(store_dir))
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unreachable_database_exit_2() -> None:
    for cmd in (["history", LEVEL], ["historian", "pump_station"]):
        res = run_cli(*cmd, "--store", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2",
                      "--insecure", "--bus", "tcp://127.0.0.1:9")
        assert res.returncode == 2, res.stderr
        assert "cannot reach PostgreSQL at 127.0.0.1:9" in res.stderr
        assert "Traceback" not in res.stderr


def test_history_yaml_errors_are_located(scene_copy: Path) -> None:
    (scene_copy / "history.yaml").write_text(
        "history:\n  raw_days: 7\n  points:\n    LT-102/level_m: {mode: sometimes}\n")
    res = run_cli("historian", str(scene_copy), "--insecure", "--bus", "tcp://127.0.0.1:9",
                  "--seconds", "1", "--store", str(scene_copy / "h"))
    assert res.returncode == 2
    assert "history.yaml:4" in res.stderr and "unknown mode 'sometimes'" in res.stderr
    (scene_copy / "history.yaml").write_text(
        "history:\n  points:\n    LT-999/level_m: {dev: 0.1}\n")
    res = run_cli("historian", str(scene_copy), "--insecure", "--bus", "tcp://127.0.0.1:9",
                  "--seconds", "1", "--store", str(scene_copy / "h"))
    assert res.returncode == 2 and "history.yaml:3" in res.stderr
    assert "no point 'LT-999/level_m'" in res.stderr


def test_history_yaml_overrides_apply(scene_copy: Path) -> None:
    from runtime.history.compress import MODE_ALL, MODE_DEADBAND, MODE_SWINGING
    from runtime.history.policy import load_history_config
    from runtime.scene import load_scene

    (scene_copy / "history.yaml").write_text(
        "history:\n  raw_days: 7\n  defaults:\n    m: {dev: 0.02}\n"
        "  points:\n    P-101/speed_rpm: {mode: all}\n")
    cfg = load_history_config(load_scene(scene_copy))
    assert cfg.raw_days == 7
    assert cfg.policy(LEVEL).mode == MODE_SWINGING and cfg.policy(LEVEL).dev == 0.02
    assert cfg.policy("P-101/speed_rpm").mode == MODE_ALL
    assert cfg.policy("P-101/running").mode == MODE_DEADBAND


def test_no_historian_on_the_bus_says_so() -> None:
    from live_fixtures import live_bus

    key = str(Path(os.environ["TWINSTAGE_KEYS"]) / "viewer.key_secret")
    with live_bus() as (address, _plant):
        res = run_cli("history", LEVEL, "--bus", address, "--key", key, "--timeout", "3")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "twinstage historian" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_week_of_minutes_for_two_points_is_asked_point_by_point(store_dir: Path) -> None:
    res = run_cli("history", LEVEL, "P-101/running", "--from", "-7d", "--every", "1m",
                  "--csv", "--store", str(store_dir))
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))[1:]
    assert {r[1] for r in rows} == {LEVEL} and sum(int(r[6]) for r in rows) == 495
