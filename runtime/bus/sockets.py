"""Socket options every bus socket gets, in one place.

LINGER 0 so that closing never hangs on undeliverable messages (a stopped bus must exit at once),
MAXMSGSIZE so that libzmq itself disconnects a peer that sends an oversized message before we
ever allocate it (R11), a bounded high-water mark so a slow peer costs bounded memory, and the
socket's CURVE role (:mod:`runtime.bus.security`; None is plaintext, loopback only).
"""

from __future__ import annotations

import zmq

from runtime.bus.security import Security, apply_security
from runtime.bus.wire import MAX_CONTROL_BYTES, MAX_MESSAGE_BYTES

DEFAULT_HWM = 10_000
"""Messages (= poll batches) queued per peer before ZeroMQ drops (PUB) or blocks (DEALER)."""


def make_socket(
    context: zmq.Context,
    kind: int,
    *,
    control: bool = False,
    hwm: int = DEFAULT_HWM,
    security: Security | None = None,
) -> zmq.Socket:
    """A socket with LINGER 0, MAXMSGSIZE, HWM and CURVE (``security``) set; ``control`` picks
    the smaller size cap. Set before connect or bind: CURVE options apply to later ones only.

    MAXMSGSIZE is per message part; the bus decoders still check each frame's length.
    """
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    limit = MAX_CONTROL_BYTES if control else MAX_MESSAGE_BYTES
    # Room for the topic frame and libzmq's framing: the decoders enforce the exact limit.
    sock.setsockopt(zmq.MAXMSGSIZE, limit + 1024)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    apply_security(sock, security)
    return sock
