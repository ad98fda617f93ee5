"""JSON text of each recorded message, built fast enough to keep up with the bus.

A readings message is assembled from pieces: the points list of a layout is encoded once and
reused (a source sends the same few layouts every poll), code columns are looked up by their
bytes, and each other numeric column is one C-level call over ``ndarray.tolist()``. Values are
written with 17 significant digits, which always read back to the same double: values
round-trip bit-exactly.

The inputs are already validated (columns by their constructors, acks by the wire's encoder),
so nothing is checked twice here.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from runtime.bus.wire import (
    OUTCOME_ALIASES,
    PointLayout,
    ReadingColumns,
    SnapshotSource,
    encode_ack,
)
from runtime.control.ack import Ack

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode
"""Compact JSON; NaN refused (readings are finite already; anything else is a bug)."""

_MAX_CACHED_LAYOUTS = 4096


class MessageEncoder:
    """Encodes recorded messages; remembers each layout's encoded points list."""

    __slots__ = ("_points", "_names", "_codes")

    def __init__(self) -> None:
        self._points: dict[str, str] = {}
        """Layout key -> its points as a JSON array."""
        self._names: dict[str, str] = {}
        """Source id -> JSON string."""
        self._codes: dict[bytes, str] = {}
        """Quality or reason column bytes -> JSON array."""

    def _points_json(self, layout: PointLayout) -> str:
        if layout.parts:  # a coalesced message: its parts' arrays joined (one per device)
            inner = ",".join([self._points_json(p)[1:-1] for p in layout.parts])
            return f"[{inner}]"
        text = self._points.get(layout.key)
        if text is None:
            if len(self._points) >= _MAX_CACHED_LAYOUTS:
                self._points.clear()
            text = self._points[layout.key] = _dumps(list(layout.names))
        return text

    def _name_json(self, source: str) -> str:
        text = self._names.get(source)
        if text is None:
            if len(self._names) >= _MAX_CACHED_LAYOUTS:
                self._names.clear()
            text = self._names[source] = _dumps(source)
        return text

    def _codes_json(self, codes: np.ndarray) -> str:
        """Quality or reason codes: nearly always the same few patterns (all Good, all 0), so
        the text is looked up by the bytes."""
        key = codes.tobytes()
        text = self._codes.get(key)
        if text is None:
            if len(self._codes) >= _MAX_CACHED_LAYOUTS:
                self._codes.clear()
            text = self._codes[key] = _dumps(codes.tolist())
        return text

    def _columns_json(self, cols: ReadingColumns) -> str:
        return (f'"points":{self._points_json(cols.layout)}'
                f',"values":{_values_json(cols.values)}'
                f',"quality":{self._codes_json(cols.quality)}'
                f',"reason":{self._codes_json(cols.reason)}'
                f',"t_source_ns":{_times_json(cols.t_source_ns)}')

    def readings(self, source: str, epoch: int, seq: int, t_ns: int,
                 cols: ReadingColumns) -> bytes:
        """``twinstage.Readings``: one bus batch, columnar."""
        return (f'{{"source":{self._name_json(source)},"epoch":{int(epoch)},"seq":{int(seq)}'
                f',"t_ns":{int(t_ns)},{self._columns_json(cols)}}}').encode()

    def snapshot(self, why: str, sources: list[SnapshotSource]) -> bytes:
        """``twinstage.Snapshot``: every source's full last-value state."""
        parts = [f'{{"source":{self._name_json(s.source)},"epoch":{int(s.epoch)}'
                 f',"seq":{int(s.seq)},"alive":{"true" if s.alive else "false"}'
                 f',"period_ms":{int(s.period_ms)},{self._columns_json(s.readings)}}}'
                 for s in sources]
        return f'{{"why":{_dumps(why)},"sources":[{",".join(parts)}]}}'.encode()


_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _values_json(values: np.ndarray) -> str:
    """Values in the shortest text that reads back to the same double (``-0.0`` included),
    from the array itself: orjson writes a 1,000-value batch about 20x faster than a ``%.17g``
    format call did, and this is the cost that bounds recording throughput."""
    try:
        return orjson.dumps(values, option=_NUMPY).decode()
    except orjson.JSONEncodeError:  # not contiguous float64 (a view): the list path
        return orjson.dumps(values.tolist()).decode()


def _times_json(t_ns: np.ndarray) -> str:
    """Source times: an adapter stamps a whole block with one time, so an all-equal column
    is written by repeating one number's text."""
    n = len(t_ns)
    if n and t_ns[0] == t_ns[-1] and (t_ns == t_ns[0]).all():
        return f"[{','.join([str(int(t_ns[0]))] * n)}]"
    try:
        return orjson.dumps(t_ns, option=_NUMPY).decode()
    except orjson.JSONEncodeError:
        return _dumps(t_ns.tolist())


def encode_source_state(source: str, epoch: int, alive: bool, silent_ms: int) -> bytes:
    """``twinstage.SourceState``: a publisher fell silent or came back."""
    return _dumps({"source": source, "epoch": int(epoch), "alive": bool(alive),
                   "silent_ms": int(silent_ms)}).encode()


def encode_ack_json(ack: Ack) -> bytes:
    """``twinstage.CommandAck``; checked by the wire's own ack rules (raises WireError)."""
    encode_ack(ack)
    outcome = OUTCOME_ALIASES.get(ack.outcome, ack.outcome)
    return _dumps({"id": ack.id, "point": ack.point, "outcome": outcome, "text": ack.text,
                   "readback": ack.readback, "code": ack.code,
                   "duplicate": ack.duplicate}).encode()


def encode_event(kind: str, id: str, text: str, severity: str = "",  # noqa: A002
                 data: dict[str, Any] | None = None) -> bytes:
    """``twinstage.Event``; ``severity`` and ``data`` are left out when empty."""
    msg: dict[str, Any] = {"kind": kind, "id": id, "text": text}
    if severity:
        msg["severity"] = severity
    if data is not None:
        msg["data"] = data
    return _dumps(msg).encode()


__all__ = ["MessageEncoder", "encode_ack_json", "encode_event", "encode_source_state"]
