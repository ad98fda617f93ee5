"""The alarm service: one per site, a bus client that owns every alarm's state (R17).

It subscribes to readings (snapshot on join, gaps re-snapshot), keeps the points its alarm
definitions read in numpy columns, and evaluates every definition whenever readings arrive (at
most every ``EVAL_MIN_S``) and at least at 10 Hz for delays and shelve expiries, all against
wall time (live). Each transition is journaled and fsync'd by the engine before it is published
as an event on ``e.alarms``; late joiners and subscribers that saw a gap ask for a snapshot
(service ``alarms``, method ``snapshot``).

Operators act on alarms with bus commands to ``alarm/<ID>`` or ``alarm/*`` (``ack``, ``shelve``,
``unshelve``, ``disable``, ``enable``): the bus vouches for the actor and role from the key, the
engine checks the role, every attempt is written to the audit log before the ack, and a repeated
command id gets its first answer again with nothing done twice. One thread owns every socket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import zmq

from runtime.bus.adapter_link import AdapterLink
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.events import EventPublisher
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ClientSecurity
from runtime.bus.service_link import ServiceLink
from runtime.bus.services import ServiceRequest
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import ALARM_ACTIONS, Command, PointLayout
from runtime.control.ack import Ack

if TYPE_CHECKING:
    from runtime.alarms.engine import AlarmEngine
    from runtime.control.audit import AuditLog

log = logging.getLogger("twinstage.alarms")

SERVICE = "alarms"
"""The service name, the events source and the adapter id the service registers as."""
COMMAND_PREFIX = "alarm/"
EVAL_MIN_S = 0.02
"""Readings trigger an evaluation at most this often (bounds cost under a flood)."""
TICK_S = 0.1
"""Evaluate at least this often even without readings: on/off delays and shelve expiry."""
SNAPSHOT_PAGE = 1000
"""Alarm states per snapshot reply page (each well under 1 KiB: a page stays under 1 MiB)."""
JOURNAL_PAGE = 2000
"""Journal rows per reply at most (the newest ones)."""
MAX_ANSWERED = 10_000
"""Command ids remembered with their acks, so a resent id is answered without a second effect."""
POLL_MS = 20


class AlarmService:
    """Owns the engine and the sockets; :meth:`run` until :meth:`stop` (from any thread)."""

    def __init__(self, engine: AlarmEngine, endpoints: BusEndpoints, *,
                 security: ClientSecurity | None = None, audit: AuditLog | None = None,
                 clock: Callable[[], int] = time.time_ns,
                 context: zmq.Context | None = None) -> None:
        self.engine = engine
        self.audit = audit
        self._clock = clock
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._stop = threading.Event()
        self._rlog = RateLimitedLog(log)
        ctx = self._context
        self.subscriber = Subscriber(endpoints, context=ctx, security=security)
        self.link = AdapterLink(endpoints, SERVICE, [COMMAND_PREFIX + "*"], context=ctx,
                                security=security)
        self.service = ServiceLink(endpoints, SERVICE, context=ctx, security=security)
        self.events = EventPublisher(endpoints, SERVICE, context=ctx, security=security)
        points = list(engine.points)
        self._index = {p: i for i, p in enumerate(points)}
        self.values = np.full(len(points), np.nan)
        self.quality = np.full(len(points), 2, dtype=np.uint8)
        self._selections: dict[PointLayout, tuple[np.ndarray, np.ndarray]] = {}
        self._answered: OrderedDict[str, Ack] = OrderedDict()
        self.failure = ""
        """Why :meth:`run` ended by an error ("" while running or after a clean stop)."""
        self.stats = {"evaluations": 0, "transitions": 0, "commands": 0, "requests": 0,
                      "readings": 0, "events_published": 0}

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Serve until :meth:`stop`; closes the sockets on the way out."""
        poller = zmq.Poller()
        for sock in (self.subscriber.readings_socket, self.subscriber.snapshot_socket,
                     self.link.socket, self.service.socket):
            poller.register(sock, zmq.POLLIN)
        next_tick = last_eval = 0.0
        dirty = False
        try:
            while not self._stop.is_set():
                poller.poll(POLL_MS)
                dirty |= self._ingest()
                now = time.monotonic()
                due = now >= next_tick or (dirty and now >= last_eval + EVAL_MIN_S)
                if due and self.subscriber.synced:
                    self.evaluate()
                    dirty = False
                    last_eval, next_tick = now, now + TICK_S
                for cmd in self.link.poll_commands():
                    self._on_command(cmd)
                for req in self.service.poll():
                    self._on_request(req)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("alarm service stopped by an error")
            raise
        finally:
            self.close()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="twinstage-alarms", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for part in (self.subscriber, self.link, self.service, self.events):
            part.close()
        if self._own_context:
            self._context.term()

    # -- readings -> evaluation -------------------------------------------------------------

    def _ingest(self) -> bool:
        """Apply waiting readings to the columns; True when any point the alarms read changed."""
        changed = False
        for block in self.subscriber.poll_blocks():
            cols = block.columns
            layout = cols.layout
            sel = self._selections.get(layout)
            if sel is None:
                sel = self._select(layout) if not layout.parts else self._select_joined(layout)
            src, dst = sel
            if len(src):
                self.values[dst] = cols.values[src]
                self.quality[dst] = cols.quality[src]
                self.stats["readings"] += len(src)
                changed = True
        return changed

    def _select(self, layout: PointLayout) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``layout`` of the points the alarms read, and their columns here."""
        src = [i for i, p in enumerate(layout.names) if p in self._index]
        dst = [self._index[layout.names[i]] for i in src]
        sel = (np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp))
        if len(self._selections) > 4096:
            self._selections.clear()
        self._selections[layout] = sel
        return sel

    def _select_joined(self, layout: PointLayout) -> tuple[np.ndarray, np.ndarray]:
        """A coalesced message: its parts' selections (each remembered), joined."""
        sels = [self._selections.get(p) or self._select(p) for p in layout.parts]
        offsets = layout.offsets  # type: ignore[attr-defined]
        return (np.concatenate([s[0] + offsets[i] for i, s in enumerate(sels)]),
                np.concatenate([s[1] for s in sels]))

    def evaluate(self) -> None:
        """Evaluate every definition now; publish what changed (journaled by the engine)."""
        transitions = self.engine.evaluate(self._clock(), self.values, self.quality)
        self.stats["evaluations"] += 1
        self._publish(transitions)

    def _publish(self, transitions: list[Any]) -> None:
        if not transitions:
            return
        self.stats["transitions"] += len(transitions)
        self.events.publish([t.event() for t in transitions])
        self.stats["events_published"] += len(transitions)

    # -- commands ---------------------------------------------------------------------------

    def _on_command(self, cmd: Command) -> None:
        self.stats["commands"] += 1
        known = self._answered.get(cmd.id)
        if known is not None:
            self.link.send_ack(known._replace(duplicate=True))
            return
        ack = self._decide(cmd)
        self._answered[cmd.id] = ack
        while len(self._answered) > MAX_ANSWERED:
            self._answered.popitem(last=False)
        self.link.send_ack(ack)

    def _decide(self, cmd: Command) -> Ack:
        def refuse(code: str, text: str) -> Ack:
            self._audit(cmd, "refused", code, text)
            return Ack(cmd.id, cmd.point, "refused", text, None, code, action=cmd.action)

        if cmd.action not in ALARM_ACTIONS or not cmd.point.startswith(COMMAND_PREFIX):
            return refuse("action", f"the alarm service takes {', '.join(ALARM_ACTIONS)} on "
                                    f"alarm/<ID>, not {cmd.action} on {cmd.point}")
        if self.audit is not None and not self.audit.available:
            return refuse("audit_unavailable", "the alarm audit log cannot be written: "
                                               f"{self.audit.problem}; nothing was changed")
        target = cmd.point[len(COMMAND_PREFIX):]
        result = self.engine.command(target, cmd.action, self._clock(), actor=cmd.actor,
                                     role=cmd.role, comment=cmd.comment,
                                     minutes=float(cmd.value))
        if not result.ok:
            return refuse(result.code, result.text)
        self._audit(cmd, "confirmed", "", result.text)
        self._publish(result.transitions)
        return Ack(cmd.id, cmd.point, "confirmed", result.text, None, "", action=cmd.action)

    def _audit(self, cmd: Command, outcome: str, code: str, text: str) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(actor=cmd.actor, role=cmd.role, host=cmd.host, command_id=cmd.id,
                              point=cmd.point, action=cmd.action, old_value=None,
                              new_value=cmd.value, outcome=outcome, reason=code,
                              detail=f"{text}; comment: {cmd.comment}" if cmd.comment else text)
        except Exception as exc:  # noqa: BLE001 - the log marks itself unavailable: later
            # actions are refused (audit_unavailable); this one is in the alarm journal
            self._rlog(logging.ERROR, "audit", "alarm audit log unavailable: %s", exc)

    # -- requests ---------------------------------------------------------------------------

    def _on_request(self, req: ServiceRequest) -> None:
        self.stats["requests"] += 1
        try:
            status, body, text = self._answer(req)
        except (TypeError, ValueError, KeyError) as exc:
            status, body, text = "error", {}, f"bad {req.method} request: {exc}"
        self.service.reply(req.id, status, body, text)

    def _answer(self, req: ServiceRequest) -> tuple[str, dict[str, Any], str]:
        body = req.body
        if req.method in ("snapshot", "list"):
            states = self.engine.states()
            if req.method == "list":
                states = [s for s in states if s["state"] != "normal"]
            offset = int(body.get("offset", 0))
            page = states[offset:offset + SNAPSHOT_PAGE]
            more = offset + len(page) < len(states)
            journal = self.engine.journal
            return "ok", {"alarms": page, "offset": offset, "total": len(states), "more": more,
                          "journal_seq": journal.last_seq if journal is not None else 0}, ""
        if req.method == "journal":
            from runtime.alarms.journal_query import filter_rows

            if self.engine.journal is None:
                return "error", {}, "this alarm service keeps no journal"
            since = body.get("since_ns")
            rows = filter_rows(self.engine.journal.rows(),
                               since_ns=int(since) if since is not None else None,
                               point_glob=str(body.get("point_glob") or "") or None,
                               priority=str(body.get("priority") or "") or None)
            limit = max(1, min(int(body.get("limit", JOURNAL_PAGE)), JOURNAL_PAGE))
            return "ok", {"rows": rows[-limit:], "total": len(rows)}, ""
        return "error", {}, (f"unknown method {req.method!r}: the alarm service answers "
                             "snapshot, list and journal")


__all__ = ["COMMAND_PREFIX", "SERVICE", "AlarmService"]
