"""Service requests and replies through the bus: the wire format (docs/bus-protocol.md).

A service (the historian, the alarm service) offers itself on the bus's ``adapters`` ROUTER; a
client (a viewer's worker thread, a command-line tool on any host) sends a request on the
``commands`` ROUTER; the bus stamps the request with the role and name of the client's key and
routes it to the service, and routes the reply back by request id. Like commands, requests and
replies never travel over PUB (R9).

Messages (msgpack arrays, header ``[2, kind]``)::

    ["offer",   service]                                           service -> bus, every 1 s
    ["request", id, service, method, role, actor, body]             client -> bus -> service
    ["reply",   id, status, text, body]                             service -> bus -> client

``body`` is a map with string keys (values: nil, bool, int, float, str, bin, arrays, maps). The
bus checks the header fields and sizes only; the service checks its own body. A request is at most
64 KiB, a reply at most 1 MiB: services page larger answers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgpack

from runtime.bus.wire import (
    MAX_CONTROL_BYTES,
    MAX_ID_LEN,
    MAX_MESSAGE_BYTES,
    MAX_SOURCE_LEN,
    MAX_TEXT_LEN,
    PROTOCOL_VERSION,
    WireError,
    _check_header,
    _name,
    _text,
)

KIND_OFFER = "offer"
KIND_REQUEST = "request"
KIND_REPLY = "reply"
MAX_METHOD_LEN = 64
MAX_REQUEST_BYTES = MAX_CONTROL_BYTES
MAX_REPLY_BYTES = MAX_MESSAGE_BYTES
STATUSES = ("ok", "error", "refused", "unavailable")
"""``ok`` answered; ``error`` a bad request (``text`` says why); ``refused`` the asker's role may
not do that; ``unavailable`` no service by that name, not reachable, or no answer in time (set by
the bus or the client, never by a service)."""
SERVICE_COMMANDS = {"history": "historian"}
"""Services offered by a command of another name (``twinstage historian`` offers ``history``);
the others are offered by the command of their own name (``twinstage alarms``)."""
_MAX_ITEMS = 1 << 20
"""Elements in any one array or map of a body (msgpack unpack limit)."""


class ServiceRequest(NamedTuple):
    """A question for ``service``; ``role`` and ``actor`` are set by the bus from the key."""

    id: str
    service: str
    method: str
    body: dict[str, Any]
    role: str = ""
    actor: str = ""


class ServiceReply(NamedTuple):
    """The answer to request ``id``."""

    id: str
    status: str
    text: str
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _pack(obj: list[Any], limit: int, what: str) -> bytes:
    try:
        payload = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"cannot encode {what}: {exc}") from None
    if len(payload) > limit:
        raise WireError(f"{what} is {len(payload)} bytes, limit {limit}; page the answer")
    return payload


def unpack_with_maps(payload: bytes, limit: int) -> Any:
    """Decode under hard limits; maps are allowed here (bodies), unlike the readings wire."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise WireError(f"frame is {type(payload).__name__}, not bytes")
    if len(payload) > limit:
        raise WireError(f"payload of {len(payload)} bytes exceeds the {limit}-byte limit")
    if not payload:
        raise WireError("empty payload")
    try:
        return msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=True,
                               max_str_len=limit, max_bin_len=limit, max_array_len=_MAX_ITEMS,
                               max_map_len=_MAX_ITEMS, max_ext_len=0)
    except Exception as exc:  # msgpack raises several types; all mean "not valid msgpack"
        raise WireError(f"undecodable msgpack: {type(exc).__name__}: {exc}") from None


def _header(msg: Any, kind: str, length: int) -> None:
    _check_header(tuple(msg) if type(msg) is list else msg, kind, length)


def _body(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise WireError(f"body is {type(value).__name__}, expected a map")
    return value


def encode_offer(service: str) -> bytes:
    """A service's claim to answer requests for ``service``."""
    _name(service, "service", MAX_SOURCE_LEN)
    return _pack([PROTOCOL_VERSION, KIND_OFFER, service], MAX_CONTROL_BYTES, "offer")


def decode_offer(payload: bytes) -> str:
    msg = unpack_with_maps(payload, MAX_CONTROL_BYTES)
    _header(msg, KIND_OFFER, 3)
    return _name(msg[2], "service", MAX_SOURCE_LEN)


def encode_request(request: ServiceRequest) -> bytes:
    """Raises WireError when a field is invalid or the request is over 64 KiB."""
    _name(request.id, "request id", MAX_ID_LEN)
    _name(request.service, "service", MAX_SOURCE_LEN)
    _name(request.method, "method", MAX_METHOD_LEN)
    _text(request.role, "role", MAX_ID_LEN)
    _text(request.actor, "actor", MAX_ID_LEN)
    _body(request.body)
    return _pack([PROTOCOL_VERSION, KIND_REQUEST, request.id, request.service, request.method,
                  request.role, request.actor, request.body], MAX_REQUEST_BYTES, "request")


def decode_request(payload: bytes) -> ServiceRequest:
    msg = unpack_with_maps(payload, MAX_REQUEST_BYTES)
    _header(msg, KIND_REQUEST, 8)
    _, _, rid, service, method, role, actor, body = msg
    return ServiceRequest(_name(rid, "request id", MAX_ID_LEN),
                          _name(service, "service", MAX_SOURCE_LEN),
                          _name(method, "method", MAX_METHOD_LEN),
                          _body(body), _text(role, "role", MAX_ID_LEN),
                          _text(actor, "actor", MAX_ID_LEN))


def encode_reply(reply: ServiceReply) -> bytes:
    """Raises WireError when a field is invalid or the reply is over 1 MiB."""
    _name(reply.id, "request id", MAX_ID_LEN)
    if reply.status not in STATUSES:
        raise WireError(f"reply status {reply.status!r} is not one of {', '.join(STATUSES)}")
    _text(reply.text, "reply text", MAX_TEXT_LEN)
    _body(reply.body)
    return _pack([PROTOCOL_VERSION, KIND_REPLY, reply.id, reply.status, reply.text, reply.body],
                 MAX_REPLY_BYTES, "reply")


def decode_reply(payload: bytes) -> ServiceReply:
    msg = unpack_with_maps(payload, MAX_REPLY_BYTES)
    _header(msg, KIND_REPLY, 6)
    _, _, rid, status, text, body = msg
    if status not in STATUSES or type(status) is not str:
        raise WireError(f"reply status {status!r} is not one of {', '.join(STATUSES)}")
    return ServiceReply(_name(rid, "request id", MAX_ID_LEN), status,
                        _text(text, "reply text", MAX_TEXT_LEN), _body(body))


def peek_kind(payload: bytes) -> str | None:
    """The kind string of a control message (``offer``, ``reply``, ``register``, ``ack``...)
    read from its first two fields without decoding the rest; None when it has no header."""
    try:
        unpacker = msgpack.Unpacker(max_buffer_size=len(payload) + 1, max_str_len=64,
                                    max_bin_len=0, max_array_len=_MAX_ITEMS, max_map_len=0,
                                    raw=False)
        unpacker.feed(payload)
        if unpacker.read_array_header() < 2 or unpacker.unpack() != PROTOCOL_VERSION:
            return None
        kind = unpacker.unpack()
    except Exception:  # not msgpack, or not an array with a header: no kind
        return None
    return kind if type(kind) is str else None


def command_for(service: str) -> str:
    """The ``twinstage`` command that offers ``service`` (for "start ..." advice)."""
    return SERVICE_COMMANDS.get(service, service)


__all__ = [
    "KIND_OFFER", "KIND_REPLY", "KIND_REQUEST", "SERVICE_COMMANDS", "STATUSES", "ServiceReply",
    "ServiceRequest", "command_for", "unpack_with_maps",
    "decode_offer", "decode_reply", "decode_request", "encode_offer", "encode_reply",
    "encode_request", "peek_kind",
]
