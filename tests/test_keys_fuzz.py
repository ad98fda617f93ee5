"""Hypothesis over what the bus reads from outside: the site allow-list, key files and ZAP
requests. Every input gets a verdict, never another exception."""

from __future__ import annotations

import json

import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.bus.keys import KeyEntry, KeyFileError, KeyRing, parse_key_text, parse_site
from runtime.bus.zap import zap_reply

_KEY = zmq.curve_keypair()[0].decode("ascii")
_RING = KeyRing.of([KeyEntry("alice", "operator", _KEY, (), True)])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=6),
    max_leaves=20,
)
_entry = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=70) | st.sampled_from(["alice", "kiosk-1", ".x", ""]),
    "role": st.sampled_from(["viewer", "operator", "instructor", "engineer", "admin", 3]),
    "public_key": st.just(_KEY) | st.text(max_size=45),
    "publish": st.lists(st.text(max_size=70), max_size=3) | _json,
    "commands": st.booleans() | _json,
    "history": st.booleans(),
    "revoked": st.booleans() | st.integers(),
    "extra": _json,
})


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    _json.map(json.dumps),
    st.lists(_entry, max_size=4).map(lambda keys: json.dumps({"version": 1, "keys": keys})),
    st.binary(max_size=200),
))
def test_site_parser_returns_a_ring_or_says_why(text: str | bytes) -> None:
    try:
        ring = parse_site(text)
    except KeyFileError as exc:
        assert str(exc)
        return
    for entry in ring.entries:
        assert entry.role in ("viewer", "operator", "instructor", "engineer")
        assert not (entry.role == "viewer" and entry.commands)
        assert ring.by_key[entry.public_key] is entry and ring.by_name[entry.name] is entry


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_key_file_parser_returns_settings_or_says_why(text: str) -> None:
    try:
        values = parse_key_text(text)
    except KeyFileError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())


_frame = st.binary(max_size=40)


@settings(max_examples=500, deadline=None)
@given(st.lists(_frame, max_size=10) | st.tuples(
    st.just(b"1.0"), _frame, _frame, _frame, _frame,
    st.sampled_from([b"CURVE", b"NULL", b"PLAIN", b""]),
    st.lists(st.binary(min_size=32, max_size=32) | _frame, max_size=3),
).map(lambda t: [*t[:6], *t[6]]))
def test_zap_handler_answers_every_request_and_admits_only_the_allow_list(
        frames: list[bytes]) -> None:
    reply, user, _why = zap_reply(frames, _RING)
    assert len(reply) == 6 and reply[0] == b"1.0"
    assert reply[2] in (b"200", b"400", b"500")
    if user is not None:
        assert reply[2] == b"200" and user == "alice" and frames[5] == b"CURVE"
        assert zmq.utils.z85.encode(frames[6]).decode() == _KEY
    else:
        assert reply[2] != b"200" and reply[4] == b""


def test_zap_handler_admits_the_key_and_refuses_null() -> None:
    raw = zmq.utils.z85.decode(_KEY.encode())
    ok = zap_reply([b"1.0", b"1", b"twinstage", b"127.0.0.1", b"", b"CURVE", raw], _RING)
    assert ok[0][2:5] == [b"200", b"OK", b"alice"] and ok[1] == "alice"
    null = zap_reply([b"1.0", b"2", b"twinstage", b"127.0.0.1", b"", b"NULL"], _RING)
    assert null[0][2] == b"400" and "requires CURVE" in null[2]
