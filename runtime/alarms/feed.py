"""A viewer's line to the alarm service, off the render thread.

A worker thread subscribes to the service's events and asks for a (paged) snapshot when it
joins, on every gap, and while the service cannot be reached (every ``RETRY_S``); it queues
what it learned for the render thread, which drains the queue into an
:class:`~runtime.alarms.board.AlarmBoard` once a frame (:meth:`AlarmFeed.drain`). The frame
never waits on the bus. The thread owns its sockets (ZeroMQ sockets are not thread-safe).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import zmq

from runtime.alarms.board import AlarmBoard
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.events import EventSubscriber
from runtime.bus.handshake import BusRefusedError
from runtime.bus.security import ClientSecurity
from runtime.bus.service_client import ServiceClient

log = logging.getLogger("twinstage.alarms.feed")

SERVICE = "alarms"
RETRY_S = 2.0
MAX_QUEUED = 10_000
"""Messages queued for the render thread; beyond it the feed asks for a fresh snapshot."""
MAX_PAGES = 100


def fetch_snapshot(client: ServiceClient, timeout_s: float) -> tuple[list[dict[str, Any]], str]:
    """Every alarm's state from the alarm service, page by page (at most MAX_PAGES); with
    ``""``, or no states and the reason it did not answer."""
    states: list[dict[str, Any]] = []
    offset = 0
    for _ in range(MAX_PAGES):
        reply = client.call(SERVICE, "snapshot", {"offset": offset}, timeout_s=timeout_s)
        if not reply.ok:
            return [], reply.text or reply.status
        page = reply.body.get("alarms", [])
        states.extend(s for s in page if isinstance(s, dict))
        offset += len(page)
        if not reply.body.get("more") or not page:
            break
    return states, ""


class AlarmFeed:
    """Snapshots and events from the alarm service, for one viewer."""

    def __init__(self, endpoints: BusEndpoints, *, security: ClientSecurity | None = None,
                 timeout_s: float = 3.0) -> None:
        self._endpoints = endpoints
        self._security = security
        self._timeout_s = timeout_s
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(MAX_QUEUED)
        self._stop = threading.Event()
        self._resync = threading.Event()
        self.status = "connecting to the alarm service"
        """One line for the status bar when the feed is not live."""
        self._thread = threading.Thread(target=self._run, name="twinstage-alarm-feed",
                                        daemon=True)
        self._thread.start()

    # -- render thread ----------------------------------------------------------------------

    def drain(self, board: AlarmBoard, max_items: int = 200) -> bool:
        """Apply what arrived to ``board`` (bounded work per frame); True when it changed."""
        before = board.version
        for _ in range(max_items):
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == "snapshot":
                board.clear()
                board.replace(payload)
            elif kind == "events":
                board.apply(payload)
            elif kind == "lost":
                board.connected = False
        return board.version != before

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # -- worker thread ----------------------------------------------------------------------

    def _put(self, kind: str, payload: Any) -> None:
        try:
            self._queue.put_nowait((kind, payload))
        except queue.Full:  # the render thread is far behind: start over from a snapshot
            self._resync.set()

    def _snapshot(self, client: ServiceClient) -> bool:
        states, problem = fetch_snapshot(client, self._timeout_s)
        if problem:
            self.status = f"alarms unavailable: {problem}"
            self._put("lost", None)
            return False
        self.status = ""
        self._put("snapshot", states)
        return True

    def _run(self) -> None:
        ctx = zmq.Context()
        try:
            sub = EventSubscriber(self._endpoints, [SERVICE], context=ctx,
                                  security=self._security)
            client = ServiceClient(self._endpoints, context=ctx, security=self._security)
        except zmq.ZMQError as exc:
            self.status = f"alarms unavailable: {exc}"
            ctx.term()
            return
        need = True
        next_try = 0.0
        try:
            while not self._stop.is_set():
                batches = sub.poll(timeout_ms=100)
                if any(b.gap for b in batches) or self._resync.is_set():
                    need = True
                    self._resync.clear()
                if need and time.monotonic() >= next_try:
                    try:
                        need = not self._snapshot(client)
                    except BusRefusedError as exc:
                        self.status = f"alarms unavailable: {exc}"
                        return
                    next_try = time.monotonic() + RETRY_S
                for batch in batches:
                    self._put("events", batch.events)
        finally:
            sub.close()
            client.close()
            ctx.term()


__all__ = ["AlarmFeed", "fetch_snapshot"]
