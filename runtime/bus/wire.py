"""The bus wire format: msgpack arrays, validated on the way in and on the way out.

Everything a socket hands us is untrusted (reliability R11): the decoders check the size first,
unpack with tight msgpack limits (no maps, no bin, no ext, bounded strings and arrays), then
check the schema field by field and accept finite numbers only. Anything wrong raises
:class:`WireError` with a reason; callers log it and drop the message. No other exception may
escape a decoder (a hypothesis test feeds them arbitrary bytes).

Batches are validated column-wise with C-level builtins (``map``, ``set``, ``zip``) rather than a
Python loop per reading, which keeps decoding well above a million readings per second.

The normative description, with a hex dump, is ``docs/bus-protocol.md``; keep the two in step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import chain, repeat
from typing import Any, NamedTuple

import msgpack

PROTOCOL_VERSION = 1

MAX_MESSAGE_BYTES = 1 << 20
"""Largest readings/heartbeat/snapshot payload (1 MiB). Also set as ZMQ_MAXMSGSIZE on sockets."""
MAX_CONTROL_BYTES = 64 << 10
"""Largest command, ack, register or snapshot-request payload (64 KiB)."""
MAX_READINGS = 10_000
"""Readings in one batch or one snapshot chunk; a Modbus poll batch is far smaller."""
MAX_POINTS = 10_000
"""Points in one heartbeat or one adapter registration."""
MAX_POINT_LEN = 128
MAX_SOURCE_LEN = 64
MAX_ID_LEN = 64
MAX_TEXT_LEN = 512
MAX_GLOB_LEN = 256
MAX_TOPIC_LEN = 2 + MAX_SOURCE_LEN
MIN_PERIOD_MS = 10
MAX_PERIOD_MS = 60_000
MAX_QUALITY = 2
MAX_REASON = 255
INT63 = 1 << 63
"""Epochs, sequence numbers and times are non-negative and fit in a signed 64-bit integer."""

KIND_READINGS = "readings"
KIND_HEARTBEAT = "heartbeat"
KIND_SNAPSHOT_REQUEST = "snapshot?"
KIND_SNAPSHOT = "snapshot"
KIND_COMMAND = "command"
KIND_ACK = "ack"
KIND_REGISTER = "register"

TOPIC_READINGS = b"r."
TOPIC_HEARTBEAT = b"h."

OUTCOMES = ("confirmed", "selected", "cancelled", "refused", "failed")
"""Ack outcomes (docs/control.md): ``confirmed`` written and read back equal; ``selected`` /
``cancelled`` a select-before-operate step done; ``refused`` a check said no, nothing written;
``failed`` allowed but not done (device, read-back, or the bus could not deliver it)."""
SUCCESS_OUTCOMES = frozenset({"confirmed", "selected", "cancelled"})
"""Outcomes meaning the command did what it asked (``twinstage write`` exits 0)."""
OUTCOME_ALIASES = {"accepted": "confirmed", "error": "failed"}
"""Spellings of the first wire version, still accepted and turned into today's outcome."""
MAX_CODE_LEN = 64
ACTIONS = ("write", "select", "operate", "cancel")

_NAME = re.compile(r"[\x21-\x7e]+")
"""Points, sources and ids: visible ASCII, no spaces, no control characters (safe to print)."""
_TEXT = re.compile(r"[\x20-\x7e]*")
"""Roles, actors, hosts: printable ASCII including spaces."""
_CODE = re.compile(r"[\x21-\x7e]*")
"""Ack codes: visible ASCII, no spaces, possibly empty (``range``, ``interlock:IL-1``)."""


class WireError(ValueError):
    """A message that is not valid bus protocol; ``reason`` says what is wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Reading(NamedTuple):
    """One measured value of one point, as the adapter stamped it."""

    point: str
    """``<entity>/<point>``, e.g. ``P-101/speed_rpm``."""
    value: float
    """Scaled engineering value; always finite (a non-finite read is sent Bad, value 0.0)."""
    quality: int
    """:class:`runtime.quality.Quality` code."""
    reason: int
    """:class:`runtime.quality.Reason` code."""
    t_source_ns: int
    """Wall-clock time (``time.time_ns``) at which the adapter read the value."""


def _new_reading(row: tuple[Any, ...]) -> Reading:
    """Builds a Reading from a validated 5-tuple (C-level ``tuple.__new__``; no length check)."""
    return tuple.__new__(Reading, row)


_new_readings = partial(map, tuple.__new__, repeat(Reading))


@dataclass(slots=True)
class Batch:
    """One bus message from one publisher: a poll batch of readings, or a heartbeat."""

    source: str
    """Publisher id, e.g. the adapter's name; unique on a bus."""
    epoch: int
    """Random per publisher process start: a new epoch means sequence numbers restarted."""
    seq: int
    """Per publisher, 1 for the first message of an epoch, +1 per message of either kind."""
    t_ns: int
    """Wall clock (``time.time_ns``) when the message was published."""
    kind: str
    """``readings`` or ``heartbeat``."""
    readings: list[Reading] = field(default_factory=list)
    """The poll batch (empty for heartbeats)."""
    period_ms: int = 0
    """Heartbeats: the publisher promises a message at least this often."""
    points: list[str] = field(default_factory=list)
    """Heartbeats: the points this source owns (may be empty)."""


class Command(NamedTuple):
    """A request to change a point, routed by the bus to the adapter that owns the point."""

    id: str
    point: str
    value: float
    role: str
    actor: str
    host: str
    action: str = "write"


class Ack(NamedTuple):
    """The owning adapter's (or the bus's) answer to a :class:`Command` with the same id.

    The first five fields keep the positions of the first ack layout (``reason`` became
    ``text``); ``code`` and ``duplicate`` were appended.
    """

    id: str
    point: str
    outcome: str
    """One of :data:`OUTCOMES`."""
    text: str
    """One line for a person, with values and units; may be empty."""
    readback: float | None
    """The value read back from the device after a write (confirmed, or a failed comparison)."""
    code: str = ""
    """Stable machine reason: ``range``, ``role``, ``not_selected``, ``interlock:IL-1``,
    ``no_owner``, ... (docs/control.md); ``""`` when nothing needs explaining."""
    duplicate: bool = False
    """True when this repeats the answer already given to the same command id: nothing was
    done again."""

    @property
    def ok(self) -> bool:
        """Whether the command did what it asked (confirmed, selected or cancelled)."""
        return self.outcome in SUCCESS_OUTCOMES


class SnapshotSource(NamedTuple):
    """One source's part of a snapshot chunk: where its stream stood and its last values."""

    source: str
    epoch: int
    seq: int
    """The last sequence number the cache has applied; updates with seq <= this are covered."""
    alive: bool
    """False when the bus has not heard the source's heartbeat in time (its points are Bad)."""
    period_ms: int
    readings: list[Reading]


class SnapshotChunk(NamedTuple):
    """One message of a snapshot reply; ``last`` is set on the final chunk."""

    request_id: int
    index: int
    last: bool
    sources: list[SnapshotSource]


class Register(NamedTuple):
    """An adapter claiming the points it will accept commands for."""

    adapter_id: str
    points: list[str]


# ---------------------------------------------------------------------------------------------
# unpacking and field checks


def _unpack(data: Any, limit: int, max_array: int) -> Any:
    """msgpack-decode one frame under hard limits; any failure becomes WireError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"frame is {type(data).__name__}, not bytes")
    size = len(data)
    if size > limit:
        raise WireError(f"payload of {size} bytes exceeds the {limit}-byte limit")
    if size == 0:
        raise WireError("empty payload")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=False,
            strict_map_key=True,
            max_str_len=max(MAX_TEXT_LEN, MAX_POINT_LEN, MAX_GLOB_LEN) * 4,
            max_bin_len=0,
            max_array_len=max_array,
            max_map_len=0,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several types; all mean "not valid msgpack"
        raise WireError(f"undecodable msgpack: {type(exc).__name__}: {exc}") from None


def _check_header(msg: Any, kind: str, length: int) -> None:
    if type(msg) is not tuple:
        raise WireError(f"payload is {type(msg).__name__}, expected an array")
    if len(msg) < 2:
        raise WireError("payload array too short for a header")
    if msg[0] != PROTOCOL_VERSION or type(msg[0]) is not int:
        raise WireError(
            f"unsupported protocol version {msg[0]!r} (this end speaks {PROTOCOL_VERSION})"
        )
    if msg[1] != kind:
        raise WireError(f"message kind {msg[1]!r}, expected {kind!r}")
    if len(msg) != length:
        raise WireError(f"{kind} message has {len(msg)} fields, expected {length}")


_KNOWN_POINTS: set[str] = set()
"""Point names already checked: points repeat every poll, so a set lookup replaces the regex.

A pure, bounded memo (cleared when it grows past the limit), not shared state: it changes no
result, only how fast the same answer is found.
"""
_KNOWN_POINTS_MAX = 200_000


@lru_cache(maxsize=65536)
def _valid_name(name: str, limit: int) -> bool:
    return len(name) <= limit and _NAME.fullmatch(name) is not None


def _name(value: Any, what: str, limit: int) -> str:
    if type(value) is not str:
        raise WireError(f"{what} is {type(value).__name__}, expected a string")
    if not _valid_name(value, limit):
        raise WireError(f"{what} {value[:80]!r} is not 1..{limit} visible ASCII characters")
    return value


def _text(value: Any, what: str, limit: int = MAX_TEXT_LEN) -> str:
    if type(value) is not str:
        raise WireError(f"{what} is {type(value).__name__}, expected a string")
    if len(value) > limit or _TEXT.fullmatch(value) is None:
        raise WireError(f"{what} is not 0..{limit} printable ASCII characters")
    return value


def _uint63(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value < INT63:
        raise WireError(f"{what} {value!r} is not an integer in {minimum}..2^63-1")
    return value


def _period(value: Any) -> int:
    if type(value) is not int or not MIN_PERIOD_MS <= value <= MAX_PERIOD_MS:
        raise WireError(f"period_ms {value!r} is not an integer {MIN_PERIOD_MS}..{MAX_PERIOD_MS}")
    return value


def _finite(value: Any, what: str) -> float:
    if type(value) is float:
        if not math.isfinite(value):
            raise WireError(f"{what} is not finite")
        return value
    if type(value) is int:
        if abs(value) > 2**53:
            raise WireError(f"{what} integer {value} is too large to be a float exactly")
        return float(value)
    raise WireError(f"{what} is {type(value).__name__}, expected a number")


def _names(values: Any, what: str, limit: int, max_len: int) -> list[str]:
    if type(values) is not tuple and type(values) is not list:
        raise WireError(f"{what} is {type(values).__name__}, expected an array")
    if len(values) > max_len:
        raise WireError(f"{what} has {len(values)} entries, limit {max_len}")
    if not set(map(type, values)) <= {str}:
        raise WireError(f"{what} holds a non-string")
    if limit == MAX_POINT_LEN and _KNOWN_POINTS.issuperset(values):
        return list(values)
    if not all(map(_valid_name, values, repeat(limit))):
        raise WireError(f"{what} holds a name that is not 1..{limit} visible ASCII characters")
    if limit == MAX_POINT_LEN:
        if len(_KNOWN_POINTS) > _KNOWN_POINTS_MAX:
            _KNOWN_POINTS.clear()
        _KNOWN_POINTS.update(values)
    return list(values)


def _plain(readings: list[Reading]) -> list[Reading]:
    """Readings with int subclasses and numpy scalars turned into plain int/float."""
    try:
        return [Reading(str(p), float(v), int(q), int(r), int(t)) for p, v, q, r, t in readings]
    except (TypeError, ValueError):
        raise WireError("a reading field has the wrong type") from None


def _readings(rows: Any, row_type: type = tuple) -> list[Reading]:
    """Validated rows as Readings."""
    checked = _rows(rows, row_type)
    if row_type is Reading and type(checked) is list:
        return checked
    return list(_new_readings(checked))


def _rows(rows: Any, row_type: type = tuple) -> Any:
    """Validate ``[[point, value, quality, reason, t_source_ns], ...]`` column by column.

    ``row_type`` is ``tuple`` for unpacked msgpack and ``Reading`` when our encoder checks itself.
    Returns the rows (5-tuples, values as float), ready to wrap or store as they are.
    """
    if type(rows) is not tuple and type(rows) is not list:
        raise WireError(f"readings is {type(rows).__name__}, expected an array")
    if not rows:
        return rows
    if len(rows) > MAX_READINGS:
        raise WireError(f"{len(rows)} readings in one message, limit {MAX_READINGS}")
    if set(map(type, rows)) != {row_type} or set(map(len, rows)) != {5}:
        raise WireError(
            "each reading must be an array of 5: point, value, quality, reason, t_source_ns"
        )
    points, values, qualities, reasons, times = zip(*rows, strict=True)
    _names(points, "reading point", MAX_POINT_LEN, MAX_READINGS)
    value_types = set(map(type, values))
    if value_types == {float}:
        try:
            finite = all(map(math.isfinite, values))
        except (OverflowError, TypeError):
            finite = False
        if not finite:
            raise WireError("a reading value is NaN or infinite")
    elif value_types <= {float, int}:
        values = tuple(_finite(v, "reading value") for v in values)
        rows = tuple(zip(points, values, qualities, reasons, times, strict=True))
    else:
        raise WireError("a reading value is not a number")
    if set(map(type, chain(qualities, reasons, times))) != {int}:
        raise WireError("a reading quality, reason or t_source_ns is not an integer")
    if min(qualities) < 0 or max(qualities) > MAX_QUALITY:
        raise WireError(f"a reading quality is not 0..{MAX_QUALITY}")
    if min(reasons) < 0 or max(reasons) > MAX_REASON:
        raise WireError(f"a reading reason is not 0..{MAX_REASON}")
    if min(times) < 0 or max(times) >= INT63:
        raise WireError("a reading t_source_ns is not 0..2^63-1")
    return rows


def _pack(obj: list[Any]) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"cannot encode: {exc}") from None


# ---------------------------------------------------------------------------------------------
# readings and heartbeats (PUB -> XSUB -> XPUB -> SUB): [topic, payload]


def topic_for(kind: str, source: str) -> bytes:
    """``r.<source>`` for readings, ``h.<source>`` for heartbeats (SUB prefix filters)."""
    prefix = TOPIC_READINGS if kind == KIND_READINGS else TOPIC_HEARTBEAT
    return prefix + source.encode("ascii")


def encode_batch(batch: Batch) -> list[bytes]:
    """Frames ``[topic, payload]`` for one batch; raises WireError if the batch is invalid.

    Readings are packed as arrays (a Reading is a tuple), so encoding runs in msgpack's C code.
    """
    _name(batch.source, "source", MAX_SOURCE_LEN)
    _uint63(batch.epoch, "epoch", 1)
    _uint63(batch.seq, "seq", 1)
    _uint63(batch.t_ns, "t_ns")
    if batch.kind == KIND_READINGS:
        readings = batch.readings
        if type(readings) is not list:
            raise WireError("batch readings must be a list of Reading")
        if set(map(type, readings)) - {Reading}:
            try:
                readings = [Reading(*r) for r in readings]
            except TypeError:
                raise WireError("batch readings must be a list of Reading") from None
        # Our own code must not put on the wire what every peer would drop.
        try:
            body: Any = _readings(readings, Reading)
        except WireError:
            # IntEnum codes (Quality, Reason) and numpy scalars are fine from our own code:
            # coerce them to plain numbers, then check again (the fast path stays untouched).
            body = _readings(_plain(readings), Reading)
    elif batch.kind == KIND_HEARTBEAT:
        _period(batch.period_ms)
        points = list(batch.points or [])
        _names(points, "heartbeat points", MAX_POINT_LEN, MAX_POINTS)
        body = [batch.period_ms, points]
    else:
        raise WireError(f"unknown batch kind {batch.kind!r}")
    payload = _pack([PROTOCOL_VERSION, batch.kind, batch.source, batch.epoch, batch.seq,
                     batch.t_ns, body])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"encoded batch is {len(payload)} bytes, limit {MAX_MESSAGE_BYTES}; "
                        "split it")
    return [topic_for(batch.kind, batch.source), payload]


def decode_batch(frames: list[bytes]) -> Batch:
    """Parse ``[topic, payload]`` into a Batch; raises WireError for anything invalid."""
    batch, rows = decode_batch_rows(frames)
    if rows:
        batch.readings = list(_new_readings(rows))
    return batch


def decode_batch_rows(frames: list[bytes]) -> tuple[Batch, Any]:
    """Like :func:`decode_batch`, but the readings come back as validated plain 5-tuples
    ``(point, value, quality, reason, t_source_ns)`` beside a Batch whose ``readings`` is empty.

    The fast path for the bus's cache and the Subscriber, which would otherwise build a Reading
    per reading only to copy it again; the validation is exactly the same.
    """
    if not isinstance(frames, list | tuple) or len(frames) != 2:
        count = len(frames) if isinstance(frames, list | tuple) else "?"
        raise WireError(f"expected 2 frames (topic, payload), got {count}")
    topic, payload = frames
    if not isinstance(topic, bytes) or len(topic) > MAX_TOPIC_LEN:
        raise WireError("topic is not bytes of a sane length")
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_READINGS)
    if type(msg) is not tuple or len(msg) != 7:
        raise WireError("batch payload must be an array of 7: version, kind, source, epoch, "
                        "seq, t_ns, body")
    kind = msg[1]
    if kind not in (KIND_READINGS, KIND_HEARTBEAT):
        raise WireError(f"unknown batch kind {kind!r}")
    _check_header(msg, kind, 7)
    _, _, source, epoch, seq, t_ns, body = msg
    _name(source, "source", MAX_SOURCE_LEN)
    if topic != topic_for(kind, source):
        raise WireError(f"topic {topic[:80]!r} does not match kind {kind} and source {source}")
    _uint63(epoch, "epoch", 1)
    _uint63(seq, "seq", 1)
    _uint63(t_ns, "t_ns")
    if kind == KIND_READINGS:
        return Batch(source, epoch, seq, t_ns, kind), _rows(body)
    if type(body) is not tuple or len(body) != 2:
        raise WireError("heartbeat body must be an array of 2: period_ms, points")
    period_ms, points = body
    _period(period_ms)
    points = _names(points, "heartbeat points", MAX_POINT_LEN, MAX_POINTS)
    return Batch(source, epoch, seq, t_ns, kind, [], period_ms, points), ()


# ---------------------------------------------------------------------------------------------
# snapshots (DEALER <-> ROUTER): one frame each way per message


def encode_snapshot_request(request_id: int, match: str = "*") -> bytes:
    """A late joiner's request for the last value of every point matching ``match``."""
    _uint63(request_id, "request_id")
    _text(match, "match", MAX_GLOB_LEN)
    return _pack([PROTOCOL_VERSION, KIND_SNAPSHOT_REQUEST, request_id, match])


def decode_snapshot_request(payload: bytes) -> tuple[int, str]:
    """``(request_id, match glob)``; raises WireError."""
    msg = _unpack(payload, MAX_CONTROL_BYTES, 16)
    _check_header(msg, KIND_SNAPSHOT_REQUEST, 4)
    return _uint63(msg[2], "request_id"), _text(msg[3], "match", MAX_GLOB_LEN)


def encode_snapshot_chunk(chunk: SnapshotChunk) -> bytes:
    """One snapshot reply message; the bus keeps each under MAX_READINGS readings."""
    sources = [[s.source, s.epoch, s.seq, s.alive, s.period_ms, s.readings] for s in chunk.sources]
    payload = _pack([PROTOCOL_VERSION, KIND_SNAPSHOT, chunk.request_id, chunk.index, chunk.last,
                     sources])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"snapshot chunk is {len(payload)} bytes, limit {MAX_MESSAGE_BYTES}")
    return payload


def decode_snapshot_chunk(payload: bytes) -> SnapshotChunk:
    """Parse one snapshot reply message; raises WireError."""
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_READINGS)
    _check_header(msg, KIND_SNAPSHOT, 6)
    _, _, request_id, index, last, raw_sources = msg
    _uint63(request_id, "request_id")
    _uint63(index, "chunk index")
    if type(last) is not bool:
        raise WireError("snapshot 'last' is not a boolean")
    if type(raw_sources) is not tuple:
        raise WireError("snapshot sources is not an array")
    sources = []
    total = 0
    for entry in raw_sources:
        if type(entry) is not tuple or len(entry) != 6:
            raise WireError("snapshot source entry must be an array of 6")
        source, epoch, seq, alive, period_ms, rows = entry
        if type(alive) is not bool:
            raise WireError("snapshot 'alive' is not a boolean")
        _period(period_ms)
        readings = _readings(rows)
        total += len(readings)
        if total > MAX_READINGS:
            raise WireError(f"snapshot chunk holds over {MAX_READINGS} readings")
        sources.append(SnapshotSource(
            _name(source, "source", MAX_SOURCE_LEN), _uint63(epoch, "epoch", 1),
            _uint63(seq, "seq"), alive, period_ms, readings))
    return SnapshotChunk(request_id, index, last, sources)


# ---------------------------------------------------------------------------------------------
# commands, acks and registrations (DEALER <-> ROUTER): one frame per message


def encode_command(command: Command) -> bytes:
    """A command as sent by a client and forwarded unchanged by the bus to the adapter."""
    _name(command.id, "command id", MAX_ID_LEN)
    _name(command.point, "point", MAX_POINT_LEN)
    value = _finite(command.value, "command value")
    _text(command.role, "role", MAX_ID_LEN)
    _text(command.actor, "actor", MAX_ID_LEN)
    _text(command.host, "host", MAX_TEXT_LEN)
    if command.action not in ACTIONS:
        raise WireError(f"command action {command.action!r} is not one of {', '.join(ACTIONS)}")
    return _pack([PROTOCOL_VERSION, KIND_COMMAND, command.id, command.point, value, command.role,
                  command.actor, command.host, command.action])


def decode_command(payload: bytes) -> Command:
    """Parse a command; raises WireError."""
    msg = _unpack(payload, MAX_CONTROL_BYTES, 16)
    _check_header(msg, KIND_COMMAND, 9)
    _, _, cid, point, value, role, actor, host, action = msg
    if action not in ACTIONS or type(action) is not str:
        raise WireError(f"command action {action!r} is not one of {', '.join(ACTIONS)}")
    return Command(
        _name(cid, "command id", MAX_ID_LEN), _name(point, "point", MAX_POINT_LEN),
        _finite(value, "command value"), _text(role, "role", MAX_ID_LEN),
        _text(actor, "actor", MAX_ID_LEN), _text(host, "host", MAX_TEXT_LEN), action)


def encode_ack(ack: Ack) -> bytes:
    """An adapter's (or the bus's) answer to a command.

    ``[1, "ack", id, point, outcome, text, readback, code, duplicate]``; a first-version outcome
    spelling (``accepted``, ``error``) is written as today's (``confirmed``, ``failed``).
    """
    _name(ack.id, "ack id", MAX_ID_LEN)
    _name(ack.point, "point", MAX_POINT_LEN)
    outcome = _outcome(ack.outcome)
    _text(ack.text, "ack text")
    readback = None if ack.readback is None else _finite(ack.readback, "readback")
    _code(ack.code)
    if type(ack.duplicate) is not bool:
        raise WireError(f"ack duplicate {ack.duplicate!r} is not a boolean")
    return _pack([PROTOCOL_VERSION, KIND_ACK, ack.id, ack.point, outcome, ack.text, readback,
                  ack.code, ack.duplicate])


def decode_ack(payload: bytes) -> Ack:
    """Parse an ack; raises WireError."""
    msg = _unpack(payload, MAX_CONTROL_BYTES, 16)
    _check_header(msg, KIND_ACK, 9)
    _, _, aid, point, outcome, text, readback, code, duplicate = msg
    if type(duplicate) is not bool:
        raise WireError(f"ack duplicate {duplicate!r} is not a boolean")
    return Ack(_name(aid, "ack id", MAX_ID_LEN), _name(point, "point", MAX_POINT_LEN),
               _outcome(outcome), _text(text, "ack text"),
               None if readback is None else _finite(readback, "readback"), _code(code),
               duplicate)


def _outcome(value: Any) -> str:
    if type(value) is not str or (value not in OUTCOMES and value not in OUTCOME_ALIASES):
        shown = value[:40] if type(value) is str else value
        raise WireError(f"ack outcome {shown!r} is not one of {', '.join(OUTCOMES)}")
    return OUTCOME_ALIASES.get(value, value)


def _code(value: Any) -> str:
    if type(value) is not str:
        raise WireError(f"ack code is {type(value).__name__}, expected a string")
    if len(value) > MAX_CODE_LEN or _CODE.fullmatch(value) is None:
        raise WireError(f"ack code is not 0..{MAX_CODE_LEN} visible ASCII characters")
    return value


def encode_register(register: Register) -> bytes:
    """An adapter's claim on its points; sent on connect and periodically after."""
    _name(register.adapter_id, "adapter id", MAX_SOURCE_LEN)
    points = list(register.points)
    _names(points, "registered points", MAX_POINT_LEN, MAX_POINTS)
    payload = _pack([PROTOCOL_VERSION, KIND_REGISTER, register.adapter_id, points])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError("registration too large")
    return payload


def decode_register(payload: bytes) -> Register:
    """Parse a registration; raises WireError."""
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_POINTS)
    _check_header(msg, KIND_REGISTER, 4)
    return Register(_name(msg[2], "adapter id", MAX_SOURCE_LEN),
                    _names(msg[3], "registered points", MAX_POINT_LEN, MAX_POINTS))


def message_kind(payload: bytes) -> str | None:
    """The kind string of a control payload, or None if it has no readable header.

    The adapters ROUTER receives both registrations and acks on one socket and uses this to
    pick the decoder; the decoder then does the real validation.
    """
    try:
        msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_POINTS)
    except WireError:
        return None
    if type(msg) is tuple and len(msg) >= 2 and type(msg[1]) is str:
        return msg[1]
    return None
