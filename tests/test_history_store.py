"""One suite, both stores: the embedded SQLite store and PostgreSQL pass the same tests."""

from __future__ import annotations

import history_fixtures
import numpy as np
import pytest
from history_fixtures import T0_NS, series, write_all

from runtime.history.batch import MINUTE_NS, Samples, rollup
from runtime.history.errors import QueryError
from runtime.history.policy import DAY_NS
from runtime.history.query import HistoryQuery
from runtime.history.store import Store

MIN = MINUTE_NS
pg_url = history_fixtures.pg_url
any_store = history_fixtures.any_store


def _ids(store: Store, *names: str) -> list[int]:
    ids = store.point_ids(list(names), {n: "m" for n in names})
    return [ids[n] for n in names]


def test_raw_round_trip_with_current_row(any_store: Store) -> None:
    (a,) = _ids(any_store, "LT-102/level_m")
    s = series(a, 500)
    s.quality[100:110] = 2
    s.reason[100:110] = 2
    s.value[100:110] = np.nan
    kept = s.take(np.arange(0, 499))  # the last reading only as the current row
    any_store.write(kept, s.latest_per_point(), rollup(s))
    back = any_store.read_raw(a, 0, 2**62, 10_000)
    assert np.array_equal(back.t_ns, s.t_ns)
    assert np.array_equal(back.quality, s.quality)
    good = s.quality == 0
    assert np.allclose(back.value[good], s.value[good])
    assert np.isnan(back.value[100:110]).all()
    assert any_store.points()["LT-102/level_m"] == (a, "m")


def test_raw_limit_and_range_bounds(any_store: Store) -> None:
    (a,) = _ids(any_store, "P-101/speed_rpm")
    write_all(any_store, series(a, 300))
    back = any_store.read_raw(a, T0_NS + 10 * 10**9, T0_NS + 20 * 10**9, 1000)
    assert back.t_ns[0] == T0_NS + 10 * 10**9 and back.t_ns[-1] == T0_NS + 20 * 10**9
    assert len(any_store.read_raw(a, T0_NS, 2**62, 7)) == 7


def test_value_at_time(any_store: Store) -> None:
    (a,) = _ids(any_store, "FT-101/flow_m3_h")
    s = series(a, 100)
    write_all(any_store, s)
    got = any_store.read_at(a, int(s.t_ns[40]) + 500_000_000)
    assert got.t_ns.tolist() == [int(s.t_ns[40])]
    assert got.value[0] == pytest.approx(s.value[40])
    assert len(any_store.read_at(a, T0_NS - 1)) == 0


def test_promote_current_keeps_what_was_held(any_store: Store) -> None:
    (a,) = _ids(any_store, "LT-101/level_m")
    s = series(a, 10)
    any_store.write(s.take(np.arange(5)), s.latest_per_point(), rollup(s))
    assert any_store.promote_current() >= 1
    raw = any_store.read_raw(a, 0, 2**62, 100)
    assert int(s.t_ns[-1]) in raw.t_ns.tolist()
    any_store.promote_current()  # twice is harmless
    assert len(any_store.read_raw(a, 0, 2**62, 100)) == len(raw)


def test_rewritten_batch_is_not_duplicated(any_store: Store) -> None:
    (a,) = _ids(any_store, "PT-101/pressure_kpa")
    s = series(a, 50)
    any_store.write(s, s.latest_per_point(), rollup(Samples.empty()))
    any_store.write(s, s.latest_per_point(), rollup(Samples.empty()))
    assert len(any_store.read_raw(a, 0, 2**62, 1000)) == 50


def _reference(t: np.ndarray, v: np.ndarray, good: np.ndarray, every: int) -> dict:
    """Per bucket start: (min, max, mean, last, n, bad) computed bucket by bucket."""
    out = {}
    starts = np.unique(t // every * every)
    for b in starts:
        m = (t >= b) & (t < b + every)
        g = m & good
        vals = v[g]
        out[int(b)] = (vals.min() if len(vals) else np.nan, vals.max() if len(vals) else np.nan,
                       vals.mean() if len(vals) else np.nan, vals[-1] if len(vals) else np.nan,
                       int(g.sum()), int((m & ~good).sum()))
    return out


@pytest.mark.parametrize("every_ns", [10_000_000_000, MIN, 15 * MIN])
def test_aggregates_match_numpy(any_store: Store, every_ns: int) -> None:
    (a,) = _ids(any_store, "LT-102/level_m")
    s = series(a, 5000, step_ns=700_000_000, seed=3, t0_ns=T0_NS + 12_345_678_901)
    s.quality[1000:1200] = 2
    # written in several commits, so minutes are merged across transactions
    for lo in range(0, 5000, 777):
        part = s.take(np.arange(lo, min(lo + 777, 5000)))
        write_all(any_store, part)
    q = HistoryQuery(any_store)
    from_ns, to_ns = int(s.t_ns[0]), int(s.t_ns[-1]) + 1
    every, res = q.aggregate(["LT-102/level_m"], from_ns, to_ns, every_ns)
    agg = res["LT-102/level_m"]
    ref = _reference(s.t_ns, s.value, s.quality < 2, every_ns)
    assert every == every_ns
    assert sorted(ref) == agg.t_ns.tolist()
    for i, b in enumerate(agg.t_ns.tolist()):
        mn, mx, mean, last, n, bad = ref[b]
        assert agg.n[i] == n and agg.bad_n[i] == bad
        np.testing.assert_allclose([agg.vmin[i], agg.vmax[i], agg.avg[i], agg.last[i]],
                                   [mn, mx, mean, last], rtol=1e-12, equal_nan=True)


def test_seven_days_to_a_thousand_buckets(any_store: Store) -> None:
    (a,) = _ids(any_store, "T-102/level_m")
    n = 7 * 24 * 60  # one reading a minute for 7 days
    s = series(a, n, step_ns=MIN, seed=1)
    write_all(any_store, s)
    every, res = HistoryQuery(any_store).aggregate(["T-102/level_m"], int(s.t_ns[0]),
                                                   int(s.t_ns[-1]) + 1)
    assert (int(s.t_ns[-1]) - int(s.t_ns[0])) / every <= 1000
    assert res["T-102/level_m"].n.sum() == n


def test_retention_drops_old_raw_keeps_aggregates(any_store: Store) -> None:
    (a,) = _ids(any_store, "LT-102/level_m")
    s = series(a, 3 * 24 * 60, step_ns=MIN, t0_ns=(T0_NS // DAY_NS) * DAY_NS)
    write_all(any_store, s)
    cut = int(s.t_ns[0]) + 2 * DAY_NS
    assert any_store.retain(cut, 0) > 0
    raw = any_store.read_raw(a, 0, 2**62, 10**6)
    assert raw.t_ns.min() == cut  # cut is a day boundary: both engines drop exactly
    assert len(any_store.read_rollup(a, 0, 2**62)) == len(s)
    any_store.retain(cut, cut)
    assert any_store.read_rollup(a, 0, 2**62).bucket_ns.min() >= cut


def test_query_mistakes_are_named(any_store: Store) -> None:
    _ids(any_store, "LT-102/level_m")
    q = HistoryQuery(any_store)
    with pytest.raises(QueryError, match="unknown point LT-999/level_m"):
        q.raw(["LT-999/level_m"], 0, 10)
    with pytest.raises(QueryError, match="reversed"):
        q.aggregate(["LT-102/level_m"], 10, 0)
    with pytest.raises(QueryError, match="buckets"):
        q.aggregate(["LT-102/level_m"], 0, 10**15, 1_000_000)
    with pytest.raises(QueryError, match="fewer points"):
        q.aggregate(["LT-102/level_m"] * 2, 0, 8000 * MIN, MIN)


def test_size_is_reported(any_store: Store) -> None:
    (a,) = _ids(any_store, "LT-102/level_m")
    before = any_store.size_bytes()
    write_all(any_store, series(a, 20_000))
    assert any_store.size_bytes() > before
