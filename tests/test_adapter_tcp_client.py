"""The in-house Modbus TCP client against the fault server: every R6 check, named failures.

The poller-level fault tests (test_adapter_faults, test_adapter_fuzz) run through this client
too; these pin down what each kind of bad reply turns into at the client itself.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest
from modbus_fault_server import FaultServer

from adapters.modbus.tcp_client import ModbusTcpClient, ReplyTimeoutError
from adapters.modbus.validate import BadReplyError, DeviceExceptionError, NoCommunicationError


def _run(check: Callable[[FaultServer, ModbusTcpClient], Awaitable[None]],
         timeout_s: float = 0.3) -> None:
    async def main() -> None:
        server = FaultServer(units=(1, 2))
        port = await server.start()
        server.set_registers("holding", 0, [1, 2, 3, 0xFFFF])
        server.set_bits("coil", 0, [1, 0, 1])
        lost: list[bool] = []
        client = ModbusTcpClient("127.0.0.1", port, timeout_s=timeout_s,
                                 on_lost=lambda: lost.append(True))
        await client.connect()
        try:
            await check(server, client)
        finally:
            client.close()
            await server.stop()
    asyncio.run(main())


def test_reads_and_writes_round_trip() -> None:
    async def check(server: FaultServer, client: ModbusTcpClient) -> None:
        assert await client.read_registers(3, 1, 0, 4) == (1, 2, 3, 0xFFFF)
        assert await client.read(3, 1, 1, 2) == b"\x00\x02\x00\x03"
        assert (await client.read_bits(1, 1, 0, 3))[:3] == [True, False, True]
        assert len(await client.read_bits(1, 1, 0, 3)) == 8  # padded to whole bytes, as sent
        await client.write_register(1, 10, 0xBEEF)
        await client.write_registers(1, 20, [1, 2, 3])
        await client.write_coil(1, 5, True)
        assert list(server.units[1].holding[20:23]) == [1, 2, 3]
        assert server.units[1].holding[10] == 0xBEEF and server.units[1].coil[5] == 1
        # Transaction ids advance, so a stale reply can never match the next request.
        tids = set()
        for _ in range(3):
            tids.add(client._tid)
            await client.read(3, 1, 0, 1)
        assert len(tids) == 3 and 0 not in tids
    _run(check)


@pytest.mark.parametrize("mode, error", [
    ("short", BadReplyError), ("wrong_fc", BadReplyError),
    ("wrong_tid", NoCommunicationError), ("wrong_unit", NoCommunicationError),
    ("truncated", ReplyTimeoutError), ("silent", ReplyTimeoutError),
    ("reset", NoCommunicationError),
])
def test_each_bad_reply_is_named_and_never_a_value(mode: str, error: type[Exception]) -> None:
    async def check(server: FaultServer, client: ModbusTcpClient) -> None:
        server.fault.mode = mode
        with pytest.raises(error) as info:
            await client.read(3, 1, 0, 4)
        if error is not BadReplyError:  # a stream that cannot be trusted is not reused
            assert not isinstance(info.value, BadReplyError)
        if error is BadReplyError:
            server.fault.mode = "normal"  # the connection stays usable after a bad reply
            assert await client.read_registers(3, 1, 0, 2) == (1, 2)
        elif error is NoCommunicationError:
            assert not client.connected
    _run(check)


def test_exception_reply_and_wrong_echo() -> None:
    async def check(server: FaultServer, client: ModbusTcpClient) -> None:
        server.fault.mode, server.fault.exception_code = "exception", 2
        with pytest.raises(DeviceExceptionError) as info:
            await client.read(4, 1, 0, 1)
        assert (info.value.code, info.value.function_code) == (2, 4)
        with pytest.raises(DeviceExceptionError):
            await client.write_register(1, 0, 7)
        server.fault.mode = "fuzz"
        server.fault.fuzz = lambda frame: frame[:-1] + bytes([frame[-1] ^ 1])  # echo, 1 bit off
        with pytest.raises(BadReplyError, match="echo"):
            await client.write_register(1, 0, 7)
        with pytest.raises(BadReplyError, match="echo"):
            await client.write_coil(1, 0, True)
    _run(check)


@pytest.mark.parametrize("reply", [
    lambda f: f[:2] + b"\x00\x01" + f[4:],  # protocol id 1
    lambda f: f[:4] + b"\x00\x00" + f[6:],  # length 0
    lambda f: f[:4] + b"\x01\x00" + f[6:],  # length 256
    lambda f: f[:7] + b"\x03\x02\x00",  # byte count 2 with 1 data byte
    lambda f: f[:4] + struct.pack(">H", 4) + f[6:7] + b"\x83\x02\x00",  # long exception
])
def test_malformed_frames_never_become_values(reply: Callable[[bytes], bytes]) -> None:
    async def check(server: FaultServer, client: ModbusTcpClient) -> None:
        server.fault.mode = "fuzz"
        server.fault.fuzz = reply
        with pytest.raises((BadReplyError, NoCommunicationError)):
            await client.read(3, 1, 0, 1)
    _run(check)


def test_late_reply_after_timeout_fails_the_request_only_once() -> None:
    async def check(server: FaultServer, client: ModbusTcpClient) -> None:
        server.fault.mode, server.fault.delay_s = "late", 0.2
        with pytest.raises(ReplyTimeoutError):
            await client.read(3, 1, 0, 1)
        # The caller drops a timed-out connection; if it did not, the late reply would be
        # refused as a reply for no request in flight.
        await asyncio.sleep(0.3)
        assert not client.connected
    _run(check, timeout_s=0.1)


def test_connect_failure_is_no_communication() -> None:
    async def main() -> None:
        server = FaultServer()
        port = await server.start()
        await server.stop()
        client = ModbusTcpClient("127.0.0.1", port, timeout_s=0.5)
        with pytest.raises(NoCommunicationError):
            await client.connect()
        with pytest.raises(NoCommunicationError):
            await client.read(3, 1, 0, 1)
    asyncio.run(main())
