"""The journal survives kill -9: a torn last line is cut off, restore rebuilds the same states,
no transition that evaluate returned is lost; damage in the middle is a clear error."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from alarm_fixtures import T0, Feed, S, alarm, alarm_set
from alarm_flood_child import flood_defs, flood_values

from runtime.alarms import AlarmEngine, AlarmJournal, Condition, JournalError
from runtime.alarms.journal import scan
from runtime.alarms.journal_query import filter_rows, read_journal, to_csv, write_csv

REPO = Path(__file__).resolve().parent.parent


def _defs():  # noqa: ANN202
    return alarm_set(
        alarm("H", "X/v", "high", limit=1.0, priority="High"),
        alarm("L", "Y/v", "low", limit=1.0, priority="Low", on_delay_s=1),
        alarm("T", "P/tripped", "discrete", value=1.0, priority="Critical",
              suppress_when=(Condition("D/duty", "==", 0.0),)),
    )


def _history(path: Path) -> AlarmEngine:
    """A journal with raises, clears, acks, a shelve and a suppression."""
    engine = AlarmEngine(_defs(), AlarmJournal(path))
    feed = Feed(engine).set("X/v", 0).set("Y/v", 5).set("P/tripped", 1).set("D/duty", 0)
    feed.at(T0)
    feed.set("X/v", 2).set("Y/v", 0).at(T0 + S)
    feed.at(T0 + 2 * S)
    engine.command("H", "ack", T0 + 3 * S, actor="ann", role="operator")
    engine.command("L", "shelve", T0 + 4 * S, actor="bob", role="operator", minutes=30,
                   comment="transmitter being calibrated")
    feed.set("X/v", 0).set("D/duty", 1).at(T0 + 5 * S)
    feed.set("Y/v", 5).at(T0 + 6 * S)
    return engine


def test_rows_are_the_events_with_increasing_seq_and_restore_agrees(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    engine = _history(path)
    rows, _ = scan(path)
    assert [r["journal_seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert {r["kind"] for r in rows} == {"alarm"}
    assert any(r["state"] == "shelved" and r["actor"] == "bob" for r in rows)
    engine.journal.close()
    with AlarmJournal(path) as journal:
        restored = AlarmEngine.restore(_defs(), journal)
        assert restored.states() == engine.states()
        assert journal.last_seq == len(rows)


def test_torn_last_line_is_cut_and_restore_matches_the_rows_before(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    _history(path).journal.close()
    data = path.read_bytes()
    last_start = data.rindex(b"\n", 0, len(data) - 1) + 1
    path.write_bytes(data[: last_start + (len(data) - last_start) // 2])  # kill -9 mid-line
    expected, _ = scan(path)
    with AlarmJournal(path) as journal:
        assert journal.truncated_bytes > 0
        assert path.read_bytes() == data[:last_start]
        restored = AlarmEngine.restore(_defs(), journal)
        last = {r["id"]: r for r in expected}
        for state in restored.states():
            if state["id"] in last:
                assert state == last[state["id"]]
        # Appending continues the sequence after the cut.
        restored.command("*", "ack", T0 + 7 * S, actor="ann", role="operator")
    rows, _ = scan(path)
    assert [r["journal_seq"] for r in rows] == list(range(1, len(rows) + 1))


def test_damaged_middle_line_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    _history(path).journal.close()
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"state"', b'"stat!"')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=r"alarms\.journal:2: journal line is damaged"):
        AlarmJournal(path)


def test_filters_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    _history(path).journal.close()
    rows = read_journal(path)
    assert {r["id"] for r in read_journal(path, point_glob="X/*")} == {"H"}
    assert {r["priority"] for r in read_journal(path, priority="critical,high")} <= \
        {"Critical", "High"}
    since = read_journal(path, since_ns=T0 + 3 * S)
    assert since and all(r["t_ns"] >= T0 + 3 * S for r in since)
    assert filter_rows(rows, until_ns=T0) == []
    text = to_csv(rows)
    lines = text.splitlines()
    assert lines[0].startswith("journal_seq,t_ns,id,point") and len(lines) == len(rows) + 1
    assert "transmitter being calibrated" in text
    out = io.StringIO()
    write_csv([], out)
    assert out.getvalue().count("\n") == 1


def test_kill_9_during_a_flood_loses_no_returned_transition(tmp_path: Path) -> None:
    """A real child evaluating floods of 500 transitions is killed with SIGKILL; the journal is
    a prefix of what the same deterministic run produces, holds every transition the child had
    returned, and restore rebuilds the states its last rows say."""
    n = 500
    path = tmp_path / "flood.journal"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "alarm_flood_child.py"), str(path), str(n)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    returned = 0
    deadline = time.monotonic() + 60
    try:
        while returned < 6 * n and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            returned = int(line.split()[1])
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert returned >= 6 * n, "the child did not get going"
    with AlarmJournal(path) as journal:
        rows = list(journal.rows())
        assert journal.last_seq >= returned
        assert [r["journal_seq"] for r in rows] == list(range(1, len(rows) + 1))
        # The same run, in process: the journal is exactly its prefix.
        reference = AlarmEngine(flood_defs(n))
        expected: list[dict] = []
        k = 0
        quality = np.zeros(n, np.uint8)
        while len(expected) < len(rows):
            k += 1
            for t in reference.evaluate(T0 + k * 100_000_000, flood_values(k, n), quality):
                t.journal_seq = len(expected) + 1
                expected.append(t.event())
        assert rows == expected[: len(rows)]
        restored = AlarmEngine.restore(flood_defs(n), journal)
        last = {r["id"]: r for r in rows}
        assert [s for s in restored.states() if s["id"] in last] == \
            [last[s["id"]] for s in restored.states() if s["id"] in last]


def test_a_second_writer_is_refused_while_the_first_holds_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "alarms.journal"
    first = AlarmJournal(path)
    with pytest.raises(JournalError, match="in use by another alarm service"):
        AlarmJournal(path)
    first.close()
    AlarmJournal(path).close()  # free again once the first has closed


def test_after_a_failed_write_the_journal_refuses_more(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk-full fsync (simulated: the disk cannot be filled here) leaves a possibly torn
    line; nothing may be appended after it, the service must restart and rebuild."""
    import errno

    import runtime.alarms.journal as journal_module

    engine = AlarmEngine(_defs(), AlarmJournal(tmp_path / "alarms.journal"))
    feed = Feed(engine).set("X/v", 0).set("Y/v", 5).set("P/tripped", 0).set("D/duty", 1)
    feed.at(T0)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        feed.set("X/v", 2).at(T0 + S)
    monkeypatch.undo()
    with pytest.raises(JournalError, match="an earlier write failed"):
        feed.set("X/v", 0).at(T0 + 2 * S)
    engine.journal.close()
    # Damage in the middle refuses opening and leaves the lock free for the next try.
    path = tmp_path / "alarms.journal"
    data = path.read_bytes()
    path.write_bytes(b"00000000 {}\n" + data)
    with pytest.raises(JournalError):
        AlarmJournal(path)
    path.write_bytes(data)
    AlarmJournal(path).close()
