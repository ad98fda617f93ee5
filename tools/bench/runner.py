"""Runs the bench suites and prints the table."""

from __future__ import annotations

import importlib
import importlib.util
import json
import traceback
from pathlib import Path

from tools.bench.row import Row, format_value

SUITES: dict[str, str] = {
    "render": "tools.bench.render",
    "scene": "tools.bench.scene",
    "sim": "tools.bench.sim",
    "plant": "tools.bench.plant",
    "bus": "tools.bench.bus",
    "adapter": "tools.bench.adapter",
    "latency": "tools.bench.latency",
    "live": "tools.bench.live",
    "recording": "tools.bench.recording",
    "replay": "tools.bench.replay",
    "scale": "tools.bench.scale",
    "live10k": "tools.bench.live10k",
    "models": "tools.bench.models",
    "alarms": "tools.bench.alarms",
    "alarm-latency": "tools.bench.alarm_banner",
    "history": "tools.bench.history",
    "whatif": "tools.bench.whatif",
    "walk": "tools.bench.walk",
    "hosts": "tools.bench.hosts",
}
"""Suite name -> module with ``run(quick: bool) -> list[Row]``. Missing modules are skipped."""


def run_suites(names: list[str] | None, quick: bool) -> list[Row]:
    rows: list[Row] = []
    for name, module_name in SUITES.items():
        if names and name not in names:
            continue
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            module = importlib.import_module(module_name)
            rows.extend(module.run(quick))
        except Exception as exc:  # a broken suite must not hide the others' results
            traceback.print_exc()
            rows.append(Row(name, f"suite failed: {type(exc).__name__}: {exc}", float("nan"), ""))
    return rows


def render_table(rows: list[Row]) -> str:
    header = ("suite", "benchmark", "result", "target", "met")
    body = []
    for r in rows:
        sign = ">=" if r.better == "higher" else "<="
        target = f"{sign} {format_value(r.target)} {r.unit}" if r.target is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        body.append(
            (
                r.suite,
                r.name + (f" ({r.note})" if r.note else ""),
                f"{format_value(r.value)} {r.unit}",
                target,
                met,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def write_json(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
