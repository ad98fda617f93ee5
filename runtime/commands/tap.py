"""``twinstage tap``: print readings from the bus as they arrive, like mosquitto_sub.

Starts with the last value of every matching point (the bus's snapshot), then prints updates.
Points of a source that falls silent are printed again as Bad (no communication).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from types import FrameType

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.errors import UsageError

HELP = "print readings from the bus as they arrive (--json for one object per line)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: point, value, quality, reason, "
                             "t_source_ns, source, seq")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="exit after N readings (default: run until interrupted)")
    parser.add_argument("--match", default="*", metavar="GLOB",
                        help="only points matching this glob, e.g. 'P-1*/speed_*'")


def run(args: argparse.Namespace) -> int:
    from runtime.bus.subscriber import Subscriber
    from runtime.quality import Quality, Reason, describe

    if args.count < 0:
        raise UsageError("--count must be 0 (no limit) or more")
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    printed = 0
    out = sys.stdout
    warned = False
    started = time.monotonic()
    with Subscriber(endpoints, match=args.match) as sub:
        try:
            while not stopping:
                updates = sub.poll(20_000_000)
                if not updates:
                    if not warned and not sub.synced and time.monotonic() - started > 3:
                        print(f"twinstage tap: no answer yet from the bus at {endpoints.snapshot}"
                              "; still trying", file=sys.stderr)
                        warned = True
                    time.sleep(0.01)
                    continue
                for u in updates:
                    if args.json:
                        line = json.dumps({
                            "point": u.point, "value": u.value,
                            "quality": Quality(u.quality).name.lower(),
                            "reason": _reason_name(Reason, u.reason),
                            "t_source_ns": u.t_source_ns, "source": u.source, "seq": u.seq,
                        })
                    else:
                        line = f"{u.point} {u.value:.6g} {describe(u.quality, u.reason)} " \
                               f"[{u.source} #{u.seq}]"
                    out.write(line + "\n")
                    printed += 1
                    if args.count and printed >= args.count:
                        out.flush()
                        return 0
                out.flush()
        except BrokenPipeError:  # `twinstage tap | head`: the reader left, which is fine
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush does not fail again
            return 0
    return 0


def _reason_name(reason_enum: type, code: int) -> str:
    try:
        return reason_enum(code).name.lower()
    except ValueError:
        return str(code)
