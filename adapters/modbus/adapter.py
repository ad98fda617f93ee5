"""The Modbus adapter process: every device's poller, the bus publisher and the command link.

One asyncio loop on one thread runs everything: a task per device (each with its own connection
and liveness), a heartbeat task, and a command task. The ZeroMQ sockets are used only from that
thread, as ZeroMQ requires. Publishing never blocks (PUB drops at its high-water mark and
subscribers re-snapshot), so no device can stall another through the bus either.

Commands: the bus routes a write to the adapter that registered the point; the write policy
decides, the owning device's poller carries it out between two block reads, and exactly one ack
goes back per command, whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import Any

from adapters.modbus.device_poller import DevicePoller, PollerOptions
from adapters.modbus.write_policy import CommandLike, WritePolicy
from runtime.bus.adapter_link import AdapterLink
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import DEFAULT_HEARTBEAT_PERIOD_MS, Publisher
from runtime.bus.wire import MAX_TEXT_LEN, Ack, Reading
from runtime.scene.model import DeviceSpec

log = logging.getLogger("twinstage.adapter")

COMMAND_POLL_S = 0.02
"""How often the command socket is drained: bounds the latency a write adds before the device."""


def wire_reading(point: str, value: float, quality: int, reason: int, t_source_ns: int) -> Reading:
    """Build a bus Reading without NamedTuple's Python-level ``__new__`` (hot path)."""
    return tuple.__new__(Reading, (point, value, quality, reason, t_source_ns))


class ModbusAdapter:
    """Polls ``devices`` and publishes onto the bus at ``endpoints`` as source ``adapter_id``."""

    def __init__(
        self,
        devices: Sequence[DeviceSpec],
        endpoints: BusEndpoints,
        *,
        adapter_id: str,
        options: PollerOptions | None = None,
        heartbeat_period_ms: int = DEFAULT_HEARTBEAT_PERIOD_MS,
    ) -> None:
        self.adapter_id = adapter_id
        self.devices = list(devices)
        self.points = [p.point for d in self.devices for p in d.points]
        self.policy = WritePolicy(self.devices)
        self.publisher = Publisher(endpoints, adapter_id, points=self.points,
                                   heartbeat_period_ms=heartbeat_period_ms)
        try:
            self.link = AdapterLink(endpoints, adapter_id, self.points)
        except BaseException:
            self.publisher.close()
            raise
        publish = self.publisher.publish
        self.pollers = {
            d.id: DevicePoller(d, lambda _dev, readings: publish(readings), options=options,
                               reading_factory=wire_reading)
            for d in self.devices
        }
        self._stop: asyncio.Event | None = None  # created in run(), inside the loop
        self._command_tasks: set[asyncio.Task[None]] = set()
        self.acks_sent = 0

    def stop(self) -> None:
        """Stop polling; :meth:`run` returns once in-flight requests finish (bounded)."""
        for p in self.pollers.values():
            p.stop()
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> None:
        """Run until :meth:`stop`; closes the bus sockets on the way out."""
        self._stop = asyncio.Event()
        pollers = [asyncio.create_task(p.run(), name=f"poll {d}")
                   for d, p in self.pollers.items()]
        helpers = [
            asyncio.create_task(self.publisher.run_heartbeats(), name="heartbeats"),
            asyncio.create_task(self._commands(), name="commands"),
        ]
        try:
            await asyncio.gather(*pollers)
        finally:
            for t in pollers:
                t.cancel()
            for t in helpers:
                t.cancel()
            await asyncio.gather(*pollers, *helpers, return_exceptions=True)
            for t in list(self._command_tasks):
                t.cancel()
            await asyncio.gather(*self._command_tasks, return_exceptions=True)
            self.link.close()
            self.publisher.close()

    async def _commands(self) -> None:
        while True:
            for cmd in self.link.poll_commands():
                task = asyncio.create_task(self._answer(cmd))
                self._command_tasks.add(task)
                task.add_done_callback(self._command_tasks.discard)
            await asyncio.sleep(COMMAND_POLL_S)

    async def _answer(self, cmd: Any) -> None:
        try:
            ack = await self.handle(cmd)
        except Exception as exc:  # every command gets exactly one ack, even on a bug here
            log.exception("command %s for %s failed", getattr(cmd, "id", "?"), cmd.point)
            ack = Ack(cmd.id, cmd.point, "error", f"adapter error: {type(exc).__name__}", None)
        self.link.send_ack(ack)
        self.acks_sent += 1

    async def handle(self, cmd: CommandLike) -> Ack:
        """Decide and, if allowed, carry out one command; the ack to send back."""
        decision = self.policy.decide(cmd)
        if not decision.allowed or decision.target is None:
            log.info("refused %s %s=%r: %s", cmd.id, cmd.point, cmd.value, decision.reason)
            return Ack(cmd.id, cmd.point, "refused", _text(decision.reason), None)
        poller = self.pollers[decision.target.device.id]
        result = await poller.write(decision.target.point, list(decision.registers))
        readback = result.readback
        reason = result.reason
        if readback is not None and not math.isfinite(readback):
            reason, readback = f"read-back is not finite ({readback})", None
        elif readback is not None and result.outcome == "accepted":
            requested = float(cmd.value)
            if not math.isclose(readback, requested, rel_tol=1e-6,
                                abs_tol=abs(decision.target.point.scale) / 2):
                reason = f"read-back {readback:g} differs from the written {requested:g}"
        log.info("write %s %s=%r: %s %s", cmd.id, cmd.point, cmd.value, result.outcome, reason)
        return Ack(cmd.id, cmd.point, result.outcome, _text(reason), readback)


def _text(reason: str) -> str:
    """Acks carry printable ASCII up to MAX_TEXT_LEN; device text could be anything."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in reason)
    return clean[: MAX_TEXT_LEN - 3] + "..." if len(clean) > MAX_TEXT_LEN else clean


__all__ = ["COMMAND_POLL_S", "ModbusAdapter", "wire_reading"]
