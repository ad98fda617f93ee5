"""``twinstage audit verify LOG``: check the write audit log's hash chain (reliability R14).

Exit 0 when every record and link is intact; exit 1 naming the first bad line and what is wrong
with it; exit 2 (a usage error) when the file cannot be read at all.

A keyed log (HMAC chain) is checked with its key: ``--key FILE``, else ``audit.key`` in the keys
folder ($TWINSTAGE_KEYS or ./keys). With ``--key`` an unkeyed log fails: its chain could have
been recomputed by anyone who can write the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.control.audit import head_problem, is_keyed, key_id, verify
from runtime.errors import UsageError

HELP = "check the write audit log's hash chain: exit 0 intact, 1 with the first bad line"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "verify",
        help="verify every record's hash and the chain between them",
        description="Verify every record's hash and the chain between them. Prints the last "
        "seq and head hash: keep them elsewhere to notice records cut off the end later.",
    )
    check.add_argument("log", help="the audit log file (JSON Lines) written by the adapter")
    check.add_argument("--key", default=None, metavar="FILE",
                       help="the audit key (default for a keyed log: audit.key in the keys "
                            "folder)")
    check.add_argument("--head", default=None, metavar="SEQ:HASH",
                       help="a head recorded elsewhere (the adapter publishes each on the bus): "
                            "the log must hold that record with that hash")
    check.add_argument("--recording", default=None, metavar="FILE|DIR",
                       help="check the log against every audit head a recorder kept "
                            "(twinstage record); --source picks the adapter")
    check.add_argument("--source", default=None, metavar="ID",
                       help="with --recording: the adapter whose heads to check (default: "
                            "the only one recorded)")


def _recorded_heads_problem(log: Path, recording: Path, source: str | None) -> str | None:
    """Every head the recording kept for ``source`` must be in the log as recorded."""
    from runtime.recording.reader import open_recording
    from runtime.recording.recorder import AUDIT_CHECKPOINT
    from runtime.recording.records import RecordedEvent

    with open_recording(recording) as rec:
        heads = [m for m in rec.events()
                 if isinstance(m, RecordedEvent) and m.kind == AUDIT_CHECKPOINT]
    sources = sorted({h.id for h in heads})
    if source is None:
        if len(sources) != 1:
            raise UsageError(f"--recording {recording}: audit heads of {len(sources)} adapters "
                             f"({', '.join(sources) or 'none'}); pick one with --source")
        source = sources[0]
    mine = [h for h in heads if h.id == source]
    if not mine:
        raise UsageError(f"--recording {recording}: no audit heads of {source!r} recorded")
    for h in mine:
        data = h.data or {}
        problem = head_problem(log, int(data.get("log_seq", -1)), str(data.get("head", "")))
        if problem is not None:
            return f"{problem} (head recorded by {recording} for {source})"
    print(f"{log}: matches all {len(mine)} audit heads of {source} in {recording}")
    return None


def run(args: argparse.Namespace) -> int:
    path = Path(args.log)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"{path} {what}; give the audit log file the adapter writes")
    from runtime.bus.keys import AUDIT_KEY_FILE, KeyFileError, read_audit_key
    from runtime.bus.security import keys_dir

    try:
        key_path = Path(args.key) if args.key else (
            keys_dir() / AUDIT_KEY_FILE if is_keyed(path) else None)
        key = None if key_path is None or not (args.key or key_path.exists()) else \
            read_audit_key(key_path)
        result = verify(path, key)
    except KeyFileError as exc:
        raise UsageError(f"--key: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if result.ok and args.recording:
        problem = _recorded_heads_problem(path, Path(args.recording), args.source)
        if problem is not None:
            print(f"{path}: {problem}", file=sys.stderr)
            return 1
    if result.ok and args.head:
        seq_text, _, head = args.head.partition(":")
        if not seq_text.isdigit() or len(head) != 64:
            raise UsageError(f"--head {args.head[:90]!r}: expected SEQ:HASH (64 hex digits)")
        problem = head_problem(path, int(seq_text), head.lower())
        if problem is not None:
            print(f"{path}: {problem}", file=sys.stderr)
            return 1
    if result.ok:
        keyed = f", HMAC key id {key_id(key)}" if key is not None else ", unkeyed"
        print(
            f"{path}: ok — {result.records} records, last seq {result.last_seq}, "
            f"head {result.head_hash}{keyed}"
        )
        return 0
    print(f"{path}:{result.line}: {result.problem}", file=sys.stderr)
    print(
        f"  {result.records} records before it are intact (last good seq {result.last_seq})",
        file=sys.stderr,
    )
    return 1
