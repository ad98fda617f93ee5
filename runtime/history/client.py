"""Ask history the same way over the bus or straight from a store.

:class:`BusHistory` sends requests to the historian's service (a ServiceClient: one thread
only); :class:`StoreHistory` answers from a store opened here (``history --store``). Both page
raw ranges until done and raise QueryError (the asker's mistake) or StoreUnavailableError.
"""

from __future__ import annotations

from typing import Any

from runtime.bus.service_client import ServiceClient
from runtime.history.batch import Samples
from runtime.history.errors import QueryError, StoreUnavailableError
from runtime.history.query import MAX_AGG_CELLS, Aggregates, HistoryQuery
from runtime.history.service import answer
from runtime.history.wire import SERVICE, decode_aggregates, decode_samples

MAX_PAGES = 1000


class _Asker:
    def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def points(self) -> dict[str, str]:
        return dict(self._call("points", {})["points"])

    def raw(self, points: list[str], from_ns: int, to_ns: int
            ) -> dict[str, tuple[Samples, str]]:
        """Per point: every sample in [from_ns, to_ns] (paged), and its unit."""
        out: dict[str, tuple[list[Samples], str]] = {p: ([], "") for p in points}
        starts = dict.fromkeys(points, from_ns)
        for _ in range(MAX_PAGES):
            if not starts:
                break
            # one request per distinct start keeps the pages of each point in step
            start = min(starts.values())
            ask = [p for p, s in starts.items() if s == start]
            body = self._call("query_raw", {"points": ask, "from_ns": start, "to_ns": to_ns})
            for name, series in body["series"].items():
                out[name][0].append(decode_samples(series))
                out[name] = (out[name][0], str(series.get("unit", "")))
                if series.get("more"):
                    starts[name] = int(series["next_from_ns"])
                else:
                    starts.pop(name, None)
        return {p: (Samples.concat(parts), unit) for p, (parts, unit) in out.items()}

    def aggregate(self, points: list[str], from_ns: int, to_ns: int, every_ns: int = 0
                  ) -> tuple[int, dict[str, tuple[Aggregates, str]]]:
        """Per point (one request each when the buckets would not fit one answer)."""
        if every_ns > 0 and len(points) > 1 and \
                ((to_ns - from_ns) // every_ns + 1) * len(points) > MAX_AGG_CELLS:
            out: dict[str, tuple[Aggregates, str]] = {}
            every = every_ns
            for p in points:
                every, one = self.aggregate([p], from_ns, to_ns, every_ns)
                out.update(one)
            return every, out
        body = self._call("query_agg", {"points": points, "from_ns": from_ns, "to_ns": to_ns,
                                        "every_ns": every_ns})
        return int(body["every_ns"]), {name: (decode_aggregates(s), str(s.get("unit", "")))
                                       for name, s in body["series"].items()}

    def at(self, points: list[str], t_ns: int) -> dict[str, tuple[Samples, str]]:
        body = self._call("value_at", {"points": points, "t_ns": t_ns})
        return {name: (decode_samples(s), str(s.get("unit", "")))
                for name, s in body["series"].items()}


class BusHistory(_Asker):
    """History through the bus's ``history`` service."""

    def __init__(self, client: ServiceClient, *, timeout_s: float = 5.0) -> None:
        self.client = client
        self.timeout_s = timeout_s

    def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.client.call(SERVICE, method, body, timeout_s=self.timeout_s)
        if reply.status == "ok":
            return reply.body
        if reply.status == "error":
            raise QueryError(reply.text)
        raise StoreUnavailableError(reply.text or f"history service: {reply.status}")

    def close(self) -> None:
        self.client.close()


class StoreHistory(_Asker):
    """History straight from a store (no bus, no historian needed)."""

    def __init__(self, query: HistoryQuery) -> None:
        self.query = query

    def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        status, text, out = answer(self.query, method, body)
        if status == "ok":
            return out
        if status == "error":
            raise QueryError(text)
        raise StoreUnavailableError(text)

    def close(self) -> None:
        self.query.store.close()
