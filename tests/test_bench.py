"""``twinstage bench --quick`` runs every suite and writes rows with targets (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli


def test_bench_quick_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = run_cli("bench", "--quick", "--json", str(out), timeout_s=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(out.read_text())
    suites = {r["suite"] for r in rows}
    assert "scene" in suites
    for row in rows:
        assert row["value"] == row["value"], f"suite failed: {row}"  # not NaN
        assert row["unit"]
    assert "target" in result.stdout.splitlines()[0]
