"""``twinstage bench``: print a table of benchmark rows with their targets."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "measure performance; each row prints its target beside its result"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suites",
        nargs="*",
        help="suites to run (default: all): render, scene, sim, plant, bus, adapter, latency, "
        "live, recording, replay, scale, live10k, alarms, alarm-latency, models, history, "
        "whatif, walk, hosts",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny sizes, seconds not minutes"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")


def run(args: argparse.Namespace) -> int:
    from runtime.errors import UsageError
    from tools.bench.runner import SUITES, render_table, run_suites, write_json

    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        raise UsageError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    rows = run_suites(args.suites or None, args.quick)
    print(render_table(rows))
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {args.json}")
    failed = [r for r in rows if r.value != r.value]
    return 1 if failed else 0
