"""History test helpers: a throwaway PostgreSQL cluster and a store of each engine.

Import explicitly (``from history_fixtures import ...``). PostgreSQL tests skip only when the
server binaries are absent (``.ci/run`` installs them, so CI always runs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from runtime.history.batch import Samples, rollup
from runtime.history.pg_cluster import PgCluster, server_bin
from runtime.history.store import Store, open_store

NO_PG = "PostgreSQL server binaries not installed (apt-get install postgresql; .ci/run does)"
T0_NS = 1_790_000_000_000_000_000
"""2026-09-21: a fixed start for synthetic series."""


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session (one initdb), on a unix socket."""
    if server_bin() is None:
        pytest.skip(NO_PG)
    cluster = PgCluster()
    try:
        yield cluster.start()
    finally:
        cluster.destroy()


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A cluster of the test's own (tests that stop and start the server)."""
    if server_bin() is None:
        pytest.skip(NO_PG)
    cluster = PgCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


_DB_SEQ = [0]


def fresh_pg_database(url: str) -> str:
    """A new empty database in the session's server; its URL."""
    import psycopg

    _DB_SEQ[0] += 1
    name = f"t{_DB_SEQ[0]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"drop database if exists {name}")
        db.execute(f"create database {name}")
    return url.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["embedded", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The embedded store and the PostgreSQL store: one suite, both engines."""
    if request.param == "embedded":
        url = str(tmp_path / "history")
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_url"))
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def write_all(store: Store, s: Samples) -> None:
    """Store every reading of ``s`` as a sample, with its aggregates and current rows."""
    store.write(s, s.latest_per_point(), rollup(s))


def series(point_id: int, n: int, step_ns: int = 1_000_000_000, seed: int = 0,
           t0_ns: int = T0_NS) -> Samples:
    rng = np.random.default_rng(seed)
    t = t0_ns + np.arange(n, dtype=np.int64) * step_ns
    v = np.cumsum(rng.normal(0, 0.1, n)) + 3.0
    q = np.zeros(n, np.int64)
    return Samples(np.full(n, point_id, np.int64), t, v, q, np.zeros(n, np.int64))
