"""The store interface both engines implement, and ``open_store(url)``.

A store keeps three things per point: samples (what the policy kept), the current row (the
latest reading received, which covers a reading held in a swinging door) and one-minute
aggregates of every reading received. ``write`` is one transaction: when it returns, the batch
is stored (it survives a kill -9 of the historian); when it raises StoreUnavailableError nothing of
it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from runtime.history.batch import Rollup, Samples

DEFAULT_EMBEDDED = Path("out") / "history"


class Store(Protocol):
    url: str

    def point_ids(self, names: list[str], units: dict[str, str] | None = None
                  ) -> dict[str, int]:
        """Ids of the named points, creating the missing ones."""

    def points(self) -> dict[str, tuple[int, str]]:
        """Every point the store knows: name -> (id, unit)."""

    def write(self, samples: Samples, current: Samples, agg: Rollup) -> None:
        """One transaction; raises StoreUnavailableError when it could not be stored."""

    def promote_current(self) -> int:
        """Move the current rows into the samples (a restarted historian's first step)."""

    def read_raw(self, point_id: int, from_ns: int, to_ns: int, limit: int) -> Samples:
        """Samples in [from_ns, to_ns] by time (at most ``limit``), then the current row if it
        is newer than the last sample and inside the range."""

    def read_at(self, point_id: int, t_ns: int) -> Samples:
        """The last sample (or current row) at or before ``t_ns``: zero or one row."""

    def read_rollup(self, point_id: int, from_ns: int, to_ns: int,
                    bucket_ns: int = 60_000_000_000) -> Rollup:
        """Aggregate rows with bucket in [from_ns, to_ns), the one-minute rows merged into
        buckets of ``bucket_ns`` (a multiple of a minute) by the database, by bucket."""

    def retain(self, raw_before_ns: int, agg_before_ns: int) -> int:
        """Drop raw samples before raw_before_ns and aggregates before agg_before_ns; returns
        how many partitions or rows went."""

    def size_bytes(self) -> int:
        """Bytes the store takes on disk (tables and indexes)."""

    def close(self) -> None: ...


def open_store(url: str | Path, *, create: bool = True) -> Store:
    """``postgresql://...`` -> PostgreSQL; anything else is a folder for the embedded store."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from runtime.history.store_postgres import PostgresStore

        return PostgresStore(text)
    from runtime.history.store_sqlite import SqliteStore

    return SqliteStore(Path(text), create=create)
