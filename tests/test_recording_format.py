"""Recording files: round trip, schemas, the plain mcap reader, splitting, seeking, torn files
(truncated, and a writer killed with kill -9), repair, and the format doc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcap.reader import make_reader
from mcap.writer import IndexType, Writer
from recording_fixtures import (
    REPO_ROOT,
    T0_NS,
    fixed_clock,
    full_state_of,
    points_of,
    state_after,
    state_from_updates,
    write_traffic,
)

from runtime.bus.wire import INT63, ReadingColumns, SnapshotSource, WireError, columns, layout_of
from runtime.control.ack import Ack
from runtime.recording.decode import InvalidMessageError, decode_message
from runtime.recording.errors import RecordingError
from runtime.recording.reader import open_recording
from runtime.recording.records import (
    RecordedAck,
    RecordedEvent,
    RecordedReadings,
    RecordedSnapshot,
    RecordedSourceState,
)
from runtime.recording.repair import repair_recording
from runtime.recording.schemas import (
    CHANNEL_BY_TOPIC,
    CHANNELS,
    MESSAGE_ENCODING,
    METADATA_NAME,
    PROFILE,
    SCHEMA_ENCODING,
    TOPIC_READINGS,
    TOPIC_SNAPSHOT,
)
from runtime.recording.writer import RecordingWriter
from tools.bench.recording_traffic import write_pump_station

S = 1_000_000_000

# -- round trip ---------------------------------------------------------------------------------

_names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=20)
_values = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def _columns(draw: st.DrawFn) -> ReadingColumns:
    points = draw(st.lists(_names, max_size=12, unique=True))
    n = len(points)
    return columns(layout_of(points),
                   draw(st.lists(_values, min_size=n, max_size=n)),
                   draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                   draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)),
                   draw(st.lists(st.integers(0, INT63 - 1), min_size=n, max_size=n)))


def _bits(cols: ReadingColumns) -> tuple:
    return (cols.points, cols.values.view(np.int64).tolist(), cols.quality.tolist(),
            cols.reason.tolist(), cols.t_source_ns.tolist())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(_columns(), min_size=1, max_size=4),
       source=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                      max_size=64),
       epoch=st.integers(1, INT63 - 1), seq=st.integers(1, INT63 - 1),
       readback=st.none() | _values,
       text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100),
       event_data=st.none() | st.dictionaries(st.text(max_size=5),
                                              st.integers() | st.text(max_size=5),
                                              max_size=3))
def test_every_record_type_round_trips_bit_exactly(
        tmp_path_factory: pytest.TempPathFactory, batches: list[ReadingColumns], source: str,
        epoch: int, seq: int, readback: float | None, text: str,
        event_data: dict | None) -> None:
    out = tmp_path_factory.mktemp("rt")
    ack = Ack("cmd-1", "P-101/run_cmd", "refused", text, readback, "interlock:IL-1", True)
    with RecordingWriter(out, clock=fixed_clock) as w:
        for i, cols in enumerate(batches):
            w.write_readings(T0_NS + i, source, epoch, seq, INT63 - 1 - i, cols)
        w.note_heartbeat(T0_NS + 9, source, epoch, seq, 250)
        w.write_source_state(T0_NS + 10, source, epoch, False, 4321)
        w.write_ack(T0_NS + 11, ack)
        w.write_event(T0_NS + 12, "scenario", "step-3", text, "info", event_data)
        w.write_snapshot(T0_NS + 13, "resync")
    with open_recording(out) as rec:
        records = list(rec.iter_messages())
    assert rec.warnings == []
    start, *readings, state, got_ack, event, snap = records
    assert type(start) is RecordedSnapshot and start.why == "start" and start.sources == []
    assert [type(r) for r in readings] == [RecordedReadings] * len(batches)
    for i, (r, cols) in enumerate(zip(readings, batches, strict=True)):
        assert (r.log_time_ns, r.source, r.epoch, r.seq, r.t_ns) == (
            T0_NS + i, source, epoch, seq, INT63 - 1 - i)
        assert _bits(r.columns) == _bits(cols)
    assert state == RecordedSourceState(T0_NS + 10, source, epoch, False, 4321)
    assert got_ack == RecordedAck(T0_NS + 11, ack)
    if readback is not None:
        assert np.float64(got_ack.ack.readback).view(np.int64) == np.float64(readback).view(
            np.int64)
    assert event == RecordedEvent(T0_NS + 12, "scenario", "step-3", text, "info", event_data)
    assert type(snap) is RecordedSnapshot and snap.why == "resync"
    (only,) = snap.sources
    assert (only.source, only.epoch, only.seq, only.alive, only.period_ms) == (
        source, epoch, seq, False, 250)
    expected = {}
    for cols in batches:  # later batches replace earlier values of the same point
        for p, v, q, r_, t in zip(*_bits(cols), strict=True):
            expected[p] = (v, q, r_, t)
    got = dict(zip(only.readings.points, zip(*_bits(only.readings)[1:], strict=True),
                   strict=True))
    assert got == expected


# -- schemas and the plain mcap reader ----------------------------------------------------------


@pytest.fixture(scope="module")
def pump_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three minutes of pump-station traffic in 60 s files, keyframes every 5 s, a publisher
    restart at 70 s and a silence from 100 s to 110 s."""
    out = tmp_path_factory.mktemp("pump")
    write_traffic(out, 180.0, split_s=60.0, keyframe_s=5.0, restart_at_s=70.0,
                  silence_s=(100.0, 110.0))
    return out


def test_files_read_back_with_the_plain_mcap_reader(pump_recording: Path) -> None:
    files = sorted(pump_recording.glob("*.mcap"))
    assert len(files) == 3
    for path in files:
        with open(path, "rb") as f:
            reader = make_reader(f, validate_crcs=True)
            header = reader.get_header()
            summary = reader.get_summary()
            assert header.profile == PROFILE
            assert summary is not None and summary.statistics is not None
            assert summary.chunk_indexes, "chunked and indexed"
            assert {c.compression for c in summary.chunk_indexes} == {"zstd"}
            by_topic = {ch.topic: ch for ch in summary.channels.values()}
            assert set(by_topic) == set(CHANNEL_BY_TOPIC)
            for topic, ch in by_topic.items():
                schema = summary.schemas[ch.schema_id]
                assert ch.message_encoding == MESSAGE_ENCODING
                assert (schema.name, schema.encoding) == (
                    CHANNEL_BY_TOPIC[topic].schema_name, SCHEMA_ENCODING)
            (meta,) = [m for m in reader.iter_metadata() if m.name == METADATA_NAME]
            assert meta.metadata["format"] == "twinstage.recording"
            assert meta.metadata["version"] == "1"
            messages = list(reader.iter_messages())
            assert len(messages) == summary.statistics.message_count
            assert messages[0][1].topic == TOPIC_SNAPSHOT


def test_every_message_validates_against_its_json_schema(pump_recording: Path) -> None:
    validators = {}
    seen = set()
    for path in sorted(pump_recording.glob("*.mcap")):
        with open(path, "rb") as f:
            for schema, channel, message in make_reader(f).iter_messages():
                assert schema is not None
                validator = validators.get(schema.id, {}).get(path)
                if validator is None:
                    doc = json.loads(schema.data)
                    jsonschema.Draft202012Validator.check_schema(doc)
                    validator = jsonschema.Draft202012Validator(doc)
                    validators.setdefault(schema.id, {})[path] = validator
                validator.validate(json.loads(message.data))
                seen.add(channel.topic)
    assert seen == set(CHANNEL_BY_TOPIC), "the fixture exercises every channel"


_VALID = {
    TOPIC_READINGS: {"source": "a", "epoch": 1, "seq": 1, "t_ns": 5, "points": ["P-1/x"],
                     "values": [1.5], "quality": [0], "reason": [0], "t_source_ns": [4]},
}
_BAD_READINGS = [
    {"quality": [3]}, {"reason": [256]}, {"epoch": 0}, {"seq": -1}, {"t_ns": 1 << 63},
    {"source": ""}, {"source": "a b"}, {"points": ["P-1/x", "P-1/x"], "values": [1.0, 2.0],
                                        "quality": [0, 0], "reason": [0, 0],
                                        "t_source_ns": [4, 4]},
    {"values": ["1"]}, {"values": [True]}, {"quality": [0.5]}, {"t_source_ns": [-1]},
    {"extra": 1}, {"epoch": True}, {"points": [""]},
]


@pytest.mark.parametrize("change", _BAD_READINGS, ids=lambda c: ",".join(c))
def test_decoder_and_json_schema_refuse_the_same_messages(change: dict) -> None:
    schema = CHANNEL_BY_TOPIC[TOPIC_READINGS].schema
    good = _VALID[TOPIC_READINGS]
    jsonschema.validate(good, schema)
    decode_message(TOPIC_READINGS, 0, json.dumps(good).encode())
    bad = good | change
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(InvalidMessageError):
        decode_message(TOPIC_READINGS, 0, json.dumps(bad).encode())


# -- split, start snapshots, seek -----------------------------------------------------------------


def test_split_files_each_start_with_a_snapshot_that_rebuilds_the_state(
        pump_recording: Path) -> None:
    files = sorted(pump_recording.glob("*.mcap"))
    with open_recording(pump_recording) as whole:
        records = list(whole.iter_messages())
    starts = [i for i, r in enumerate(records)
              if type(r) is RecordedSnapshot and r.why == "start"]
    assert len(starts) == len(files) == 3
    for n, path in enumerate(files):
        with open_recording(path) as alone:  # any file replays alone
            first = next(alone.iter_messages())
        assert type(first) is RecordedSnapshot and first.why == "start"
        before = state_from_updates(records[: starts[n]])
        assert full_state_of(state_after([first]))["points"] == points_of(before)
        assert full_state_of(state_after([first])) == full_state_of(
            state_after(records[: starts[n] + 1]))


def test_seek_equals_playing_from_the_start_forwards_and_backwards(
        pump_recording: Path) -> None:
    with open_recording(pump_recording) as rec:
        records = list(rec.iter_messages())
        times = [r.log_time_ns for r in records]
        rng = np.random.default_rng(7)
        targets = [rec.start_ns, rec.end_ns, rec.start_ns + 60 * S, rec.start_ns + 60 * S - 1,
                   rec.start_ns + 70 * S, rec.start_ns + 105 * S, rec.start_ns + 5 * S]
        targets += rng.integers(rec.start_ns, rec.end_ns + 1, 40).tolist()
        targets += sorted(targets, reverse=True)[:10]  # and backwards
        for t in targets:
            played = records[: int(np.searchsorted(times, t, side="right"))]
            sought = rec.seek_messages(t)
            assert type(sought[0]) is RecordedSnapshot
            assert sought[0].log_time_ns <= t
            assert t - sought[0].log_time_ns <= 5 * S, "a seek reads from the last keyframe"
            assert all(r.log_time_ns <= t for r in sought)
            assert full_state_of(state_after(sought)) == full_state_of(state_after(played))
            assert points_of(state_after(sought)) == points_of(state_from_updates(played))
        assert rec.seek_messages(rec.start_ns - 1) == []


def _rows(cols: ReadingColumns) -> dict[str, tuple]:
    """Point -> (value bits, quality, reason, t_source_ns)."""
    points, *columns_ = _bits(cols)
    return dict(zip(points, zip(*columns_, strict=True), strict=True))


_OPS = st.lists(st.tuples(
    st.sampled_from(["readings", "readings", "readings", "heartbeat", "silent", "back",
                     "restart", "resync", "wait"]),
    st.sampled_from(["plc-1", "plc-2", "rtu"]),
    st.integers(0, 2),  # which layout
    st.integers(1, 3_000),  # ms until the next operation
), min_size=1, max_size=60)
_LAYOUTS = [layout_of(["A/x", "A/y"]), layout_of(["A/y", "B/z"]), layout_of(["C/w"])]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_seek_equals_play_for_any_traffic(tmp_path_factory: pytest.TempPathFactory,
                                          ops: list[tuple[str, str, int, int]]) -> None:
    """Random traffic (restarts, silences, bus resyncs, quiet gaps) over short files and
    keyframes: at every operation's time a seek lands where playing from the start does, and
    both hold exactly the points a plain model of the rules expects."""
    out = tmp_path_factory.mktemp("ops")
    epochs = {"plc-1": 1, "plc-2": 1, "rtu": 1}
    seqs = dict.fromkeys(epochs, 0)
    model: dict[str, tuple[int, dict[str, tuple]]] = {}  # source -> (epoch, point -> row)
    alive: dict[str, bool] = {}
    expected: list[tuple[int, dict, dict]] = []
    t = T0_NS

    def touch(source: str, epoch: int) -> dict[str, tuple]:
        if source not in model or model[source][0] != epoch:  # a new epoch starts empty
            model[source] = (epoch, {})
        return model[source][1]

    with RecordingWriter(out, split_s=7.0, keyframe_s=2.0, flush_s=0.5,
                         clock=fixed_clock) as w:
        w.write_snapshot(t, "resync", [])  # the recorder joins the bus: a file exists
        for k, (op, source, which, wait_ms) in enumerate(ops):
            epoch, lay = epochs[source], _LAYOUTS[which]
            n = len(lay)
            if op == "restart":
                epochs[source], seqs[source] = epoch + 1, 0
            elif op == "heartbeat":
                seqs[source] += 1
                w.note_heartbeat(t, source, epoch, seqs[source], 100 * (which + 1))
                touch(source, epoch)
                alive[source] = True
            elif op == "readings":
                seqs[source] += 1
                cols = columns(lay, [k + i / 8 for i in range(n)], [which % 3] * n,
                               [k % 256] * n, [t] * n)
                w.write_readings(t, source, epoch, seqs[source], t, cols)
                touch(source, epoch).update(_rows(cols))
                alive[source] = True
            elif op in ("silent", "back"):
                w.write_source_state(t, source, epoch, op == "back", wait_ms)
                touch(source, epoch)
                alive[source] = op == "back"
            elif op == "resync":
                cols = columns(lay, [-1.0 - k] * n, [1] * n, [9] * n, [t] * n)
                w.write_snapshot(t, "resync", [SnapshotSource(source, epoch, seqs[source],
                                                              True, 1000, cols)])
                model[source] = (epoch, _rows(cols))
                alive[source] = True
            expected.append((t, {(src, p): row for src, (_, points) in model.items()
                                 for p, row in points.items()}, dict(alive)))
            t += wait_ms * 1_000_000
            w.tick(t)
    with open_recording(out) as rec:
        records = list(rec.iter_messages())
        for at, points, alive_at in expected:
            played = [r for r in records if r.log_time_ns <= at]
            sought = state_after(rec.seek_messages(at))
            assert full_state_of(sought) == full_state_of(state_after(played))
            assert points_of(sought) == points
            assert {src: st_.alive for src, st_ in sought.sources.items()} == alive_at


def test_messages_come_back_in_log_time_order_across_chunks(tmp_path: Path) -> None:
    """A late message (log time before ones already written) is read back in its place."""
    lay = layout_of(["P-1/a"])
    order = [0, 3, 1, 4, 2, 6, 5, 7]
    with RecordingWriter(tmp_path, flush_s=0.001, clock=fixed_clock) as w:
        for k, i in enumerate(order):
            w.write_readings(T0_NS + 1_000 + i * S // 100, "src", 1, k + 1, T0_NS,
                             columns(lay, [float(i)], [0], [0], [1]))
            w.tick(T0_NS + 1_000 + max(order[: k + 1]) * S // 100)  # a chunk per message
    (path,) = tmp_path.glob("*.mcap")
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None and len(summary.chunk_indexes) >= 4
    with open_recording(tmp_path) as rec:
        got = [r.columns.values[0] for r in rec.iter_messages() if type(r) is RecordedReadings]
        assert got == sorted(float(i) for i in order)
        assert [r.columns.values[0] for r in rec.seek_messages(T0_NS + 1_000 + 3 * S // 100)
                if type(r) is RecordedReadings] == [0.0, 1.0, 2.0, 3.0]


def test_a_file_without_message_indexes_still_seeks(pump_recording: Path,
                                                    tmp_path: Path) -> None:
    """Another tool may rewrite a recording with chunk indexes only: seeking then reads the
    chunks to find snapshots, and still lands in the same state."""
    source = sorted(pump_recording.glob("*.mcap"))[1]
    copy = tmp_path / source.name
    with open(source, "rb") as f, open(copy, "wb") as out:
        reader = make_reader(f)
        writer = Writer(out, index_types=IndexType.CHUNK, chunk_size=64 << 10)
        writer.start(profile=PROFILE, library="test")
        ids: dict[int, int] = {}
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            if channel.id not in ids:
                assert schema is not None
                sid = writer.register_schema(schema.name, schema.encoding, schema.data)
                ids[channel.id] = writer.register_channel(channel.topic,
                                                          channel.message_encoding, sid)
            writer.add_message(ids[channel.id], message.log_time, message.data,
                               message.publish_time)
        writer.finish()
    with open_recording(source) as rec, open_recording(copy) as other:
        assert other.channels() == rec.channels()
        for t in np.linspace(rec.start_ns, rec.end_ns, 7).astype(np.int64).tolist():
            assert full_state_of(state_after(other.seek_messages(t))) == full_state_of(
                state_after(rec.seek_messages(t)))


def test_a_quiet_bus_still_gets_keyframes_and_new_files_from_tick(tmp_path: Path) -> None:
    cols = columns(layout_of(["P-1/a"]), [4.25], [0], [0], [1])
    with RecordingWriter(tmp_path, split_s=10.0, keyframe_s=3.0, clock=fixed_clock) as w:
        w.write_readings(T0_NS, "src", 1, 1, T0_NS, cols)
        for k in range(1, 26):  # 25 s of nothing but ticks
            w.tick(T0_NS + k * S)
        with pytest.raises(ValueError, match="start"):
            w.write_snapshot(T0_NS + 26 * S, "start")
    assert len(w.files) == 3
    with open_recording(tmp_path) as rec:
        snaps = [r for r in rec.iter_messages() if type(r) is RecordedSnapshot]
    assert [(s.why, (s.log_time_ns - T0_NS) // S) for s in snaps] == [
        ("start", 0), ("keyframe", 3), ("keyframe", 6), ("keyframe", 9),
        ("start", 10), ("keyframe", 13), ("keyframe", 16), ("keyframe", 19),
        ("start", 20), ("keyframe", 23)]
    assert all(s.sources[0].readings == cols for s in snaps[1:])


def test_a_new_epoch_resets_the_sources_points(tmp_path: Path) -> None:
    a, b = layout_of(["P-1/a"]), layout_of(["P-1/b"])
    one = columns(a, [1.0], [0], [0], [1])
    with RecordingWriter(tmp_path, clock=fixed_clock) as w:
        w.write_readings(T0_NS, "src", 1, 1, T0_NS, one)
        w.write_readings(T0_NS + S, "src", 2, 1, T0_NS, columns(b, [2.0], [0], [0], [1]))
        w.write_snapshot(T0_NS + 2 * S, "keyframe")
    with open_recording(tmp_path) as rec:
        snap = rec.seek_messages(T0_NS + 2 * S)[0]
    assert snap.why == "keyframe"
    assert [(s.source, s.epoch, s.readings.points) for s in snap.sources] == [
        ("src", 2, ("P-1/b",))]


def test_resync_snapshot_from_the_bus_replaces_those_sources(tmp_path: Path) -> None:
    lay = layout_of(["P-1/a", "P-1/b"])
    bus = [SnapshotSource("src", 9, 40, True, 500, columns(lay, [1.0, 2.0], [0, 1], [0, 1],
                                                            [3, 4]))]
    with RecordingWriter(tmp_path, clock=fixed_clock) as w:
        w.write_snapshot(T0_NS, "resync", bus)  # the recorder's first act after joining
        w.write_snapshot(T0_NS + S, "resync", bus)
    with open_recording(tmp_path) as rec:
        snaps = list(rec.iter_messages())
    assert [s.why for s in snaps] == ["start", "resync"]
    assert all(s.sources == bus for s in snaps)


# -- torn files and repair ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    write_traffic(out, 30.0, flush_s=0.5, keyframe_s=2.0)
    (path,) = out.glob("*.mcap")
    return path


def _complete_chunks(path: Path) -> list[tuple[int, int]]:
    """(end offset, last log time) of each chunk, from the plain mcap reader's index."""
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None
    return [(ci.chunk_start_offset + ci.chunk_length, ci.message_end_time)
            for ci in sorted(summary.chunk_indexes, key=lambda c: c.chunk_start_offset)]


def test_a_truncated_file_opens_with_a_warning_and_keeps_every_complete_chunk(
        small_file: Path, tmp_path: Path) -> None:
    with open_recording(small_file) as rec:
        full = list(rec.iter_messages())
    size = small_file.stat().st_size
    chunks = _complete_chunks(small_file)
    cuts = [9, 200, chunks[0][0], chunks[0][0] + 7, chunks[len(chunks) // 2][0] - 5,
            chunks[-1][0], size - 30, size - 1]
    for cut in cuts:
        torn = tmp_path / f"cut-{cut}.mcap"
        torn.write_bytes(small_file.read_bytes()[:cut])
        complete_before = [end_ns for end_off, end_ns in chunks if end_off <= cut]
        if not complete_before:
            with pytest.raises(RecordingError, match=torn.name):
                open_recording(torn)
            continue
        with open_recording(torn) as rec:
            got = list(rec.iter_messages())
            (warning,) = rec.warnings
        assert torn.name in warning and "interrupted" in warning and "repair" in warning
        assert got == full[: len(got)], "a prefix of what was written, bit for bit"
        assert rec.end_ns == complete_before[-1]


def test_a_flipped_bit_stops_recovery_at_that_chunk(small_file: Path, tmp_path: Path) -> None:
    chunks = _complete_chunks(small_file)
    data = bytearray(small_file.read_bytes()[: chunks[-1][0]])  # torn: no summary
    middle = chunks[len(chunks) // 2][0] - 200  # inside a chunk's compressed bytes
    data[middle] ^= 0x10
    torn = tmp_path / "flipped.mcap"
    torn.write_bytes(bytes(data))
    with open_recording(torn) as rec:
        (warning,) = rec.warnings
        assert "damaged" in warning and "corrupt" in warning
        assert rec.end_ns < chunks[-1][1]
        list(rec.iter_messages())


def test_repair_rewrites_a_torn_file_with_an_index(small_file: Path, tmp_path: Path) -> None:
    torn = tmp_path / "rec-torn.mcap"
    original = small_file.read_bytes()[: small_file.stat().st_size * 2 // 3]
    torn.write_bytes(original)
    with open_recording(torn) as rec:
        recovered = list(rec.iter_messages())
    result = repair_recording(torn)
    assert result.repaired and result.messages_kept == len(recovered)
    assert result.bytes_dropped > 0 and "repaired" in result.describe()
    assert result.backup is not None and result.backup.read_bytes() == original
    with open(torn, "rb") as f:
        assert make_reader(f).get_summary() is not None
    with open_recording(torn) as rec:
        assert rec.warnings == []
        assert list(rec.iter_messages()) == recovered
    again = repair_recording(torn)
    assert not again.repaired and "already complete" in again.describe()


def test_a_file_being_recorded_reads_as_live_and_is_not_repaired(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, clock=fixed_clock)
    try:
        write_pump_station(writer, 5.0)
        with open_recording(tmp_path) as rec:
            (warning,) = rec.warnings
            assert "still being recorded" in warning and rec.channels()[TOPIC_READINGS] > 0
        assert writer.path is not None
        with pytest.raises(RecordingError, match="still being recorded"):
            repair_recording(writer.path)
    finally:
        writer.close()
    with open_recording(tmp_path) as rec:
        assert rec.warnings == []


def test_fields_the_reader_would_refuse_are_refused_when_written(tmp_path: Path) -> None:
    cols = columns(layout_of(["P-1/a"]), [1.0], [0], [0], [1])
    with RecordingWriter(tmp_path, clock=fixed_clock) as w:
        w.write_readings(T0_NS, "src", 1, 1, T0_NS, cols)
        for bad in [dict(epoch=0), dict(source="a b"), dict(seq=-1), dict(t_ns=1 << 63),
                    dict(log_time_ns=-5), dict(log_time_ns=1.5)]:
            args = dict(log_time_ns=T0_NS + 1, source="src", epoch=1, seq=2, t_ns=T0_NS) | bad
            with pytest.raises(WireError, match="not recorded"):
                w.write_readings(cols=cols, **args)
        with pytest.raises(WireError):
            w.write_source_state(T0_NS + 2, "src", 0, False, 10)
        with pytest.raises(WireError):
            w.write_ack(T0_NS + 3, Ack("id 1", "P-1/a", "confirmed", "", None))
        with pytest.raises(WireError):
            w.note_heartbeat(T0_NS + 3, "src", 1, 3, 70_000)
        w.write_readings(T0_NS + 4, "src", 1, 2, T0_NS, cols)
    with open_recording(tmp_path) as rec:
        assert [type(r).__name__ for r in rec.iter_messages()] == [
            "RecordedSnapshot", "RecordedReadings", "RecordedReadings"]


def test_repair_drops_a_damaged_chunk_of_a_complete_file(small_file: Path,
                                                         tmp_path: Path) -> None:
    chunks = _complete_chunks(small_file)
    data = bytearray(small_file.read_bytes())
    data[chunks[len(chunks) // 2][0] - 200] ^= 0x10  # inside a middle chunk's data
    damaged = tmp_path / "rec-damaged.mcap"
    damaged.write_bytes(bytes(data))
    with open_recording(small_file) as rec:
        full = list(rec.iter_messages())
    with open_recording(damaged) as rec:  # the index is intact: it opens
        with pytest.raises(RecordingError, match="corrupt.*repair"):
            list(rec.iter_messages())
    result = repair_recording(damaged)
    assert result.repaired and result.damaged_chunks == 1 and result.bytes_dropped > 0
    with open_recording(damaged) as rec:
        kept = list(rec.iter_messages())
    assert rec.warnings == [] and len(kept) == result.messages_kept
    assert 0 < len(full) - len(kept) < len(full) // 4
    assert all(r in full for r in kept[:: max(1, len(kept) // 50)])


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from runtime.bus.wire import columns, layout_of
from runtime.recording.writer import RecordingWriter
from tools.bench.recording_traffic import write_pump_station
lay = layout_of([f"P-{k}/value" for k in range(20)])
w = RecordingWriter(Path(sys.argv[1]), flush_s=1.0)
seq = 0
while True:
    seq += 1
    now = time.time_ns()
    w.write_readings(now, "plc", 1, seq, now, columns(lay, [float(seq)] * 20, [0] * 20,
                     [0] * 20, [now] * 20))
    w.tick(now)
    print(seq, now, flush=True)
    time.sleep(0.002)
"""


def test_kill_9_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """A writer killed mid-stream: what it had written up to its last flush is recovered.
    The bound is in log time: the last second, plus the longest pause between two writes
    (the child may be descheduled between them on a busy machine)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    assert proc.stdout is not None
    written: list[int] = []  # log times the child reported as written
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:  # until 2.5 s of log time were written
            written.append(int(line.split()[1]))
            if written[-1] - written[0] > 2_500_000_000 or time.monotonic() > deadline:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    *complete, _partial = proc.stdout.read().split("\n")  # a line cut by the kill is dropped
    written += [int(line.split()[1]) for line in complete]
    proc.wait(timeout=30)
    assert written[-1] - written[0] > 2_500_000_000, "the writer ran long enough"
    (path,) = tmp_path.glob("*.mcap")
    with open_recording(path) as rec:
        (warning,) = rec.warnings
        assert "interrupted" in warning
        readings = [r for r in rec.iter_messages() if type(r) is RecordedReadings]
    assert [r.seq for r in readings] == list(range(1, len(readings) + 1))
    longest_pause_ns = int(np.diff(written).max())
    assert readings[-1].log_time_ns >= written[-1] - 1_000_000_000 - longest_pause_ns, (
        "at most the last second is lost")
    assert readings[-1].columns.values[0] == float(readings[-1].seq)


# -- the doc -------------------------------------------------------------------------------------


def test_the_format_doc_lists_every_channel_and_schema() -> None:
    doc = (REPO_ROOT / "docs" / "recording-format.md").read_text()
    for spec in CHANNELS:
        assert f"`{spec.topic}`" in doc, spec.topic
        assert spec.schema_name in doc, spec.schema_name
        for field in spec.schema["properties"]:
            assert f"`{field}`" in doc, f"{spec.topic}: {field}"
