"""Socket options every bus socket gets, in one place.

LINGER 0 so that closing never hangs on undeliverable messages (a stopped bus must exit at once),
MAXMSGSIZE so that libzmq itself disconnects a peer that sends an oversized message before we
ever allocate it (R11), and a bounded high-water mark so a slow peer costs bounded memory.
"""

from __future__ import annotations

import zmq

from runtime.bus.wire import MAX_CONTROL_BYTES, MAX_MESSAGE_BYTES

DEFAULT_HWM = 10_000
"""Messages (= poll batches) queued per peer before ZeroMQ drops (PUB) or blocks (DEALER)."""


def make_socket(
    context: zmq.Context,
    kind: int,
    *,
    control: bool = False,
    hwm: int = DEFAULT_HWM,
) -> zmq.Socket:
    """A socket with LINGER 0, MAXMSGSIZE and HWM set; ``control`` picks the smaller size cap.

    MAXMSGSIZE is per message part; the bus decoders still check each frame's length.
    """
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    limit = MAX_CONTROL_BYTES if control else MAX_MESSAGE_BYTES
    # Room for the topic frame and libzmq's framing: the decoders enforce the exact limit.
    sock.setsockopt(zmq.MAXMSGSIZE, limit + 1024)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    return sock
