"""A viewer's line to the training run (service ``scenario``), off the render thread.

Two kinds of station use it:

- the trainee's (operator role): every ``PRESENCE_S`` it says "I am here" (``presence``) and
  collects the instructor's messages and hints, and the run's pauses, for the screen;
- the instructor's (instructor role): every ``STATUS_S`` it fetches the run's state, score and
  new events (``status``), the scene's scenarios once (``list``), and sends what the instructor
  asked for (freeze, backtrack, inject, message, ...) in order, one request at a time.

No training run on the bus is not an error: the link says so and asks again every
``IDLE_RETRY_S``. The render thread only calls :meth:`take` and :meth:`ask`; the worker owns
its sockets (ZeroMQ sockets are not thread-safe).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.handshake import BusRefusedError
from runtime.bus.security import ClientSecurity
from runtime.bus.service_client import ServiceClient

SERVICE = "scenario"
PRESENCE_S = 1.0
STATUS_S = 0.5
IDLE_RETRY_S = 3.0
MAX_LINES = 200


class StationLink:
    def __init__(self, endpoints: BusEndpoints, *, security: ClientSecurity | None,
                 instructor: bool) -> None:
        self.endpoints = endpoints
        self.security = security
        self.instructor = instructor
        self.status: dict[str, Any] = {}
        self.scenarios: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.feedback: list[str] = []
        self.connected = False
        self.note = "looking for a training run"
        self._next = 0
        self._lock = threading.Lock()
        self._asks: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(100)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twinstage-training-link",
                                        daemon=True)
        self._thread.start()

    # -- render thread ----------------------------------------------------------------------
    def ask(self, method: str, body: dict[str, Any] | None = None) -> None:
        """Queue an instructor request (sent by the worker, answered into ``feedback``)."""
        try:
            self._asks.put_nowait((method, body or {}))
        except queue.Full:
            self._say(f"{method}: not sent (too many requests waiting)")

    def take(self) -> dict[str, Any]:
        """A copy of what the link knows now."""
        with self._lock:
            return {"status": dict(self.status), "scenarios": list(self.scenarios),
                    "events": list(self.events[-MAX_LINES:]),
                    "messages": list(self.messages[-MAX_LINES:]),
                    "feedback": list(self.feedback[-8:]), "connected": self.connected,
                    "note": self.note}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # -- worker -----------------------------------------------------------------------------
    def _say(self, line: str) -> None:
        with self._lock:
            self.feedback.append(line)
            del self.feedback[:-MAX_LINES]

    def _run(self) -> None:
        ctx = zmq.Context()
        client = ServiceClient(self.endpoints, context=ctx, security=self.security)
        due = 0.0
        try:
            while not self._stop.is_set():
                try:
                    method, body = self._asks.get(timeout=0.05)
                except queue.Empty:
                    method = ""
                try:
                    if method:
                        reply = client.call(SERVICE, method, body, timeout_s=5.0)
                        self._say(f"{method}: " + ("done" if reply.ok else
                                                   f"{reply.status}: {reply.text}"))
                        due = 0.0
                    if time.monotonic() >= due:
                        ok = self._instructor(client) if self.instructor else \
                            self._trainee(client)
                        period = (STATUS_S if self.instructor else PRESENCE_S) if ok \
                            else IDLE_RETRY_S
                        due = time.monotonic() + period
                except BusRefusedError as exc:
                    self.note = f"training unavailable: {exc}"
                    return
        finally:
            client.close()
            ctx.term()

    def _idle(self, text: str) -> bool:
        with self._lock:
            self.connected = False
            self.note = "no training run on this bus" if "no service" in text or not text \
                else f"training: {text}"
        return False

    def _trainee(self, client: ServiceClient) -> bool:
        reply = client.call(SERVICE, "presence", {"since": self._next}, timeout_s=2.0)
        if not reply.ok:
            return self._idle(reply.text)
        body = reply.body
        with self._lock:
            self.connected = True
            self.note = ""
            if body.get("run") != self.status.get("run"):
                self._next = 0
            self.status = {"state": body.get("state", ""), "scenario": body.get("scenario", ""),
                           "run": body.get("run")}
            for m in body.get("messages", []):
                if int(m.get("n", -1)) >= self._next:
                    self.messages.append(m)
            self._next = int(body.get("next", self._next))
        return True

    def _instructor(self, client: ServiceClient) -> bool:
        if not self.scenarios:
            reply = client.call(SERVICE, "list", {}, timeout_s=2.0)
            if not reply.ok:
                return self._idle(reply.text)
            with self._lock:
                self.scenarios = list(reply.body.get("scenarios", []))
        reply = client.call(SERVICE, "status", {"since": self._next}, timeout_s=2.0)
        if not reply.ok:
            return self._idle(reply.text)
        body = reply.body
        with self._lock:
            self.connected = True
            self.note = ""
            if body.get("run") != self.status.get("run"):  # a new run: its log starts at 0
                self.events = []
                if self._next:
                    self._next = 0
                    self.status = body
                    return True
            self.status = body
            self.events.extend(body.get("events", []))
            del self.events[:-MAX_LINES]
            self._next = int(body.get("next", self._next))
        return True
