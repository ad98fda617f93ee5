"""What a viewer knows about alarms: the latest state of each, from snapshots and events.

Pure Python (no Panda3D, no sockets): the feed thread hands it snapshots and events, the UI asks
it for the banner's alarm, the counts per priority, a page of the list and the alarms of an
asset. An event or snapshot entry replaces what the board holds only when its ``journal_seq`` is
not older, so a snapshot that arrives after newer events cannot roll them back.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

PRIORITIES = ("Critical", "High", "Medium", "Low")
"""Most important first (hmi.md: markers 1..4)."""
RANK = {p: len(PRIORITIES) - i for i, p in enumerate(PRIORITIES)}
ACTIVE_STATES = ("unack", "ack", "rtn_unack")
"""States an operator must see in the banner and the list's main section."""
LISTED_STATES = (*ACTIVE_STATES, "shelved", "out_of_service")
"""What the list shows: suppressed-by-design alarms stay out of it (their condition is not an
abnormal situation for the operator, e.g. the standby pump's trip while it is not duty)."""
STATE_WORDS = {
    "unack": "UNACK", "ack": "ACKED", "rtn_unack": "CLEARED, UNACK", "shelved": "SHELVED",
    "out_of_service": "OUT OF SERVICE", "suppressed": "SUPPRESSED", "normal": "normal",
}


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm as the viewer shows it."""

    id: str
    asset: str
    point: str
    priority: str
    state: str
    message: str
    t_ns: int
    t_active_ns: int
    journal_seq: int
    actor: str = ""
    comment: str = ""
    shelved_until_ns: int = -1

    @property
    def unacked(self) -> bool:
        return self.state in ("unack", "rtn_unack")

    @property
    def rank(self) -> int:
        return RANK.get(self.priority, 0)

    @property
    def number(self) -> int:
        """The priority's marker number (1 Critical .. 4 Low)."""
        return PRIORITIES.index(self.priority) + 1 if self.priority in PRIORITIES else 4

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> AlarmView:
        t_active = event.get("t_active_ns", -1)
        return cls(
            id=str(event["id"]), asset=str(event.get("asset", "")),
            point=str(event.get("point", "")), priority=str(event.get("priority", "Low")),
            state=str(event.get("state", "normal")), message=str(event.get("message", "")),
            t_ns=int(event.get("t_ns", 0)),
            t_active_ns=int(t_active) if t_active is not None else -1,
            journal_seq=int(event.get("journal_seq", 0)), actor=str(event.get("actor", "")),
            comment=str(event.get("comment", "")),
            shelved_until_ns=int(event.get("shelved_until_ns", -1) or -1))


def _sort_key(alarm: AlarmView) -> tuple[int, int, int, str]:
    # Priority first, then unacknowledged before acknowledged, then newest first (hmi.md).
    return (-alarm.rank, 0 if alarm.unacked else 1, -max(alarm.t_active_ns, alarm.t_ns),
            alarm.id)


class AlarmBoard:
    """Every alarm's latest state; the render thread owns it (the feed hands it messages)."""

    def __init__(self) -> None:
        self.alarms: dict[str, AlarmView] = {}
        self.version = 0
        """Bumped on every change: the UI redraws only when it moves."""
        self.connected = False
        """Whether the last snapshot came from a live alarm service."""

    def apply(self, events: list[dict[str, Any]]) -> None:
        """Apply alarm events (maps of the bus contract); others are ignored."""
        changed = False
        for event in events:
            if event.get("kind", "alarm") != "alarm" or "id" not in event:
                continue
            alarm = AlarmView.from_event(event)
            known = self.alarms.get(alarm.id)
            if known is None or alarm.journal_seq >= known.journal_seq:
                self.alarms[alarm.id] = alarm
                changed = True
        if changed:
            self.version += 1

    def replace(self, states: list[dict[str, Any]]) -> None:
        """A snapshot: every alarm's state (newer entries already held are kept)."""
        self.connected = True
        self.apply([{"kind": "alarm", **s} for s in states])
        self.version += 1

    def clear(self) -> None:
        """Forget everything (a replay seek, a service restart seen as a new epoch)."""
        self.alarms.clear()
        self.version += 1

    # -- what the UI asks -----------------------------------------------------------------

    def active(self) -> list[AlarmView]:
        """Active or unacknowledged alarms, most important first."""
        return sorted((a for a in self.alarms.values() if a.state in ACTIVE_STATES),
                      key=_sort_key)

    def banner(self) -> AlarmView | None:
        """The most important unacknowledged alarm (None when every alarm is acknowledged)."""
        unacked = [a for a in self.alarms.values() if a.unacked]
        return min(unacked, key=_sort_key) if unacked else None

    def counts(self) -> dict[str, tuple[int, int]]:
        """Priority -> (unacknowledged, active or unacknowledged)."""
        out = {p: [0, 0] for p in PRIORITIES}
        for a in self.alarms.values():
            if a.state in ACTIVE_STATES and a.priority in out:
                out[a.priority][1] += 1
                out[a.priority][0] += int(a.unacked)
        return {p: (u, n) for p, (u, n) in out.items()}

    def listed(self, text_filter: str = "") -> list[AlarmView]:
        """The list panel's rows: active first (by priority, then time), then shelved, out of
        service and suppressed; ``text_filter`` matches id, asset or message (glob or words)."""
        rows = [a for a in self.alarms.values() if a.state in LISTED_STATES]
        if text_filter:
            pattern = text_filter if any(c in text_filter for c in "*?[") else \
                f"*{text_filter}*"
            rows = [a for a in rows if any(fnmatch.fnmatch(s.lower(), pattern.lower())
                                           for s in (a.id, a.asset, a.message))]
        return sorted(rows, key=lambda a: (a.state not in ACTIVE_STATES, *_sort_key(a)))

    def page(self, index: int, size: int, text_filter: str = "") -> tuple[list[AlarmView],
                                                                          int, int]:
        """(rows of page ``index`` clamped to the pages there are, page index, page count)."""
        rows = self.listed(text_filter)
        pages = max(1, -(-len(rows) // size))
        index = min(max(index, 0), pages - 1)
        return rows[index * size:(index + 1) * size], index, pages

    def by_asset(self) -> dict[str, AlarmView]:
        """Each asset's most important active alarm (what its 3D marker shows)."""
        out: dict[str, AlarmView] = {}
        for a in self.alarms.values():
            if a.state not in ACTIVE_STATES or not a.asset:
                continue
            known = out.get(a.asset)
            if known is None or _sort_key(a) < _sort_key(known):
                out[a.asset] = a
        return out

    def of_asset(self, asset: str) -> list[AlarmView]:
        """Every listed alarm of one asset, most important first (the faceplate's section)."""
        return sorted((a for a in self.alarms.values()
                       if a.asset == asset and a.state in LISTED_STATES), key=_sort_key)


__all__ = ["ACTIVE_STATES", "PRIORITIES", "STATE_WORDS", "AlarmBoard", "AlarmView"]
