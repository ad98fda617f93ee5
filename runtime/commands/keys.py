"""``twinstage keys``: make, list and revoke the keys that may use the bus (docs/security.md).

- ``keys new NAME --role ROLE [--publish SOURCE]...`` writes ``NAME.key_secret`` (mode 0600,
  with the bus's public key in it: the one file a station needs) and allow-lists its public key
  in ``site.json``; the bus's own key pair is made on first use.
- ``keys list`` prints every key: name, role, may publish for, commands, revoked.
- ``keys revoke NAME`` marks the key revoked and deletes its secret file here; a running bus
  re-reads ``site.json`` and cuts the key's live connections within a second.
"""

from __future__ import annotations

import argparse

from runtime.bus.keys import ROLES, SITE_FILE, KeyFileError, add_key, load_site, revoke_key
from runtime.bus.security import KEYS_ENV, keys_dir
from runtime.errors import UsageError

HELP = "make, list and revoke bus keys (new NAME --role ROLE, list, revoke NAME)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keys", default=None, metavar="DIR",
                        help=f"keys folder (default ${KEYS_ENV} or ./keys)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="make a key pair and allow-list it")
    new.add_argument("name", help="who holds the key: the actor of their commands "
                                  "(letters, digits, _ . @ -; at most 64)")
    new.add_argument("--role", required=True, choices=ROLES)
    new.add_argument("--publish", action="append", default=[], metavar="SOURCE",
                     help="a source id (or glob) this key may publish for and register as "
                          "adapter; repeat for more")
    new.add_argument("--no-commands", action="store_true",
                     help="may not send commands even with a writing role")
    sub.add_parser("list", help="print every key in the allow-list")
    revoke = sub.add_parser("revoke", help="revoke a key (a running bus cuts it within 1 s)")
    revoke.add_argument("name")


def run(args: argparse.Namespace) -> int:
    folder = keys_dir(args.keys)
    try:
        if args.action == "new":
            path = add_key(folder, args.name, args.role, publish=tuple(args.publish),
                           commands=False if args.no_commands else None)
            what = f", may publish for {', '.join(args.publish)}" if args.publish else ""
            print(f"key {args.name} ({args.role}{what}) written to {path} (mode 0600) and "
                  f"allow-listed in {folder / SITE_FILE}; give the file to its holder only")
        elif args.action == "list":
            ring = load_site(folder / SITE_FILE)
            if not ring.entries:
                print(f"no keys in {folder / SITE_FILE}")
            for e in ring.entries:
                flags = [e.role, "commands" if e.commands else "no commands"]
                if e.publish:
                    flags.append("publish " + ",".join(e.publish))
                state = "REVOKED" if e.revoked else "active"
                print(f"{e.name:24} {state:8} {' '.join(flags)}  {e.public_key}")
        else:
            entry = revoke_key(folder, args.name)
            print(f"key {entry.name} ({entry.role}) revoked in {folder / SITE_FILE}; a running "
                  "bus cuts its connections within a second")
    except KeyFileError as exc:
        raise UsageError(f"keys {args.action}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"keys {args.action}: {folder}: {exc.strerror or exc}") from None
    return 0
