"""``twinstage bus``: run the bus (readings proxy, last-value cache, command router).

Stops cleanly on SIGTERM or Ctrl-C (exit 0, ports released), so ``twinstage demo`` and test
harnesses can stop it like any other service.

Every socket is CURVE with the keys folder's allow-list (``--keys``, docs/security.md); commands
refused at the router (viewer keys, claimed roles that are not the key's) are audited to
``--audit-log``. ``--insecure`` runs plaintext, on a loopback address only.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
from pathlib import Path
from types import FrameType

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.bus.security import KEYS_ENV
from runtime.commands.audit_default import default_audit_path, default_help
from runtime.errors import UsageError

HELP = "run the ZeroMQ bus: readings proxy, last-value cache, snapshots, command router"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind", default=DEFAULT_ADDRESS, metavar="ADDR",
        help=f"base address tcp://HOST:PORT; the bus uses PORT..PORT+4 (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument("--keys", default=None, metavar="DIR",
                        help=f"keys folder: bus.key_secret and site.json (default ${KEYS_ENV} "
                             "or ./keys; `twinstage keys new` makes them)")
    parser.add_argument("--insecure", action="store_true",
                        help="plaintext, no keys: refused unless --bind is a loopback address")
    parser.add_argument("--audit-log", default="", metavar="PATH",
                        help="audit log of commands the router refuses "
                             f"({default_help('bus.jsonl')})")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every routed command")


def run(args: argparse.Namespace) -> int:
    from runtime.bus.security import check_plaintext, server_security
    from runtime.bus.server import BusServer
    from runtime.commands.adapter import audit_key, open_audit_log

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        endpoints = BusEndpoints.from_address(args.bind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.insecure:
        if args.keys:
            raise UsageError("bus: --insecure and --keys exclude each other")
        check_plaintext([args.bind], "bus")
        security = None
    else:
        security = server_security(args.keys)
    audit_path = Path(args.audit_log or default_audit_path("bus.jsonl"))
    audit = None if security is None else \
        open_audit_log(audit_path, audit_key(None, args.keys, False), "bus")
    try:
        server = BusServer(endpoints, security=security, audit=audit)
    except BaseException:
        if audit is not None:
            audit.close()
        raise
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
    mode = "plaintext (--insecure, loopback)" if security is None else \
        f"CURVE, allow-list {security.site_path}"
    print(f"twinstage bus: listening: {names}; {mode}", flush=True)
    try:
        server.run()
    finally:
        if audit is not None:
            audit.close()
    return 0
