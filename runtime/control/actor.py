"""Who is acting: the name every command and audit record carries."""

from __future__ import annotations

import getpass
import re

from runtime.errors import UsageError

_ACTOR = re.compile(r"[\x20-\x7e]{1,64}")
"""Printable ASCII, 1..64 characters: what the wire and the audit log accept."""


def actor_name(given: str | None) -> str:
    """``--actor`` as given (checked), or the OS user made printable when none is given."""
    if given is not None:
        if not _ACTOR.fullmatch(given):
            raise UsageError(f"--actor {given[:80]!r} must be 1..64 printable ASCII characters")
        return given
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        name = "unknown"
    return "".join(c if " " <= c <= "~" else "?" for c in name)[:64] or "unknown"
