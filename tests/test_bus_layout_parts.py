"""The list form of a readings body's points (one string per coalesced device batch) at every
receiver: the bus's cache, subscribers with and without a glob, the world writer, the recorder's
encoder; mixed with the string form on one stream, whichever devices a message combines."""

from __future__ import annotations

import numpy as np
from bus_fixtures import running_bus, wait_until
from conftest import PUMP_STATION

from runtime.bus.point_cache import PointCache
from runtime.bus.publisher import Publisher
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import (
    CompositeLayout,
    PointLayout,
    ReadingColumns,
    columns,
    composite_layout,
    layout_of,
)
from runtime.recording.decode import decode_message
from runtime.recording.encode import MessageEncoder
from runtime.recording.schemas import TOPIC_READINGS
from runtime.scene import load_devices, load_scene
from runtime.sources.world_writer import WorldWriter
from runtime.world import build_world

T0 = 1_700_000_000_000_000_000
DEVICES = [layout_of([f"D{d}/p{k}" for k in range(d + 1)]) for d in range(6)]
"""Device d has d + 1 points."""


def _cols(layout: PointLayout, base: float) -> ReadingColumns:
    n = len(layout)
    return columns(layout, [base + i for i in range(n)], [i % 3 for i in range(n)],
                   [i % 5 for i in range(n)], [T0 + i for i in range(n)])


def _expected(messages: list[ReadingColumns]) -> dict[str, tuple]:
    last: dict[str, tuple] = {}
    for cols in messages:
        for r in cols.readings():
            last[r.point] = r[1:]
    return last


COMBOS = [[0, 1], [2], [3, 0, 5], [1, 4], [5, 4, 3, 2, 1, 0], [2, 0]]


def _messages(round_: int) -> list[ReadingColumns]:
    """Combinations of devices in varying order, every third one in the string form."""
    out = []
    for i, combo in enumerate(COMBOS):
        parts = [DEVICES[d] for d in combo]
        layout = composite_layout(parts) if i % 3 else layout_of(
            [n for p in parts for n in p.names])
        out.append(_cols(layout, 100.0 * round_ + 10 * i))
    return out


def test_point_cache_joins_part_positions() -> None:
    cache = PointCache(capacity=2)
    sent = []
    for round_ in range(2):
        for cols in _messages(round_):
            assert cache.new_points(cols.layout) == sum(
                p not in cache for p in cols.layout.names)
            cache.apply(cols, seq=round_)
            sent.append(cols)
            assert cache.knows(cols.layout)
    for point, row in _expected(sent).items():
        assert cache.get(point)[1:] == row  # type: ignore[index]
    assert len(cache) == sum(map(len, DEVICES))
    # parts seen first together are stored side by side: one slice for the whole message
    fresh = PointCache()
    whole = composite_layout(DEVICES[:3])
    fresh.apply(_cols(whole, 1.0))
    assert fresh._joined(whole.parts) == slice(0, 6)


def test_every_receiver_sees_both_forms_alike() -> None:
    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    known = [layout_of(["P-101/speed_rpm"]), layout_of(["M-101/temperature_degc"])]
    with running_bus() as bus:
        sub = Subscriber(bus.endpoints)
        glob = Subscriber(bus.endpoints, match="D[13]/*")
        pub = Publisher(bus.endpoints, "coalesced")
        writer = WorldWriter(world)
        got: list = []
        globbed: list = []
        try:
            # PUB drops what it sends before its connection is up: publish only once the
            # publisher's heartbeat has come through the bus to the subscriber.
            wait_until(lambda: sub.synced and glob.synced and "coalesced" in sub.liveness(),
                       timeout_s=10,
                       between=lambda: (pub.heartbeat(), sub.poll_blocks(), glob.poll_blocks()))
            sent: list[ReadingColumns] = []
            for round_ in range(3):
                for cols in _messages(round_):
                    pub.publish_columns(cols.layout, cols.values, cols.quality, cols.reason,
                                        cols.t_source_ns)
                    sent.append(cols)
                # world points in two parts, with an unknown device between them
                world_cols = _cols(composite_layout([known[0], DEVICES[0], known[1]]),
                                   1000.0 + round_)
                pub.publish_columns(world_cols.layout, world_cols.values, world_cols.quality,
                                    world_cols.reason, world_cols.t_source_ns)
                sent.append(world_cols)
            total = sum(map(len, sent))
            wait_until(lambda: sum(len(b.columns) for b in got) >= total, timeout_s=10,
                       between=lambda: got.extend(sub.poll_blocks()))
            matching = sum(n[:2] in ("D1", "D3") for c in sent for n in c.points)
            wait_until(lambda: sum(len(b.columns) for b in globbed) >= matching, timeout_s=10,
                       between=lambda: globbed.extend(glob.poll_blocks()))
            # The subscriber: every message as sent, in order, with the parts kept.
            assert [b.columns for b in got] == sent
            assert any(type(b.columns.layout) is CompositeLayout for b in got)
            # The glob: only D1's and D3's points, with their last values.
            seen = {n for b in globbed for n in b.columns.points}
            assert seen == {n for d in (1, 3) for n in DEVICES[d].names}
            assert _expected([b.columns for b in globbed]) == {
                p: row for p, row in _expected(sent).items() if p[:2] in ("D1", "D3")}
            # The world writer: the two scene points of each world message, none of D0's.
            for b in got:
                writer.write(b.columns, 1, b.seq)
            assert world.state.value[world.point_column["P-101/speed_rpm"]] == 1002.0
            assert world.state.value[world.point_column["M-101/temperature_degc"]] == 1004.0
            assert writer.unknown == sum(len(c) for c in sent) - 2 * 3
            # The bus's cache, through a late joiner's snapshot.
            late = Subscriber(bus.endpoints)
            snap: list = []
            wait_until(lambda: late.synced and snap, timeout_s=10,
                       between=lambda: snap.extend(late.poll_blocks()))
            assert _expected([b.columns for b in snap]) == _expected(sent)
            late.close()
        finally:
            pub.close()
            sub.close()
            glob.close()


def test_recorder_writes_the_list_form_as_the_string_form() -> None:
    encoder = MessageEncoder()
    parts = [DEVICES[2], DEVICES[0], DEVICES[4]]
    listed = _cols(composite_layout(parts), 5.0)
    joined = _cols(layout_of([n for p in parts for n in p.names]), 5.0)
    a = encoder.readings("s", 1, 2, T0, listed)
    b = MessageEncoder().readings("s", 1, 2, T0, joined)
    assert a == b
    record = decode_message(TOPIC_READINGS, T0, a)
    assert record.columns == joined and np.array_equal(record.columns.values, listed.values)


def test_historian_stores_list_form_readings(tmp_path) -> None:  # noqa: ANN001
    from runtime.history.ingest import Historian
    from runtime.history.policy import HistoryConfig
    from runtime.history.store import open_store

    with running_bus() as bus:
        sub = Subscriber(bus.endpoints)
        pub = Publisher(bus.endpoints, "coalesced")
        hist = Historian(sub, open_store(tmp_path / "hist"), HistoryConfig(), commit_every_s=0.05)
        try:
            # Publish only once the publisher's heartbeat came through (PUB drops before).
            wait_until(lambda: sub.synced and "coalesced" in sub.liveness(), timeout_s=30,
                       between=lambda: (pub.heartbeat(), hist.run_once()))
            sent = _messages(0) + _messages(1)
            for cols in sent:
                pub.publish_columns(cols.layout, cols.values, cols.quality, cols.reason,
                                    cols.t_source_ns)
            total = sum(map(len, sent))
            wait_until(lambda: hist.counts.received >= total, timeout_s=30,
                       between=hist.run_once)
            hist.flush(final=True)
        finally:
            pub.close()
            sub.close()
            hist.close()
    store = open_store(tmp_path / "hist", create=False)
    try:
        stored = store.points()
        assert set(stored) == {n for d in DEVICES for n in d.names}
        by_point: dict[str, set] = {}
        for cols in sent:
            for r in cols.readings():
                by_point.setdefault(r.point, set()).add((r.value, r.t_source_ns))
        for point, pairs in by_point.items():  # what is kept (compressed) is what was sent
            raw = store.read_raw(stored[point][0], 0, 2 * T0, 100)
            kept = set(zip(raw.value.tolist(), raw.t_ns.tolist(), strict=True))
            assert kept and kept <= pairs, point
    finally:
        store.close()
