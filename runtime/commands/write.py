"""``twinstage write POINT VALUE``: ask the owning adapter to write a point, print the outcome.

Exit 0 only when the adapter accepted the write (and read it back); 1 when it refused, when the
bus answered with an error (no adapter owns the point) or when nobody answered in time.
"""

from __future__ import annotations

import argparse
import getpass
import math
import socket

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.errors import UsageError

HELP = "send a write command to a point through the bus; exit 0 only if accepted"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("point", help="point to write, e.g. P-101/speed_setpoint_rpm")
    parser.add_argument("value", help="value in the point's engineering unit (true/false = 1/0)")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--role", default="operator", help="role to act as (default operator)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for the adapter's answer (default 5)")


def _parse_value(text: str) -> float:
    lowered = text.strip().lower()
    if lowered in ("true", "on"):
        return 1.0
    if lowered in ("false", "off"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"value {text!r} is not a number (or true/false)") from None
    if not math.isfinite(value):
        raise UsageError(f"value {text!r} is not finite")
    return value


def run(args: argparse.Namespace) -> int:
    from runtime.bus.command_client import CommandTimeoutError, new_command_id, send_command
    from runtime.bus.wire import Command, WireError

    value = _parse_value(args.value)
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    command = Command(new_command_id(), args.point, value, args.role,
                      getpass.getuser()[:64], socket.gethostname()[:512])
    try:
        ack = send_command(endpoints, command, args.timeout)
    except WireError as exc:
        raise UsageError(f"cannot send this command: {exc.reason}") from None
    except CommandTimeoutError as exc:
        print(f"timeout: {exc}")
        return 1
    if ack.outcome == "accepted":
        readback = "" if ack.readback is None else f", read back {ack.readback:g}"
        print(f"accepted: {ack.point} = {value:g}{readback} (command {ack.id})")
        return 0
    print(f"{ack.outcome}: {ack.point} = {value:g}: {ack.reason or 'no reason given'} "
          f"(command {ack.id})")
    return 1
