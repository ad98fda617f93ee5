"""The key options every bus client command shares: ``--key FILE``, ``--keys DIR``, ``--insecure``.

Not a subcommand: ``adapter``, ``tap``, ``write``, ``view`` and ``demo`` add these options and
turn them into the client's CURVE settings (:func:`runtime.bus.security.client_security`).
"""

from __future__ import annotations

import argparse

from runtime.bus.security import KEY_ENV, KEYS_ENV, ClientSecurity, client_security


def add_key_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                    service: str | None = None) -> None:
    """Add ``--key``, ``--keys`` (services only) and ``--insecure``."""
    if service is None:
        key_help = (f"your key file (NAME.key_secret, mode 0600); default ${KEY_ENV}. The bus "
                    "decides your name and role from it")
    else:
        key_help = (f"this {service}'s key file (default: {service}.key_secret in the keys "
                    "folder)")
        parser.add_argument("--keys", default=None, metavar="DIR",
                            help=f"keys folder (default ${KEYS_ENV} or ./keys)")
    parser.add_argument("--key", default=None, metavar="FILE", help=key_help)
    parser.add_argument("--insecure", action="store_true",
                        help="plaintext to a bus started with --insecure (loopback only)")


def security_from_args(args: argparse.Namespace, address: str, command: str, *,
                       service: str | None = None) -> ClientSecurity | None:
    """The client's CURVE settings (None for ``--insecure``); UsageError says what is missing."""
    return client_security(args.key, service=service, keys=getattr(args, "keys", None),
                           insecure=args.insecure, address=address, command=command)


__all__ = ["add_key_options", "security_from_args"]
