"""The embedded store: one SQLite database in WAL mode under ``out/history/``.

Chosen by measurement over DuckDB (docs/history.md): SQLite ingests ~350,000 readings/s here
with a (point, time) primary key, which meets the target; it is in the standard library; and in
WAL mode other processes read while the historian writes (``twinstage history --store
out/history``), which DuckDB's single-writer file lock refuses. ``synchronous=NORMAL`` in WAL:
a committed batch survives a crash of the historian (kill -9); a power cut may lose the last
commits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from runtime.history.batch import MINUTE_NS, Rollup, Samples
from runtime.history.errors import StoreUnavailableError

FILE_NAME = "history.sqlite"

SCHEMA = """
create table if not exists points(id integer primary key, name text unique not null,
                                  unit text not null default '');
create table if not exists samples(point_id integer not null, t_ns integer not null,
    value real, quality integer not null, reason integer not null,
    primary key(point_id, t_ns)) without rowid;
create table if not exists current(point_id integer primary key, t_ns integer not null,
    value real, quality integer not null, reason integer not null);
create table if not exists agg_1m(point_id integer not null, bucket_ns integer not null,
    vmin real, vmax real, vsum real, n integer, vlast real, tlast integer, bad_n integer,
    primary key(point_id, bucket_ns)) without rowid;
"""

_AGG_UPSERT = """
insert into agg_1m values(?,?,?,?,?,?,?,?,?)
on conflict(point_id, bucket_ns) do update set
  vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax),
  vsum = vsum + excluded.vsum, n = n + excluded.n, bad_n = bad_n + excluded.bad_n,
  vlast = case when excluded.tlast >= tlast then excluded.vlast else vlast end,
  tlast = max(tlast, excluded.tlast)
"""


class SqliteStore:
    """SQLite in WAL mode; one instance per thread."""

    def __init__(self, folder: Path, *, create: bool = True) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME
        self.url = str(folder)
        if not create and not self.path.exists():
            raise StoreUnavailableError(f"no history store at {self.path} (start 'twinstage "
                                   "historian' first, or give --store)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("pragma journal_mode=wal")
            self.db.execute("pragma synchronous=normal")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailableError(
                f"cannot open the history store {self.path}: {exc}") from None

    # -- points ---------------------------------------------------------------------------

    def points(self) -> dict[str, tuple[int, str]]:
        rows = self.db.execute("select name, id, unit from points").fetchall()
        return {name: (pid, unit) for name, pid, unit in rows}

    def point_ids(self, names: list[str], units: dict[str, str] | None = None
                  ) -> dict[str, int]:
        known = self.points()
        missing = [n for n in names if n not in known]
        if missing:
            try:
                self.db.execute("begin immediate")
                self.db.executemany("insert or ignore into points(name, unit) values(?, ?)",
                                    [(n, (units or {}).get(n, "")) for n in missing])
                self.db.execute("commit")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreUnavailableError(f"history store {self.path}: {exc}") from None
            known = self.points()
        return {n: known[n][0] for n in names}

    # -- writing --------------------------------------------------------------------------

    def write(self, samples: Samples, current: Samples, agg: Rollup) -> None:
        db = self.db
        try:
            db.execute("begin immediate")
            if len(samples):
                db.executemany("insert or replace into samples values(?,?,?,?,?)", zip(
                    samples.point_id.tolist(), samples.t_ns.tolist(), samples.value.tolist(),
                    samples.quality.tolist(), samples.reason.tolist(), strict=True))
            if len(current):
                db.executemany("insert or replace into current values(?,?,?,?,?)", zip(
                    current.point_id.tolist(), current.t_ns.tolist(), current.value.tolist(),
                    current.quality.tolist(), current.reason.tolist(), strict=True))
            if len(agg):
                db.executemany(_AGG_UPSERT, zip(
                    agg.point_id.tolist(), agg.bucket_ns.tolist(), agg.vmin.tolist(),
                    agg.vmax.tolist(), agg.vsum.tolist(), agg.n.tolist(),
                    np.where(np.isnan(agg.vlast), 0.0, agg.vlast).tolist(),
                    agg.tlast.tolist(), agg.bad_n.tolist(), strict=True))
            db.execute("commit")
        except (sqlite3.Error, OSError) as exc:
            self._rollback()
            raise StoreUnavailableError(f"history store {self.path}: {exc}") from None

    def promote_current(self) -> int:
        try:
            self.db.execute("begin immediate")
            n = self.db.execute("insert or ignore into samples select point_id, t_ns, value, "
                                "quality, reason from current").rowcount
            self.db.execute("commit")
            return max(0, n)
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreUnavailableError(f"history store {self.path}: {exc}") from None

    def retain(self, raw_before_ns: int, agg_before_ns: int) -> int:
        try:
            self.db.execute("begin immediate")
            n = self.db.execute("delete from samples where t_ns < ?", (raw_before_ns,)).rowcount
            n += self.db.execute("delete from agg_1m where bucket_ns < ?",
                                 (agg_before_ns,)).rowcount
            self.db.execute("commit")
            return n
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreUnavailableError(f"history store {self.path}: {exc}") from None

    def _rollback(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("rollback")
        except sqlite3.Error:
            pass

    # -- reading --------------------------------------------------------------------------

    def read_raw(self, point_id: int, from_ns: int, to_ns: int, limit: int) -> Samples:
        rows = self._q("select point_id, t_ns, value, quality, reason from samples where "
                       "point_id = ? and t_ns between ? and ? order by t_ns limit ?",
                       (point_id, from_ns, to_ns, limit))
        if len(rows) < limit:
            cur = self._q("select point_id, t_ns, value, quality, reason from current where "
                          "point_id = ? and t_ns between ? and ?", (point_id, from_ns, to_ns))
            if cur and (not rows or cur[0][1] > rows[-1][1]):
                rows.append(cur[0])
        return _samples(rows)

    def read_at(self, point_id: int, t_ns: int) -> Samples:
        rows = self._q("select point_id, t_ns, value, quality, reason from samples where "
                       "point_id = ? and t_ns <= ? order by t_ns desc limit 1", (point_id, t_ns))
        cur = self._q("select point_id, t_ns, value, quality, reason from current where "
                      "point_id = ? and t_ns <= ?", (point_id, t_ns))
        if cur and (not rows or cur[0][1] > rows[0][1]):
            rows = cur
        return _samples(rows)

    def read_rollup(self, point_id: int, from_ns: int, to_ns: int,
                    bucket_ns: int = MINUTE_NS) -> Rollup:
        rows = self._q("select point_id, b, min(vmin), max(vmax), sum(vsum), sum(n), "
                       "max(case when rk = 1 then vlast end), max(tlast), sum(bad_n) from "
                       "(select *, (bucket_ns / ?) * ? as b, row_number() over (partition by "
                       "bucket_ns / ? order by tlast desc) as rk from agg_1m where point_id = ? "
                       "and bucket_ns >= ? and bucket_ns < ?) group by b order by b",
                       (bucket_ns, bucket_ns, bucket_ns, point_id, from_ns, to_ns))
        return _rollup(rows)

    def _q(self, sql: str, args: tuple) -> list:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"history store {self.path}: {exc}") from None

    def size_bytes(self) -> int:
        """The database file's size after moving the WAL into it (the WAL holds page copies
        that would count twice)."""
        try:
            self.db.execute("pragma wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another connection is busy: the WAL is counted as it is
        return sum(p.stat().st_size for p in self.folder.glob(FILE_NAME + "*") if p.is_file())

    def close(self) -> None:
        self.db.close()


def _samples(rows: list) -> Samples:
    if not rows:
        return Samples.empty()
    cols = list(zip(*rows, strict=True))
    return Samples(np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                   np.array([np.nan if x is None else x for x in cols[2]], np.float64),
                   np.array(cols[3], np.int64), np.array(cols[4], np.int64))


def _rollup(rows: list) -> Rollup:
    if not rows:
        i = np.empty(0, np.int64)
        f = np.empty(0)
        return Rollup(i, i, f, f, f, i, f, i, i)
    c = list(zip(*rows, strict=True))
    f = [np.array([np.nan if x is None else x for x in col], np.float64)
         for col in (c[2], c[3], c[4], c[6])]
    return Rollup(np.array(c[0], np.int64), np.array(c[1], np.int64), f[0], f[1], f[2],
                  np.array(c[5], np.int64), f[3], np.array(c[7], np.int64),
                  np.array(c[8], np.int64))
