"""``twinstage fault ...``: inject, clear or list faults in a running virtual plant."""

from __future__ import annotations

import argparse
import asyncio
import json

from runtime.commands.ports import DEFAULT_CONTROL_PORT

HELP = "inject or clear a fault in a running virtual plant (over its control socket)"

KINDS = ("freeze", "drift", "stick", "trip", "silent", "down", "exception", "clear", "list")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS,
                        help="freeze/drift TRANSMITTER, stick VALVE, trip PUMP, silent/down/"
                             "exception DEVICE, clear TARGET|all, list")
    parser.add_argument("target", nargs="?", default=None,
                        help="entity or device id (clear: 'all' when omitted)")
    parser.add_argument("--rate", type=float, default=0.01,
                        help="drift: point unit per second (default 0.01)")
    parser.add_argument("--code", type=lambda s: int(s, 0), default=4,
                        help="exception: Modbus exception code (default 4, device failure)")
    parser.add_argument("--host", default="127.0.0.1", help="plant host (default 127.0.0.1)")
    parser.add_argument("--control-port", type=int, default=DEFAULT_CONTROL_PORT, metavar="PORT",
                        help=f"the plant's control port before --port-offset (default "
                             f"{DEFAULT_CONTROL_PORT}), as given to twinstage plant")
    parser.add_argument("--port-offset", type=int, default=0, metavar="N",
                        help="the plant's --port-offset: the control socket is on "
                             "--control-port + N")
    parser.add_argument("--json", action="store_true", help="print the raw reply")


def run(args: argparse.Namespace) -> int:
    from adapters.plant.control import request
    from runtime.commands.ports import check_offset, check_port
    from runtime.errors import UsageError

    check_port("--control-port", args.control_port)
    check_offset(args.port_offset, [("the control port", args.control_port)])
    port = args.control_port + args.port_offset

    if args.kind == "list":
        req: dict = {"op": "status"}
    elif args.kind == "clear":
        req = {"op": "clear", "target": args.target or "all"}
    else:
        if not args.target:
            raise UsageError(f"fault {args.kind} needs a target (an entity or device id)")
        req = {"op": "fault", "kind": args.kind, "target": args.target}
        if args.kind == "drift":
            req["rate"] = args.rate
        if args.kind == "exception":
            req["code"] = args.code
    reply = asyncio.run(request(args.host, port, req))
    if args.json:
        print(json.dumps(reply))
    if not reply.get("ok"):
        raise UsageError(str(reply.get("error", "refused")))
    if args.json:
        return 0
    if args.kind == "list":
        print(f"plant time {reply['time_s']:.1f} s")
        for d in reply["devices"]:
            print(f"  {d['id']} {d['host']}:{d['port']} unit {d['unit_id']}: {d['mode']}, "
                  f"{d['requests']} requests, {d['writes']} writes")
        print("faults: " + (", ".join(reply["faults"]) or "none"))
    elif args.kind == "clear":
        print("cleared: " + (", ".join(reply["cleared"]) or "nothing"))
    else:
        print(f"fault on: {reply['fault']}")
    return 0
