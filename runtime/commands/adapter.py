"""``twinstage adapter SCENE``: poll the scene's Modbus devices and publish onto the bus.

Stops cleanly on SIGTERM or Ctrl-C (exit 0): in-flight requests finish within their timeout,
connections and bus sockets close. A device that is down is not an error at start-up: its points
are published Bad (no communication) and it is retried with back-off until it answers.

Every command is decided by the operator-control policy and audited to ``--audit-log`` (default
``<adapter id>.jsonl`` in ``$TWINSTAGE_AUDIT_DIR``, else in ``out/audit`` under the current
directory). A log path that cannot be created is a usage error (exit 2); a log found damaged at
start, or one that stops being writable, makes the adapter refuse every write
(``audit_unavailable``) while it keeps polling and publishing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.audit_default import default_audit_path, default_help
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.errors import UsageError

if TYPE_CHECKING:
    from runtime.control.audit import AuditLog

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
    parser.add_argument(
        "--audit-log", metavar="PATH", default="",
        help="append-only audit log of every write attempt "
             f"({default_help('<adapter id>.jsonl')})",
    )
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log connection changes and every write")
    parser.add_argument("--audit-key", default=None, metavar="FILE",
                        help="key of the audit log's HMAC chain (default: audit.key in the keys "
                             "folder; none with --insecure)")
    add_key_options(parser, service="adapter")


def run(args: argparse.Namespace) -> int:
    from adapters.modbus.adapter import ModbusAdapter
    from adapters.modbus.device_poller import PollerOptions
    from runtime.commands.ports import check_offset
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
    all_devices = load_devices(devices_path, scene)
    devices = list(all_devices.devices)
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
    check_offset(args.port_offset, [(f"device {d.id}", d.port) for d in devices])
    adapter_id = args.adapter_id or f"adapter-{scene.path.name}"
    if not _ID.fullmatch(adapter_id):
        raise UsageError(f"--id {adapter_id!r} must be 1..64 visible ASCII characters, no spaces")
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None

    security = security_from_args(args, args.bus, "adapter", service="adapter")
    audit_path = Path(args.audit_log or default_audit_path(f"{adapter_id}.jsonl"))
    audit = open_audit_log(audit_path, audit_key(args.audit_key, args.keys, args.insecure))
    try:
        adapter = ModbusAdapter(all_devices, endpoints, adapter_id=adapter_id, audit=audit,
                                device_ids={d.id for d in devices},
                                options=PollerOptions(port_offset=args.port_offset),
                                security=security)
        points = sum(len(d.points) for d in devices)
        print(f"twinstage adapter: {adapter_id} polling {len(devices)} devices ({points} points), "
              f"publishing to {endpoints.pub_in}, auditing writes to {audit_path}", flush=True)
        asyncio.run(_serve(adapter))
    finally:
        audit.close()
    return 0


def audit_key(given: str | None, keys: str | None, insecure: bool) -> bytes | None:
    """The audit chain's key: ``--audit-key``, else ``audit.key`` in the keys folder (not with
    ``--insecure``, where the chain is unkeyed unless a key is given)."""
    from runtime.bus.keys import AUDIT_KEY_FILE, KeyFileError, read_audit_key
    from runtime.bus.security import keys_dir

    if given is None and insecure:
        return None
    path = Path(given) if given else keys_dir(keys) / AUDIT_KEY_FILE
    try:
        return read_audit_key(path)
    except KeyFileError as exc:
        raise UsageError(f"audit key: {exc} (`twinstage keys new` makes {AUDIT_KEY_FILE} in "
                         "the keys folder)") from None


def open_audit_log(path: Path, key: bytes | None = None, command: str = "adapter") -> AuditLog:
    """Open (creating folders and file) the audit log at ``path``, keyed with ``key``.

    Raises UsageError when the file cannot be created or opened for appending: a path mistake
    is reported at start, not discovered at the first write. A log that opens but is damaged is
    returned as it is (it refuses writes) with a warning on stderr.
    """
    from runtime.control.audit import AuditLog

    if path.is_dir():
        raise UsageError(f"--audit-log {path} is a folder; give a file path, e.g. "
                         f"{path / 'adapter.jsonl'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.close(fd)
    except OSError as exc:
        raise UsageError(f"--audit-log: cannot create {path}: {exc.strerror or exc}; give a "
                         "writable path (writes are never made without an audit log)") from None
    audit = AuditLog(path, key=key)
    if audit.problem is not None:
        print(f"twinstage {command}: warning: {audit.problem}; every write will be refused "
              "(audit_unavailable) while readings keep flowing", file=sys.stderr, flush=True)
    elif audit.repaired:
        print(f"twinstage {command}: {audit.repaired}", file=sys.stderr, flush=True)
    return audit


async def _serve(adapter: object) -> None:
    from adapters.modbus.adapter import ModbusAdapter

    assert isinstance(adapter, ModbusAdapter)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, adapter.stop)
    await adapter.run()
