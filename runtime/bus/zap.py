"""The bus's ZAP handler (ZeroMQ RFC 27): which CURVE client keys may connect, and as whom.

libzmq asks this handler, over ``inproc://zeromq.zap.01`` in the bus's context, about every
new connection to a CURVE server socket, before any message passes. The answer is 200 with the
key's name as the ZAP user id for an allow-listed, unrevoked key, and 400 for anything else:
an unknown key, a revoked one, or a mechanism other than CURVE (NULL, PLAIN). libzmq then
stamps every message from that connection with the user id (the ``User-Id`` frame property),
which is how the bus knows who sent what.

:func:`zap_reply` is the whole decision as a pure function of the request frames (a hypothesis
test feeds it arbitrary frames); :class:`ZapHandler` runs it on a thread. The ring can be
swapped at any time (:attr:`ZapHandler.ring`): new connections are judged by the new one at
once; the bus cuts the existing ones itself (revocation).
"""

from __future__ import annotations

import logging
import threading

import zmq
import zmq.utils.z85

from runtime.bus.keys import KeyRing
from runtime.bus.ratelog import RateLimitedLog

log = logging.getLogger("twinstage.bus.zap")

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_VERSION = b"1.0"
CURVE_KEY_BYTES = 32
MAX_ZAP_FRAMES = 16


def zap_reply(frames: list[bytes], ring: KeyRing,
              blocked: frozenset[str] | set[str] = frozenset()) -> tuple[list[bytes], str | None,
                                                                      str]:
    """The reply frames to one ZAP request, the user id admitted (or None) and why.

    ``blocked`` names keys the bus has quarantined for a while (oversized messages).

    Never raises: a malformed request gets status 500 (libzmq treats it as a refusal).
    """
    if len(frames) < 6 or len(frames) > MAX_ZAP_FRAMES or not all(
            isinstance(f, bytes) for f in frames):
        request_id = frames[1] if len(frames) > 1 and isinstance(frames[1], bytes) else b""
        return [ZAP_VERSION, request_id[:255], b"500", b"malformed ZAP request", b"", b""], \
            None, "malformed request"
    version, request_id, _domain, address, _identity, mechanism = frames[:6]
    credentials = frames[6:]

    def refuse(code: bytes, why: str) -> tuple[list[bytes], None, str]:
        why = "".join(c if " " <= c <= "~" else "?" for c in why)[:200]
        return [ZAP_VERSION, request_id, code, why.encode("ascii"), b"", b""], None, why

    if version != ZAP_VERSION:
        return refuse(b"500", "unsupported ZAP version")
    if mechanism != b"CURVE":
        name = mechanism.decode("ascii", "replace")[:20]
        return refuse(b"400", f"mechanism {name} refused: the bus requires CURVE")
    if len(credentials) != 1 or len(credentials[0]) != CURVE_KEY_BYTES:
        return refuse(b"500", "malformed CURVE credentials")
    key = zmq.utils.z85.encode(credentials[0]).decode("ascii")
    entry = ring.allowed(key)
    if entry is None:
        known = ring.by_key.get(key)
        why = f"key of {known.name} is revoked" if known is not None else \
            f"key {key[:8]}... is not on the allow-list"
        peer = address.decode("ascii", "replace")[:64]
        return refuse(b"400", f"{why} (from {peer})")
    if entry.name in blocked:
        return refuse(b"400", f"key {entry.name} is quarantined for a while: it sent messages "
                              "over the bus's limits")
    user = entry.name.encode("ascii")
    return [ZAP_VERSION, request_id, b"200", b"OK", user, b""], entry.name, "allowed"


class ZapHandler:
    """Answers ZAP requests for every CURVE socket in ``context`` on its own thread.

    Start it before binding any CURVE server socket: libzmq asks only a handler that exists.
    """

    def __init__(self, context: zmq.Context, ring: KeyRing) -> None:
        self.ring = ring
        """Swap freely (one reference assignment) to change who may connect."""
        self.blocked: frozenset[str] = frozenset()
        """Key names refused for now although allow-listed (swap, never mutate)."""
        self.refused = 0
        self.allowed = 0
        self._rlog = RateLimitedLog(log)
        self._stop = threading.Event()
        self._sock = context.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(ZAP_ENDPOINT)
        self._thread = threading.Thread(target=self._run, name="twinstage-zap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sock = self._sock
        try:
            while not self._stop.is_set():
                if not sock.poll(100):
                    continue
                frames = sock.recv_multipart()
                reply, user, why = zap_reply(frames, self.ring, self.blocked)
                if user is None:
                    self.refused += 1
                    self._rlog(logging.WARNING, "zap:" + why[:40], "connection refused: %s", why)
                else:
                    self.allowed += 1
                sock.send_multipart(reply)
        except zmq.ZMQError as exc:
            if not self._stop.is_set():
                log.error("ZAP handler stopped: %s", exc)
        finally:
            sock.close(linger=0)

    def close(self) -> None:
        """Stop the thread (within 100 ms) and close the socket."""
        self._stop.set()
        self._thread.join(timeout=2)


__all__ = ["ZAP_ENDPOINT", "ZapHandler", "zap_reply"]
