"""A Modbus TCP test server that can misbehave on purpose (R4-R7 tests for the adapter).

Hand-rolled on asyncio rather than built on pymodbus's server: the point is to send replies no
correct server would send (silence, exception codes, short or truncated frames, wrong ids, resets,
arbitrary bytes), which a correct implementation cannot be talked into. The request parsing is
deliberately strict and simple; the normal replies follow the Modbus Application Protocol spec
byte for byte, so the adapter decodes them with pymodbus exactly as it would a real PLC.

Use it in-process (``await FaultServer().start()``) or as a process that tests kill and restart::

    python tests/modbus_fault_server.py --port 15502 --unit 1 --holding 0=1,2,3 --mode normal

The process prints ``READY <port>`` once it listens and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

MODES = (
    "normal",
    "silent",       # read the request, never answer (socket stays open)
    "exception",    # answer with Fault.exception_code
    "short",        # a read reply with one register (or byte of bits) too few
    "truncated",    # MBAP length promises more bytes than are sent
    "reset",        # drop the connection with a TCP RST on the next request
    "wrong_tid",    # reply carries another transaction id
    "wrong_unit",   # reply carries another unit id
    "wrong_fc",     # reply carries another function code
    "late",         # reply after Fault.delay_s (longer than the client's timeout)
    "fuzz",         # reply with Fault.fuzz(request_frame) bytes
)


@dataclass(slots=True)
class Fault:
    """What the server does with the next requests; change it at any time."""

    mode: str = "normal"
    exception_code: int = 4
    units: set[int] | None = None
    """Only requests to these unit ids misbehave (None: all units)."""
    delay_s: float = 1.0
    fuzz: Callable[[bytes], bytes] | None = None


@dataclass(slots=True)
class Unit:
    """One unit's four tables, all 65536 entries wide."""

    holding: array = field(default_factory=lambda: array("H", bytes(131072)))
    input: array = field(default_factory=lambda: array("H", bytes(131072)))
    coil: bytearray = field(default_factory=lambda: bytearray(65536))
    discrete: bytearray = field(default_factory=lambda: bytearray(65536))


class FaultServer:
    """Serves ``units`` on ``host:port`` (port 0 picks a free one) with a switchable fault."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, units: tuple[int, ...] = (1,)):
        self.host = host
        self.port = port
        self.units: dict[int, Unit] = {u: Unit() for u in units}
        self.fault = Fault()
        self.requests = 0
        """Requests received (all units, all function codes)."""
        self.requests_by: dict[tuple[int, int], int] = {}
        """(unit, function code) -> requests received."""
        self.connections = 0
        """Connections accepted so far."""
        self.writes: list[tuple[int, int, int, list[int]]] = []
        """(unit, function code, address, values) of every write served normally."""
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.Transport] = set()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop every open connection (like a server that went away)."""
        if self._server is not None:
            self._server.close()
        for t in list(self._open):
            t.abort()
        self._open.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def set_registers(self, table: str, address: int, words: list[int], unit: int = 1) -> None:
        getattr(self.units[unit], table)[address : address + len(words)] = array("H", words)

    def set_bits(self, table: str, address: int, bits: list[int], unit: int = 1) -> None:
        getattr(self.units[unit], table)[address : address + len(bits)] = bytes(
            1 if b else 0 for b in bits)

    # ----------------------------------------------------------------- serving

    def handle(self, conn: _Connection, frame: bytes) -> None:
        tid, _pid, _length, unit = struct.unpack(">HHHB", frame[:7])
        pdu = frame[7:]
        fc = pdu[0] if pdu else 0
        self.requests += 1
        self.requests_by[(unit, fc)] = self.requests_by.get((unit, fc), 0) + 1
        fault = self.fault
        faulty = fault.mode != "normal" and (fault.units is None or unit in fault.units)
        mode = fault.mode if faulty else "normal"
        if mode == "silent":
            return
        if mode == "reset":
            conn.reset()
            return
        if mode == "fuzz" and fault.fuzz is not None:
            conn.send(fault.fuzz(frame))
            return
        if mode == "exception":
            conn.send(_adu(tid, unit, bytes([fc | 0x80, fault.exception_code & 0xFF])))
            return
        reply = self._answer(unit, pdu, short=mode == "short")
        if mode == "wrong_tid":
            tid = (tid + 1) & 0xFFFF or 1
        elif mode == "wrong_unit":
            unit = (unit + 1) & 0xFF
        elif mode == "wrong_fc" and reply[0] < 0x80:
            reply = bytes([reply[0] ^ 0x07]) + reply[1:]
        data = _adu(tid, unit, reply)
        if mode == "truncated":
            data = data[: max(8, len(data) // 2)]
        if mode == "late":
            asyncio.get_running_loop().call_later(fault.delay_s, conn.send, data)
            return
        conn.send(data)

    def _answer(self, unit_id: int, pdu: bytes, short: bool = False) -> bytes:
        """The spec's reply PDU for a request PDU (exceptions for anything unsupported)."""
        fc = pdu[0] if pdu else 0
        unit = self.units.get(unit_id)
        if unit is None:
            return bytes([fc | 0x80, 0x0B])
        try:
            if fc in (1, 2, 3, 4):
                address, count = struct.unpack(">HH", pdu[1:5])
                limit = 2000 if fc in (1, 2) else 125
                if not 1 <= count <= limit:
                    return bytes([fc | 0x80, 3])
                if address + count > 65536:
                    return bytes([fc | 0x80, 2])
                if fc in (3, 4):
                    table = unit.holding if fc == 3 else unit.input
                    words = table[address : address + count - (1 if short else 0)]
                    return struct.pack(f">BB{len(words)}H", fc, 2 * len(words), *words)
                bits = (unit.coil if fc == 1 else unit.discrete)[address : address + count]
                packed = _pack_bits(bits)
                if short:
                    packed = packed[:-1]
                return bytes([fc, len(packed)]) + packed
            if fc == 5:
                address, value = struct.unpack(">HH", pdu[1:5])
                if value not in (0xFF00, 0x0000):
                    return bytes([fc | 0x80, 3])
                unit.coil[address] = 1 if value == 0xFF00 else 0
                self.writes.append((unit_id, fc, address, [unit.coil[address]]))
                return pdu[:5]
            if fc == 6:
                address, value = struct.unpack(">HH", pdu[1:5])
                unit.holding[address] = value
                self.writes.append((unit_id, fc, address, [value]))
                return pdu[:5]
            if fc == 16:
                address, count, nbytes = struct.unpack(">HHB", pdu[1:6])
                if not 1 <= count <= 123 or nbytes != 2 * count or len(pdu) != 6 + nbytes:
                    return bytes([fc | 0x80, 3])
                if address + count > 65536:
                    return bytes([fc | 0x80, 2])
                words = struct.unpack(f">{count}H", pdu[6 : 6 + nbytes])
                unit.holding[address : address + count] = array("H", words)
                self.writes.append((unit_id, fc, address, list(words)))
                return pdu[:5]
        except struct.error:
            return bytes([(fc | 0x80) & 0xFF, 3])
        return bytes([(fc | 0x80) & 0xFF, 1])


class _Connection(asyncio.Protocol):
    def __init__(self, server: FaultServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections += 1
        self.server._open.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server._open.discard(self.transport)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[4:6], "big")
            if not 2 <= length <= 254:
                self.reset()
                return
            if len(self.buffer) < 6 + length:
                return
            frame, self.buffer = self.buffer[: 6 + length], self.buffer[6 + length :]
            self.server.handle(self, frame)
            if self.transport is None:
                return

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a crashing device or a firewall would."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _adu(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def _pack_bits(bits: bytes | bytearray) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _parse_assignments(specs: list[str]) -> list[tuple[int, list[int]]]:
    out = []
    for spec in specs:
        address, _, values = spec.partition("=")
        out.append((int(address), [int(v, 0) for v in values.split(",") if v]))
    return out


async def _serve(args: argparse.Namespace) -> None:
    server = FaultServer(args.host, args.port, tuple(args.unit or [1]))
    for unit in server.units:
        for address, words in _parse_assignments(args.holding):
            server.set_registers("holding", address, words, unit)
        for address, words in _parse_assignments(args.input):
            server.set_registers("input", address, words, unit)
        for address, bits in _parse_assignments(args.coil):
            server.set_bits("coil", address, bits, unit)
        for address, bits in _parse_assignments(args.discrete):
            server.set_bits("discrete", address, bits, unit)
    server.fault = Fault(mode=args.mode, exception_code=args.exception_code)
    port = await server.start()
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unit", type=int, action="append")
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--exception-code", type=int, default=4)
    for table in ("holding", "input", "coil", "discrete"):
        parser.add_argument(f"--{table}", action="append", default=[], metavar="ADDR=V,V,...")
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
