"""Recorded JSON messages back into typed records, checked as untrusted input.

A recording is a file someone hands us, so every message is checked as the bus checks its
input (reliability R11): exact field sets, integer ranges, visible-ASCII names, finite numbers.
Readings and snapshot columns go through the wire's validating constructors
(:func:`~runtime.bus.wire.layout_of`, :func:`~runtime.bus.wire.columns`), acks through the
wire's ack rules, so a recorded reading is exactly as trustworthy as a live one.

The checks mirror the JSON Schemas in :mod:`runtime.recording.schemas` (a test checks that a
message either passes both or fails both) but are hand-written: a schema validator is a hundred
times too slow for replay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from runtime.bus.wire import (
    MAX_PERIOD_MS,
    MAX_SOURCE_LEN,
    OUTCOMES,
    ReadingColumns,
    SnapshotSource,
    WireError,
    columns,
    encode_ack,
    layout_of,
)
from runtime.control.ack import Ack
from runtime.recording.records import (
    Record,
    RecordedAck,
    RecordedEvent,
    RecordedReadings,
    RecordedSnapshot,
    RecordedSourceState,
)
from runtime.recording.schemas import (
    INT63_MAX,
    MAX_EVENT_ID_LEN,
    MAX_EVENT_KIND_LEN,
    MAX_EVENT_TEXT_LEN,
    MAX_SEVERITY_LEN,
    SNAPSHOT_WHY,
    TOPIC_ACK,
    TOPIC_EVENT,
    TOPIC_READINGS,
    TOPIC_SNAPSHOT,
    TOPIC_SOURCE,
)


class InvalidMessageError(ValueError):
    """A recorded message that does not follow its schema; the text says which field."""


_NAME = re.compile(r"[\x21-\x7e]+")
"""The wire's rule for sources, points and ids: visible ASCII, no spaces."""

_READINGS_KEYS = frozenset({"source", "epoch", "seq", "t_ns", "points", "values", "quality",
                            "reason", "t_source_ns"})
_SNAPSHOT_SOURCE_KEYS = frozenset({"source", "epoch", "seq", "alive", "period_ms", "points",
                                   "values", "quality", "reason", "t_source_ns"})
_SOURCE_STATE_KEYS = frozenset({"source", "epoch", "alive", "silent_ms"})
_ACK_KEYS = frozenset({"id", "point", "outcome", "text", "readback", "code", "duplicate"})
_EVENT_REQUIRED = frozenset({"kind", "id", "text"})
_EVENT_KEYS = _EVENT_REQUIRED | {"severity", "data"}


def _object(msg: Any, keys: frozenset[str], optional: frozenset[str] = frozenset()) -> dict:
    if type(msg) is not dict:
        raise InvalidMessageError(f"message is a JSON {type(msg).__name__}, expected an object")
    have = msg.keys()
    if not keys - optional <= have or not have <= keys:
        missing = sorted(keys - optional - have)
        extra = sorted(have - keys)
        raise InvalidMessageError("fields do not match the schema"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unexpected {', '.join(extra)}" if extra else ""))
    return msg


def _name(value: Any, what: str, limit: int) -> str:
    if type(value) is not str or len(value) > limit or _NAME.fullmatch(value) is None:
        raise InvalidMessageError(f"{what} is not 1..{limit} visible ASCII characters")
    return value


def _str(value: Any, what: str, limit: int) -> str:
    if type(value) is not str or len(value) > limit:
        raise InvalidMessageError(f"{what} is not a string of at most {limit} characters")
    return value


def _int(value: Any, what: str, minimum: int = 0, maximum: int = INT63_MAX) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise InvalidMessageError(f"{what} {value!r:.40} is not an integer {minimum}..{maximum}")
    return value


def _bool(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise InvalidMessageError(f"{what} is not true or false")
    return value


def _columns(msg: dict) -> ReadingColumns:
    for key in ("points", "values", "quality", "reason", "t_source_ns"):
        if type(msg[key]) is not list:
            raise InvalidMessageError(f"{key} is not an array")
    try:
        return columns(layout_of(msg["points"]), msg["values"], msg["quality"], msg["reason"],
                       msg["t_source_ns"])
    except WireError as exc:
        raise InvalidMessageError(exc.reason) from None


def _readings(log_time_ns: int, msg: Any) -> RecordedReadings:
    msg = _object(msg, _READINGS_KEYS)
    return RecordedReadings(log_time_ns, _name(msg["source"], "source", MAX_SOURCE_LEN),
                            _int(msg["epoch"], "epoch", 1), _int(msg["seq"], "seq", 1),
                            _int(msg["t_ns"], "t_ns"), _columns(msg))


def _snapshot(log_time_ns: int, msg: Any) -> RecordedSnapshot:
    msg = _object(msg, frozenset({"why", "sources"}))
    why = msg["why"]
    if why not in SNAPSHOT_WHY or type(why) is not str:
        raise InvalidMessageError(f"why {why!r:.40} is not one of {', '.join(SNAPSHOT_WHY)}")
    if type(msg["sources"]) is not list:
        raise InvalidMessageError("sources is not an array")
    sources: list[SnapshotSource] = []
    seen: set[str] = set()
    for entry in msg["sources"]:
        entry = _object(entry, _SNAPSHOT_SOURCE_KEYS)
        source = _name(entry["source"], "snapshot source", MAX_SOURCE_LEN)
        if source in seen:
            raise InvalidMessageError(f"source {source} appears twice in one snapshot")
        seen.add(source)
        sources.append(SnapshotSource(
            source, _int(entry["epoch"], "epoch", 1), _int(entry["seq"], "seq"),
            _bool(entry["alive"], "alive"), _int(entry["period_ms"], "period_ms", 0,
                                                 MAX_PERIOD_MS), _columns(entry)))
    return RecordedSnapshot(log_time_ns, why, sources)


def _source_state(log_time_ns: int, msg: Any) -> RecordedSourceState:
    msg = _object(msg, _SOURCE_STATE_KEYS)
    return RecordedSourceState(log_time_ns, _name(msg["source"], "source", MAX_SOURCE_LEN),
                               _int(msg["epoch"], "epoch", 1), _bool(msg["alive"], "alive"),
                               _int(msg["silent_ms"], "silent_ms"))


def _ack(log_time_ns: int, msg: Any) -> RecordedAck:
    msg = _object(msg, _ACK_KEYS)
    if msg["outcome"] not in OUTCOMES or type(msg["outcome"]) is not str:
        raise InvalidMessageError(f"outcome {msg['outcome']!r:.40} is not one of "
                             f"{', '.join(OUTCOMES)}")
    readback = msg["readback"]
    if readback is not None and type(readback) not in (int, float):
        raise InvalidMessageError("readback is not a number or null")
    try:
        ack = Ack(msg["id"], msg["point"], msg["outcome"], msg["text"],
                  None if readback is None else float(readback), msg["code"],
                  msg["duplicate"])
        encode_ack(ack)  # the wire's rules for every ack field
    except WireError as exc:
        raise InvalidMessageError(exc.reason) from None
    except OverflowError:
        raise InvalidMessageError("readback is too large for a float") from None
    return RecordedAck(log_time_ns, ack)


def _event(log_time_ns: int, msg: Any) -> RecordedEvent:
    msg = _object(msg, _EVENT_KEYS, _EVENT_KEYS - _EVENT_REQUIRED)
    data = msg.get("data")
    if data is not None and type(data) is not dict:
        raise InvalidMessageError("data is not an object")
    return RecordedEvent(log_time_ns, _name(msg["kind"], "kind", MAX_EVENT_KIND_LEN),
                         _str(msg["id"], "id", MAX_EVENT_ID_LEN),
                         _str(msg["text"], "text", MAX_EVENT_TEXT_LEN),
                         _str(msg.get("severity", ""), "severity", MAX_SEVERITY_LEN), data)


def check_stream_fields(source: str, epoch: int, seq: int, t_ns: int = 0,
                        period_ms: int = 0) -> None:
    """The per-source fields the writer is handed, checked as the reader will check them
    (a few comparisons: cheap enough for every batch); raises InvalidMessageError."""
    if source not in _CHECKED_SOURCES:
        _name(source, "source", MAX_SOURCE_LEN)
        if len(_CHECKED_SOURCES) > 4096:
            _CHECKED_SOURCES.clear()
        _CHECKED_SOURCES.add(source)
    _int(epoch, "epoch", 1)
    _int(seq, "seq")
    _int(t_ns, "t_ns")
    _int(period_ms, "period_ms", 0, MAX_PERIOD_MS)


_CHECKED_SOURCES: set[str] = set()
"""Sources already found valid: a pure, bounded memo."""


DECODERS: dict[str, Callable[[int, Any], Record]] = {
    TOPIC_READINGS: _readings,
    TOPIC_SNAPSHOT: _snapshot,
    TOPIC_SOURCE: _source_state,
    TOPIC_ACK: _ack,
    TOPIC_EVENT: _event,
}


def decode_message(topic: str, log_time_ns: int, data: bytes) -> Record:
    """The typed record for one message of ``topic``; raises :class:`InvalidMessageError`."""
    decoder = DECODERS.get(topic)
    if decoder is None:
        raise InvalidMessageError(f"no twinstage channel is called {topic!r:.80}")
    try:
        # orjson parses a 5,000-point batch about 3.7x faster than the json module (replay at
        # 64x decodes millions of readings a second); it refuses invalid UTF-8 and NaN too.
        msg = orjson.loads(data)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise InvalidMessageError(f"not JSON: {exc}") from None
    return decoder(log_time_ns, msg)


__all__ = ["DECODERS", "InvalidMessageError", "check_stream_fields", "decode_message"]
