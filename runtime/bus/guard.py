"""The bus's security state: who is allowed, as whom, and what for (R12, R19, R20).

One :class:`BusGuard` per secured bus, used only from the bus's thread (the ZAP handler it
starts runs on its own thread and only reads the ring and the blocked set, which the guard
swaps whole). It holds the allow-list and re-reads it when the file changes, the ZAP handler,
the per-key publish verdicts, the keys quarantined for oversized messages, which keys were
heard on which socket (so that a revocation re-binds only those sockets), and the router's
decision on each command: refused and audited (viewer keys, a claimed role that is not the
key's), or forwarded with actor, role and host taken from the key.

:class:`runtime.bus.server.BusServer` owns the sockets and does the re-binding.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import zmq

from runtime.bus.keys import KeyFileError, load_site
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ServerSecurity
from runtime.bus.services import ServiceRequest
from runtime.bus.wire import Ack, Command, encode_command
from runtime.bus.zap import ZapHandler
from runtime.errors import UsageError

if TYPE_CHECKING:
    from runtime.control.audit import AuditLog

log = logging.getLogger("twinstage.bus")

HISTORY_SERVICE = "history"
"""Requests for this service need a key with history rights (``history`` in site.json)."""
QUARANTINE_S = 60.0
"""A key that sends a message over the part or size limits is cut and refused this long, so
it cannot make libzmq assemble one oversized message after another."""
SITE_CHECK_S = 0.25
"""How often the allow-list file is checked for changes (revocation takes effect within this
plus a reconnect)."""
MAX_SEEN_PER_SOCKET = 10_000


class BusGuard:
    """Allow-list, ZAP, publish rights, quarantine and the router's identity checks."""

    def __init__(self, context: zmq.Context, security: ServerSecurity, *,
                 audit: AuditLog | None, stats: dict[str, int]) -> None:
        self.security = security
        self._audit = audit
        self._stats = stats
        self._rlog = RateLimitedLog(log)
        try:
            self.ring = load_site(security.site_path)
            self._stamp = _stamp(security.site_path)
        except (KeyFileError, OSError) as exc:
            raise UsageError(f"bus: {exc}") from None
        self._next_check_ns = 0
        self._may_publish: dict[tuple[str, str], bool] = {}
        self._seen: dict[str, set[str]] = {}
        """Socket name -> key names heard on it."""
        self._quarantine: dict[str, int] = {}
        """Key name -> monotonic ns until which ZAP refuses it."""
        # Before any bind: libzmq consults only a ZAP handler that already exists.
        self._zap = ZapHandler(context, self.ring)

    def close(self) -> None:
        self._zap.close()

    # -- per message -----------------------------------------------------------------------

    def heard(self, socket_name: str, user: str) -> None:
        """Note that key ``user`` is connected to ``socket_name``."""
        seen = self._seen.setdefault(socket_name, set())
        if user not in seen and len(seen) < MAX_SEEN_PER_SOCKET:
            seen.add(user)

    def admits(self, user: str) -> bool:
        """Whether messages from ``user`` count (allow-listed, not revoked, not quarantined)."""
        return self.ring.active(user) is not None and user not in self._quarantine

    def may_publish(self, user: str, source: str) -> bool:
        """Whether key ``user`` may publish for (or register as) ``source``; cached."""
        key = (user, source)
        verdict = self._may_publish.get(key)
        if verdict is None:
            entry = self.ring.active(user)
            verdict = entry is not None and entry.may_publish(source)
            if len(self._may_publish) > 100_000:
                self._may_publish.clear()
            self._may_publish[key] = verdict
        return verdict

    def quarantine(self, user: str, why: str) -> bool:
        """Refuse ``user`` for QUARANTINE_S; True when it was not already (cut it then)."""
        if not user or user in self._quarantine:
            return False
        self._quarantine[user] = time.monotonic_ns() + int(QUARANTINE_S * 1e9)
        self._zap.blocked = frozenset(self._quarantine)
        log.warning("key %s quarantined for %.0f s: it sent a message with %s", user,
                    QUARANTINE_S, why)
        return True

    def vouch_request(self, request: ServiceRequest,
                      user: str) -> tuple[ServiceRequest, str]:
        """The request with role and actor from the key, and a refusal ("" when none): a
        key without history rights may not ask the historian. Services judge roles further."""
        entry = self.ring.active(user)
        assert entry is not None  # messages from keys not admitted were dropped already
        vouched = request._replace(role=entry.role, actor=entry.name)
        if request.service == HISTORY_SERVICE and not entry.history:
            self._stats["refused_at_router"] += 1
            return vouched, f"key {entry.name} may not query history"
        return vouched, ""

    def vouch(self, command: Command, user: str, peer: str) -> tuple[bytes | None, Ack | None]:
        """The command payload for the adapter (actor, role and host from the key), or the
        router's refusal, audited in the bus's log (viewer key, a key without command rights,
        a claimed role that is not the key's)."""
        entry = self.ring.active(user)
        assert entry is not None  # messages from keys not admitted were dropped already
        host = (f"{command.host}@{peer}" if peer else command.host)[:512]
        if entry.role == "viewer" or not entry.commands:
            code, text = "role", (f"key {entry.name} ({entry.role}) may not send commands; "
                                  "sign in with an operator key")
        elif command.role != entry.role:
            code, text = "role_mismatch", (f"command claims role {command.role!r} but key "
                                           f"{entry.name} is {entry.role}")
        else:
            vouched = command._replace(actor=entry.name, role=entry.role, host=host)
            return encode_command(vouched), None
        self._stats["refused_at_router"] += 1
        log.warning("command %s for %s from key %s refused at the router: %s: %s", command.id,
                    command.point, entry.name, code, text)
        if self._audit is not None:
            try:
                self._audit.append(actor=entry.name, role=entry.role, host=host,
                                   command_id=command.id, point=command.point,
                                   action=command.action, old_value=None,
                                   new_value=command.value, outcome="refused", reason=code,
                                   detail=f"at the bus: {text}; claimed role "
                                          f"{command.role!r}, actor {command.actor!r}")
            except Exception as exc:  # the refusal stands; say that its record is missing
                self._rlog(logging.ERROR, "audit", "bus audit log unavailable: %s", exc)
        return None, Ack(command.id, command.point, "refused", text[:512], None, code)

    # -- timers ----------------------------------------------------------------------------

    def tick(self, now_ns: int) -> set[str]:
        """Expire quarantines and re-read a changed allow-list; the key names whose
        connections must be cut (revoked, removed or changed)."""
        if self._quarantine and any(until < now_ns for until in self._quarantine.values()):
            self._quarantine = {k: t for k, t in self._quarantine.items() if t >= now_ns}
            self._zap.blocked = frozenset(self._quarantine)
        if now_ns < self._next_check_ns:
            return set()
        self._next_check_ns = now_ns + int(SITE_CHECK_S * 1e9)
        path = self.security.site_path
        try:
            stamp = _stamp(path)
            if stamp == self._stamp:
                return set()
            ring = load_site(path)
        except (OSError, KeyFileError) as exc:
            self._rlog(logging.ERROR, "site", "allow-list %s unreadable, keeping the last good "
                       "one: %s", path, exc)
            return set()
        old = self.ring
        self._stamp = stamp
        self.ring = ring
        self._may_publish.clear()
        self._zap.ring = ring
        gone = {e.name for e in old.entries if not e.revoked}
        gone -= {e.name for e in ring.entries if not e.revoked and old.by_name.get(e.name) == e}
        log.warning("allow-list %s reloaded: %d active keys", path,
                    sum(not e.revoked for e in ring.entries))
        return gone

    def sockets_with(self, names: set[str]) -> list[str]:
        """Socket names on which one of ``names`` was heard (forgotten: they are re-bound)."""
        found = []
        for sock_name, users in self._seen.items():
            if users & names:
                found.append(sock_name)
                users.clear()
        return found


def _stamp(path: os.PathLike[str] | str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


__all__ = ["QUARANTINE_S", "SITE_CHECK_S", "BusGuard"]
