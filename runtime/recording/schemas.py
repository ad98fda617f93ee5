"""Channels of a twinstage recording and the JSON Schema of each message.

Messages are JSON (``json`` message encoding) described by JSON Schema draft 2020-12
(``jsonschema`` schema encoding): the pair Foxglove, Lichtblick and the ``mcap`` CLI read
without any plugin. Readings are columnar, one message per bus batch, exactly as the bus
carries them (``docs/bus-protocol.md``); ``docs/recording-format.md`` describes the rules.

Integers that hold nanoseconds (``t_ns``, ``t_source_ns``) exceed 2^53: JavaScript tools show
them rounded to about a quarter microsecond; Python reads them exactly.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from runtime.bus.wire import (
    MAX_CODE_LEN,
    MAX_ID_LEN,
    MAX_PERIOD_MS,
    MAX_POINT_LEN,
    MAX_QUALITY,
    MAX_READINGS,
    MAX_REASON,
    MAX_SOURCE_LEN,
    MAX_TEXT_LEN,
    OUTCOMES,
)

FORMAT_NAME = "twinstage.recording"
FORMAT_VERSION = 1
"""Bumped when a reader of this version could not read a newer file correctly."""
PROFILE = "twinstage"
"""The MCAP header's profile string."""
METADATA_NAME = "twinstage"
"""Name of the MCAP metadata record holding format, version, scene, host and start time."""
MESSAGE_ENCODING = "json"
SCHEMA_ENCODING = "jsonschema"

TOPIC_READINGS = "/twinstage/readings"
TOPIC_SNAPSHOT = "/twinstage/snapshot"
TOPIC_SOURCE = "/twinstage/source"
TOPIC_ACK = "/twinstage/ack"
TOPIC_EVENT = "/twinstage/event"

SNAPSHOT_WHY = ("start", "keyframe", "resync")
"""``start``: first message of every file; ``keyframe``: every keyframe_s; ``resync``: the
recorder took a fresh bus snapshot (late join or gap)."""

MAX_EVENT_KIND_LEN = 64
MAX_EVENT_ID_LEN = 128
MAX_EVENT_TEXT_LEN = 2048
MAX_SEVERITY_LEN = 32
INT63_MAX = (1 << 63) - 1

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NAME_PATTERN = "^[\\x21-\\x7e]+$"
"""Sources, points and ids: visible ASCII without spaces (the wire's rule)."""
_TEXT_PATTERN = "^[\\x20-\\x7e]*$"


def _uint63(minimum: int = 0) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": INT63_MAX}


def _name(limit: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limit, "pattern": _NAME_PATTERN}


def _columns_properties() -> dict[str, Any]:
    """The five parallel arrays of a readings batch (the wire's readings body)."""
    return {
        "points": {"type": "array", "maxItems": MAX_READINGS, "uniqueItems": True,
                   "items": _name(MAX_POINT_LEN),
                   "description": "<entity>/<point>, e.g. P-101/speed_rpm"},
        "values": {"type": "array", "maxItems": MAX_READINGS, "items": {"type": "number"},
                   "description": "scaled engineering values (finite)"},
        "quality": {"type": "array", "maxItems": MAX_READINGS,
                    "items": {"type": "integer", "minimum": 0, "maximum": MAX_QUALITY},
                    "description": "0 Good, 1 Uncertain, 2 Bad"},
        "reason": {"type": "array", "maxItems": MAX_READINGS,
                   "items": {"type": "integer", "minimum": 0, "maximum": MAX_REASON},
                   "description": "quality reason code (runtime.quality.Reason)"},
        "t_source_ns": {"type": "array", "maxItems": MAX_READINGS, "items": _uint63(),
                        "description": "wall clock (ns) when the adapter read each value"},
    }


_COLUMNS = tuple(_columns_properties())

READINGS_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "twinstage.Readings",
    "description": "One bus batch of readings from one source, as columns (parallel arrays).",
    "type": "object",
    "properties": {
        "source": _name(MAX_SOURCE_LEN),
        "epoch": _uint63(1),
        "seq": _uint63(1),
        "t_ns": {**_uint63(), "description": "wall clock (ns) when the source published"},
        **_columns_properties(),
    },
    "required": ["source", "epoch", "seq", "t_ns", *_COLUMNS],
    "additionalProperties": False,
}

SNAPSHOT_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "twinstage.Snapshot",
    "description": "The full last-value state of every source: a replay starts from here.",
    "type": "object",
    "properties": {
        "why": {"enum": list(SNAPSHOT_WHY)},
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": _name(MAX_SOURCE_LEN),
                    "epoch": _uint63(1),
                    "seq": {**_uint63(), "description": "last sequence number applied"},
                    "alive": {"type": "boolean"},
                    "period_ms": {"type": "integer", "minimum": 0, "maximum": MAX_PERIOD_MS,
                                  "description": "heartbeat period; 0 when not heard yet"},
                    **_columns_properties(),
                },
                "required": ["source", "epoch", "seq", "alive", "period_ms", *_COLUMNS],
                "additionalProperties": False,
            },
        },
    },
    "required": ["why", "sources"],
    "additionalProperties": False,
}

SOURCE_STATE_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "twinstage.SourceState",
    "description": "A publisher fell silent (alive false) or came back (alive true).",
    "type": "object",
    "properties": {
        "source": _name(MAX_SOURCE_LEN),
        "epoch": _uint63(1),
        "alive": {"type": "boolean"},
        "silent_ms": {**_uint63(), "description": "how long nothing was heard (ms)"},
    },
    "required": ["source", "epoch", "alive", "silent_ms"],
    "additionalProperties": False,
}

ACK_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "twinstage.CommandAck",
    "description": "The answer to a write command (docs/control.md), as on the bus.",
    "type": "object",
    "properties": {
        "id": _name(MAX_ID_LEN),
        "point": _name(MAX_POINT_LEN),
        "outcome": {"enum": list(OUTCOMES)},
        "text": {"type": "string", "maxLength": MAX_TEXT_LEN, "pattern": _TEXT_PATTERN},
        "readback": {"type": ["number", "null"]},
        "code": {"type": "string", "maxLength": MAX_CODE_LEN,
                 "pattern": "^[\\x21-\\x7e]*$"},
        "duplicate": {"type": "boolean"},
    },
    "required": ["id", "point", "outcome", "text", "readback", "code", "duplicate"],
    "additionalProperties": False,
}

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "twinstage.Event",
    "description": "Something that happened (alarm, scenario step), marked on the timeline.",
    "type": "object",
    "properties": {
        "kind": _name(MAX_EVENT_KIND_LEN),
        "id": {"type": "string", "maxLength": MAX_EVENT_ID_LEN},
        "text": {"type": "string", "maxLength": MAX_EVENT_TEXT_LEN},
        "severity": {"type": "string", "maxLength": MAX_SEVERITY_LEN},
        "data": {"type": "object"},
    },
    "required": ["kind", "id", "text"],
    "additionalProperties": False,
}


class ChannelSpec(NamedTuple):
    """One channel of a recording: its topic and the schema its messages follow."""

    topic: str
    schema_name: str
    schema: dict[str, Any]

    def schema_bytes(self) -> bytes:
        """The schema as written into the MCAP schema record (compact, stable key order)."""
        return json.dumps(self.schema, separators=(",", ":")).encode()


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(TOPIC_READINGS, "twinstage.Readings", READINGS_SCHEMA),
    ChannelSpec(TOPIC_SNAPSHOT, "twinstage.Snapshot", SNAPSHOT_SCHEMA),
    ChannelSpec(TOPIC_SOURCE, "twinstage.SourceState", SOURCE_STATE_SCHEMA),
    ChannelSpec(TOPIC_ACK, "twinstage.CommandAck", ACK_SCHEMA),
    ChannelSpec(TOPIC_EVENT, "twinstage.Event", EVENT_SCHEMA),
)
"""Every channel, in the order the writer registers them."""

CHANNEL_BY_TOPIC: dict[str, ChannelSpec] = {c.topic: c for c in CHANNELS}

__all__ = [
    "CHANNELS",
    "CHANNEL_BY_TOPIC",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_NAME",
    "PROFILE",
    "SNAPSHOT_WHY",
    "TOPIC_ACK",
    "TOPIC_EVENT",
    "TOPIC_READINGS",
    "TOPIC_SNAPSHOT",
    "TOPIC_SOURCE",
    "ChannelSpec",
]
