"""The server store: PostgreSQL (psycopg 3), for sites that outgrow one machine.

Samples live in a table partitioned by time (native declarative range partitions, one per UTC
day of ``t_ns``), created as data arrives; retention drops whole partitions, which costs
nothing like a DELETE. Ingest is binary COPY into a temporary staging table, then one
INSERT ... ON CONFLICT into the partitioned table, all in one transaction: a batch is stored
when the COMMIT returns. One-minute aggregates sit in their own table, kept longer.
"""

from __future__ import annotations

import numpy as np
import psycopg

from runtime.history.batch import MINUTE_NS, Rollup, Samples
from runtime.history.errors import StoreUnavailableError

DAY_NS = 86_400_000_000_000
CONNECT_TIMEOUT_S = 5

SCHEMA = """
create table if not exists points(id serial primary key, name text unique not null,
                                  unit text not null default '');
create table if not exists samples(point_id integer not null, t_ns bigint not null,
    value double precision, quality smallint not null, reason smallint not null,
    primary key(point_id, t_ns)) partition by range (t_ns);
create table if not exists current(point_id integer primary key, t_ns bigint not null,
    value double precision, quality smallint not null, reason smallint not null);
create table if not exists agg_1m(point_id integer not null, bucket_ns bigint not null,
    vmin double precision, vmax double precision, vsum double precision, n bigint,
    vlast double precision, tlast bigint, bad_n bigint, primary key(point_id, bucket_ns));
"""

_SAMPLE_DTYPE = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("pid", ">i4"), ("l2", ">i4"),
                          ("t", ">i8"), ("l3", ">i4"), ("v", ">f8"), ("l4", ">i4"),
                          ("q", ">i2"), ("l5", ">i4"), ("r", ">i2")])
_AGG_DTYPE = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("pid", ">i4"), ("l2", ">i4"),
                       ("b", ">i8"), ("l3", ">i4"), ("mn", ">f8"), ("l4", ">i4"),
                       ("mx", ">f8"), ("l5", ">i4"), ("s", ">f8"), ("l6", ">i4"), ("n", ">i8"),
                       ("l7", ">i4"), ("last", ">f8"), ("l8", ">i4"), ("tl", ">i8"),
                       ("l9", ">i4"), ("bad", ">i8")])
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_TRAILER = b"\xff\xff"


def _copy_samples(s: Samples) -> bytes:
    a = np.empty(len(s), _SAMPLE_DTYPE)
    a["nf"] = 5
    a["l1"], a["l2"], a["l3"], a["l4"], a["l5"] = 4, 8, 8, 2, 2
    a["pid"], a["t"], a["v"], a["q"], a["r"] = (s.point_id, s.t_ns, s.value, s.quality,
                                                 s.reason)
    return _HEADER + a.tobytes() + _TRAILER


def _copy_agg(g: Rollup) -> bytes:
    a = np.empty(len(g), _AGG_DTYPE)
    a["nf"] = 9
    a["l1"] = 4
    for f in ("l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"):
        a[f] = 8
    a["pid"], a["b"], a["mn"], a["mx"], a["s"] = g.point_id, g.bucket_ns, g.vmin, g.vmax, g.vsum
    a["n"], a["last"], a["tl"], a["bad"] = g.n, np.nan_to_num(g.vlast), g.tlast, g.bad_n
    return _HEADER + a.tobytes() + _TRAILER


class PostgresStore:
    """One connection; reconnects on the next call after the server went away."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: psycopg.Connection | None = None
        self._days: set[int] = set()
        self._connect()

    def _connect(self) -> psycopg.Connection:
        if self._db is not None and not self._db.closed and not self._db.broken:
            return self._db
        try:
            self._db = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S,
                                       autocommit=False)
            with self._db.transaction():
                self._db.execute("select pg_advisory_xact_lock(7613)")  # one schema creator
                self._db.execute(SCHEMA)
        except psycopg.Error as exc:
            self._db = None
            raise StoreUnavailableError(f"cannot reach PostgreSQL at {_safe(self.url)}: "
                                   f"{_first_line(exc)}") from None
        self._days = set()
        return self._db

    def _fail(self, exc: Exception) -> StoreUnavailableError:
        if self._db is not None:
            try:
                self._db.close()
            except psycopg.Error:
                pass
            self._db = None
        return StoreUnavailableError(f"PostgreSQL at {_safe(self.url)}: {_first_line(exc)}")

    # -- points ---------------------------------------------------------------------------

    def points(self) -> dict[str, tuple[int, str]]:
        rows = self._q("select name, id, unit from points", ())
        return {name: (pid, unit) for name, pid, unit in rows}

    def point_ids(self, names: list[str], units: dict[str, str] | None = None
                  ) -> dict[str, int]:
        known = self.points()
        missing = [n for n in names if n not in known]
        if missing:
            db = self._connect()
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.executemany("insert into points(name, unit) values(%s, %s) "
                                    "on conflict (name) do nothing",
                                    [(n, (units or {}).get(n, "")) for n in missing])
            except psycopg.Error as exc:
                raise self._fail(exc) from None
            known = self.points()
        return {n: known[n][0] for n in names}

    # -- writing --------------------------------------------------------------------------

    def _ensure_days(self, db: psycopg.Connection, t_ns: np.ndarray) -> None:
        if not len(t_ns):
            return
        days = set(np.unique(t_ns // DAY_NS).tolist()) - self._days
        for d in sorted(days):
            db.execute(f"create table if not exists samples_d{d} partition of samples "
                       f"for values from ({d * DAY_NS}) to ({(d + 1) * DAY_NS})")
        self._days |= days

    def write(self, samples: Samples, current: Samples, agg: Rollup) -> None:
        db = self._connect()
        try:
            with db.transaction(), db.cursor() as cur:
                self._ensure_days(db, samples.t_ns)
                if len(samples):
                    self._copy_samples(db, cur, _copy_samples(samples))
                if len(current):
                    cur.execute(
                        "insert into current select * from unnest(%s::integer[], %s::bigint[], "
                        "%s::double precision[], %s::smallint[], %s::smallint[]) "
                        "on conflict (point_id) do update set t_ns = excluded.t_ns, "
                        "value = excluded.value, quality = excluded.quality, "
                        "reason = excluded.reason",
                        (current.point_id.tolist(), current.t_ns.tolist(),
                         current.value.tolist(), current.quality.tolist(),
                         current.reason.tolist()))
                if len(agg):
                    cur.execute("create temp table if not exists stage_agg (like agg_1m) "
                                "on commit delete rows")
                    with cur.copy("copy stage_agg from stdin (format binary)") as cp:
                        cp.write(_copy_agg(agg))
                    cur.execute(
                        "insert into agg_1m as a select * from stage_agg "
                        "on conflict (point_id, bucket_ns) do update set "
                        "vmin = least(a.vmin, excluded.vmin), "
                        "vmax = greatest(a.vmax, excluded.vmax), vsum = a.vsum + excluded.vsum, "
                        "n = a.n + excluded.n, bad_n = a.bad_n + excluded.bad_n, "
                        "vlast = case when excluded.tlast >= a.tlast then excluded.vlast "
                        "else a.vlast end, tlast = greatest(a.tlast, excluded.tlast)")
        except psycopg.Error as exc:
            self._days = set()
            raise self._fail(exc) from None

    @staticmethod
    def _copy_samples(db: psycopg.Connection, cur: psycopg.Cursor, data: bytes) -> None:
        """COPY straight into the partitioned table; if a row is already there (a batch
        written again after a restart), through a staging table with ON CONFLICT instead."""
        try:
            with db.transaction():
                with cur.copy("copy samples from stdin (format binary)") as cp:
                    cp.write(data)
            return
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute("create temp table if not exists stage (like samples) "
                    "on commit delete rows")
        with cur.copy("copy stage from stdin (format binary)") as cp:
            cp.write(data)
        cur.execute("insert into samples select * from stage on conflict do nothing")

    def promote_current(self) -> int:
        db = self._connect()
        try:
            with db.transaction(), db.cursor() as cur:
                rows = cur.execute("select t_ns from current").fetchall()
                self._ensure_days(db, np.array([r[0] for r in rows], np.int64))
                cur.execute("insert into samples select * from current on conflict do nothing")
                return max(0, cur.rowcount)
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def retain(self, raw_before_ns: int, agg_before_ns: int) -> int:
        db = self._connect()
        dropped = 0
        try:
            with db.transaction():
                rows = db.execute("select c.relname from pg_inherits i join pg_class c on "
                                  "c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent "
                                  "where p.relname = 'samples'").fetchall()
                for (name,) in rows:
                    day = int(name.removeprefix("samples_d"))
                    if (day + 1) * DAY_NS <= raw_before_ns:
                        db.execute(f"drop table {name}")
                        self._days.discard(day)
                        dropped += 1
                cur = db.execute("delete from agg_1m where bucket_ns < %s", (agg_before_ns,))
                dropped += max(0, cur.rowcount)
        except psycopg.Error as exc:
            raise self._fail(exc) from None
        return dropped

    # -- reading --------------------------------------------------------------------------

    def _q(self, sql: str, args: tuple) -> list:
        db = self._connect()
        try:
            with db.transaction():
                return db.execute(sql, args).fetchall()
        except psycopg.Error as exc:
            raise self._fail(exc) from None

    def read_raw(self, point_id: int, from_ns: int, to_ns: int, limit: int) -> Samples:
        rows = self._q("select point_id, t_ns, value, quality, reason from samples where "
                       "point_id = %s and t_ns between %s and %s order by t_ns limit %s",
                       (point_id, from_ns, to_ns, limit))
        if len(rows) < limit:
            cur = self._q("select point_id, t_ns, value, quality, reason from current where "
                          "point_id = %s and t_ns between %s and %s",
                          (point_id, from_ns, to_ns))
            if cur and (not rows or cur[0][1] > rows[-1][1]):
                rows.append(cur[0])
        return _samples(rows)

    def read_at(self, point_id: int, t_ns: int) -> Samples:
        rows = self._q("select point_id, t_ns, value, quality, reason from samples where "
                       "point_id = %s and t_ns <= %s order by t_ns desc limit 1",
                       (point_id, t_ns))
        cur = self._q("select point_id, t_ns, value, quality, reason from current where "
                      "point_id = %s and t_ns <= %s", (point_id, t_ns))
        if cur and (not rows or cur[0][1] > rows[0][1]):
            rows = cur
        return _samples(rows)

    def read_rollup(self, point_id: int, from_ns: int, to_ns: int,
                    bucket_ns: int = MINUTE_NS) -> Rollup:
        from runtime.history.store_sqlite import _rollup

        rows = self._q("select point_id, (bucket_ns / %s) * %s as b, min(vmin), max(vmax), "
                       "sum(vsum), sum(n)::bigint, (array_agg(vlast order by tlast desc))[1], "
                       "max(tlast), sum(bad_n)::bigint from agg_1m where point_id = %s and "
                       "bucket_ns >= %s and bucket_ns < %s group by point_id, b order by b",
                       (bucket_ns, bucket_ns, point_id, from_ns, to_ns))
        return _rollup(rows)

    def size_bytes(self) -> int:
        rows = self._q("select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c "
                       "where c.relkind = 'r' and (c.relname like 'samples_d%%' or c.relname "
                       "in ('points', 'current', 'agg_1m'))", ())
        return int(rows[0][0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _samples(rows: list) -> Samples:
    from runtime.history.store_sqlite import _samples as build

    return build(rows)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        d = conninfo_to_dict(url)
        return f"{d.get('host', 'localhost')}:{d.get('port', 5432)}/{d.get('dbname', '')}"
    except psycopg.Error:
        return "the given URL"
