"""Command ids survive an adapter restart: rebuilt from the audit log at start (R13, R19).

A repeated command id must have no second effect, also after the adapter restarts, or else a
recorded command can be replayed. Every answered command is already in the audit log, on disk
before its ack (R14), so the log is the durable memory: at start the adapter reads back the last
:data:`~runtime.control.policy.REMEMBERED_IDS` command ids with their final outcome. An id whose
last record is ``pending`` (the adapter stopped between the device write and the ack) is
remembered as failed with code ``outcome_unknown``: a resend is answered with that, never
written again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from runtime.control.ack import Ack, Outcome
from runtime.control.command import ControlCommand
from runtime.control.policy import REMEMBERED_IDS, WritePolicy

_FINAL = {o.value: o for o in Outcome}
OUTCOME_UNKNOWN = "outcome_unknown"


def _ack(record: dict[str, Any]) -> Ack:
    outcome = record["outcome"]
    requested = record["new_value"] if isinstance(record["new_value"], int | float) else None
    if outcome in _FINAL:
        return Ack(id=record["command_id"], point=record["point"],
                   action=record["action"], outcome=_FINAL[outcome], code=record["reason"],
                   text=str(record["detail"])[:400], requested=requested,
                   written=outcome in ("confirmed", "failed"))
    return Ack(id=record["command_id"], point=record["point"], action=record["action"],
               outcome=Outcome.FAILED, code=OUTCOME_UNKNOWN,
               text="the adapter stopped before answering this command; check the point's "
                    "reading before sending it again with a new id",
               requested=requested, written=True)


def answered(path: str | Path, limit: int = REMEMBERED_IDS) -> list[tuple[ControlCommand, Ack]]:
    """The last ``limit`` command ids in the audit log at ``path`` with their final answer,
    oldest first. Records that are not commands (repairs) and duplicates are skipped; a log
    that cannot be read gives nothing (the log's own checks refuse writes then)."""
    last: OrderedDict[str, dict[str, Any]] = OrderedDict()
    try:
        with Path(path).open("rb") as f:
            for raw in f:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(record, dict) or not record.get("command_id") or \
                        record.get("outcome") == "duplicate" or record.get("action") == "audit":
                    continue
                cid = record["command_id"]
                last[cid] = record
                last.move_to_end(cid)
                if len(last) > limit:
                    last.popitem(last=False)
    except OSError:
        return []
    out = []
    for record in last.values():
        try:
            command = ControlCommand.from_message(
                {"id": record["command_id"], "point": record["point"],
                 "value": record["new_value"], "role": record["role"],
                 "actor": record["actor"], "host": record["host"], "action": record["action"]})
            out.append((command, _ack(record)))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def restore(policy: WritePolicy, path: str | Path) -> int:
    """Teach ``policy`` the ids answered in the audit log at ``path``; how many."""
    pairs = answered(path)
    for command, ack in pairs:
        policy.remember(command, ack)
    return len(pairs)


__all__ = ["OUTCOME_UNKNOWN", "answered", "restore"]
