"""``twinstage bench --quick`` runs suites and writes rows with targets (no timing asserts).

The default suite runs a few quick suites through the command (table, JSON, exit code); every
suite together takes minutes on a 2-core machine, so that run is ``soak``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli


def _bench(tmp_path: Path, *suites: str) -> list[dict]:
    out = tmp_path / "bench.json"
    result = run_cli("bench", *suites, "--quick", "--json", str(out), timeout_s=900)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(out.read_text())
    for row in rows:
        skipped = row["note"].startswith("skipped:")  # e.g. hosts without root
        assert skipped or row["value"] == row["value"], f"suite failed: {row}"  # not NaN
        assert row["unit"]
    assert "target" in result.stdout.splitlines()[0]
    return rows


def test_bench_quick_suites_write_rows_with_targets(tmp_path: Path) -> None:
    rows = _bench(tmp_path, "scene", "alarms", "alarm-latency")
    assert {r["suite"] for r in rows} == {"scene", "alarms"}
    assert all(r["target"] is not None for r in rows if r["suite"] == "alarms")


@pytest.mark.soak
def test_bench_quick_runs_every_suite(tmp_path: Path) -> None:
    suites = {r["suite"] for r in _bench(tmp_path)}
    assert {"scene", "alarms", "history", "whatif", "walk", "models"} <= suites
