"""The wire format: round trips, and every kind of bad input is a WireError, never a crash."""

from __future__ import annotations

import math
import struct

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.bus import wire
from runtime.bus.wire import (
    Batch,
    Command,
    Reading,
    Register,
    SnapshotChunk,
    SnapshotSource,
    WireError,
)
from runtime.control.ack import Ack

T0 = 1_700_000_000_000_000_000
V = wire.PROTOCOL_VERSION


def _batch(**kw: object) -> Batch:
    fields: dict[str, object] = dict(
        source="adapter-1", epoch=42, seq=7, t_ns=T0, kind="readings",
        readings=[Reading("P-101/speed_rpm", 1480.5, 0, 0, T0),
                  Reading("T-201/level_m", 2.25, 1, 1, T0 - 5)],
    )
    fields.update(kw)
    return Batch(**fields)  # type: ignore[arg-type]


def _payload(*items: object) -> bytes:
    return msgpack.packb(list(items), use_bin_type=True)


def _body(rows: list[tuple]) -> list[object]:
    """A well-formed columnar readings body from (point, value, quality, reason, t) rows."""
    return [" ".join(r[0] for r in rows),
            struct.pack(f"<{len(rows)}d", *(r[1] for r in rows)),
            bytes(r[2] for r in rows), bytes(r[3] for r in rows),
            struct.pack(f"<{len(rows)}q", *(r[4] for r in rows))]


def _with(index: int, value: object, rows: list[tuple] | None = None) -> list[object]:
    body = _body(rows or [("p/x", 1.0, 0, 0, T0)])
    body[index] = value
    return body


def test_batch_round_trip_keeps_every_field() -> None:
    batch = _batch()
    frames = wire.encode_batch(batch)
    assert frames[0] == b"r.adapter-1"
    assert wire.decode_batch(frames) == batch
    assert all(type(r) is Reading for r in wire.decode_batch(frames).readings)


def test_heartbeat_round_trip() -> None:
    batch = _batch(kind="heartbeat", readings=[], period_ms=500, points=["P-101/speed_rpm"])
    frames = wire.encode_batch(batch)
    assert frames[0] == b"h.adapter-1"
    assert wire.decode_batch(frames) == batch


def test_integer_values_arrive_as_floats() -> None:
    batch = _batch(readings=[Reading("p/x", 3, 0, 0, T0)])
    (reading,) = wire.decode_batch(wire.encode_batch(batch)).readings
    assert reading.value == 3.0 and type(reading.value) is float


def test_columns_decode_without_a_python_object_per_reading() -> None:
    frames = wire.encode_batch(_batch())
    batch, cols = wire.decode_batch_columns(frames)
    assert batch.readings == [] and cols is not None
    assert cols.points == ("P-101/speed_rpm", "T-201/level_m")
    assert cols.values.dtype == np.float64 and cols.quality.dtype == np.uint8
    assert cols.t_source_ns.dtype == np.int64 and list(cols.t_source_ns) == [T0, T0 - 5]
    # The same points string is validated once and shared as one layout object.
    assert wire.decode_batch_columns(frames)[1].layout is cols.layout
    assert cols.readings() == _batch().readings


def test_control_messages_round_trip() -> None:
    cmd = Command("c1", "P-101/speed_setpoint_rpm", 1200.0, "operator", "alice", "ws-3")
    assert wire.decode_command(wire.encode_command(cmd)) == cmd
    for ack in (Ack("c1", "P-101/x", "confirmed", "P-101/x = 1200 rpm", 1200.0),
                Ack("c1", "P-101/x", "refused", "1500.5 rpm is above 1500 rpm", None, "range"),
                Ack("c1", "P-101/x", "selected", "operate within 10 s", None),
                Ack("c1", "P-101/x", "cancelled", "", None),
                Ack("c1", "P-101/x", "failed", "no adapter owns P-101/x", None, "no_owner"),
                Ack("c1", "P-101/x", "refused", "IL-1 active", None, "interlock:IL-1", True)):
        assert wire.decode_ack(wire.encode_ack(ack)) == ack
    reg = Register("adapter-1", ["P-101/x", "P-102/y"])
    assert wire.decode_register(wire.encode_register(reg)) == reg
    assert wire.decode_snapshot_request(wire.encode_snapshot_request(9, "P-1*")) == (9, "P-1*")
    cols = wire.ReadingColumns.from_readings([Reading("p/x", 1.0, 2, 2, T0)])
    chunk = SnapshotChunk(9, 0, True, [SnapshotSource("s", 3, 10, False, 500, cols)])
    assert wire.decode_snapshot_chunk(wire.encode_snapshot_chunk(chunk)) == chunk
    listed = SnapshotChunk(9, 0, True, [SnapshotSource("s", 3, 10, False, 500,
                                                        [Reading("p/x", 1.0, 2, 2, T0)])])
    assert wire.decode_snapshot_chunk(wire.encode_snapshot_chunk(listed)) == chunk


def _readings_frames(body: object, version: int = V, kind: str = "readings", source: str = "s",
                     epoch: object = 1, seq: object = 1, t_ns: object = T0,
                     topic: bytes = b"r.s") -> list[bytes]:
    return [topic, _payload(version, kind, source, epoch, seq, t_ns, body)]


_ROWS2 = [("p/x", 1.0, 0, 0, T0), ("q/y", 2.0, 0, 0, T0)]
NAN = struct.pack("<d", math.nan)
INF = struct.pack("<d", math.inf)


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([b"r.s"], "2 frames"),
        ([b"r.s", b""], "empty"),
        ([b"r.s", b"\x00" * (wire.MAX_MESSAGE_BYTES + 1)], "exceeds"),
        ([b"r.s", wire.encode_batch(_batch(source="s"))[1][:-3]], "undecodable"),  # truncated
        ([b"r.s", b"\xc1garbage"], "undecodable"),
        (_readings_frames(_body([]), version=1), "version"),
        (_readings_frames(_body([]), version=3), "version"),
        (_readings_frames(_body([]), kind="alarm"), "kind"),
        (_readings_frames(_body([]), topic=b"r.x"), "topic"),
        (_readings_frames(_body([]), epoch=0), "epoch"),
        (_readings_frames(_body([]), seq=-1), "seq"),
        (_readings_frames(_body([]), t_ns="now"), "t_ns"),
        (_readings_frames(_with(1, NAN)), "NaN"),
        (_readings_frames(_with(1, INF)), "NaN"),
        (_readings_frames(_with(1, [1.0])), "bin"),
        (_readings_frames(_with(1, "12345678")), "bin"),
        (_readings_frames(_with(2, [0])), "bin"),
        (_readings_frames(_with(2, b"\x07")), "quality"),
        (_readings_frames(_with(4, struct.pack("<q", -1))), "t_source_ns"),
        (_readings_frames(_with(1, b"\x00" * 7)), "do not match"),  # short value column
        (_readings_frames(_with(3, b"")), "do not match"),
        (_readings_frames(_with(4, b"\x00" * 16)), "do not match"),  # long time column
        (_readings_frames(_body([("p/x", 1.0, 0, 0, T0)])[:4]), "array of 5"),
        (_readings_frames([["p/x", 1.0, 0, 0, T0]]), "array of 5"),  # the version-1 rows
        (_readings_frames(_with(0, "bad point")), "do not match"),  # a space splits: 2 names
        (_readings_frames(_with(0, "p/x\x1b[2J")), "visible ASCII"),
        (_readings_frames(_with(0, "p/x  p/y")), "visible ASCII"),  # empty name
        (_readings_frames(_with(0, " p/x")), "visible ASCII"),
        (_readings_frames(_with(0, "x" * 129)), "visible ASCII"),
        (_readings_frames(_with(0, "p/x p/x", [("p/x", 1.0, 0, 0, T0)] * 2)), "twice"),
        (_readings_frames(_with(0, b"p/x")), "expected a string"),
        (_readings_frames(_with(0, 7)), "expected a string"),
        # the list form of points (one string per coalesced device batch)
        (_readings_frames(_with(0, [])), "array of 0 strings"),
        (_readings_frames(_with(0, ["p/x"] * (wire.MAX_LAYOUT_PARTS + 1))), "1..256"),
        (_readings_frames(_with(0, [b"p/x"])), "not a string"),
        (_readings_frames(_with(0, [["p/x"]])), "not a string"),
        (_readings_frames(_with(0, ["p/x", 5], _ROWS2)), "not a string"),
        (_readings_frames(_with(0, ["p/x", ""])), "empty"),
        (_readings_frames(_with(0, ["p/x", "p/x"], _ROWS2)), "twice"),
        (_readings_frames(_with(0, ["p/x q/y", "q/y"], _ROWS2 + _ROWS2[:1])), "twice"),
        (_readings_frames(_with(0, ["p/x", "p/x\x1b[2J"], _ROWS2)), "visible ASCII"),
        (_readings_frames(_with(0, ["p/x", "q/y "], _ROWS2)), "visible ASCII"),
        (_readings_frames(_with(0, ["p/x", "q/y"])), "do not match"),  # 2 names, 1 reading
        (_readings_frames(_with(0, ["p/x", "q/y"], _ROWS2 * 2)), "do not match"),
        (_readings_frames({"p": 1}), "undecodable"),  # no maps
        ([b"r.s", b"\x91" * 5000], "undecodable"),  # nesting bomb
        ([b"h.s", _payload(V, "heartbeat", "s", 1, 1, T0, [5, []])], "period_ms"),
        ([b"h.s", _payload(V, "heartbeat", "s", 1, 1, T0, [500, [b"p/x"]])], "non-string"),
        ([b"h.s", _payload(V, "heartbeat", "s", 1, 1, T0, [500, ["x" * 3000]])],
         "visible ASCII"),
    ],
)
def test_bad_batches_are_rejected_with_a_reason(frames: list[bytes], why: str) -> None:
    with pytest.raises(WireError) as info:
        wire.decode_batch(frames)
    assert why in info.value.reason


def test_too_many_readings_rejected_before_building_them() -> None:
    rows = [(f"p/x{i}", 1.0, 0, 0, T0) for i in range(wire.MAX_READINGS + 1)]
    with pytest.raises(WireError, match="over 10000"):
        wire.decode_batch(_readings_frames(_body(rows)))
    spaces = " " * wire.MAX_READINGS  # many empty names: refused before any split
    with pytest.raises(WireError, match="over 10000"):
        wire.decode_batch(_readings_frames(_with(0, spaces)))


def test_strings_outside_the_points_column_stay_short() -> None:
    with pytest.raises(WireError, match="undecodable"):
        wire.decode_command(_payload(V, "command", "c" * 3000, "p/x", 1.0, "r", "a", "h",
                                     "write"))
    with pytest.raises(WireError, match="undecodable"):  # no bin outside readings
        wire.decode_command(_payload(V, "command", b"c1", "p/x", 1.0, "r", "a", "h", "write"))


def test_encoder_refuses_what_peers_would_drop() -> None:
    with pytest.raises(WireError):
        wire.encode_batch(_batch(readings=[Reading("p/x", math.nan, 0, 0, T0)]))
    for bad in (Reading("p/x", "1", 0, 0, T0), Reading("p/x", 1.0, 3, 0, T0),
                Reading("p/x", 1.0, 0, 256, T0), Reading("p/x", 1.0, 0, 0, -1),
                Reading("p/x", 1.0, 0, 0, 2**63), Reading("p x", 1.0, 0, 0, T0)):
        with pytest.raises(WireError):
            wire.encode_batch(_batch(readings=[bad]))
    with pytest.raises(WireError, match="twice"):
        wire.encode_batch(_batch(readings=[Reading("p/x", 1.0, 0, 0, T0)] * 2))
    for bad in (Reading("p/x", None, 0, 0, T0), Reading("p/x", True, 0, 0, T0),  # type: ignore
                Reading("p/x", 1.0, 0, 0, 1.5), Reading("p/x", 1.0, 0.0, 0, T0)):
        with pytest.raises(WireError):
            wire.encode_batch(_batch(readings=[bad]))
    layout = wire.layout_of(["p/x"])
    for values, times in ((["1.5"], [T0]), ([None], [T0]), ([1.0], [1.5]), ([1.0], ["1"])):
        with pytest.raises(WireError):
            wire.columns(layout, values, [0], [0], times)
    with pytest.raises(WireError):
        wire.columns(layout, np.array(["1.5"]), [0], [0], [T0])
    with pytest.raises(WireError, match="entries"):
        wire.columns(layout, [1.0, 2.0], [0, 0], [0, 0], [T0, T0])
    assert wire.columns(layout, [np.float32(1.5)], [np.uint8(1)], [0], [np.int64(T0)]) \
        .readings() == [Reading("p/x", 1.5, 1, 0, T0)]
    with pytest.raises(WireError):
        wire.encode_batch(_batch(source="has space"))
    with pytest.raises(WireError):
        wire.encode_command(Command("c1", "p/x", math.inf, "operator", "a", "h"))
    for bad in (Ack("c1", "p/x", "maybe", "", None),
                Ack("c1", "p/x", "refused", "", None, "has space"),
                Ack("c1", "p/x", "refused", "", None, "x" * 65),
                Ack("c1", "p/x", "refused", "caf\u00e9", None),
                Ack("c1", "p/x", "refused", "x" * 513, None),
                Ack("c1", "p/x", "confirmed", "", math.nan),
                Ack("c1", "p/x", "confirmed", "", 1.0, "", 1)):  # type: ignore[arg-type]
        with pytest.raises(WireError):
            wire.encode_ack(bad)


def test_ack_decoder_is_strict_and_knows_the_first_spellings() -> None:
    good = ["c1", "p/x", "confirmed", "", 1.0, "", False]
    assert wire.decode_ack(_payload(V, "ack", *good)).ok
    for field, value in ((2, "maybe"), (3, 7), (4, math.inf), (4, "1"), (5, "a b"), (6, 0),
                         (6, None)):
        fields = list(good)
        fields[field] = value
        with pytest.raises(WireError):
            wire.decode_ack(_payload(V, "ack", *fields))
    with pytest.raises(WireError, match="fields"):  # the 7-field layout of the first version
        wire.decode_ack(_payload(V, "ack", "c1", "p/x", "accepted", "", 1.0))
    # The first outcome spellings still decode, as today's outcomes.
    old = wire.decode_ack(_payload(V, "ack", "c1", "p/x", "accepted", "", 1.0, "", False))
    assert old.outcome == "confirmed" and old.ok
    assert wire.decode_ack(_payload(V, "ack", "c1", "p/x", "error", "", None, "", False)) \
        .outcome == "failed"
    assert not Ack("c1", "p/x", "refused", "", None).ok


@pytest.mark.parametrize(
    "decoder",
    [wire.decode_command, wire.decode_ack, wire.decode_register, wire.decode_snapshot_request,
     wire.decode_snapshot_chunk],
)
def test_control_decoders_reject_wrong_kinds(decoder: object) -> None:
    wrong = _payload(V, "nonsense", 1, 2, 3)
    with pytest.raises(WireError):
        decoder(wrong)  # type: ignore[operator]


DECODERS = [
    lambda b: wire.decode_batch([b"r.s", b]),
    lambda b: wire.decode_batch([b"h.s", b]),
    wire.decode_command,
    wire.decode_ack,
    wire.decode_register,
    wire.decode_snapshot_request,
    wire.decode_snapshot_chunk,
    wire.message_kind,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=512))
def test_any_bytes_decode_or_reject_cleanly(data: bytes) -> None:
    for decode in DECODERS:
        try:
            decode(data)
        except WireError:
            pass


_msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats() | st.text(max_size=20) | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.tuples(st.sampled_from([1, 2, 3, True]), st.sampled_from(["readings", "heartbeat",
                                                                     "ack", "command"]),
                     st.sampled_from(["s", "", "x y"])),
    rest=st.lists(_msgpack_values, max_size=8),
)
def test_structured_garbage_decodes_or_rejects_cleanly(header: tuple, rest: list) -> None:
    payload = _payload(*header, *rest)
    for decode in DECODERS:
        try:
            result = decode(payload)
        except WireError:
            continue
        if isinstance(result, Batch):  # accepted: then it must be fully valid
            assert all(math.isfinite(r.value) for r in result.readings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=st.sampled_from(["", "p/x", "p/x q/y", "p/x p/x", " ", "p/x ", "a\x00b"]),
    columns=st.lists(st.binary(max_size=24), min_size=4, max_size=4),
)
def test_columnar_garbage_decodes_or_rejects_cleanly(points: str, columns: list[bytes]) -> None:
    _valid_or_rejected(points, columns)


def _valid_or_rejected(points: object, columns: list[bytes]) -> bool:
    """Decode a readings body of ``points`` and raw ``columns``: refused with a WireError
    (False), or accepted (True) only when everything in it is valid."""
    try:
        _, cols = wire.decode_batch_columns(_readings_frames([points, *columns]))
    except WireError:
        return False
    assert cols is not None
    assert np.isfinite(cols.values).all() and cols.quality.max(initial=0) <= 2
    assert (cols.t_source_ns >= 0).all() and len(set(cols.points)) == len(cols.points)
    return True


_points = st.from_regex(r"[A-Z]{1,3}-[0-9]{1,3}/[a-z_]{1,12}", fullmatch=True)
_readings = st.lists(
    st.builds(Reading, _points, st.floats(allow_nan=False, allow_infinity=False),
              st.integers(0, 2), st.integers(0, 10), st.integers(0, 2**63 - 1)),
    max_size=50, unique_by=lambda r: r.point,  # a point appears at most once per message
)


@settings(max_examples=100, deadline=None)
@given(readings=_readings, seq=st.integers(1, 2**63 - 1), epoch=st.integers(1, 2**63 - 1))
def test_valid_batches_round_trip(readings: list[Reading], seq: int, epoch: int) -> None:
    batch = _batch(readings=readings, seq=seq, epoch=epoch)
    assert wire.decode_batch(wire.encode_batch(batch)) == batch


def test_protocol_doc_hex_dump_is_what_the_encoder_produces() -> None:
    # docs/bus-protocol.md §7 must stay byte-exact: another-language client is written from it.
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "bus-protocol.md").read_text()
    section = doc.split("Frame 2, payload (", 1)[1].split("```")[1]
    hex_bytes = "".join(line[6:53] for line in section.strip().splitlines())
    documented = bytes.fromhex(hex_bytes)
    batch = Batch("ad-1", 0x1122334455667788, 42, 1_700_000_000_123_456_789, "readings",
                  [Reading("P-101/speed_rpm", 1480.5, 0, 0, 1_700_000_000_120_000_000),
                   Reading("T-201/level_m", 2.25, 1, 1, 1_700_000_000_100_000_000)])
    assert wire.encode_batch(batch) == [b"r.ad-1", documented]


def test_protocol_doc_command_and_ack_dumps_are_what_the_encoder_produces() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "bus-protocol.md").read_text()
    section = doc.split("A command and its ack:", 1)[1]
    blocks = section.split("```")[1:6:2]  # command + ack, then the refused ack

    def parse(block: str) -> list[bytes]:
        frames, current = [], ""
        for line in block.strip().splitlines() + [""]:
            if line.strip():
                current += line[6:53]
            elif current:
                frames.append(bytes.fromhex(current))
                current = ""
        return frames

    (command, ack), (refused,) = parse(blocks[0]), parse(blocks[1])
    assert command == wire.encode_command(
        Command("c1", "P-101/speed_sp_rpm", 1200.0, "operator", "alice", "ws-3"))
    assert ack == wire.encode_ack(
        Ack("c1", "P-101/speed_sp_rpm", "confirmed", "P-101/speed_sp_rpm = 1200 rpm", 1200.0))
    assert refused == wire.encode_ack(
        Ack("c2", "P-102/run_cmd", "refused", "IL-1: P-101 is running", None, "interlock:IL-1"))


# ---------------------------------------------------------------------------------------------
# the list form of a readings body's points: one string per coalesced device batch


def _rows(names: list[str]) -> list[tuple]:
    return [(n, float(i), i % 3, i % 7, T0 + i) for i, n in enumerate(names)]


def _parts_frames(parts: list[str]) -> list[bytes]:
    body = _body(_rows([n for p in parts for n in p.split(" ")]))
    body[0] = parts
    return _readings_frames(body)


def test_list_form_decodes_as_the_string_form_with_cached_parts() -> None:
    parts = ["D1/a D1/b D1/c", "D2/a", "D3/a D3/b"]
    _, joined = wire.decode_batch_columns(_parts_frames([" ".join(parts)]))
    _, listed = wire.decode_batch_columns(_parts_frames(parts))
    assert listed == joined and listed.readings() == joined.readings()
    assert listed.layout.parts == tuple(wire.layout_for(p) for p in parts)
    assert listed.layout.offsets == (0, 3, 4, 6) and len(listed.layout) == 6
    assert listed.layout.key == joined.layout.key and listed.layout.wire == parts
    # one string in a list is that string's own layout
    _, single = wire.decode_batch_columns(_parts_frames(parts[:1]))
    assert single.layout is wire.layout_for(parts[0])


def test_list_form_round_trips_and_keeps_its_form() -> None:
    layout = wire.composite_layout([wire.layout_of(["D1/a", "D1/b"]), wire.layout_of(["D2/a"])])
    cols = wire.columns(layout, [1.0, 2.0, 3.0], [0, 1, 2], [0, 0, 8], [T0, T0, T0])
    frames = wire.encode_batch(_batch(source="s", readings=[], columns=cols))
    body = msgpack.unpackb(frames[1])[6]
    assert body[0] == ["D1/a D1/b", "D2/a"]
    _, back = wire.decode_batch_columns(frames)
    assert back == cols and back.layout.parts == layout.parts
    pub_body = wire.readings_body(layout, [1.0, 2.0, 3.0], [0, 1, 2], [0, 0, 8], [T0] * 3)
    assert pub_body[0] == ["D1/a D1/b", "D2/a"]
    with pytest.raises(WireError, match="twice"):
        wire.composite_layout([wire.layout_of(["D1/a"]), wire.layout_of(["D1/a", "D9/z"])])
    with pytest.raises(WireError, match="empty"):
        wire.composite_layout([wire.layout_of(["D1/a"]), wire.layout_for("")])


def test_list_form_counts_every_part_before_splitting_any() -> None:
    half = " ".join(f"p/x{i}" for i in range(wire.MAX_READINGS // 2 + 1))
    other = half.replace("p/x", "q/y")
    with pytest.raises(WireError, match="over 10000"):
        wire.decode_batch(_readings_frames(_with(0, [half, other])))
    spaces = ["a " * 40] * wire.MAX_LAYOUT_PARTS  # many empty names in every part
    with pytest.raises(WireError, match="over 10000"):
        wire.decode_batch(_readings_frames(_with(0, spaces)))


def test_a_hostile_stream_of_new_parts_keeps_the_memos_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "_LAYOUTS_MAX", 300)
    monkeypatch.setattr(wire, "_PARTITION_MAX", 2000)
    monkeypatch.setattr(wire, "_KNOWN_POINTS_MAX", 3000)
    for m in range(20):
        parts = [f"h{m}x{k}/a h{m}x{k}/b" for k in range(wire.MAX_LAYOUT_PARTS)]
        _, cols = wire.decode_batch_columns(_parts_frames(parts))
        assert len(cols) == 2 * wire.MAX_LAYOUT_PARTS
        assert len(wire._LAYOUTS) <= 300 and len(wire._PARTITION) <= 2000
        assert len(wire._KNOWN_POINTS) <= 3000 + 2 * wire.MAX_LAYOUT_PARTS


_NAME_POOL = ["a/1", "a/2", "b/1", "b/2", "c/1"]
_part = st.lists(st.sampled_from(_NAME_POOL), min_size=1, max_size=3, unique=True).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.lists(_part, min_size=1, max_size=4), min_size=1, max_size=6),
       partition_max=st.sampled_from([2, 4, 1000]))
def test_list_form_duplicate_check_is_exact(messages: list[list[str]], partition_max: int
                                            ) -> None:
    """Parts overlap, repeat and are judged again after the memo starts over: a message is
    accepted exactly when no name appears twice over all its parts."""
    old = wire._PARTITION_MAX
    wire._PARTITION_MAX = partition_max
    try:
        for parts in messages:
            names = [n for p in parts for n in p.split(" ")]
            try:
                _, cols = wire.decode_batch_columns(_parts_frames(parts))
            except WireError as exc:
                assert len(set(names)) < len(names) and "twice" in exc.reason
            else:
                assert len(set(names)) == len(names) and cols.points == tuple(names)
    finally:
        wire._PARTITION_MAX = old


_hostile_points = st.one_of(
    st.lists(st.sampled_from(["", "p/x", "q/y", "p/x q/y", " ", "p/x ", "a\x00b", "x" * 129]),
             max_size=8),
    st.lists(st.one_of(st.text(max_size=12), st.binary(max_size=4),
                       st.integers(-(2**63), 2**64 - 1),
                       st.none(), st.lists(st.just("p/x"), max_size=2)), max_size=5),
    st.integers(0, 300).map(lambda k: ["p/x"] * k),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=_hostile_points, columns=st.lists(st.binary(max_size=24), min_size=4, max_size=4))
def test_hostile_point_lists_decode_or_reject_cleanly(points: list, columns: list[bytes]) -> None:
    if _valid_or_rejected(points, columns):
        assert 1 <= len(points) <= wire.MAX_LAYOUT_PARTS


_COLUMN_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
        [1e308, -1e308, 2.0**1023, float("nan"), float("inf"), -float("inf"), 0.0, -0.0]),
    st.integers(-(2**64), 2**64))
_COLUMN_TIMES = st.one_of(st.integers(-(2**64), 2**64),
                          st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63)]))


def _outcome(make: object) -> object:
    try:
        return make()  # type: ignore[operator]
    except WireError as exc:
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_COLUMN_VALUES, min_size=1, max_size=12),
       quality=st.lists(st.integers(0, 3), min_size=12, max_size=12),
       times=st.lists(_COLUMN_TIMES, min_size=12, max_size=12))
def test_readings_body_accepts_and_packs_exactly_as_the_checked_columns(
        values: list, quality: list[int], times: list[int]) -> None:
    """The publisher's list path (checks on the packed bytes) refuses what ``columns`` refuses,
    with the same error class, and packs the same bytes for what it accepts."""
    n = len(values)
    layout = wire.layout_of([f"D/p{i}" for i in range(n)])
    q, t, r = quality[:n], times[:n], [0] * n
    fast = _outcome(lambda: wire.readings_body(layout, values, q, r, t))
    reference = _outcome(lambda: wire._body(wire.columns(layout, values, q, r, t)))
    if isinstance(reference, type):
        assert fast is reference
    else:
        assert fast == reference
