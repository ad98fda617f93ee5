"""``twinstage replay FILE|DIR``: republish a recording onto a bus, so any viewer or tool
watches it as if the plant were live (``--speed``, ``--from``, ``--to``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.commands.stop_signal import StopSignal
from runtime.errors import UsageError

HELP = "republish a recording onto a bus (--speed, --from, --to)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, help="an .mcap file or a folder of them")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--speed", default="1", metavar="X", help="1/64 to 64 (default 1)")
    parser.add_argument("--from", dest="from_", default=None, metavar="T",
                        help="start here (+90s, 50%%, 10:42:05, ISO 8601; default: the start)")
    parser.add_argument("--to", default=None, metavar="T", help="stop here (default: the end)")
    add_key_options(parser)


def run(args: argparse.Namespace) -> int:
    from runtime.recording.reader import open_recording
    from runtime.recording.republish import Republisher
    from runtime.time.parse import parse_instant
    from runtime.time.virtual_clock import parse_speed

    try:
        endpoints = BusEndpoints.from_address(args.bus)
        speed = parse_speed(args.speed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    security = security_from_args(args, args.bus, "replay")
    recording = open_recording(args.recording)
    try:
        start, end = recording.start_ns, recording.end_ns
        try:
            from_ns = start if args.from_ is None else parse_instant(args.from_, start, end)
            to_ns = end if args.to is None else parse_instant(args.to, start, end)
        except ValueError as exc:
            raise UsageError(f"--from/--to: {exc}") from None
        if to_ns < from_ns:
            raise UsageError("--to is before --from")
        for warning in recording.warnings:
            print(f"twinstage replay: {warning}", flush=True)
        stop = StopSignal()
        rep = Republisher(recording, endpoints, from_ns=from_ns, to_ns=to_ns, speed=speed,
                          security=security)
        try:
            print(f"replaying {args.recording} onto {args.bus} at {args.speed}x "
                  f"({(to_ns - from_ns) / 1e9:.1f} s of recording)", flush=True)
            rep.start()
            rep.play(stop)
            print(f"replay done: {rep.batches} batches, {rep.readings} readings from "
                  f"{len(rep.publishers)} sources", flush=True)
        finally:
            rep.close()
    finally:
        recording.close()
    return 0
