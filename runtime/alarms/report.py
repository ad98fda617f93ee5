"""Alarm system performance from the journal (EEMUA 191, ISA-18.2 section 16).

An *alarm* here is an annunciation: a row where the alarm became active and unacknowledged in
front of the operator (state ``unack`` with ``t_active_ns == t_ns``). Activations while shelved,
suppressed or out of service were never shown and are not counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from runtime.alarms.definitions import PRIORITIES

WINDOW_NS = 600_000_000_000
"""Ten minutes: EEMUA's unit for alarm rates."""
FLOOD_ABOVE = 10
"""More than this many alarms per operator in ten minutes is a flood."""
CHATTER_COUNT = 3
CHATTER_WINDOW_NS = 60_000_000_000
"""An alarm raised CHATTER_COUNT times within a minute is chattering."""
STANDING_NS = 24 * 3600 * 1_000_000_000
"""Active for longer than a day at the end of the report: a standing alarm."""
TARGET_PCT = (("Critical + High", ("Critical", "High"), 5.0), ("Medium", ("Medium",), 15.0),
              ("Low", ("Low",), 80.0))
"""EEMUA 191's ~5/15/80 % distribution of annunciated alarms by priority."""
RATE_TARGETS = {"average_per_10min": 1.0, "peak_per_10min": 10.0}
"""EEMUA 191: an average of one alarm per ten minutes per operator is 'very likely acceptable';
more than ten in ten minutes is a flood."""


def is_annunciation(row: dict[str, Any]) -> bool:
    return row.get("state") == "unack" and row.get("t_active_ns") == row.get("t_ns")


def alarm_report(rows: Iterable[dict[str, Any]], *, operators: int = 1,
                 start_ns: int | None = None, end_ns: int | None = None) -> dict[str, Any]:
    """The EEMUA 191 measures over ``[start_ns, end_ns]`` (default: the rows' first and last
    time) as a plain dict (``twinstage alarms report --json``)."""
    rows = sorted(rows, key=lambda r: (int(r["t_ns"]), int(r.get("journal_seq", 0))))
    if start_ns is None:
        start_ns = int(rows[0]["t_ns"]) if rows else 0
    if end_ns is None:
        end_ns = int(rows[-1]["t_ns"]) if rows else start_ns
    operators = max(1, int(operators))
    span = [r for r in rows if start_ns <= int(r["t_ns"]) <= end_ns]
    alarms = [r for r in span if is_annunciation(r)]
    times = np.array([int(r["t_ns"]) for r in alarms], np.int64)
    return {
        "start_ns": start_ns,
        "end_ns": end_ns,
        "operators": operators,
        "alarm_count": len(alarms),
        "rate": _rate(times, start_ns, end_ns, operators),
        "floods": _floods(times, operators),
        "top": _top(alarms),
        "chattering": _chattering(alarms),
        "standing": _standing([r for r in rows if int(r["t_ns"]) <= end_ns], end_ns),
        "priority": _distribution(alarms),
    }


def _rate(times: np.ndarray, start_ns: int, end_ns: int, operators: int) -> dict[str, Any]:
    periods = max(1, -(-(end_ns - start_ns) // WINDOW_NS))
    per_bin = np.bincount((times - start_ns) // WINDOW_NS, minlength=periods) if times.size else \
        np.zeros(periods, np.int64)
    return {
        "periods_10min": int(periods),
        "average_per_10min": float(times.size / periods / operators),
        "peak_per_10min": float(per_bin.max() / operators),
        "peak_start_ns": int(start_ns + int(per_bin.argmax()) * WINDOW_NS),
        "targets": dict(RATE_TARGETS),
    }


def _floods(times: np.ndarray, operators: int) -> list[dict[str, Any]]:
    """Maximal periods in which some ten-minute window held more than FLOOD_ABOVE alarms per
    operator: from the first alarm of the first such window to the last of the last."""
    threshold = FLOOD_ABOVE * operators
    if times.size <= threshold:
        return []
    first = np.searchsorted(times, times - WINDOW_NS, side="right")  # window (t-10min, t]
    over = np.flatnonzero(np.arange(times.size) - first + 1 > threshold)
    floods: list[list[int]] = []
    for i in over.tolist():
        lo = int(first[i])
        if floods and lo <= floods[-1][1]:
            floods[-1][1] = i
        else:
            floods.append([lo, i])
    return [{"start_ns": int(times[lo]), "end_ns": int(times[hi]), "count": hi - lo + 1,
             "peak_per_10min": int((np.arange(lo, hi + 1) - first[lo:hi + 1] + 1).max())}
            for lo, hi in floods]


def _top(alarms: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    counts = Counter(r["id"] for r in alarms)
    priority = {r["id"]: r.get("priority", "") for r in alarms}
    total = max(1, len(alarms))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"id": ident, "priority": priority[ident], "count": n,
             "percent": 100.0 * n / total} for ident, n in ranked]


def _chattering(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id: dict[str, list[int]] = defaultdict(list)
    for r in alarms:
        by_id[r["id"]].append(int(r["t_ns"]))
    out = []
    for ident, t_list in by_id.items():
        t = np.array(t_list, np.int64)
        first = np.searchsorted(t, t - CHATTER_WINDOW_NS, side="right")
        most = int((np.arange(t.size) - first + 1).max())
        if most >= CHATTER_COUNT:
            out.append({"id": ident, "activations": int(t.size), "max_per_minute": most})
    return sorted(out, key=lambda c: (-c["max_per_minute"], -c["activations"], c["id"]))


def _standing(rows: list[dict[str, Any]], end_ns: int) -> list[dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for r in rows:
        last[r["id"]] = r
    out = []
    for ident, r in sorted(last.items()):
        t_active = int(r.get("t_active_ns", -1))
        if r.get("active") and t_active >= 0 and end_ns - t_active > STANDING_NS:
            out.append({"id": ident, "priority": r.get("priority", ""), "state": r["state"],
                        "t_active_ns": t_active, "active_h": (end_ns - t_active) / 3.6e12})
    return out


def _distribution(alarms: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r.get("priority") for r in alarms)
    total = len(alarms)

    def pct(n: int) -> float:
        return 100.0 * n / total if total else 0.0

    return {
        "counts": {p: counts.get(p, 0) for p in reversed(PRIORITIES)},
        "groups": [{"group": name, "count": sum(counts.get(p, 0) for p in members),
                    "percent": pct(sum(counts.get(p, 0) for p in members)), "target_pct": target}
                   for name, members, target in TARGET_PCT],
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as text for a terminal (times as seconds from the report start)."""
    start = report["start_ns"]

    def at(t_ns: int) -> str:
        s = (t_ns - start) / 1e9
        return f"+{int(s // 3600)}:{int(s % 3600 // 60):02d}:{s % 60:04.1f}"

    rate = report["rate"]
    lines = [
        f"Alarm performance (EEMUA 191): {report['alarm_count']} alarms over "
        f"{rate['periods_10min']} ten-minute periods, {report['operators']} operator(s)",
        f"  average per 10 min per operator: {rate['average_per_10min']:.2f} "
        f"(target <= {rate['targets']['average_per_10min']:g})",
        f"  peak per 10 min per operator:    {rate['peak_per_10min']:.0f} at "
        f"{at(rate['peak_start_ns'])} (flood above {rate['targets']['peak_per_10min']:g})",
        f"Floods (more than {FLOOD_ABOVE} in 10 min): {len(report['floods']) or 'none'}",
    ]
    for f in report["floods"]:
        lines.append(f"  {at(f['start_ns'])} to {at(f['end_ns'])}: {f['count']} alarms, "
                     f"peak {f['peak_per_10min']} in 10 min")
    lines.append("Most frequent:" if report["top"] else "Most frequent: none")
    for t in report["top"]:
        lines.append(f"  {t['count']:6d}  {t['percent']:5.1f} %  {t['id']} ({t['priority']})")
    lines.append(f"Chattering ({CHATTER_COUNT}+ in a minute): "
                 f"{len(report['chattering']) or 'none'}")
    for c in report["chattering"]:
        lines.append(f"  {c['id']}: {c['activations']} activations, up to "
                     f"{c['max_per_minute']} in a minute")
    lines.append(f"Standing (active over 24 h): {len(report['standing']) or 'none'}")
    for s in report["standing"]:
        lines.append(f"  {s['id']} ({s['priority']}, {s['state']}): active {s['active_h']:.1f} h")
    lines.append("Priority distribution (target ~5/15/80 %):")
    for g in report["priority"]["groups"]:
        lines.append(f"  {g['group']:<16} {g['count']:6d}  {g['percent']:5.1f} %  "
                     f"(target {g['target_pct']:g} %)")
    return "\n".join(lines)
