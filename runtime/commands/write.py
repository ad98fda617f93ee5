"""``twinstage write POINT VALUE``: operate a point through the bus; print what the adapter did.

The owning adapter decides (docs/control.md): role, limits, rate of change, quality, interlocks,
select-before-operate, idempotent command ids, read-back, audit. This command only asks and
reports:

- ``--action write`` (the default) sets a setpoint in one step;
- equipment points (``sbo: true``) need two steps: ``--confirm`` sends ``select`` then
  ``operate`` of the same value (ids ``<id>.select`` and ``<id>.operate``) and prints both, or
  send ``--action select`` and then ``--action operate`` yourself within 10 s; ``--action
  cancel`` gives a selection back;
- ``--command-id`` resends a request deliberately: the adapter answers a repeated id with its
  first answer (printed as ``duplicate``) and does nothing again.

Who acts is the key's business (``--key`` or $TWINSTAGE_KEY): the bus takes actor and role
from it. ``--role`` only claims one; a claim that is not the key's role is refused and audited.

Exit 0 when every step was confirmed, selected or cancelled; 1 when one was refused or failed,
no answer came in time (its outcome is then unknown) or the bus refused the key; 2 for usage
errors.
"""

from __future__ import annotations

import argparse
import math
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.control.actor import actor_name
from runtime.errors import UsageError

if TYPE_CHECKING:
    from runtime.control.ack import Ack

HELP = "operate a point through the bus (write, or select/operate); exit 0 only if done"

ROLES = ("viewer", "operator", "instructor")
ACTIONS = ("write", "select", "operate", "cancel")
CONFIRM_STEPS = ("select", "operate")
"""What ``--confirm`` sends, in order; each step's id is ``<command id>.<step>``."""
_ID = re.compile(r"[\x21-\x7e]+")
MAX_ID_LEN = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("point", help="point to operate, e.g. P-101/speed_sp_rpm")
    parser.add_argument("value", nargs="?", default=None,
                        help="value in the point's engineering unit (true/false = 1/0); "
                             "optional only for --action cancel")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--role", default=None, choices=ROLES,
                        help="role to claim (default: the key's role; operator with "
                             "--insecure); the bus refuses a claim that is not the key's")
    parser.add_argument("--actor", default=None, metavar="NAME",
                        help="who is acting with --insecure (default: the OS user); with a "
                             "key the bus records the key's name")
    parser.add_argument("--action", default=None, choices=ACTIONS,
                        help="write (default, setpoints), or select / operate / cancel for "
                             "equipment points (sbo: true)")
    parser.add_argument("--confirm", action="store_true",
                        help="select then operate the same value (equipment points); prints "
                             "both steps")
    parser.add_argument("--command-id", default=None, metavar="ID",
                        help="command id to use (default: a new one); reuse an id only to "
                             "resend the very same request: it has no second effect")
    parser.add_argument("--scene", default=None, metavar="SCENE",
                        help="scene folder (or name) whose devices.yaml gives units and which "
                             "points are select-before-operate; optional")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for each answer (default 5)")
    add_key_options(parser)


@dataclass(frozen=True, slots=True)
class PointInfo:
    """What ``--scene`` tells about the point, when given."""

    unit: str
    sbo: bool
    writable: bool


@dataclass(frozen=True, slots=True)
class Step:
    """One command to send."""

    action: str
    command_id: str
    value: float


def parse_value(text: str) -> float:
    """The number in ``text`` (``true``/``on`` = 1, ``false``/``off`` = 0); UsageError if none."""
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


def plan_steps(args: argparse.Namespace, info: PointInfo | None, base_id: str) -> list[Step]:
    """The commands to send for ``args``; UsageError for contradictory options."""
    if args.confirm and args.action is not None:
        raise UsageError("--confirm sends select then operate itself; leave out --action")
    action = "select" if args.confirm else (args.action or "write")
    if args.value is None and action != "cancel":
        raise UsageError(f"give the VALUE to {action} {args.point} (only --action cancel goes "
                         "without one)")
    value = 0.0 if args.value is None else parse_value(args.value)
    if info is not None:
        if not info.writable:
            raise UsageError(f"{args.point} is read-only in the scene's devices.yaml")
        if info.sbo and action == "write":
            raise UsageError(
                f"{args.point} moves equipment (sbo: true): add --confirm to select and operate "
                "it, or send --action select and then --action operate within 10 s"
            )
        if not info.sbo and (args.confirm or action != "write"):
            what = "--confirm" if args.confirm else f"--action {action}"
            raise UsageError(f"{args.point} is a setpoint (no sbo: true): {what} does not apply; "
                             "write it without --confirm or --action")
    if args.confirm:
        return [Step(step, f"{base_id}.{step}", value) for step in CONFIRM_STEPS]
    return [Step(action, base_id, value)]


def run(args: argparse.Namespace) -> int:
    from runtime.bus.command_client import CommandTimeoutError, new_command_id, send_command
    from runtime.bus.handshake import BusRefusedError
    from runtime.bus.wire import Command, WireError

    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    base_id = _command_id(args.command_id, new_command_id(), args.confirm)
    actor = actor_name(args.actor)
    security = security_from_args(args, args.bus, "write")
    role = args.role or (security.role if security is not None and security.role else "operator")
    info = _point_info(args.scene, args.point) if args.scene else None
    steps = plan_steps(args, info, base_id)
    host = socket.gethostname()[:512]
    for n, step in enumerate(steps, 1):
        command = Command(step.command_id, args.point, step.value, role, actor, host,
                          step.action)
        label = f"[{n}/{len(steps)} {step.action}] " if len(steps) > 1 else ""
        try:
            ack = send_command(endpoints, command, args.timeout, security=security)
        except WireError as exc:
            raise UsageError(f"cannot send this command: {exc.reason}") from None
        except BusRefusedError as exc:
            print(f"{label}not sent: {exc}")
            return 1
        except CommandTimeoutError as exc:
            print(f"{label}timeout: {exc}; the outcome is unknown: check the point's reading "
                  f"before resending (to resend safely: --command-id {base_id})")
            return 1
        print(label + describe(ack, step, info))
        if not ack.ok:
            if ack.code == "not_selected" and step.action == "write":
                print(f"hint: {args.point} moves equipment: add --confirm (select then "
                      "operate), or send --action select then --action operate within 10 s")
            return 1
    return 0


def describe(ack: Ack, step: Step, info: PointInfo | None) -> str:
    """One line for the operator: outcome, point, values with unit, code and text, id."""
    unit = info.unit if info is not None else _unit_from_text(ack.point, ack.text)
    suffix = "" if unit in ("", "bool", "enum") else f" {unit}"
    outcome = f"{ack.outcome} (duplicate: already handled, nothing done again)" \
        if ack.duplicate else ack.outcome
    ident = f"(command {ack.id})"
    if ack.outcome == "confirmed":
        read = "" if ack.readback is None else f", read back {ack.readback:g}{suffix}"
        return f"{outcome}: {ack.point} = {step.value:g}{suffix}{read} {ident}"
    if ack.outcome == "cancelled":
        return f"{outcome}: {ack.point}: {ack.text or 'selection given back'} {ident}"
    if ack.outcome == "selected":
        return f"{outcome}: {ack.point} = {step.value:g}{suffix}: {ack.text} {ident}"
    why = ": ".join(part for part in (ack.code, ack.text) if part) or "no reason given"
    return f"{outcome}: {ack.point} = {step.value:g}{suffix}: {why} {ident}"


def _unit_from_text(point: str, text: str) -> str:
    """The unit in the adapter's confirmation text ``<point> = <value> <unit>``, or ``""``."""
    match = re.fullmatch(re.escape(point) + r" = \S+ (\S+)", text)
    return match.group(1) if match else ""


def _command_id(given: str | None, fresh: str, confirm: bool) -> str:
    if given is None:
        return fresh
    room = MAX_ID_LEN - (max(len(s) for s in CONFIRM_STEPS) + 1 if confirm else 0)
    if not _ID.fullmatch(given) or len(given) > room:
        raise UsageError(f"--command-id {given[:80]!r} must be 1..{room} visible ASCII "
                         "characters, no spaces")
    return given


def _point_info(scene_arg: str, point: str) -> PointInfo:
    from runtime.scene import load_devices, load_scene

    scene = load_scene(scene_arg)
    devices_path = scene.path / "devices.yaml"
    if not devices_path.exists():
        raise UsageError(f"--scene: {devices_path} does not exist; leave out --scene to rely "
                         "on the adapter's answer")
    found = load_devices(devices_path, scene).owner_of(point)
    if found is None:
        raise UsageError(f"{point} is not a point of {devices_path}")
    _device, spec = found
    return PointInfo(unit=spec.unit, sbo=bool(spec.sbo), writable=bool(spec.writable))


__all__ = ["describe", "parse_value", "plan_steps"]
