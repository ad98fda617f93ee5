"""Swinging-door compression keeps its error bound; quality changes are always kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.history.compress import MODE_ALL, MODE_DEADBAND, MODE_SWINGING, Compressor

BIG_GAP = 10**18


def _feed(mode: int, dev: float, t: np.ndarray, v: np.ndarray, q: np.ndarray | None = None,
          r: np.ndarray | None = None, chunks: int = 1, max_gap_ns: int = BIG_GAP):
    c = Compressor(2)
    c.configure(1, mode, dev, max_gap_ns)
    n = len(t)
    q = np.zeros(n, np.int64) if q is None else q
    r = np.zeros(n, np.int64) if r is None else r
    outs = []
    for idx in np.array_split(np.arange(n), chunks):
        outs.append(c.feed(np.ones(len(idx), np.int64), t[idx], v[idx], q[idx], r[idx]))
    outs.append(c.held())
    cols = [np.concatenate([o[i] for o in outs]) for i in range(5)]
    order = np.argsort(cols[1], kind="stable")
    return [col[order] for col in cols]


series_st = st.lists(
    st.tuples(st.integers(1, 5_000_000_000), st.floats(-1e3, 1e3, allow_nan=False)),
    min_size=2, max_size=300)


@settings(max_examples=200, deadline=None)
@given(series_st, st.floats(0.0, 50.0), st.integers(1, 4))
def test_swinging_door_error_bound(steps: list, dev: float, chunks: int) -> None:
    t = np.cumsum([s[0] for s in steps]).astype(np.int64)
    v = np.array([s[1] for s in steps])
    _slot, kt, kv, _q, _r = _feed(MODE_SWINGING, dev, t, v, chunks=min(chunks, len(t)))
    assert kt[0] == t[0] and kt[-1] == t[-1], "first and last readings are kept"
    assert np.all(np.diff(kt) > 0)
    interp = np.interp(t, kt, kv)
    err = np.abs(interp - v)
    tol = dev + 1e-9 * max(1.0, float(np.abs(v).max()))
    assert err.max() <= tol, f"error {err.max()} > dev {dev}"


def test_swinging_door_compresses_a_ramp_to_its_ends() -> None:
    t = np.arange(1000, dtype=np.int64) * 100_000_000
    v = 0.01 * np.arange(1000)
    _s, kt, _v, _q, _r = _feed(MODE_SWINGING, 0.001, t, v)
    assert kt.tolist() == [t[0], t[-1]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10, allow_nan=False), st.sampled_from([0, 1, 2])),
                min_size=1, max_size=200),
       st.sampled_from([MODE_ALL, MODE_DEADBAND, MODE_SWINGING]))
def test_every_quality_change_is_kept(rows: list, mode: int) -> None:
    n = len(rows)
    t = (np.arange(n, dtype=np.int64) + 1) * 1_000_000_000
    v = np.array([r[0] for r in rows])
    q = np.array([r[1] for r in rows], np.int64)
    _s, kt, _kv, kq, _kr = _feed(mode, 5.0, t, v, q=q, r=q.copy())
    changes = [int(t[i]) for i in range(n) if i == 0 or q[i] != q[i - 1]]
    assert set(changes) <= set(kt.tolist())
    # the stored quality steps are the same as the received ones
    stored_q = [int(x) for i, x in enumerate(kq) if i == 0 or kq[i] != kq[i - 1]]
    recv_q = [int(x) for i, x in enumerate(q) if i == 0 or q[i] != q[i - 1]]
    assert stored_q == recv_q


def test_deadband_keeps_only_moves_beyond_it() -> None:
    t = (np.arange(6, dtype=np.int64) + 1) * 1_000_000_000
    v = np.array([0.0, 0.4, 0.6, 1.2, 1.25, 0.0])
    _s, kt, kv, _q, _r = _feed(MODE_DEADBAND, 0.5, t, v)
    assert kv.tolist() == [0.0, 0.6, 1.2, 0.0]


def test_max_gap_forces_a_sample() -> None:
    t = (np.arange(100, dtype=np.int64) + 1) * 1_000_000_000
    v = np.full(100, 2.0)
    _s, kt, _v, _q, _r = _feed(MODE_SWINGING, 0.1, t, v, max_gap_ns=10_000_000_000)
    assert np.diff(kt).max() <= 10_000_000_000
