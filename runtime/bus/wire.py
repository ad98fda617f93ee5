"""The bus wire format: msgpack arrays, validated on the way in and on the way out.

Everything a socket hands us is untrusted (reliability R11): the decoders check the size first,
unpack with tight msgpack limits (no maps, no bin, no ext, bounded strings and arrays), then
check the schema field by field and accept finite numbers only. Anything wrong raises
:class:`WireError` with a reason; callers log it and drop the message. No other exception may
escape a decoder (a hypothesis test feeds them arbitrary bytes).

Readings travel as columns (version 2): the point names as one string, values and times as
packed little-endian 64-bit arrays, qualities and reasons as byte strings. A receiver checks a
batch in a constant number of Python-level steps whatever its size: the points string is looked
up in a cache of layouts already validated (each name is checked by regex the first time a
layout is seen), and the columns are checked with numpy (``isfinite().all()``, ``max``, ``min``).
That keeps each stage of the bus at several million readings per second per core.

``points`` may also be a list of strings (the list form, sent by an adapter's coalescer: one
string per device batch): each string is a layout cached on its own, and a message is a
:class:`CompositeLayout` of known parts, so a combination of devices never seen before costs a
few lookups instead of splitting and checking every name again (:func:`points_layout`).

The normative description, with a hex dump, is ``docs/bus-protocol.md``; keep the two in step.
"""

from __future__ import annotations

import math
import re
import struct
import threading
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate, chain, repeat
from operator import attrgetter
from typing import Any, NamedTuple

import msgpack
import numpy as np

from runtime.control.ack import Ack, Outcome

PROTOCOL_VERSION = 2

MAX_MESSAGE_BYTES = 1 << 20
"""Largest readings/heartbeat/snapshot payload (1 MiB). Also set as ZMQ_MAXMSGSIZE on sockets."""
MAX_CONTROL_BYTES = 64 << 10
"""Largest command, ack, register or snapshot-request payload (64 KiB)."""
MAX_READINGS = 10_000
"""Readings in one batch or one snapshot chunk; a Modbus poll batch is far smaller."""
MAX_POINTS = 10_000
"""Points in one heartbeat or one adapter registration message (a registration of more is
sent in chunks: :func:`encode_register_chunks`)."""
MAX_REGISTER_CHUNKS = 100
"""Chunks in one adapter's registration."""
MAX_POINTS_PER_ADAPTER = 100_000
"""Points one adapter may own over all its chunks (the bus refuses a chunk past it)."""
MAX_LAYOUT_PARTS = 256
"""Strings in a readings body's list-form ``points`` (one per coalesced device batch)."""
REGISTER_CHUNK_BYTES = 512 << 10
"""Encoded names per registration chunk (and per heartbeat's points), so that a chunk of
10,000 names of 128 characters still fits a message."""
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
MAX_STR_BYTES = 2048
"""Any string outside a readings points column (then the per-field limits apply)."""
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
TOPIC_ACK = b"a."
"""The bus republishes every command ack it answers or forwards under ``a.bus``, so that
observers (the recorder, the training runner) see what operators did. Informational only: the
commanding client gets its own ack over ROUTER/DEALER (R9)."""

OUTCOMES = tuple(o.value for o in Outcome)
"""Ack outcomes (docs/control.md): ``confirmed`` written and read back equal; ``selected`` /
``cancelled`` a select-before-operate step done; ``refused`` a check said no, nothing written;
``failed`` allowed but not done (device, read-back, or the bus could not deliver it)."""
OUTCOME_ALIASES = {"accepted": "confirmed", "error": "failed"}
"""Spellings of the first wire version, still accepted and turned into today's outcome."""
MAX_CODE_LEN = 64
ALARM_ACTIONS = ("ack", "shelve", "unshelve", "disable", "enable")
"""Operator actions on alarms (docs/alarms.md): routed like commands to the alarm service, which
owns the points ``alarm/<ID>`` and ``alarm/*``; ``value`` carries a shelve's minutes."""
ACTIONS = ("write", "select", "operate", "cancel", *ALARM_ACTIONS)

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


class NonFiniteError(WireError):
    """A value is NaN or infinite (a publisher sends such a reading as Bad, not finite)."""


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
    columns: ReadingColumns | None = field(default=None, compare=False, repr=False)
    """Readings as columns; when set, encoding uses it instead of ``readings``."""


class Command(NamedTuple):
    """A request to change a point, routed by the bus to the adapter that owns the point."""

    id: str
    point: str
    value: float
    role: str
    actor: str
    host: str
    action: str = "write"
    comment: str = ""
    """Free text for actions that need one (a shelve's reason, an acknowledgement's note);
    sent as a tenth field only when not empty."""


class SnapshotSource(NamedTuple):
    """One source's part of a snapshot chunk: where its stream stood and its last values."""

    source: str
    epoch: int
    seq: int
    """The last sequence number the cache has applied; updates with seq <= this are covered."""
    alive: bool
    """False when the bus has not heard the source's heartbeat in time (its points are Bad)."""
    period_ms: int
    readings: ReadingColumns
    """Its last values (a list of Readings is accepted when encoding)."""


class SnapshotChunk(NamedTuple):
    """One message of a snapshot reply; ``last`` is set on the final chunk."""

    request_id: int
    index: int
    last: bool
    sources: list[SnapshotSource]


class Register(NamedTuple):
    """An adapter claiming the points it will accept commands for: all of them, or chunk
    ``chunk`` of ``chunks`` (the bus owns the union of an adapter's chunks)."""

    adapter_id: str
    points: list[str]
    chunk: int = 0
    chunks: int = 1


# ---------------------------------------------------------------------------------------------
# unpacking and field checks


def _unpack(data: Any, limit: int, max_array: int, max_bytes: int = 0) -> Any:
    """msgpack-decode one frame under hard limits; any failure becomes WireError.

    ``max_bytes`` > 0 allows str and bin up to that size (the packed columns and the points
    string of readings); otherwise strings are capped at 2 KiB and bin is refused. Every
    string is then checked against its own field's limit by the schema checks.
    """
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
            max_str_len=max_bytes or MAX_STR_BYTES,
            max_bin_len=max_bytes,
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
def _visible(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def _valid_name(name: str, limit: int) -> bool:
    # Length first: only short strings reach the memo, so it stays small.
    return len(name) <= limit and _visible(name)


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


class PointLayout:
    """An ordered, validated list of distinct point names: the ``points`` column of a batch.

    ``key`` is the names joined by single spaces, exactly as on the wire. Layouts are cached by
    key (:func:`layout_for`), so a publisher that sends the same points every poll is validated
    once, and receivers can keep per-layout lookups keyed by the layout object (identity hash).

    A layout decoded from a list of ``points`` strings (:func:`points_layout`, the coalesced
    form) is a :class:`CompositeLayout`: ``parts`` holds the cached layout of each string, so a
    receiver can keep its per-layout lookups per part and concatenate them. ``parts`` is empty
    for a plain layout. ``wire`` is what the body's ``points`` field carries: the key, or the
    list of the parts' keys.
    """

    __slots__ = ("key", "names", "parts", "wire", "_pgen", "__weakref__")

    def __init__(self, key: str, names: tuple[str, ...]) -> None:
        self.key = key
        self.names = names
        self.parts: tuple[PointLayout, ...] = ()
        self.wire: str | list[str] = key
        self._pgen = -1

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"PointLayout({len(self.names)} points)"


class CompositeLayout(PointLayout):
    """The layout of a body whose ``points`` is a list of strings: the concatenation of
    ``parts`` (plain, validated, pairwise disjoint layouts, at least two).

    Built in a few C-level steps from cached parts; ``names`` and ``key`` are made on first
    use only (most receivers work per part).
    """

    __slots__ = ("_n", "_names", "_key", "_offsets")

    def __init__(self, parts: tuple[PointLayout, ...], n: int) -> None:
        self.parts = parts
        self.wire = list(map(_KEY, parts))
        self._n = n
        self._names: tuple[str, ...] | None = None
        self._key: str | None = None
        self._offsets: tuple[int, ...] | None = None
        self._pgen = -1

    @property
    def offsets(self) -> tuple[int, ...]:
        """Start of each part in the columns, and the total last."""
        if self._offsets is None:
            self._offsets = tuple(accumulate(map(len, map(_NAMES, self.parts)), initial=0))
        return self._offsets

    @property  # type: ignore[override]
    def names(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(chain.from_iterable(p.names for p in self.parts))
        return self._names

    @property  # type: ignore[override]
    def key(self) -> str:
        if self._key is None:
            self._key = " ".join(self.wire)
        return self._key

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"CompositeLayout({self._n} points in {len(self.parts)} parts)"


_LAYOUTS: dict[str, PointLayout] = {}
"""Validated layouts by key: a pure, bounded memo (cleared when it grows past the limits)."""
_LAYOUTS_MAX = 4096
_LAYOUTS_MAX_CHARS = 32 << 20
_layout_chars = 0


def layout_for(key: Any) -> PointLayout:
    """The validated layout for a ``points`` string; raises WireError.

    Names are 1..128 visible ASCII characters separated by single spaces, at most
    MAX_READINGS of them, each at most once; ``""`` is the empty layout.
    """
    global _layout_chars
    layout = _LAYOUTS.get(key) if type(key) is str else None
    if layout is not None:
        return layout
    if type(key) is not str:
        raise WireError(f"reading points is {type(key).__name__}, expected a string")
    if key.count(" ") >= MAX_READINGS:
        raise WireError(f"over {MAX_READINGS} readings in one message")
    names = tuple(key.split(" ")) if key else ()
    # A new layout is most often new points in a new combination (an adapter's coalesced
    # devices): names checked before are found in the memo of valid names by one C-level set
    # operation; only a layout with an unseen name is checked name by name.
    if not _KNOWN_POINTS.issuperset(names):
        if not all(map(_valid_name, names, repeat(MAX_POINT_LEN))):
            raise WireError("a reading point is not 1..128 visible ASCII characters (points "
                            "are separated by single spaces)")
        if len(_KNOWN_POINTS) > _KNOWN_POINTS_MAX:
            _KNOWN_POINTS.clear()
        _KNOWN_POINTS.update(names)
    if len(set(names)) != len(names):
        raise WireError("a point appears twice in one message")
    if len(_LAYOUTS) >= _LAYOUTS_MAX or _layout_chars > _LAYOUTS_MAX_CHARS:
        _LAYOUTS.clear()
        _layout_chars = 0
    layout = _LAYOUTS[key] = PointLayout(key, names)
    _layout_chars += len(key)
    return layout


def layout_of(points: Any) -> PointLayout:
    """The validated layout for a sequence of point names; raises WireError."""
    if type(points) is not tuple and type(points) is not list:
        raise WireError(f"points is {type(points).__name__}, expected a list of names")
    if not set(map(type, points)) <= {str}:
        raise WireError("a reading point is not a string")
    return layout_for(" ".join(points))


def trusted_layout(names: Any) -> PointLayout:
    """A layout for names that were validated already (taken from a validated layout)."""
    key = " ".join(names)
    return _LAYOUTS.get(key) or PointLayout(key, tuple(names))


def points_layout(points: Any) -> PointLayout:
    """The validated layout of a readings body's ``points`` field: one string (a
    :class:`PointLayout`) or a list of 1..MAX_LAYOUT_PARTS non-empty strings, each a layout of
    its own (a :class:`CompositeLayout` of their cached layouts); raises WireError.

    The list form obeys every rule of the string form over the whole list: at most
    MAX_READINGS names in all (counted before any part is split), each name valid, each at
    most once in the message.
    """
    if type(points) is str:
        layout = _LAYOUTS.get(points)
        return layout if layout is not None else layout_for(points)
    if type(points) is not tuple and type(points) is not list:
        raise WireError(f"reading points is {type(points).__name__}, expected a string or an "
                        "array of strings")
    k = len(points)
    if not 1 <= k <= MAX_LAYOUT_PARTS:
        raise WireError(f"reading points is an array of {k} strings, expected "
                        f"1..{MAX_LAYOUT_PARTS}")
    if not set(map(type, points)) <= {str}:
        raise WireError("a reading points part is not a string")
    if not all(points):
        raise WireError("a reading points part is empty")
    parts = list(map(_LAYOUTS.get, points))
    if None in parts:
        # Count every part's names before splitting any (the string form's order of checks).
        if sum(map(str.count, points, repeat(" "))) + k > MAX_READINGS:
            raise WireError(f"over {MAX_READINGS} readings in one message")
        parts = [p if p is not None else layout_for(s) for p, s in zip(parts, points,
                                                                        strict=True)]
    return _composite(parts)


def composite_layout(parts: Any) -> PointLayout:
    """The layout of the concatenation of ``parts`` (validated layouts, e.g. one per device):
    what a publisher sends as the list form of ``points``. Raises WireError like a receiver
    (over MAX_LAYOUT_PARTS parts or MAX_READINGS points, an empty part, a point twice)."""
    flat: list[PointLayout] = []
    for part in parts:
        if not isinstance(part, PointLayout):
            raise WireError(f"a layout part is {type(part).__name__}, expected a PointLayout")
        flat.extend(part.parts or (part,))
    if not 1 <= len(flat) <= MAX_LAYOUT_PARTS:
        raise WireError(f"{len(flat)} layout parts, expected 1..{MAX_LAYOUT_PARTS}")
    if not all(flat):
        raise WireError("a reading points part is empty")
    return _composite(flat)


_PARTITION: set[str] = set()
"""Names of the member layouts of the current generation: layouts used as parts that are
pairwise disjoint (a layout joins only when none of its names is here). Two members of
different keys share no name, so a list of members of distinct keys needs no per-name
duplicate check: an exact shortcut, not a guess. A pure, bounded memo: past _PARTITION_MAX
names a new generation starts (every layout is judged again on its next use)."""
_MEMBER_KEYS: set[str] = set()
"""Keys of the members (by key, not object: a layout made again after the layout memo was
cleared is the same member)."""
_PARTITION_MAX = 200_000
_partition_gen = 0
_PARTITION_LOCK = threading.Lock()
"""Joining is check-then-add, and a process may decode on several threads (a bus and a
subscriber in one test, a viewer's ingest beside its services): joins and new generations are
made under this lock. The fast path (a key already a member) takes no lock; a caller reads the
generation before and after its checks, and a new generation clears the sets before it counts
up, so a check that saw members of two generations is caught."""


def _is_member(layout: PointLayout) -> bool:
    global _partition_gen
    if layout.key in _MEMBER_KEYS:
        return True
    if layout._pgen == _partition_gen:  # judged (not a member) in this generation
        return False
    names = layout.names
    with _PARTITION_LOCK:
        if layout.key in _MEMBER_KEYS:
            return True
        if len(_PARTITION) + len(names) > _PARTITION_MAX:
            _PARTITION.clear()
            _MEMBER_KEYS.clear()
            _partition_gen += 1
        layout._pgen = _partition_gen
        if len(names) <= _PARTITION_MAX and _PARTITION.isdisjoint(names):
            _PARTITION.update(names)
            _MEMBER_KEYS.add(layout.key)
            return True
        return False


_NAMES = attrgetter("names")
_KEY = attrgetter("key")


def _composite(parts: list[PointLayout]) -> PointLayout:
    """Validated, non-empty plain ``parts`` -> their concatenation, checked for the total and
    for a point in two parts."""
    if len(parts) == 1:
        return parts[0]
    n = sum(map(len, map(_NAMES, parts)))
    if n > MAX_READINGS:
        raise WireError(f"over {MAX_READINGS} readings in one message")
    gen = _partition_gen
    # Members only count when all were judged in one generation (a new one may start midway).
    if all(map(_is_member, parts)) and gen == _partition_gen:
        if len(set(map(_KEY, parts))) != len(parts):  # a part twice: its points twice
            raise WireError("a point appears twice in one message")
    elif len(set(chain.from_iterable(map(_NAMES, parts)))) != n:
        raise WireError("a point appears twice in one message")
    return CompositeLayout(tuple(parts), n)


_QUALITY_CODES = bytes(range(MAX_QUALITY + 1))
_FINITE_HIGH_BYTES = bytes(b for b in range(256) if b & 0x7F != 0x7F)
"""High bytes of little-endian float64s that cannot belong to a NaN or an infinity (whose
exponent bits, 0x7ff, fill the high byte's low 7 bits)."""
_NON_NEGATIVE_HIGH_BYTES = bytes(range(0x80))
"""High bytes of little-endian int64s that are not negative."""
_F8 = np.dtype("<f8")
_I8 = np.dtype("<i8")
_U1 = np.dtype("u1")


class ReadingColumns:
    """A validated batch of readings as columns (the wire's readings body, decoded).

    ``values`` float64, ``quality`` and ``reason`` uint8, ``t_source_ns`` int64, each of shape
    (n,) for the n points of ``layout``. Arrays decoded from a message are read-only views of
    it: copy before changing. Everything here is already checked (finite values, quality 0..2,
    times 0..2^63-1, distinct valid names).
    """

    __slots__ = ("layout", "values", "quality", "reason", "t_source_ns")

    def __init__(self, layout: PointLayout, values: np.ndarray, quality: np.ndarray,
                 reason: np.ndarray, t_source_ns: np.ndarray) -> None:
        self.layout = layout
        self.values = values
        self.quality = quality
        self.reason = reason
        self.t_source_ns = t_source_ns

    @property
    def points(self) -> tuple[str, ...]:
        return self.layout.names

    def __len__(self) -> int:
        return len(self.layout)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReadingColumns):
            return NotImplemented
        return (self.layout.names == other.layout.names
                and np.array_equal(self.values, other.values)
                and np.array_equal(self.quality, other.quality)
                and np.array_equal(self.reason, other.reason)
                and np.array_equal(self.t_source_ns, other.t_source_ns))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ReadingColumns({self.readings()!r})"

    def readings(self) -> list[Reading]:
        """As Reading tuples (plain float and int fields)."""
        return list(_new_readings(zip(self.layout.names, self.values.tolist(),
                                      self.quality.tolist(), self.reason.tolist(),
                                      self.t_source_ns.tolist(), strict=True)))

    def take(self, index: np.ndarray) -> ReadingColumns:
        """The readings at ``index`` (ascending positions), as a new batch."""
        names = self.layout.names
        layout = trusted_layout([names[i] for i in index.tolist()])
        return ReadingColumns(layout, self.values[index], self.quality[index],
                              self.reason[index], self.t_source_ns[index])

    @classmethod
    def from_readings(cls, readings: Any) -> ReadingColumns:
        """Columns from Reading-like 5-tuples; raises WireError for anything the wire refuses.

        IntEnum codes and numpy scalars are accepted from our own code and made plain.
        """
        if type(readings) is not list and type(readings) is not tuple:
            raise WireError("readings must be a list of Reading")
        if not readings:
            return columns(layout_for(""), (), b"", b"", ())
        try:
            if set(map(len, readings)) != {5}:
                raise WireError("each reading must be (point, value, quality, reason, "
                                "t_source_ns)")
            points, values, quality, reason, times = zip(*readings, strict=True)
        except TypeError:
            raise WireError("readings must be a list of Reading") from None
        if not set(map(type, values)) <= {float, int}:
            try:
                values = tuple(_number(v) for v in values)
            except (TypeError, ValueError):
                raise WireError("a reading value is not a number") from None
        return columns(layout_of(points), values, quality, reason, times)


def _number(value: Any) -> float:
    if isinstance(value, str | bytes) or type(value) is bool:
        raise TypeError(value)
    return float(value)


def _check_columns(v: np.ndarray, q: np.ndarray, t: np.ndarray) -> None:
    """The value checks every readings body gets, from our own code or from the wire: finite
    values, quality codes 0..MAX_QUALITY, times 0..2^63-1 (reasons are bytes: always valid)."""
    if not v.size:
        return
    if not np.isfinite(v).all():
        raise NonFiniteError("a reading value is NaN or infinite")
    if q.max() > MAX_QUALITY:
        raise WireError(f"a reading quality is not 0..{MAX_QUALITY}")
    if t.min() < 0:
        raise WireError("a reading t_source_ns is not 0..2^63-1")


def columns(layout: PointLayout, values: Any, quality: Any, reason: Any,
            t_source_ns: Any) -> ReadingColumns:
    """Check and convert columns from our own code (lists or arrays) into ReadingColumns.

    Raises WireError for what every peer would drop: NaN/Inf, quality outside 0..2, reason
    outside 0..255, times outside 0..2^63-1, or a length that does not match ``layout``.
    """
    n = len(layout)
    try:
        v = _array(values, _F8, n)
        q = _codes(quality, n)
        r = _codes(reason, n)
        t = _array(t_source_ns, _I8, n)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"a reading field has the wrong type or range: {exc}") from None
    if not v.shape == q.shape == r.shape == t.shape == (n,):
        raise WireError(f"reading columns do not all hold {n} entries")
    _check_columns(v, q, t)
    return ReadingColumns(layout, v, q, r, t)


def readings_body(layout: PointLayout, values: list, quality: list, reason: list,
                  t_source_ns: list) -> list[Any]:
    """The wire body for columns given as plain lists (a poller's state), checked as
    :func:`columns` checks them, with no numpy at all: each column is packed straight into its
    wire bytes by one C call that also checks its type and range (``struct`` refuses strings,
    None, non-integer or out-of-range times; ``bytes`` refuses codes outside 0..255), then
    C-level scans check finiteness, quality codes and negative times. Raises WireError
    (NonFiniteError for NaN/Inf).

    This is the publisher's hot path: numpy's per-call cost is small in a tight loop but
    several times larger for a poller that wakes ten times a second with cold caches.
    """
    n = len(layout)
    if not len(values) == len(quality) == len(reason) == len(t_source_ns) == n:
        raise WireError(f"reading columns do not all hold {n} entries")
    try:
        packers = _PACKERS.get(n) or _packers(n)
        vb = packers[0](*values)
        tb = packers[1](*t_source_ns)
        q = bytes(quality)
        r = bytes(reason)
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise WireError(f"a reading field has the wrong type or range: {exc}") from None
    if n:
        # The receiver's checks (_columns), on the packed bytes: C-level slices and
        # translates instead of a Python-level call per value. Exact: a NaN or an infinity has
        # the high byte 0x7f or 0xff (then every value is looked at), a negative time the sign
        # bit in its high byte.
        if vb[7::8].translate(None, _FINITE_HIGH_BYTES) and not all(map(math.isfinite,
                                                                         values)):
            raise NonFiniteError("a reading value is NaN or infinite")
        if q.translate(None, _QUALITY_CODES):  # anything left is not a quality code
            raise WireError(f"a reading quality is not 0..{MAX_QUALITY}")
        if tb[7::8].translate(None, _NON_NEGATIVE_HIGH_BYTES):
            raise WireError("a reading t_source_ns is not 0..2^63-1")
    return [layout.wire, vb, q, r, tb]


_PACKERS: dict[int, tuple[Any, Any]] = {}
"""Batch size -> (pack n little-endian float64, pack n little-endian int64)."""


def _packers(n: int) -> tuple[Any, Any]:
    if len(_PACKERS) > 1024:
        _PACKERS.clear()
    packers = _PACKERS[n] = (struct.Struct(f"<{n}d").pack, struct.Struct(f"<{n}q").pack)
    return packers


_INT_TYPES = frozenset({int, np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32,
                        np.uint16, np.uint8})
_NUMBER_TYPES = _INT_TYPES | {float, np.float64, np.float32, np.float16}


def _array(values: Any, dtype: np.dtype, n: int) -> np.ndarray:
    """A list or tuple of numbers (ints only for an integer dtype) as an array; numpy does not
    get to parse strings, turn None into NaN or truncate floats here."""
    if type(values) is list or type(values) is tuple:
        if len(values) != n:
            raise ValueError(f"{len(values)} entries for {n} points")
        allowed = _INT_TYPES if dtype.kind == "i" else _NUMBER_TYPES
        if not allowed.issuperset(map(type, values)):
            raise TypeError("not a number" if dtype.kind == "f" else "not an integer")
        return np.fromiter(values, dtype, n)
    arr = np.asarray(values)
    if arr.dtype.kind not in ("iu" if dtype.kind == "i" else "iuf"):
        raise TypeError(f"array of {arr.dtype}, expected numbers")
    return arr.astype(dtype)


def _codes(values: Any, n: int) -> np.ndarray:
    """0..255 codes as uint8 (``bytes`` checks the range in C; IntEnums are fine)."""
    if type(values) is bytes:
        return np.frombuffer(values, _U1)
    if type(values) is list or type(values) is tuple:
        return np.frombuffer(bytes(values), _U1)
    arr = np.asarray(values)
    if arr.dtype.kind not in "ui" or (arr.size and (arr.min() < 0 or arr.max() > MAX_REASON)):
        raise ValueError("quality and reason codes must be integers 0..255")
    return arr.astype(_U1)


def _body(cols: ReadingColumns) -> list[Any]:
    """The wire's readings body for checked columns (little-endian packed arrays)."""
    return [cols.layout.wire, cols.values.astype(_F8, copy=False).tobytes(),
            cols.quality.astype(_U1, copy=False).tobytes(),
            cols.reason.astype(_U1, copy=False).tobytes(),
            cols.t_source_ns.astype(_I8, copy=False).tobytes()]


def _columns(body: Any) -> ReadingColumns:
    """Validate a readings body ``[points, values, qualities, reasons, times]``.

    A constant number of Python-level steps whatever the batch size: the points string is
    looked up in the layout cache (validated name by name only the first time it is seen) and
    the four packed columns are checked with numpy.
    """
    if type(body) is not tuple or len(body) != 5:
        raise WireError("readings body must be an array of 5: points, values, qualities, "
                        "reasons, times")
    points, values, quality, reason, times = body
    layout = points_layout(points)
    n = len(layout)
    if (type(values) is not bytes or type(quality) is not bytes or type(reason) is not bytes
            or type(times) is not bytes):
        raise WireError("reading values, qualities, reasons and times must be bin")
    if len(values) != 8 * n or len(quality) != n or len(reason) != n or len(times) != 8 * n:
        raise WireError(f"reading columns do not match the {n} points (values and times 8 "
                        "bytes each, qualities and reasons 1 byte each)")
    v = np.frombuffer(values, _F8)
    if n:
        # The checks of _check_columns on the packed bytes, with C-level bytes operations only
        # (numpy's per-call cost dominated small batches). Exact, not a sample: every entry's
        # high byte is looked at. A value whose high byte is 0x7f or 0xff may be NaN or
        # infinite (or just huge): only then does numpy look at the whole value.
        if values[7::8].translate(None, _FINITE_HIGH_BYTES) and not np.isfinite(v).all():
            raise NonFiniteError("a reading value is NaN or infinite")
        if quality.translate(None, _QUALITY_CODES):  # anything left is not a quality code
            raise WireError(f"a reading quality is not 0..{MAX_QUALITY}")
        if times[7::8].translate(None, _NON_NEGATIVE_HIGH_BYTES):  # sign bit set
            raise WireError("a reading t_source_ns is not 0..2^63-1")
    return ReadingColumns(layout, v, np.frombuffer(quality, _U1), np.frombuffer(reason, _U1),
                          np.frombuffer(times, _I8))


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

    Readings come from ``batch.columns`` when set, else from ``batch.readings``; either way
    they are checked as a receiver would check them, then packed as columns.
    """
    _name(batch.source, "source", MAX_SOURCE_LEN)
    _uint63(batch.epoch, "epoch", 1)
    _uint63(batch.seq, "seq", 1)
    _uint63(batch.t_ns, "t_ns")
    if batch.kind == KIND_READINGS:
        cols = batch.columns
        if cols is None:
            cols = ReadingColumns.from_readings(batch.readings)
        body: Any = _body(cols)
    elif batch.kind == KIND_HEARTBEAT:
        _period(batch.period_ms)
        points = list(batch.points or [])
        _names(points, "heartbeat points", MAX_POINT_LEN, MAX_POINTS)
        body = [batch.period_ms, points]
    else:
        raise WireError(f"unknown batch kind {batch.kind!r}")
    return [topic_for(batch.kind, batch.source),
            _batch_payload(batch.kind, batch.source, batch.epoch, batch.seq, batch.t_ns, body)]


def encode_readings(source: str, epoch: int, seq: int, t_ns: int,
                    cols: ReadingColumns | list[Any]) -> list[bytes]:
    """Frames for a readings message from already-checked columns (the publisher's hot path).

    ``cols`` must come from :func:`columns`, :func:`readings_body` or a decoder, which have
    checked every field; ``source`` is checked when the Publisher is created.
    """
    _uint63(seq, "seq", 1)
    body = cols if type(cols) is list else _body(cols)
    return [TOPIC_READINGS + source.encode("ascii"),
            _batch_payload(KIND_READINGS, source, epoch, seq, t_ns, body)]


def _batch_payload(kind: str, source: str, epoch: int, seq: int, t_ns: int, body: Any) -> bytes:
    payload = _pack([PROTOCOL_VERSION, kind, source, epoch, seq, t_ns, body])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"encoded batch is {len(payload)} bytes, limit {MAX_MESSAGE_BYTES}; "
                        "split it")
    return payload


def decode_batch(frames: list[bytes]) -> Batch:
    """Parse ``[topic, payload]`` into a Batch; raises WireError for anything invalid."""
    batch, cols = decode_batch_columns(frames)
    if cols is not None:
        batch.readings = cols.readings()
    return batch


def peek_batch_header(frames: list[bytes]) -> tuple[str, int, int] | None:
    """(source, epoch, seq) of a batch without decoding its body, or None when the payload
    does not start like one. For dropping a message a snapshot already covers before paying
    for a large body; anything kept is decoded and validated in full."""
    if not isinstance(frames, list | tuple) or len(frames) != 2:
        return None
    payload = frames[1]
    if not isinstance(payload, bytes | bytearray | memoryview) or \
            not 0 < len(payload) <= MAX_MESSAGE_BYTES:
        return None
    try:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(payload),
                                    max_str_len=MAX_STR_BYTES, max_bin_len=0,
                                    max_array_len=MAX_POINTS, max_map_len=0, max_ext_len=0)
        unpacker.feed(payload)
        if unpacker.read_array_header() != 7:
            return None
        _version, _kind, source, epoch, seq = (unpacker.unpack() for _ in range(5))
    except Exception:  # noqa: BLE001 - not a batch; the full decode says why
        return None
    if type(source) is not str or type(epoch) is not int or type(seq) is not int:
        return None
    return source, epoch, seq


def decode_batch_columns(frames: list[bytes]) -> tuple[Batch, ReadingColumns | None]:
    """Like :func:`decode_batch`, but readings come back as validated columns beside a Batch
    whose ``readings`` is empty (None for a heartbeat).

    The fast path for the bus's cache and the Subscriber; the validation is the same.
    """
    if not isinstance(frames, list | tuple) or len(frames) != 2:
        count = len(frames) if isinstance(frames, list | tuple) else "?"
        raise WireError(f"expected 2 frames (topic, payload), got {count}")
    topic, payload = frames
    if not isinstance(topic, bytes | memoryview) or len(topic) > MAX_TOPIC_LEN:
        raise WireError("topic is not bytes of a sane length")
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_POINTS, MAX_MESSAGE_BYTES)
    if type(msg) is not tuple or len(msg) != 7:
        raise WireError("batch payload must be an array of 7: version, kind, source, epoch, "
                        "seq, t_ns, body")
    kind = msg[1]
    if kind not in (KIND_READINGS, KIND_HEARTBEAT):
        raise WireError(f"unknown batch kind {kind!r}")
    _check_header(msg, kind, 7)
    _, _, source, epoch, seq, t_ns, body = msg
    _name(source, "source", MAX_SOURCE_LEN)
    if bytes(topic) != topic_for(kind, source):
        raise WireError(f"topic {bytes(topic)[:80]!r} does not match kind {kind} and source "
                        f"{source}")
    _uint63(epoch, "epoch", 1)
    _uint63(seq, "seq", 1)
    _uint63(t_ns, "t_ns")
    if kind == KIND_READINGS:
        return Batch(source, epoch, seq, t_ns, kind), _columns(body)
    if type(body) is not tuple or len(body) != 2:
        raise WireError("heartbeat body must be an array of 2: period_ms, points")
    period_ms, points = body
    _period(period_ms)
    points = _names(points, "heartbeat points", MAX_POINT_LEN, MAX_POINTS)
    return Batch(source, epoch, seq, t_ns, kind, [], period_ms, points), None


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
    sources = [[s.source, s.epoch, s.seq, s.alive, s.period_ms, _snapshot_body(s.readings)]
               for s in chunk.sources]
    payload = _pack([PROTOCOL_VERSION, KIND_SNAPSHOT, chunk.request_id, chunk.index, chunk.last,
                     sources])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"snapshot chunk is {len(payload)} bytes, limit {MAX_MESSAGE_BYTES}")
    return payload


def _snapshot_body(readings: Any) -> list[Any]:
    if type(readings) is not ReadingColumns:
        readings = ReadingColumns.from_readings(list(readings))
    return _body(readings)


def decode_snapshot_chunk(payload: bytes) -> SnapshotChunk:
    """Parse one snapshot reply message; raises WireError."""
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_READINGS, MAX_MESSAGE_BYTES)
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
        readings = _columns(rows)
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
    fields = [PROTOCOL_VERSION, KIND_COMMAND, command.id, command.point, value, command.role,
              command.actor, command.host, command.action]
    if command.comment:
        fields.append(_text(command.comment, "comment", MAX_TEXT_LEN))
    return _pack(fields)


def decode_command(payload: bytes) -> Command:
    """Parse a command; raises WireError."""
    msg = _unpack(payload, MAX_CONTROL_BYTES, 16)
    _check_header(msg, KIND_COMMAND, 10 if type(msg) is tuple and len(msg) == 10 else 9)
    _, _, cid, point, value, role, actor, host, action = msg[:9]
    if action not in ACTIONS or type(action) is not str:
        raise WireError(f"command action {action!r} is not one of {', '.join(ACTIONS)}")
    comment = _text(msg[9], "comment", MAX_TEXT_LEN) if len(msg) == 10 else ""
    return Command(
        _name(cid, "command id", MAX_ID_LEN), _name(point, "point", MAX_POINT_LEN),
        _finite(value, "command value"), _text(role, "role", MAX_ID_LEN),
        _text(actor, "actor", MAX_ID_LEN), _text(host, "host", MAX_TEXT_LEN), action, comment)


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
    return _pack([PROTOCOL_VERSION, KIND_ACK, ack.id, ack.point, outcome.value, ack.text, readback,
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


def _outcome(value: Any) -> Outcome:
    if isinstance(value, Outcome):
        return value
    if type(value) is not str or (value not in OUTCOMES and value not in OUTCOME_ALIASES):
        shown = value[:40] if type(value) is str else value
        raise WireError(f"ack outcome {shown!r} is not one of {', '.join(OUTCOMES)}")
    return Outcome(OUTCOME_ALIASES.get(value, value))


def _code(value: Any) -> str:
    if type(value) is not str:
        raise WireError(f"ack code is {type(value).__name__}, expected a string")
    if len(value) > MAX_CODE_LEN or _CODE.fullmatch(value) is None:
        raise WireError(f"ack code is not 0..{MAX_CODE_LEN} visible ASCII characters")
    return value


def encode_register(register: Register) -> bytes:
    """An adapter's claim on its points (or one chunk of it); sent on connect and periodically
    after. A whole registration (chunk 0 of 1) is the 4-field message of the first version;
    a chunk adds ``chunk, chunks`` as fields 5 and 6."""
    _name(register.adapter_id, "adapter id", MAX_SOURCE_LEN)
    points = list(register.points)
    _names(points, "registered points", MAX_POINT_LEN, MAX_POINTS)
    chunk, chunks = _chunk_fields(register.chunk, register.chunks)
    fields = [PROTOCOL_VERSION, KIND_REGISTER, register.adapter_id, points]
    if chunks != 1:
        fields += [chunk, chunks]
    payload = _pack(fields)
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError("registration too large")
    return payload


def encode_register_chunks(adapter_id: str, points: list[str]) -> list[bytes]:
    """The messages that register ``points`` for ``adapter_id``: one when they fit
    (MAX_POINTS names, REGISTER_CHUNK_BYTES of names), else chunks that do. Raises WireError
    for more than MAX_POINTS_PER_ADAPTER points or MAX_REGISTER_CHUNKS chunks."""
    points = list(points)
    if len(points) > MAX_POINTS_PER_ADAPTER:
        raise WireError(f"{len(points)} points for adapter {adapter_id}; at most "
                        f"{MAX_POINTS_PER_ADAPTER} per adapter")
    groups = split_names(points)
    if len(groups) > MAX_REGISTER_CHUNKS:
        raise WireError(f"registration of {adapter_id} needs {len(groups)} chunks; at most "
                        f"{MAX_REGISTER_CHUNKS}")
    return [encode_register(Register(adapter_id, g, i, len(groups)))
            for i, g in enumerate(groups)]


def split_names(names: list[str]) -> list[list[str]]:
    """``names`` in consecutive groups of at most MAX_POINTS names and REGISTER_CHUNK_BYTES of
    encoded names each (at least one group, maybe empty)."""
    groups: list[list[str]] = [[]]
    size = 0
    for name in names:
        cost = len(name) + 3  # msgpack str header of up to 3 bytes for names <= 128 chars
        if len(groups[-1]) >= MAX_POINTS or size + cost > REGISTER_CHUNK_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += cost
    return groups


def _chunk_fields(chunk: Any, chunks: Any) -> tuple[int, int]:
    if type(chunks) is not int or not 1 <= chunks <= MAX_REGISTER_CHUNKS:
        raise WireError(f"registration chunks {chunks!r} is not an integer "
                        f"1..{MAX_REGISTER_CHUNKS}")
    if type(chunk) is not int or not 0 <= chunk < chunks:
        raise WireError(f"registration chunk {chunk!r} is not an integer 0..{chunks - 1}")
    return chunk, chunks


def decode_register(payload: bytes) -> Register:
    """Parse a registration (whole, or one chunk); raises WireError."""
    msg = _unpack(payload, MAX_MESSAGE_BYTES, MAX_POINTS)
    _check_header(msg, KIND_REGISTER, 6 if type(msg) is tuple and len(msg) == 6 else 4)
    chunk, chunks = _chunk_fields(msg[4], msg[5]) if len(msg) == 6 else (0, 1)
    return Register(_name(msg[2], "adapter id", MAX_SOURCE_LEN),
                    _names(msg[3], "registered points", MAX_POINT_LEN, MAX_POINTS), chunk,
                    chunks)


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


# ---------------------------------------------------------------------------------------------
# audit checkpoints (PUB -> bus -> SUB, topic ``c.<source>``): the head of an adapter's audit
# chain, so that a recorder elsewhere keeps what a rewrite of the log would have to match

KIND_CHECKPOINT = "checkpoint"
TOPIC_CHECKPOINT = b"c."
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Checkpoint(NamedTuple):
    """The audit chain of ``source`` had ``log_seq`` records ending in ``head`` at ``t_ns``."""

    source: str
    t_ns: int
    log_seq: int
    head: str
    """64 lowercase hex digits: the last record's ``hash``."""


def encode_checkpoint(cp: Checkpoint) -> list[bytes]:
    """Frames ``[c.<source>, [2, "checkpoint", source, t_ns, log_seq, head]]``; WireError when
    a field is out of range."""
    _name(cp.source, "source", MAX_SOURCE_LEN)
    _uint63(cp.t_ns, "t_ns")
    _uint63(cp.log_seq, "log_seq")
    if not isinstance(cp.head, str) or not _HEX64.fullmatch(cp.head):
        raise WireError("checkpoint head must be 64 lowercase hex digits")
    payload = _pack([PROTOCOL_VERSION, KIND_CHECKPOINT, cp.source, cp.t_ns, cp.log_seq, cp.head])
    return [TOPIC_CHECKPOINT + cp.source.encode("ascii"), payload]


def decode_checkpoint(frames: list[bytes]) -> Checkpoint:
    """Parse a checkpoint message; raises WireError."""
    if not isinstance(frames, list | tuple) or len(frames) != 2:
        raise WireError("expected 2 frames (topic, payload)")
    topic, payload = frames
    msg = _unpack(payload, MAX_CONTROL_BYTES, 8)
    _check_header(msg, KIND_CHECKPOINT, 6)
    _, _, source, t_ns, log_seq, head = msg
    _name(source, "source", MAX_SOURCE_LEN)
    if bytes(topic) != TOPIC_CHECKPOINT + source.encode("ascii"):
        raise WireError("checkpoint topic does not match its source")
    if not isinstance(head, str) or not _HEX64.fullmatch(head):
        raise WireError("checkpoint head must be 64 lowercase hex digits")
    return Checkpoint(source, _uint63(t_ns, "t_ns"), _uint63(log_seq, "log_seq"), head)
