"""``twinstage audit verify LOG``: check the write audit log's hash chain (reliability R14).

Exit 0 when every record and link is intact; exit 1 naming the first bad line and what is wrong
with it; exit 2 (a usage error) when the file cannot be read at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.control.audit import verify
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


def run(args: argparse.Namespace) -> int:
    path = Path(args.log)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"{path} {what}; give the audit log file the adapter writes")
    try:
        result = verify(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if result.ok:
        print(
            f"{path}: ok — {result.records} records, last seq {result.last_seq}, "
            f"head {result.head_hash}"
        )
        return 0
    print(f"{path}:{result.line}: {result.problem}", file=sys.stderr)
    print(
        f"  {result.records} records before it are intact (last good seq {result.last_seq})",
        file=sys.stderr,
    )
    return 1
