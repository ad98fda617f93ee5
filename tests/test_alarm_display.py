"""The alarm display: words and counts from the board, the annunciator's rules, and on screen
(offscreen, through --hud-json) the banner, the list and the markers, clear of the faceplate,
readable in a flood."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

from runtime.alarms.board import AlarmBoard
from runtime.ui.alarm_text import banner_line, counts_line, list_row
from runtime.ui.annunciator import Annunciator
from runtime.ui.hud import overlaps

T = 1_800_000_000 * 1_000_000_000


def _event(ident: str, priority: str, state: str, seq: int, asset: str = "P-101",
           t: int = T) -> dict:
    return {"kind": "alarm", "id": ident, "asset": asset, "point": f"{asset}/x",
            "priority": priority, "state": state, "message": f"{ident} message", "t_ns": t,
            "t_active_ns": t, "journal_seq": seq}


def test_the_board_orders_by_priority_then_unacked_then_time_and_keeps_newer_states() -> None:
    board = AlarmBoard()
    board.apply([_event("A", "Low", "unack", 1), _event("B", "High", "ack", 2),
                 _event("C", "High", "unack", 3, t=T - 5), _event("D", "Critical", "rtn_unack", 4),
                 _event("E", "Medium", "shelved", 5), _event("F", "High", "suppressed", 6)])
    assert [a.id for a in board.listed()] == ["D", "C", "B", "A", "E"]
    assert board.banner().id == "D"
    assert board.counts()["High"] == (1, 2)
    board.replace([_event("C", "High", "unack", 1)])  # an older snapshot entry loses
    assert board.alarms["C"].journal_seq == 3
    board.apply([_event("D", "Critical", "normal", 7)])
    assert board.banner().id == "C" and "D" not in [a.id for a in board.listed()]
    assert "HIGH 2" in banner_line(board.banner()) and "UNACK" in banner_line(board.banner())
    assert counts_line(board.counts()).startswith("Critical 0 | High 2 (1 unack)")
    assert list_row(board.alarms["E"]).startswith("3 Medium")
    rows, page, pages = board.page(5, 2)
    assert (page, pages, len(rows)) == (1, 2, 2)  # clamped to the last page


def test_the_annunciator_sounds_by_priority_until_silenced_or_acknowledged() -> None:
    board = AlarmBoard()
    tone = Annunciator(None)
    board.apply([_event("L", "Low", "unack", 1)])
    tone.update(board, 0.0)
    assert tone.sounding == "" and tone.plays == 0            # Low: silent
    board.apply([_event("M", "Medium", "unack", 2)])
    tone.update(board, 1.0)
    assert tone.sounding == "" and tone.plays == 1            # Medium: one tone
    board.apply([_event("H", "High", "unack", 3)])
    tone.update(board, 2.0)
    assert tone.sounding == "High" and tone.plays == 2
    tone.update(board, 2.5)
    tone.update(board, 5.1)
    assert tone.plays == 3                                    # High repeats
    tone.silence()
    tone.update(board, 9.0)
    assert tone.plays == 3 and "silenced" in tone.state()
    board.apply([_event("C", "Critical", "unack", 4)])
    tone.update(board, 10.0)
    assert tone.sounding == "Critical" and not tone.silenced  # a new alarm sounds again
    board.apply([_event("C", "Critical", "ack", 5), _event("H", "High", "ack", 6)])
    tone.update(board, 11.0)
    assert tone.sounding == ""                                # acknowledged: quiet


def _render(tmp_path: Path, n: int) -> tuple[dict, dict]:
    proc = subprocess.run([sys.executable, "tests/alarm_ui_child.py", str(tmp_path), str(n)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hud = json.loads((tmp_path / "hud.json").read_text())
    return hud, json.loads((tmp_path / "info.json").read_text())


def test_banner_list_and_markers_on_screen_clear_of_each_other(tmp_path: Path) -> None:
    hud, info = _render(tmp_path, 12)
    by_kind: dict[str, list[dict]] = {}
    for e in hud["elements"]:
        by_kind.setdefault(e["kind"], []).append(e)
    banner = by_kind["banner"][0]
    assert "HIGH 2" in banner["text"] and "P-101" in banner["text"]
    listing = by_kind["alarm-list"][0]
    assert "P-101-TRIP" in listing["text"] and "page 1/2" in listing["text"]
    face = by_kind["faceplate"][0]
    assert "P-101-TRIP" in face["text"] and "cause: motor protection" in face["text"]
    panels = [banner, listing, face, by_kind["status"][0]]
    for i, a in enumerate(panels):
        for b in panels[i + 1:]:
            assert not overlaps(a["bbox"], b["bbox"]), (a["kind"], b["kind"])
    for badge in by_kind.get("badge", []):
        for panel in panels:
            assert not overlaps(badge["bbox"], panel["bbox"]), (badge["text"], panel["kind"])
    assert info["markers"]["P-101"] is True  # unacknowledged: blinking
    assert info["annunciator"] == "High alarm tone"  # no unacknowledged Critical here
    assert info["selected_by_click"] == "P-101"  # a click on its row selects the asset


def test_a_flood_pages_the_list_and_the_banner_stays_one_line(tmp_path: Path) -> None:
    hud, info = _render(tmp_path, 3000)
    banner = next(e for e in hud["elements"] if e["kind"] == "banner")
    assert "Critical 750" in banner["text"].replace(" (", "(").replace("(", " (") or \
        "Critical" in banner["text"]
    assert banner["bbox"][3] < 40  # one line high, whatever the count
    listing = next(e for e in hud["elements"] if e["kind"] == "alarm-list")
    assert len(listing["text"].splitlines()) <= 10 and info["pages"] >= 250
