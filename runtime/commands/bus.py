"""``twinstage bus``: run the bus (readings proxy, last-value cache, command router).

Stops cleanly on SIGTERM or Ctrl-C (exit 0, ports released), so ``twinstage demo`` and test
harnesses can stop it like any other service.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
from types import FrameType

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.errors import UsageError

HELP = "run the ZeroMQ bus: readings proxy, last-value cache, snapshots, command router"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind", default=DEFAULT_ADDRESS, metavar="ADDR",
        help=f"base address tcp://HOST:PORT; the bus uses PORT..PORT+4 (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every routed command")


def run(args: argparse.Namespace) -> int:
    from runtime.bus.server import BusServer

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        endpoints = BusEndpoints.from_address(args.bind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    server = BusServer(endpoints)
    # Each batch allocates thousands of short-lived tuples; CPython's default gen-0 threshold
    # (700 allocations) would run a collection several times per message and halve throughput.
    # The bus creates no reference cycles on its hot path, so collect far less often.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)

    def _stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    names = ", ".join(f"{name} {addr}" for name, addr in server.endpoints.items())
    print(f"twinstage bus: listening: {names}", flush=True)
    server.run()
    return 0
