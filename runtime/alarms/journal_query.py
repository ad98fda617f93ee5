"""Read the alarm journal with filters (time, point glob, priority) and write it as CSV.

Reading never changes the file: a torn last line is left out here and cut off only by the
service that owns the journal (runtime.alarms.journal.AlarmJournal on open).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO

from runtime.alarms.definitions import PRIORITIES
from runtime.alarms.journal import scan
from runtime.errors import UsageError

CSV_COLUMNS = (
    "journal_seq",
    "t_ns",
    "id",
    "point",
    "asset",
    "priority",
    "state",
    "active",
    "acked",
    "t_active_ns",
    "value",
    "message",
    "actor",
    "comment",
    "shelved_until_ns",
)


def parse_priorities(text: str | None) -> frozenset[str] | None:
    """``High`` or ``critical,high`` -> the priority names; None for no filter."""
    if text is None or not text.strip():
        return None
    names = {p.lower(): p for p in PRIORITIES}
    out = set()
    for part in text.split(","):
        name = names.get(part.strip().lower())
        if name is None:
            raise UsageError(f"unknown priority {part.strip()!r}; use {', '.join(PRIORITIES)} "
                             "(several separated by commas)")
        out.add(name)
    return frozenset(out)


def filter_rows(rows: Iterable[dict[str, Any]], *, since_ns: int | None = None,
                until_ns: int | None = None, point_glob: str | None = None,
                priority: str | frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Rows with ``since_ns <= t_ns < until_ns`` whose point (or alarm id) matches the glob and
    whose priority is one of ``priority``, in journal order."""
    wanted = parse_priorities(priority) if isinstance(priority, str) else priority
    out = []
    for row in rows:
        t_ns = int(row.get("t_ns", 0))
        if since_ns is not None and t_ns < since_ns:
            continue
        if until_ns is not None and t_ns >= until_ns:
            continue
        if point_glob and not (fnmatchcase(str(row.get("point", "")), point_glob)
                               or fnmatchcase(str(row.get("id", "")), point_glob)):
            continue
        if wanted is not None and row.get("priority") not in wanted:
            continue
        out.append(row)
    return out


def read_journal(path: str | Path, **filters: Any) -> list[dict[str, Any]]:
    """The journal file's rows, filtered as :func:`filter_rows`. JournalError if damaged."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no alarm journal here (the alarm service writes it)")
    rows, _ = scan(path)
    return filter_rows(rows, **filters)


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """One header line, then one line per row in :data:`CSV_COLUMNS` order."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    write_csv(rows, buffer)
    return buffer.getvalue()
