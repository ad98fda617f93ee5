"""``twinstage alarms``: the site's alarm service, and the operator's alarm tools.

    twinstage alarms SCENE [--bus ADDR]                run the alarm service (one per site)
    twinstage alarms list [--json]                     active, unacknowledged and shelved alarms
    twinstage alarms ack ID|--all [--comment TEXT]     acknowledge
    twinstage alarms shelve ID --minutes M --reason TEXT
    twinstage alarms unshelve ID | disable ID --reason TEXT | enable ID
    twinstage alarms journal [--since T] [--point GLOB] [--priority P] [--csv]
    twinstage alarms report [--since T] [--json]       EEMUA 191 alarm performance

``list`` and the actions go through the bus with your key (the alarm service checks your role and
audits every action); ``journal`` and ``report`` read the journal file when it is here
(``--journal``), else ask the alarm service through the bus.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.audit_default import default_audit_path, default_help
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.errors import UsageError

HELP = "run the alarm service, or list, acknowledge, shelve and report alarms"
TOOLS = ("list", "ack", "shelve", "unshelve", "disable", "enable", "journal", "report")
DEFAULT_JOURNAL = Path("out") / "alarms" / "journal.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", metavar="SCENE|TOOL",
                        help=f"a scene to serve its alarms, or one of {', '.join(TOOLS)}")
    parser.add_argument("target", nargs="?", default=None, metavar="ID",
                        help="the alarm id for ack, shelve, unshelve, disable, enable")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"the bus (default {DEFAULT_ADDRESS})")
    parser.add_argument("--journal", type=Path, default=None, metavar="PATH",
                        help=f"the alarm journal (default {DEFAULT_JOURNAL})")
    parser.add_argument("--audit-log", type=Path, default=None, metavar="PATH",
                        help="audit log of alarm actions "
                             f"(service; {default_help('alarms.jsonl')})")
    parser.add_argument("--audit-key", default=None, metavar="FILE",
                        help="key of the audit chain (default: audit.key in the keys folder)")
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="service: stop after S seconds (default: until Ctrl-C)")
    parser.add_argument("--all", action="store_true", help="ack: every unacknowledged alarm")
    parser.add_argument("--minutes", type=float, default=None, help="shelve: for how long")
    parser.add_argument("--reason", "--comment", dest="comment", default="", metavar="TEXT",
                        help="why (required to shelve or disable)")
    parser.add_argument("--json", action="store_true", help="list, report: JSON output")
    parser.add_argument("--csv", action="store_true", help="journal: CSV output")
    parser.add_argument("--since", default=None, metavar="T",
                        help="journal, report: from T (-2h, 10:42, ISO 8601)")
    parser.add_argument("--point", default=None, metavar="GLOB",
                        help="journal: points or alarm ids matching GLOB (P-101/*)")
    parser.add_argument("--priority", default=None, metavar="P",
                        help="journal: Critical, High, Medium, Low (comma-separated)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for the bus (default 5)")
    add_key_options(parser, service="alarms")


def run(args: argparse.Namespace) -> int:
    if args.what in TOOLS:
        return _tool(args)
    if args.target is not None:
        raise UsageError(f"unexpected argument {args.target!r}: `twinstage alarms SCENE` runs "
                         f"the service; tools are {', '.join(TOOLS)}")
    return _serve(args)


def _endpoints(args: argparse.Namespace) -> BusEndpoints:
    try:
        return BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None


# -- the service ----------------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from runtime.alarms import AlarmEngine, AlarmJournal, load_alarms
    from runtime.alarms.journal import JournalError
    from runtime.alarms.service import AlarmService
    from runtime.commands.adapter import audit_key, open_audit_log
    from runtime.scene import load_devices, load_scene

    scene = load_scene(args.what)
    alarms_file = scene.path / "alarms.yaml"
    if not alarms_file.is_file():
        raise UsageError(f"{alarms_file} does not exist: the scene defines no alarms "
                         "(docs/alarms.md describes the file)")
    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    defs = load_alarms(alarms_file, scene, devices)
    endpoints = _endpoints(args)
    security = security_from_args(args, args.bus, "alarms", service="alarms")
    journal_path = args.journal or DEFAULT_JOURNAL
    try:
        journal = AlarmJournal(journal_path)
    except (JournalError, OSError) as exc:
        raise UsageError(f"alarm journal {journal_path}: {exc}") from None
    if journal.truncated_bytes:
        print(f"twinstage alarms: cut a torn last line ({journal.truncated_bytes} bytes) off "
              f"{journal_path} (the service was killed mid-write)", file=sys.stderr, flush=True)
    engine = AlarmEngine.restore(defs, journal)
    audit_path = args.audit_log or default_audit_path("alarms.jsonl")
    audit = open_audit_log(audit_path,
                           audit_key(args.audit_key, args.keys, args.insecure), "alarms")
    service = AlarmService(engine, endpoints, security=security, audit=audit)
    restored = sum(1 for s in engine.states() if s["state"] != "normal")
    print(f"twinstage alarms: {len(defs.alarms)} alarms of {scene.name} on {args.bus}; journal "
          f"{journal_path} ({journal.last_seq} transitions, {restored} alarms not normal); "
          f"actions audited to {audit_path}", flush=True)

    def on_signal(signum: int, frame: object) -> None:
        service.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    thread = service.start_thread()
    try:
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while thread.is_alive() and (deadline is None or time.monotonic() < deadline):
            thread.join(0.2)
    finally:
        service.stop()
        thread.join(5)
        for s, handler in previous.items():
            signal.signal(s, handler)
        journal.close()
        audit.close()
    if service.failure:
        print(f"twinstage alarms: stopped by an error: {service.failure}", file=sys.stderr,
              flush=True)
        return 1
    print(f"twinstage alarms: stopped ({service.stats['transitions']} transitions, "
          f"{service.stats['commands']} actions)", flush=True)
    return 0


# -- tools ----------------------------------------------------------------------------------

def _client_security(args: argparse.Namespace) -> Any:
    # People's tools use their own key ($TWINSTAGE_KEY or --key), never the service's.
    return security_from_args(args, args.bus, f"alarms {args.what}")


def _tool(args: argparse.Namespace) -> int:
    if args.what == "list":
        return _list(args)
    if args.what in ("journal", "report"):
        return _journal(args)
    return _act(args)


def _snapshot(args: argparse.Namespace) -> list[dict[str, Any]]:
    from runtime.alarms.feed import fetch_snapshot
    from runtime.bus.service_client import ServiceClient

    with ServiceClient(_endpoints(args), security=_client_security(args)) as client:
        states, problem = fetch_snapshot(client, args.timeout)
    if problem:
        raise UsageError(f"the alarm service did not answer: {problem}")
    return states


def _list(args: argparse.Namespace) -> int:
    from runtime.alarms.board import AlarmBoard
    from runtime.ui.alarm_text import list_row

    board = AlarmBoard()
    board.replace(_snapshot(args))
    rows = board.listed()
    if args.json:
        keep = ("id", "asset", "point", "priority", "state", "message", "t_ns", "t_active_ns",
                "actor", "comment", "shelved_until_ns", "journal_seq")
        print(json.dumps({"alarms": [{k: getattr(a, k) for k in keep} for a in rows]},
                         indent=1))
        return 0
    if not rows:
        print("no active, unacknowledged or shelved alarms")
    for a in rows:
        print(list_row(a))
    return 0


_MINUTES_MAX = 7 * 24 * 60


def _act(args: argparse.Namespace) -> int:
    from runtime.bus.command_client import CommandTimeoutError, new_command_id, send_command
    from runtime.bus.handshake import BusRefusedError
    from runtime.bus.wire import Command, WireError
    from runtime.control.actor import actor_name

    action = {"ack": "ack", "shelve": "shelve", "unshelve": "unshelve", "disable": "disable",
              "enable": "enable"}[args.what]
    if args.all:
        if action != "ack":
            raise UsageError("--all goes with ack only")
        target = "*"
    elif args.target is None:
        raise UsageError(f"alarms {action}: give the alarm id (twinstage alarms list shows them)"
                         + (" or --all" if action == "ack" else ""))
    else:
        target = args.target
    minutes = 0.0
    if action == "shelve":
        if args.minutes is None or not 0 < args.minutes <= _MINUTES_MAX:
            raise UsageError("alarms shelve: give --minutes M (more than 0; the alarm's own "
                             "maximum applies)")
        minutes = float(args.minutes)
    if action in ("shelve", "disable") and not args.comment.strip():
        raise UsageError(f"alarms {action}: give --reason TEXT (it goes in the journal and "
                         "the audit log)")
    security = _client_security(args)
    role = _role_of(security)
    actor = security.name if security is not None else actor_name(None)
    command = Command(new_command_id(), f"alarm/{target}", minutes, role, actor,
                      socket.gethostname(), action, args.comment.strip())
    try:
        ack = send_command(_endpoints(args), command, timeout_s=args.timeout, security=security)
    except WireError as exc:
        raise UsageError(f"alarms {action}: {exc.reason}") from None
    except (CommandTimeoutError, BusRefusedError) as exc:
        raise UsageError(f"alarms {action}: {exc}") from None
    print(f"{ack.outcome}: {ack.text}" + (f" ({ack.code})" if ack.code else ""))
    return 0 if ack.outcome == "confirmed" else 1


def _role_of(security: Any) -> str:
    """The role to claim: the key's (the bus refuses any other); operator with --insecure."""
    return security.role if security is not None and security.role else "operator"


_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")


def since_ns(text: str | None, now_ns: int) -> int | None:
    """``--since``: -2h, 10:42 (today), ISO 8601; None when not given."""
    from runtime.time.parse import parse_instant

    if text is None:
        return None
    start = now_ns - 400 * 86_400_000_000_000
    if _CLOCK.fullmatch(text.strip()):
        start = now_ns - (now_ns % 86_400_000_000_000) - 86_400_000_000_000
    try:
        return parse_instant(text, max(start, 0), now_ns)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _journal(args: argparse.Namespace) -> int:
    from runtime.alarms.journal import JournalError
    from runtime.alarms.journal_query import filter_rows, read_journal, to_csv
    from runtime.alarms.report import alarm_report, format_report

    since = since_ns(args.since, time.time_ns())
    path = args.journal or DEFAULT_JOURNAL
    if path.exists():
        try:
            rows = read_journal(path)
        except JournalError as exc:
            raise UsageError(str(exc)) from None
    elif args.journal is not None:
        raise UsageError(f"{path}: no alarm journal here")
    else:
        rows = _remote_journal(args)
    if args.what == "report":
        report = alarm_report(rows, start_ns=since)
        print(json.dumps(report, indent=1) if args.json else format_report(report))
        return 0
    rows = filter_rows(rows, since_ns=since, point_glob=args.point, priority=args.priority)
    if args.csv:
        sys.stdout.write(to_csv(rows))
    else:
        from runtime.ui.alarm_text import clock_text

        for r in rows:
            print(f"{clock_text(int(r['t_ns']))}  #{r.get('journal_seq')}  {r['id']:<14} "
                  f"{r.get('priority', ''):<8} {r['state']:<14} {r.get('actor') or 'system':<10} "
                  f"{r.get('message', '')}" + (f"  ({r['comment']})" if r.get("comment") else ""))
    return 0


def _remote_journal(args: argparse.Namespace) -> list[dict[str, Any]]:
    from runtime.bus.service_client import ServiceClient

    with ServiceClient(_endpoints(args), security=_client_security(args)) as client:
        reply = client.call("alarms", "journal", {"limit": 2000}, timeout_s=args.timeout)
    if not reply.ok:
        raise UsageError(f"no journal file at {DEFAULT_JOURNAL} and the alarm service did not "
                         f"answer: {reply.text}")
    return list(reply.body.get("rows", []))
