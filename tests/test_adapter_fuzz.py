"""Fuzzed and faulty replies through a loopback server cannot crash or hang the adapter (R7),
and across any sequence of faults a Good reading is never a wrong value (R1, R6)."""

from __future__ import annotations

import asyncio
import math
import struct

import pytest
from adapter_fixtures import CaptureSink, device, point, quiet_pymodbus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modbus_fault_server import FaultServer

from adapters.modbus.device_poller import DevicePoller, PollerOptions
from runtime.quality import Quality, Reason

GOOD = int(Quality.GOOD)
RECOVER_S = 1.5
"""Good again after the fuzzing stops: 1 s (R5) plus scheduling slack."""

_POINTS = [
    point("F/a_m", "holding", 0, "uint16", scale=0.5),
    point("F/b_m", "holding", 1, "float32"),
    point("F/c_m", "input", 10, "int32", scale=0.01),
    point("F/d", "coil", 0, "bool"),
    point("F/e", "discrete", 5, "bool"),
]


def setup_module() -> None:
    quiet_pymodbus()


# One reply recipe per request: raw garbage, a well-framed random PDU, or a valid-looking header
# with a mutated body; ``echo`` copies the request's transaction and unit ids so the reply gets
# past pymodbus's framing and into our own validation.
_recipes = st.one_of(
    st.tuples(st.just("raw"), st.binary(max_size=300)),
    st.tuples(st.just("pdu"), st.binary(min_size=1, max_size=260)),
    st.tuples(st.just("mbap"), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
              st.binary(max_size=40)),
    st.tuples(st.just("flip"), st.integers(0, 300), st.integers(1, 255)),
    st.just(("silent",)),
)


def _fuzzer(server: FaultServer, recipes: list[tuple]) -> None:
    state = {"i": 0}

    def reply(frame: bytes) -> bytes:
        recipe = recipes[state["i"] % len(recipes)]
        state["i"] += 1
        tid, unit = frame[0:2], frame[6:7]
        kind = recipe[0]
        if kind == "raw":
            return recipe[1]
        if kind == "pdu":
            pdu = recipe[1]
            return tid + b"\x00\x00" + struct.pack(">H", len(pdu) + 1) + unit + pdu
        if kind == "mbap":
            _, pid, length, rest = recipe
            return tid + struct.pack(">HH", pid, length) + unit + rest
        if kind == "flip":
            good = bytearray(server._answer(frame[6], frame[7:]))
            data = bytearray(tid + b"\x00\x00" + struct.pack(">H", len(good) + 1) + unit + good)
            data[recipe[1] % len(data)] ^= recipe[2]
            return bytes(data)
        return b""

    server.fault.fuzz = reply
    server.fault.mode = "fuzz"


async def _fuzz_once(recipes: list[tuple]) -> None:
    server = FaultServer()
    port = await server.start()
    server.set_registers("holding", 0, [10, 0x3F80, 0])
    sink = CaptureSink()
    poller = DevicePoller(device(port, _POINTS, poll_period_ms=20, timeout_ms=60), sink,
                          options=PollerOptions(reconnect_initial_s=0.01, reconnect_max_s=0.1))
    task = asyncio.create_task(poller.run())
    try:
        _fuzzer(server, recipes)
        await asyncio.sleep(0.25)
        assert not task.done(), task.exception() if task.done() else None
        server.fault.mode = "normal"
        await sink.wait(lambda: sink.all_quality(Quality.GOOD), RECOVER_S)
        for _t, _dev, readings in sink.batches:
            for r in readings:
                assert math.isfinite(r.value)
                assert r.quality in (0, 1, 2) and (r.quality == GOOD) == (r.reason == Reason.NONE)
    finally:
        poller.stop()
        await asyncio.wait_for(task, 5.0)
        await server.stop()


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_recipes, min_size=1, max_size=12))
def test_fuzzed_replies_small(recipes: list[tuple]) -> None:
    asyncio.run(_fuzz_once(recipes))


@pytest.mark.soak
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_recipes, min_size=1, max_size=40))
def test_fuzzed_replies_soak(recipes: list[tuple]) -> None:
    asyncio.run(_fuzz_once(recipes))


_modes = st.one_of(
    st.sampled_from(["normal", "silent", "short", "truncated", "reset", "wrong_tid",
                     "wrong_unit", "wrong_fc", "late"]).map(lambda m: (m, 0)),
    st.sampled_from([1, 2, 3, 4, 5, 6, 0x0A, 0x0B]).map(lambda c: ("exception", c)),
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_modes, min_size=2, max_size=6))
def test_fault_sequences_never_show_a_wrong_value_as_good(steps: list[tuple[str, int]]) -> None:
    async def main() -> None:
        server = FaultServer()
        port = await server.start()
        sink = CaptureSink()
        pt = point("S/x_m", "holding", 0, "uint16")
        poller = DevicePoller(device(port, [pt], poll_period_ms=20, timeout_ms=50), sink)
        task = asyncio.create_task(poller.run())
        served: set[float] = set()
        try:
            for k, (mode, code) in enumerate(steps):
                value = 100 + k
                server.set_registers("holding", 0, [value])
                served.add(float(value))
                server.fault.mode, server.fault.exception_code = mode, code
                server.fault.delay_s = 0.08
                await asyncio.sleep(0.12)
            assert not task.done()
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5.0)
            await server.stop()
        for _t, _d, readings in sink.batches:
            for r in readings:
                if r.quality == GOOD:
                    assert r.value in served  # never a value the device did not hold
                else:
                    assert r.reason != Reason.NONE
    asyncio.run(main())
