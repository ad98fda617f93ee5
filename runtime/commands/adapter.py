"""``twinstage adapter SCENE``: poll the scene's Modbus devices and publish onto the bus.

Stops cleanly on SIGTERM or Ctrl-C (exit 0): in-flight requests finish within their timeout,
connections and bus sockets close. A device that is down is not an error at start-up: its points
are published Bad (no communication) and it is retried with back-off until it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.errors import UsageError

HELP = "poll a scene's Modbus devices (devices.yaml) and publish readings onto the bus"

_ID = re.compile(r"[\x21-\x7e]{1,64}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")
    parser.add_argument(
        "--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
        help=f"bus base address tcp://HOST:PORT (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--port-offset", type=int, default=0, metavar="N",
        help="add N to every device port (to poll a virtual plant started with the same offset)",
    )
    parser.add_argument(
        "--devices", metavar="ID,ID", default="",
        help="poll only these device ids (default: every device in devices.yaml)",
    )
    parser.add_argument(
        "--id", dest="adapter_id", default="", metavar="NAME",
        help="source id on the bus (default: adapter-<scene folder>)",
    )
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log connection changes and every write")


def run(args: argparse.Namespace) -> int:
    from adapters.modbus.adapter import ModbusAdapter
    from adapters.modbus.device_poller import PollerOptions
    from runtime.scene import load_devices, load_scene

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pymodbus logs each timeout as an error with a frame dump; the adapter reports the same
    # events as point quality and its own log lines, so keep pymodbus to critical messages.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    scene = load_scene(args.scene)
    devices_path = scene.path / "devices.yaml"
    if not devices_path.exists():
        raise UsageError(f"{devices_path} does not exist: the adapter needs the scene's devices")
    devices = list(load_devices(devices_path, scene).devices)
    if args.devices:
        wanted = [d.strip() for d in args.devices.split(",") if d.strip()]
        known = {d.id for d in devices}
        unknown = [d for d in wanted if d not in known]
        if unknown:
            raise UsageError(f"--devices: unknown device id(s) {', '.join(unknown)} in "
                             f"{devices_path}; known: {', '.join(sorted(known))}")
        devices = [d for d in devices if d.id in wanted]
    if not devices:
        raise UsageError(f"{devices_path} declares no devices to poll")
    for d in devices:
        port = d.port + args.port_offset
        if not 1 <= port <= 65535:
            raise UsageError(f"--port-offset {args.port_offset} puts device {d.id} on port {port}; "
                             "ports must stay within 1..65535")
    adapter_id = args.adapter_id or f"adapter-{scene.path.name}"
    if not _ID.fullmatch(adapter_id):
        raise UsageError(f"--id {adapter_id!r} must be 1..64 visible ASCII characters, no spaces")
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None

    adapter = ModbusAdapter(devices, endpoints, adapter_id=adapter_id,
                            options=PollerOptions(port_offset=args.port_offset))
    points = sum(len(d.points) for d in devices)
    print(f"twinstage adapter: {adapter_id} polling {len(devices)} devices ({points} points), "
          f"publishing to {endpoints.pub_in}", flush=True)
    asyncio.run(_serve(adapter))
    return 0


async def _serve(adapter: object) -> None:
    from adapters.modbus.adapter import ModbusAdapter

    assert isinstance(adapter, ModbusAdapter)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, adapter.stop)
    await adapter.run()
