"""``twinstage`` command line: one subcommand per module in ``runtime.commands``.

Subcommand modules are imported only when chosen, so ``twinstage bus`` never loads Panda3D.
Each module exposes ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``.
User mistakes (SceneError, UsageError) print one clear line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from runtime.errors import UsageError
from runtime.scene.errors import SceneError

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("runtime.commands.validate", "check a scene's scene.yaml and devices.yaml"),
    "view": ("runtime.commands.view", "open the 3D view of a scene (or render it headless)"),
    "kiosk": ("runtime.commands.kiosk", "run the visitor kiosk: fullscreen, read-only, tours"),
    "demo": ("runtime.commands.demo", "run plant, bus, adapter and viewer together on loopback"),
    "plant": ("runtime.commands.plant", "run the virtual plant as Modbus TCP devices"),
    "fault": ("runtime.commands.fault", "inject or clear a fault in a running virtual plant"),
    "adapter": ("runtime.commands.adapter", "poll a scene's Modbus devices onto the bus"),
    "bus": ("runtime.commands.bus", "run the ZeroMQ bus: proxy, last-value cache, command router"),
    "tap": ("runtime.commands.tap", "print readings from the bus as they arrive"),
    "write": ("runtime.commands.write", "send a write command to a point through the bus"),
    "record": ("runtime.commands.record", "record the bus into MCAP files; repair a torn one"),
    "replay": ("runtime.commands.replay", "republish a recording onto a bus"),
    "historian": ("runtime.commands.historian", "keep readings in a history store; answer queries"),
    "history": ("runtime.commands.history", "print or export the history of points"),
    "keys": ("runtime.commands.keys", "make, list and revoke the keys that may use the bus"),
    "audit": ("runtime.commands.audit", "check the write audit log's hash chain"),
    "bench": ("runtime.commands.bench", "measure performance against targets"),
    "generate": ("runtime.commands.generate", "write a generated plant of N assets"),
    "schema": ("runtime.commands.schema", "print the JSON Schema of scene files"),
    "alarms": ("runtime.commands.alarms", "run the alarm service; list, acknowledge, shelve, "
               "report alarms"),
    "scenario": ("runtime.commands.scenario", "run, report or list training scenarios"),
    "whatif": ("runtime.commands.whatif", "forecast the plant from its live state with changes"),
    "analytics": ("runtime.commands.analytics", "residual anomaly detection and pump KPIs on the "
                  "bus"),
}
"""Subcommand name -> (module, one-line help). Modules not present yet are left out."""

EXIT_USAGE = 2


def _available() -> dict[str, str]:
    found = {}
    for name, (module, _help) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = module
    return found


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _available()
    parser = argparse.ArgumentParser(
        prog="twinstage", description="Real-time 3D digital twin runtime for industrial plants."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in commands.items():
        if name == chosen:
            module = importlib.import_module(module_name)
            cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(cmd)
            cmd.set_defaults(_run=module.run)
        else:
            sub.add_parser(name, help=COMMANDS[name][1])
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args) or 0)
    except (SceneError, UsageError) as exc:
        print(f"twinstage {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
