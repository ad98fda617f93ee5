"""``twinstage tap``: print readings from the bus as they arrive, like mosquitto_sub.

Starts with the last value of every matching point (the bus's snapshot), then prints updates.
Points of a source that falls silent are printed again as Bad (no communication).
Needs a key the bus allows (``--key`` or $TWINSTAGE_KEY; a viewer key is enough). When no
snapshot comes within ``--timeout`` it says why (bus unreachable, key refused, wrong bus key)
and exits 1 instead of waiting forever.
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
from runtime.commands.key_options import add_key_options, security_from_args
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
                        help="only points matching this glob, e.g. 'P-1*/speed_*' ('*' also "
                             "matches '/')")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="give up when the bus has not answered within S seconds at start "
                             "(default 5)")
    add_key_options(parser)


def run(args: argparse.Namespace) -> int:
    from runtime.bus.handshake import HandshakeWatch
    from runtime.bus.subscriber import Subscriber
    from runtime.quality import Quality, Reason, describe

    if args.count < 0:
        raise UsageError("--count must be 0 (no limit) or more")
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    security = security_from_args(args, args.bus, "tap")
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    printed = 0
    out = sys.stdout
    started = time.monotonic()
    answered = False
    with Subscriber(endpoints, match=args.match, security=security) as sub:
        watch = HandshakeWatch(sub.snapshot_socket, key_name=security.name if security else "",
                               address=endpoints.snapshot)
        try:
            while not stopping:
                updates = sub.poll(20_000_000)
                answered = answered or sub.synced
                if not updates:
                    if not answered:
                        problem = watch.problem()
                        if problem is None and time.monotonic() - started > args.timeout:
                            problem = watch.unreachable(args.timeout)
                        if problem is not None:
                            print(f"twinstage tap: {problem}", file=sys.stderr)
                            return 1
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
        finally:
            watch.close()
    return 0


def _reason_name(reason_enum: type, code: int) -> str:
    try:
        return reason_enum(code).name.lower()
    except ValueError:
        return str(code)
