"""Glue between the adapter's pollers and the operator-control executor (runtime.control).

- :class:`PollerWriter` is the executor's ``DeviceWriter`` over the pollers' own connections:
  a write goes through :meth:`DevicePoller.write`, which takes its turn between block reads on
  the device's one connection and reads the point back on it. No second client, and one request
  in flight per connection (design.md; reliability pitfalls of pymodbus).
- :class:`PollerReadings` is the executor's ``Readings``: a live, read-only view of the value
  and quality each poller last published, for every point this adapter polls (interlock inputs
  and each writable point's own read-back alike). It copies nothing per command.
- :func:`wire_ack` turns the executor's ack into the bus ``Ack``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Protocol

from adapters.modbus.device_poller import DevicePoller
from adapters.modbus.write_policy import AdapterWritePolicy, encode_write
from runtime.bus.wire import MAX_CODE_LEN, MAX_TEXT_LEN
from runtime.control.ack import Ack
from runtime.control.readings import Reading

READBACK_FAILURE_PREFIX = "written, but"
"""How :meth:`DevicePoller.write` starts the reason of a write whose read-back failed."""


class DeviceWriteError(Exception):
    """The device did not take the write (exception reply, no answer, bad echo)."""


class ReadBackError(Exception):
    """The write was echoed but the point could not be read back."""


class _Poller(Protocol):
    point_ids: list[str]
    values: list[float]
    quality: list[int]


class PollerReadings(Mapping[str, Reading]):
    """Point id -> the poller's latest ``Reading(value, quality)``; missing while unpolled."""

    def __init__(self, pollers: Mapping[str, _Poller]) -> None:
        self._where: dict[str, tuple[_Poller, int]] = {
            pid: (poller, i)
            for poller in pollers.values()
            for i, pid in enumerate(poller.point_ids)
        }

    def __getitem__(self, point: str) -> Reading:
        poller, i = self._where[point]
        return Reading(poller.values[i], poller.quality[i])

    def __contains__(self, point: object) -> bool:
        return point in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


class PollerWriter:
    """Writes points through the poller of their device; implements ``DeviceWriter``.

    :meth:`DevicePoller.write` writes, checks the echo and reads the point back in one turn on
    the connection; :meth:`write` keeps that read-back for the :meth:`read_back` that the
    executor calls next (the executor runs one command at a time, so they pair up).
    """

    def __init__(self, policy: AdapterWritePolicy, pollers: Mapping[str, DevicePoller]) -> None:
        self._policy = policy
        self._pollers = pollers
        self._read: dict[str, float | ReadBackError] = {}

    async def write(self, point: str, value: float) -> None:
        """Encode and write ``value``; raise DeviceWriteError unless the device took it."""
        self._read.pop(point, None)
        spec = self._policy.point(point)
        device = self._policy.device_of(point)
        poller = None if device is None else self._pollers.get(device.id)
        if spec is None or device is None or poller is None:
            raise DeviceWriteError(f"{point} is not served by this adapter")
        words = encode_write(device, spec, value)
        result = await poller.write(spec, words)
        if result.outcome != "accepted":
            if result.reason.startswith(READBACK_FAILURE_PREFIX):
                self._read[point] = ReadBackError(result.reason)
                return
            raise DeviceWriteError(result.reason)
        if result.readback is None:
            self._read[point] = ReadBackError("the device sent no value to read back")
        else:
            self._read[point] = result.readback

    async def read_back(self, point: str) -> float:
        """The value read back right after the last write of ``point``."""
        read = self._read.pop(point, None)
        if read is None:
            raise ReadBackError(f"{point} has not been written")
        if isinstance(read, ReadBackError):
            raise read
        return read


def wire_ack(ack: Ack) -> Ack:
    """The executor's ack as the wire can carry it: printable text and code within their
    limits, a non-finite read-back as none (the text still says what was read).
    """
    read = ack.readback
    return ack._replace(
        text=printable(ack.text, MAX_TEXT_LEN),
        readback=None if read is None or not math.isfinite(read) else float(read),
        code=printable(ack.code, MAX_CODE_LEN, spaces=False),
    )


def printable(text: str, limit: int, *, spaces: bool = True) -> str:
    """``text`` as the wire allows: printable ASCII (``?`` for anything else), at most ``limit``
    characters (cut with ``...``); without ``spaces`` a space becomes ``_``."""
    lowest = " " if spaces else "!"
    clean = "".join(c if lowest <= c <= "~" else ("_" if c == " " else "?") for c in text)
    return clean[: limit - 3] + "..." if len(clean) > limit else clean


__all__ = [
    "DeviceWriteError",
    "PollerReadings",
    "PollerWriter",
    "ReadBackError",
    "printable",
    "wire_ack",
]
