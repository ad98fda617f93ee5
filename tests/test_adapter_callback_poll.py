"""The callback reply path: ``ModbusTcpClient.start`` and the poller's callback ticks.

Client level: a scripted loopback peer writes raw bytes, and the test waits on what the client
has buffered, so a reply split at every byte, two replies in one read, a wrong transaction id
and a timeout each reach the client exactly as written. Poller level: the fault server, with the
poller proven to be polling from callbacks (``_fast_end`` set) when each fault starts.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable

import pytest
from adapter_fixtures import CaptureSink, device, quiet_pymodbus, with_poller
from modbus_fault_server import FaultServer

from adapters.modbus.device_poller import _IN_FLIGHT, DevicePoller
from adapters.modbus.tcp_client import ModbusTcpClient, ReadRequest, ReplyTimeoutError
from adapters.modbus.validate import NoCommunicationError
from adapters.modbus.write_policy import encode_write
from runtime.quality import Quality, Reason

GOOD, BAD = int(Quality.GOOD), int(Quality.BAD)
PERIOD_S = 0.1
MARGIN_S = 0.5
"""Scheduling slack on a loaded 2-core machine; the bounds tested are the stated ones."""


def setup_module() -> None:
    quiet_pymodbus()


def _adu(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def _until(predicate: Callable[[], object], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.001)


class _Peer:
    """A loopback TCP peer: the test reads the client's requests and writes raw replies."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self) -> tuple[int, int, bytes]:
        """The next request: (transaction id, unit id, PDU)."""
        assert self.reader is not None
        tid, _pid, length, unit = struct.unpack(">HHHB", await self.reader.readexactly(7))
        return tid, unit, await self.reader.readexactly(length - 1)

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.server.close()
        await self.server.wait_closed()


def _client_run(check: Callable[[_Peer, ModbusTcpClient, list[bool]], Awaitable[None]],
                timeout_s: float = 1.0) -> None:
    async def main() -> None:
        peer = _Peer()
        port = await peer.start()
        lost: list[bool] = []
        client = ModbusTcpClient("127.0.0.1", port, timeout_s=timeout_s,
                                 on_lost=lambda: lost.append(True))
        await client.connect()
        await _until(lambda: peer.writer is not None)
        try:
            await check(peer, client, lost)
        finally:
            client.close()
            await peer.stop()
    asyncio.run(main())


def _buffered(client: ModbusTcpClient) -> bytes:
    assert client._transport is not None
    return bytes(client._transport.get_protocol().buf)  # type: ignore[attr-defined]


def test_a_reply_split_at_every_byte_is_one_callback_with_the_whole_pdu() -> None:
    async def check(peer: _Peer, client: ModbusTcpClient, lost: list[bool]) -> None:
        got: list[object] = []
        client.start(1, [ReadRequest(3, 0, 2).pdu], got.append)
        tid, unit, pdu = await peer.request()
        assert (unit, pdu) == (1, b"\x03\x00\x00\x00\x02")
        reply = b"\x03\x04\x00\x01\x00\x02"
        frame = _adu(tid, 1, reply)
        for k in range(len(frame) - 1):  # each byte lands in a read of its own
            await peer.send(frame[k:k + 1])
            await _until(lambda k=k: _buffered(client) == frame[:k + 1])
            assert got == [] and client.awaiting_reply_since is not None
        await peer.send(frame[-1:])
        await _until(lambda: got)
        assert got == [[reply]] and client.awaiting_reply_since is None
        assert lost == [] and client.connected
    _client_run(check)


def test_two_replies_in_one_read_complete_a_pipelined_group_once_in_request_order() -> None:
    async def check(peer: _Peer, client: ModbusTcpClient, lost: list[bool]) -> None:
        got: list[object] = []
        requests = [ReadRequest(3, 0, 1), ReadRequest(4, 10, 1)]
        client.start(1, [r.pdu for r in requests], got.append)
        (t1, _, p1), (t2, _, p2) = [await peer.request() for _ in range(2)]
        assert (p1[0], p2[0]) == (3, 4) and t1 != t2
        # Both replies in one write, the second request's first, and the next frame's header
        # split across the same read: framing must keep the tail for the next read.
        await peer.send(_adu(t2, 1, b"\x04\x02\x00\x22") + _adu(t1, 1, b"\x03\x02\x00\x11"))
        await _until(lambda: got)
        assert got == [[b"\x03\x02\x00\x11", b"\x04\x02\x00\x22"]]
        # A reply followed, in the same read, by a frame for no transaction in flight: the
        # reply completes its exchange, then the stream is dropped (R6).
        got.clear()
        client.start(1, [requests[0].pdu], got.append)
        tid, _, _ = await peer.request()
        await peer.send(_adu(tid, 1, b"\x03\x02\x00\x33") + _adu(tid, 1, b"\x03\x02\x00\x44"))
        await _until(lambda: lost)
        assert got == [[b"\x03\x02\x00\x33"]] and not client.connected and lost == [True]
    _client_run(check)


def test_a_wrong_transaction_id_fails_the_exchange_once_and_drops_the_connection() -> None:
    async def check(peer: _Peer, client: ModbusTcpClient, lost: list[bool]) -> None:
        got: list[object] = []
        client.start(1, [ReadRequest(3, 0, 1).pdu], got.append)
        tid, _, _ = await peer.request()
        await peer.send(_adu(tid % 0xFFFF + 1, 1, b"\x03\x02\x12\x34"))
        await _until(lambda: got and lost)
        (result,) = got
        assert isinstance(result, NoCommunicationError)
        assert not isinstance(result, ReplyTimeoutError)
        assert "transaction" in str(result)
        assert not client.connected and lost == [True]
        with pytest.raises(NoCommunicationError):
            client.start(1, [ReadRequest(3, 0, 1).pdu], got.append)
        assert len(got) == 1
    _client_run(check)


def test_a_timeout_calls_back_once_and_a_late_reply_is_never_taken() -> None:
    async def check(peer: _Peer, client: ModbusTcpClient, lost: list[bool]) -> None:
        got: list[object] = []
        client.start(1, [ReadRequest(3, 0, 1).pdu], got.append)
        tid, _, _ = await peer.request()
        await _until(lambda: got, 2.0)
        assert len(got) == 1 and isinstance(got[0], ReplyTimeoutError)
        assert client.awaiting_reply_since is None
        await peer.send(_adu(tid, 1, b"\x03\x02\x12\x34"))  # the late reply
        await _until(lambda: not client.connected)
        assert len(got) == 1  # not taken, and no second callback
    _client_run(check, timeout_s=0.1)


def test_a_callback_may_start_the_next_exchange() -> None:
    async def check(peer: _Peer, client: ModbusTcpClient, lost: list[bool]) -> None:
        results: list[object] = []
        request = ReadRequest(3, 7, 1)

        def done(result: object) -> None:
            results.append(result)
            if len(results) < 5:
                client.start(1, [request.pdu], done)

        client.start(1, [request.pdu], done)
        tids = []
        for i in range(5):
            tid, _, pdu = await peer.request()
            assert pdu == request.pdu
            tids.append(tid)
            await peer.send(_adu(tid, 1, bytes([3, 2, 0, i])))
        await _until(lambda: len(results) == 5)
        assert results == [[bytes([3, 2, 0, i])] for i in range(5)]
        assert len(set(tids)) == 5 and client.connected and lost == []
    _client_run(check)


# ---------------------------------------------------------------------- the poller


async def _with_poller(check: Callable[[FaultServer, DevicePoller, CaptureSink], Awaitable[None]],
                       **device_kw: object) -> None:
    server = FaultServer(units=(1,))
    port = await server.start()
    server.set_registers("holding", 0, [1234])
    await with_poller(server, port, check, **device_kw)


def _level_values(sink: CaptureSink) -> list[float]:
    return [r.value for _t, _d, rs in sink.batches for r in rs
            if r.point == "T-1/level_m" and r.quality == GOOD]


def _all_bad_no_communication(sink: CaptureSink) -> None:
    readings = sink.batches[-1][2]
    assert all((r.quality, r.reason) == (BAD, Reason.NO_COMMUNICATION) for r in readings)


async def _steady(poller: DevicePoller, sink: CaptureSink) -> None:
    """Wait until the poller polls from callbacks (connected, the task parked) and is Good."""
    await sink.wait(lambda: poller._fast_end is not None and sink.all_quality(Quality.GOOD),
                    3.0)


def test_callback_polling_keeps_every_fault_policy() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        await _steady(poller, sink)
        n = len(sink.batches)
        await sink.wait(lambda: len(sink.batches) >= n + 3, 2.0)  # ticks run from callbacks
        assert poller.stats.requests - poller.stats.replies <= 4  # one tick's group at most

        # A reply with a wrong transaction id: no communication, a new connection, and the
        # value it carried never published.
        server.set_registers("holding", 0, [4321])
        first = poller._client
        server.fault.mode = "wrong_tid"
        await sink.wait(lambda: poller._client is not first, 2 * PERIOD_S + MARGIN_S,
                        step_s=0.001)
        _all_bad_no_communication(sink)  # the tick that dropped the stream published Bad
        assert pytest.approx(43.21) not in _level_values(sink)
        server.set_registers("holding", 0, [1111])
        server.fault.mode = "normal"
        await _steady(poller, sink)
        assert poller.stats.connects >= 2
        await sink.wait(lambda: sink.latest["T-1/level_m"].value == pytest.approx(11.11), 1.0)

        # A device that stops answering: Bad within two periods (R5), Good again after.
        t0 = time.monotonic()
        timeouts = poller.stats.timeouts
        first = poller._client
        server.fault.mode = "silent"
        t_bad = await sink.wait(lambda: sink.all_quality(Quality.BAD), 2 * PERIOD_S + MARGIN_S)
        assert t_bad - t0 <= 2 * PERIOD_S + MARGIN_S
        assert sink.latest["T-1/level_m"].reason == Reason.NO_COMMUNICATION
        await sink.wait(lambda: poller._client is not first, 2.0, step_s=0.001)
        assert poller.stats.timeouts == timeouts + 1  # counted, then the stream dropped
        _all_bad_no_communication(sink)
        server.fault.mode = "normal"
        await _steady(poller, sink)

        # Exception replies: their policies (R4), a block's and the unit's, and the
        # connection stays up.
        connects = poller.stats.connects
        for code, reason in ((4, Reason.DEVICE_FAILURE), (6, Reason.DEVICE_BUSY)):
            server.fault.mode, server.fault.exception_code = "exception", code
            await sink.wait(lambda r=reason: all(c.reason == r and c.quality == BAD
                                                 for c in sink.batches[-1][2]), 1.0)
            assert poller.stats.exception_codes.get(code, 0) >= 1
            assert poller.stats.connects == connects and poller._fast_end is not None
            server.fault.mode = "normal"
            await sink.wait(lambda: sink.all_quality(Quality.GOOD), 3.0)
    asyncio.run(_with_poller(check))


def test_a_write_takes_its_turn_between_the_groups_of_a_callback_tick() -> None:
    """Four blocks read one at a time, every reply 30 ms late: a write issued while a group is
    in flight waits for it, the tick's next group waits for the write, and the tick still
    completes with every block; nothing times out or reconnects."""
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        await _steady(poller, sink)
        spec = {p.point: p for p in poller.device.points}
        setpoint = spec["T-1/setpoint_m"]
        server.fault.mode, server.fault.delay_s = "late", 0.03
        for value in (1.5, 2.25, 3.0):
            await sink.wait(lambda: poller._fast_state == _IN_FLIGHT, 2.0, step_s=0.001)
            ticks = poller.stats.batches
            result = await poller.write(setpoint, encode_write(poller.device, setpoint, value))
            assert (result.outcome, result.readback) == ("accepted", value)
            await sink.wait(lambda t=ticks: poller.stats.batches >= t + 2, 3.0)
            await sink.wait(lambda v=value: sink.latest["T-1/setpoint_m"].value == v, 2.0)
            assert sink.all_quality(Quality.GOOD)
        assert poller.stats.timeouts == 0 and poller.stats.connects == 1
        assert [w[2:] for w in server.writes] == [
            (4, list(encode_write(poller.device, setpoint, v))) for v in (1.5, 2.25, 3.0)]
        assert poller.stats.requests - poller.stats.replies <= 1
    asyncio.run(_with_poller(check, timeout_ms=1000))


def test_stop_while_a_callback_group_is_in_flight_returns_after_its_reply() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        await _steady(poller, sink)
        server.fault.mode, server.fault.delay_s = "late", 0.05
        await sink.wait(lambda: poller._fast_state == _IN_FLIGHT, 2.0, step_s=0.001)
        n = poller.stats.batches
        poller.stop()
        await sink.wait(lambda: poller._fast_end is None, 1.0)
        assert poller.stats.batches == n + 1  # the tick in flight finished and published
    asyncio.run(_with_poller(check, timeout_ms=1000))


def test_cancelling_the_poller_mid_group_closes_the_connection_cleanly() -> None:
    """The adapter cancels its pollers at shutdown: a group in flight is abandoned, the
    connection closed, and the late reply reaches no callback (nothing reported)."""
    async def main() -> None:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = FaultServer(units=(1,))
        port = await server.start()
        sink = CaptureSink()
        poller = DevicePoller(device(port, timeout_ms=1000), sink)
        task = asyncio.create_task(poller.run())
        try:
            await _steady(poller, sink)
            server.fault.mode, server.fault.delay_s = "late", 0.05
            await sink.wait(lambda: poller._fast_state == _IN_FLIGHT, 2.0, step_s=0.001)
            client = poller._client
            assert client is not None
            n = poller.stats.batches
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert poller._client is None and not client.connected
            assert poller._fast_end is None and poller.stats.batches == n
            await asyncio.sleep(0.1)  # the late reply's time has passed
            assert errors == [] and poller.stats.batches == n
        finally:
            await server.stop()
    asyncio.run(main())
