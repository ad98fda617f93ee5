"""The columnar last-value cache shared by the bus and the subscriber."""

from __future__ import annotations

import numpy as np

from runtime.bus.point_cache import PointCache
from runtime.bus.wire import Reading, ReadingColumns

T0 = 1_700_000_000_000_000_000


def _cols(points: list[str], value: float, quality: int = 0) -> ReadingColumns:
    return ReadingColumns.from_readings(
        [Reading(p, value + i, quality, 0, T0 + i) for i, p in enumerate(points)])


def test_batches_update_points_in_place_and_new_points_are_appended() -> None:
    cache = PointCache(capacity=2)
    cache.apply(_cols(["a/x", "b/x"], 1.0), seq=1)
    cache.apply(_cols(["c/x", "a/x", "d/x"], 10.0, quality=1), seq=2)  # grows past capacity
    assert cache.names == ["a/x", "b/x", "c/x", "d/x"]
    assert cache.get("a/x") == Reading("a/x", 11.0, 1, 0, T0 + 1)
    assert cache.get("b/x") == Reading("b/x", 2.0, 0, 0, T0 + 1)
    assert cache.get("nope") is None
    assert list(cache.seqs()) == [2, 1, 2, 2]
    cols = cache.columns(np.array([1, 3]))
    assert cols.points == ("b/x", "d/x") and list(cols.values) == [2.0, 12.0]
    cols.values[:] = 0.0  # a copy: the cache is unchanged
    assert cache.get("b/x").value == 2.0  # type: ignore[union-attr]


def test_same_layout_reuses_its_positions() -> None:
    cache = PointCache()
    first = _cols(["a/x", "b/x"], 1.0)
    cache.apply(first)
    again = ReadingColumns(first.layout, np.array([5.0, 6.0]), first.quality, first.reason,
                           first.t_source_ns)
    cache.apply(again, seq=9)
    assert [cache.get(p).value for p in ("a/x", "b/x")] == [5.0, 6.0]  # type: ignore[union-attr]
    assert len(cache._layouts) == 1


def test_drop_oldest_keeps_the_newest_points() -> None:
    cache = PointCache()
    cache.apply(_cols([f"p/{i}" for i in range(10)], 0.0), seq=3)
    cache.drop_oldest(4)
    assert cache.names == [f"p/{i}" for i in range(4, 10)]
    assert cache.get("p/0") is None and cache.get("p/4").value == 4.0  # type: ignore[union-attr]
    cache.apply(_cols(["p/0"], 7.0))  # still usable after compaction
    assert len(cache) == 7 and cache.get("p/0").value == 7.0  # type: ignore[union-attr]


def test_joined_messages_match_a_plain_model_across_memo_clears(monkeypatch) -> None:  # noqa: ANN001
    """Coalesced (list-form) batches of random device sets in random orders, mixed with plain
    ones, over a memo budget small enough to start over many times: every point holds what
    the last batch naming it said, with that batch's seq."""
    import random

    from runtime.bus import point_cache
    from runtime.bus.wire import composite_layout, layout_of

    monkeypatch.setattr(point_cache, "MAX_LAYOUT_ENTRIES", 40)
    rng = random.Random(7)
    devices = [layout_of([f"D{d}/p{k}" for k in range(rng.randint(1, 6))]) for d in range(12)]
    cache = PointCache(capacity=4)
    model: dict[str, tuple[float, int, int]] = {}
    for seq in range(1, 400):
        chosen = rng.sample(devices, rng.randint(1, 6))
        layout = composite_layout(chosen)
        n = len(layout)
        values = np.array([rng.uniform(-1e3, 1e3) for _ in range(n)])
        quality = np.array([rng.randint(0, 2) for _ in range(n)], np.uint8)
        times = np.full(n, T0 + seq, np.int64)
        cache.apply(ReadingColumns(layout, values, quality, np.zeros(n, np.uint8), times),
                    seq=seq)
        for name, v, q in zip(layout.names, values.tolist(), quality.tolist(), strict=True):
            model[name] = (v, q, seq)
    assert sorted(cache.names) == sorted(model)
    seqs = cache.seqs()
    for name, (v, q, seq) in model.items():
        got = cache.get(name)
        assert got is not None and (got.value, got.quality, got.t_source_ns) == (v, q, T0 + seq)
        assert seqs[cache.index[name]] == seq
