"""Receiving one message from an untrusted peer: part and size limits, and who sent it.

``recv_multipart`` copies every part of a message before we can look at it, so a single
message of 1,000 parts of 1 MiB each costs a gigabyte in Python on top of what libzmq holds.
:func:`recv_limited` takes the parts one at a time and keeps none past the limits (R19): the
rest of an oversized message is read and dropped part by part. It also returns the ZAP user id
(the allow-listed key's name) that libzmq stamped on the message, when the socket is CURVE.
"""

from __future__ import annotations

from typing import NamedTuple

import zmq


class Incoming(NamedTuple):
    """One received message: its parts (empty when over the limits), sender and verdict."""

    frames: list[bytes]
    user: str
    """ZAP user id (key name) of the sending connection; ``""`` on a plaintext socket."""
    peer: str
    """The peer's IP address as libzmq saw it (``""`` when unknown)."""
    problem: str
    """Why the message was dropped (over the part or byte limit), or ``""``."""


def _property(frame: zmq.Frame, name: str) -> str:
    try:
        value = frame.get(name)
    except zmq.ZMQError:
        return ""
    return value if isinstance(value, str) else ""


def recv_limited(sock: zmq.Socket, *, max_parts: int, max_bytes: int,
                 identify: bool = False, peer: bool = True) -> Incoming:
    """The next message on ``sock`` (NOBLOCK: raises zmq.Again when there is none).

    At most ``max_parts`` parts and ``max_bytes`` bytes in all are kept; past either, the
    message is drained and returned with no frames and ``problem`` set. ``identify`` reads
    the User-Id property and, with ``peer``, the Peer-Address (CURVE sockets).
    """
    first = sock.recv(zmq.NOBLOCK, copy=False)
    user = _property(first, "User-Id") if identify else ""
    address = _property(first, "Peer-Address") if identify and peer else ""
    frames = [first.bytes]
    total = len(frames[0])
    parts = 1
    problem = ""
    more = first.more
    while more:
        part = sock.recv(copy=False)  # the parts of one message are delivered together
        more = part.more
        parts += 1
        if problem:
            continue
        size = len(part)
        if parts > max_parts:
            problem = f"more than {max_parts} parts"
        elif total + size > max_bytes:
            problem = f"more than {max_bytes} bytes"
        else:
            frames.append(part.bytes)
            total += size
            continue
        frames = []
    if problem:
        problem = f"{problem} ({parts} parts)"
    return Incoming(frames, user, address, problem)


__all__ = ["Incoming", "recv_limited"]
