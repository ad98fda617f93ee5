"""EEMUA 191 numbers on a constructed journal: rates, floods, top 10, chattering, standing,
priority distribution; and the same from a journal the engine wrote."""

from __future__ import annotations

from pathlib import Path

from alarm_fixtures import T0, Feed, S, alarm, alarm_set

from runtime.alarms import AlarmEngine, AlarmJournal
from runtime.alarms.journal_query import read_journal
from runtime.alarms.report import alarm_report, format_report

MIN = 60 * S
HOUR = 60 * MIN


def _raise(ident: str, t_ns: int, priority: str = "Low") -> dict:
    return {"kind": "alarm", "id": ident, "point": f"{ident}/v", "asset": ident,
            "priority": priority, "state": "unack", "active": True, "acked": False,
            "t_ns": t_ns, "t_active_ns": t_ns, "value": 1.0, "message": "", "actor": "",
            "comment": "", "shelved_until_ns": -1, "journal_seq": 0}


def _clear(ident: str, t_ns: int, t_active_ns: int, priority: str = "Low") -> dict:
    row = _raise(ident, t_ns, priority)
    row.update(state="rtn_unack", active=False, t_active_ns=t_active_ns)
    return row


def _journal() -> list[dict]:
    rows = []
    # 0-30 min: quiet, one Critical and two High alarms.
    rows.append(_raise("CRIT", T0 + 1 * MIN, "Critical"))
    rows.append(_raise("HI", T0 + 2 * MIN, "High"))
    rows.append(_raise("HI2", T0 + 3 * MIN, "High"))
    rows += [_clear(i, T0 + 5 * MIN, T0 + k * MIN, p)
             for k, (i, p) in enumerate([("CRIT", "Critical"), ("HI", "High"), ("HI2", "High")], 1)]
    # 30-35 min: a flood of 15 different Low alarms (15 in 5 min).
    for i in range(15):
        rows.append(_raise(f"FLOOD-{i}", T0 + 30 * MIN + i * 20 * S))
        rows.append(_clear(f"FLOOD-{i}", T0 + 50 * MIN, T0 + 30 * MIN + i * 20 * S))
    # 60 min: a chattering Medium alarm, 4 raises within 45 s (cleared between).
    for k in range(4):
        t = T0 + 60 * MIN + k * 15 * S
        rows.append(_raise("CHAT", t, "Medium"))
        rows.append(_clear("CHAT", t + 5 * S, t, "Medium"))
    # 120 min: a raise that was never shown (activated while shelved) does not count.
    shelved = _raise("SHELVED", T0 + 120 * MIN)
    shelved["state"] = "shelved"
    rows.append(shelved)
    # A standing alarm: raised at the start, still active 25 h later.
    rows.append(_raise("STAND", T0, "Medium"))
    rows.append({**_raise("LAST", T0 + 25 * HOUR), "state": "ack", "acked": True,
                 "t_active_ns": T0 + 10 * HOUR})
    return rows


def test_report_numbers_on_a_constructed_journal() -> None:
    report = alarm_report(_journal(), operators=1, start_ns=T0, end_ns=T0 + 25 * HOUR)
    assert report["alarm_count"] == 3 + 15 + 4 + 1
    rate = report["rate"]
    assert rate["periods_10min"] == 150
    assert rate["average_per_10min"] == 23 / 150
    assert rate["peak_per_10min"] == 15 and rate["peak_start_ns"] == T0 + 30 * MIN
    [flood] = report["floods"]
    assert flood["start_ns"] == T0 + 30 * MIN and flood["end_ns"] == T0 + 30 * MIN + 14 * 20 * S
    assert flood["count"] == 15 and flood["peak_per_10min"] == 15
    assert report["top"][0] == {"id": "CHAT", "priority": "Medium", "count": 4,
                                "percent": 100 * 4 / 23}
    assert len(report["top"]) == 10
    assert report["chattering"] == [{"id": "CHAT", "activations": 4, "max_per_minute": 4}]
    [standing] = report["standing"]
    assert standing["id"] == "STAND" and standing["active_h"] == 25.0
    dist = report["priority"]
    assert dist["counts"] == {"Critical": 1, "High": 2, "Medium": 5, "Low": 15}
    groups = {g["group"]: (g["count"], g["target_pct"]) for g in dist["groups"]}
    assert groups == {"Critical + High": (3, 5.0), "Medium": (5, 15.0), "Low": (15, 80.0)}
    text = format_report(report)
    assert "Floods (more than 10 in 10 min): 1" in text and "CHAT" in text and "STAND" in text


def test_two_operators_halve_the_rates_and_need_twice_the_flood() -> None:
    report = alarm_report(_journal(), operators=2, start_ns=T0, end_ns=T0 + 25 * HOUR)
    assert report["rate"]["peak_per_10min"] == 7.5
    assert report["floods"] == []


def test_report_from_an_engine_journal(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    engine = AlarmEngine(alarm_set(alarm("H", "X/v", "high", limit=1.0, priority="High")),
                         AlarmJournal(path))
    feed = Feed(engine)
    for k in range(5):  # five raises 10 s apart: chattering
        feed.set("X/v", 2.0).at(T0 + k * 10 * S)
        feed.set("X/v", 0.0).at(T0 + k * 10 * S + 5 * S)
    engine.command("H", "ack", T0 + 60 * S, actor="op", role="operator")
    report = alarm_report(read_journal(path))
    assert report["alarm_count"] == 5
    assert report["chattering"][0]["id"] == "H"
    assert report["priority"]["counts"]["High"] == 5
    empty = alarm_report([])
    assert empty["alarm_count"] == 0 and "none" in format_report(empty)
