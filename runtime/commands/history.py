"""``twinstage history POINT... --from T [--to T] [--every 1m] [--csv|--parquet FILE]``.

Asks the historian's ``history`` service through the bus, or reads a store directly with
``--store`` (a folder or postgresql://...). Raw samples by default; ``--every`` gives
min/max/avg/last per bucket; ``--at T`` gives each point's value at that time.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.errors import UsageError

HELP = "print or export history of points (through the bus or straight from a store)"
FAR_PAST_NS = 0


RELATIVE_TIME = re.compile(r"^-\d+(\.\d+)?\s*(ms|s|min|m|h|d)?$")
"""``-2h``, ``-10m``: argparse would take these for options; they are values here."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser._negative_number_matcher = RELATIVE_TIME  # --from -2h reads as a value
    parser.add_argument("points", nargs="+", metavar="POINT", help="point ids, e.g. LT-102/level_m")
    parser.add_argument("--from", dest="t_from", default="-10m", metavar="T",
                        help="start: ISO 8601 or relative to now (-2h, -10m); default -10m")
    parser.add_argument("--to", dest="t_to", default="now", metavar="T",
                        help="end: ISO 8601, relative (-1h) or now (default)")
    parser.add_argument("--every", default=None, metavar="DURATION",
                        help="aggregate per bucket (1m, 10s, 1h): min, max, avg, last")
    parser.add_argument("--at", default=None, metavar="T", help="value of each point at T")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE",
                     help="CSV to FILE (or stdout without FILE)")
    out.add_argument("--parquet", type=Path, default=None, metavar="FILE",
                     help="write a Parquet file")
    parser.add_argument("--store", default=None, metavar="URL",
                        help="read this store directly (folder or postgresql://...), no bus")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for each answer (default 5)")
    add_key_options(parser)


def parse_time_ns(text: str, now_ns: int, what: str) -> int:
    """``now``, ``-2h`` (before now), ``+1h`` (after now) or ISO 8601 -> ns."""
    from runtime.time.parse import parse_duration_ns

    raw = text.strip()
    try:
        if raw == "now":
            return now_ns
        if raw.startswith("-"):
            return now_ns - parse_duration_ns(raw[1:])
        if raw.startswith("+"):
            return now_ns + parse_duration_ns(raw[1:])
        return round(datetime.fromisoformat(raw).timestamp() * 1e9)
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected now, a relative time such as -2h or "
                         "-10m, or an ISO 8601 time such as 2026-12-03T10:00:00Z") from None


def run(args: argparse.Namespace) -> int:
    from runtime.history.errors import QueryError, StoreUnavailableError
    from runtime.time.parse import parse_duration_ns

    now = time.time_ns()
    t_from = parse_time_ns(args.t_from, now, "--from")
    t_to = parse_time_ns(args.t_to, now, "--to")
    if t_to < t_from:
        raise UsageError(f"the range is reversed: --from {args.t_from} is after --to {args.t_to}")
    every_ns = 0
    if args.every is not None:
        try:
            every_ns = parse_duration_ns(args.every)
        except ValueError as exc:
            raise UsageError(f"--every: {exc}") from None
        if every_ns < 1_000_000:
            raise UsageError("--every must be at least 1ms")
    asker = _open(args)
    try:
        if args.at is not None:
            rows, header = _at(asker, args.points, parse_time_ns(args.at, now, "--at"))
        elif every_ns:
            rows, header = _agg(asker, args.points, t_from, t_to, every_ns)
        else:
            rows, header = _raw(asker, args.points, t_from, t_to)
    except QueryError as exc:
        raise UsageError(str(exc)) from None
    except StoreUnavailableError as exc:
        raise UsageError(str(exc)) from None
    finally:
        asker.close()
    return _write(args, header, rows)


def _open(args: argparse.Namespace) -> object:
    from runtime.history.client import BusHistory, StoreHistory
    from runtime.history.errors import StoreUnavailableError
    from runtime.history.query import HistoryQuery
    from runtime.history.store import open_store

    if args.store:
        try:
            return StoreHistory(HistoryQuery(open_store(args.store, create=False)))
        except StoreUnavailableError as exc:
            raise UsageError(str(exc)) from None
    from runtime.bus.service_client import ServiceClient

    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None
    security = security_from_args(args, args.bus, "history")
    return BusHistory(ServiceClient(endpoints, security=security), timeout_s=args.timeout)


def _iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def _q(q: int, r: int) -> str:
    from runtime.quality import describe

    return describe(int(q), int(r))


def _raw(asker, points, t_from, t_to):  # noqa: ANN001, ANN202
    res = asker.raw(points, t_from, t_to)
    rows = []
    for p in points:
        s, unit = res[p]
        for t, v, q, r in zip(s.t_ns.tolist(), s.value.tolist(), s.quality.tolist(),
                              s.reason.tolist(), strict=True):
            rows.append((t, _iso(t), p, v, unit, _q(q, r)))
    rows.sort(key=lambda row: (row[0], row[2]))
    return [r[1:] for r in rows], ("time", "point", "value", "unit", "quality")


def _agg(asker, points, t_from, t_to, every_ns):  # noqa: ANN001, ANN202
    _every, res = asker.aggregate(points, t_from, t_to, every_ns)
    rows = []
    for p in points:
        a, unit = res[p]
        for i in range(len(a.t_ns)):
            rows.append((int(a.t_ns[i]), _iso(int(a.t_ns[i])), p, a.vmin[i], a.vmax[i],
                         a.avg[i], a.last[i], int(a.n[i]), int(a.bad_n[i]), unit))
    rows.sort(key=lambda row: (row[0], row[2]))
    return [r[1:] for r in rows], ("bucket", "point", "min", "max", "avg", "last", "count",
                                   "bad_count", "unit")


def _at(asker, points, t_ns):  # noqa: ANN001, ANN202
    res = asker.at(points, t_ns)
    rows = []
    for p in points:
        s, unit = res[p]
        if len(s):
            rows.append((_iso(int(s.t_ns[0])), p, float(s.value[0]), unit,
                         _q(s.quality[0], s.reason[0])))
        else:
            rows.append(("", p, float("nan"), unit, "no data before that time"))
    return rows, ("time", "point", "value", "unit", "quality")


def _write(args: argparse.Namespace, header: tuple, rows: list) -> int:
    if args.parquet is not None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError("--parquet needs pyarrow (pip install twinstage[history])") from None
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in header]
        table = pa.table({h: list(c) for h, c in zip(header, cols, strict=True)})
        try:
            pq.write_table(table, args.parquet)
        except OSError as exc:
            raise UsageError(f"--parquet {args.parquet}: {exc}") from None
        print(f"wrote {len(rows)} rows to {args.parquet}")
        return 0
    if args.csv is not None:
        try:
            f = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"--csv {args.csv}: {exc}") from None
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([_cell(c) for c in r] for r in rows)
        if f is not sys.stdout:
            f.close()
            print(f"wrote {len(rows)} rows to {args.csv}")
        return 0
    buf = io.StringIO()
    buf.write("  ".join(header) + "\n")
    for r in rows:
        buf.write("  ".join(_cell(c) for c in r) + "\n")
    if not rows:
        buf.write("(no data in that range)\n")
    sys.stdout.write(buf.getvalue())
    return 0


def _cell(c: object) -> str:
    if isinstance(c, float):
        return "" if c != c else f"{c:.6g}"
    return str(c)
