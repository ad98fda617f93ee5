"""The render bench runs and reports its rows (never asserts timings)."""

from __future__ import annotations

import math

from tools.bench.render import run


def test_render_bench_quick_runs() -> None:
    rows = run(quick=True)
    names = " | ".join(r.name for r in rows)
    assert "5,000 moving instanced entities" in names
    assert "cold start" in names and "scene load" in names
    assert all(math.isfinite(r.value) and r.value > 0 for r in rows)
