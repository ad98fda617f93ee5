"""The historian's query service on the bus ("history"): its own thread, its own store
connection, answering through a ServiceLink (docs/history.md lists the methods)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.security import ClientSecurity
from runtime.bus.service_link import ServiceLink
from runtime.bus.services import ServiceRequest
from runtime.history.errors import QueryError, StoreUnavailableError
from runtime.history.query import HistoryQuery
from runtime.history.store import Store
from runtime.history.wire import (
    SERVICE,
    encode_aggregates,
    encode_samples,
    int_field,
    points_field,
)

log = logging.getLogger("twinstage.history.service")


def answer(query: HistoryQuery, method: str, body: dict[str, Any]) -> tuple[str, str, dict]:
    """(status, text, body) for one request; never raises for bad input."""
    try:
        if method == "points":
            return "ok", "", {"points": query.points()}
        if method == "query_raw":
            pts = points_field(body)
            res = query.raw(pts, int_field(body, "from_ns"), int_field(body, "to_ns"),
                            int_field(body, "limit", 40_000))
            return "ok", "", {"series": {
                name: {**encode_samples(s), "unit": query.unit(name), "more": more,
                       "next_from_ns": int(s.t_ns[-1]) + 1 if more else -1}
                for name, (s, more) in res.items()}}
        if method == "query_agg":
            pts = points_field(body)
            every, res = query.aggregate(pts, int_field(body, "from_ns"),
                                         int_field(body, "to_ns"), int_field(body, "every_ns", 0))
            return "ok", "", {"every_ns": every, "series": {
                name: {**encode_aggregates(a), "unit": query.unit(name)}
                for name, a in res.items()}}
        if method == "value_at":
            res = query.at(points_field(body), int_field(body, "t_ns"))
            return "ok", "", {"series": {name: {**encode_samples(s), "unit": query.unit(name)}
                                         for name, s in res.items()}}
        return "error", f"unknown method {method!r}; history answers points, query_raw, " \
                        "query_agg, value_at", {}
    except (QueryError, ValueError) as exc:
        return "error", str(exc), {}
    except StoreUnavailableError as exc:
        return "unavailable", f"history store unavailable: {exc}", {}


class HistoryService:
    """Answers history queries from a thread until :meth:`stop`."""

    def __init__(self, endpoints: BusEndpoints, store: Store, *,
                 security: ClientSecurity | None) -> None:
        self.endpoints = endpoints
        self.store = store
        self.security = security
        self.answered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="history-service", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        link = ServiceLink(self.endpoints, SERVICE, security=self.security)
        query = HistoryQuery(self.store)
        poller = zmq.Poller()
        poller.register(link.socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                poller.poll(200)
                for req in link.poll():
                    self._one(link, query, req)
        finally:
            link.close()
            self.store.close()

    def _one(self, link: ServiceLink, query: HistoryQuery, req: ServiceRequest) -> None:
        status, text, body = answer(query, req.method, req.body)
        link.reply(req.id, status, body, text=text)
        self.answered += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
