"""Where a service's audit log goes when ``--audit-log`` is not given.

``$TWINSTAGE_AUDIT_DIR`` names the folder for every service's default log (the bus, the adapter,
the alarm service); unset, it is ``out/audit`` under the current directory. One variable lets a
site put all its audit chains on the disk it backs up, and lets a test session keep its own
chains out of the checkout (a chain keyed by one session's keys reads as damaged to the next).
"""

from __future__ import annotations

import os
from pathlib import Path

AUDIT_DIR_ENV = "TWINSTAGE_AUDIT_DIR"
FALLBACK_AUDIT_DIR = Path("out") / "audit"


def default_audit_path(file_name: str) -> Path:
    """The default audit log ``file_name`` in ``$TWINSTAGE_AUDIT_DIR`` (or ``out/audit``)."""
    folder = os.environ.get(AUDIT_DIR_ENV, "").strip()
    return (Path(folder) if folder else FALLBACK_AUDIT_DIR) / file_name


def default_help(file_name: str) -> str:
    """The ``--audit-log`` help's default clause, naming the variable."""
    return f"default ${AUDIT_DIR_ENV}/{file_name}, or {FALLBACK_AUDIT_DIR / file_name}"
