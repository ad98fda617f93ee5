"""The Modbus adapter process: every device's poller, the bus publisher and the command link.

One asyncio loop on one thread runs everything: a task per device (each with its own connection
and liveness), a heartbeat task, and a command task. The ZeroMQ sockets are used only from that
thread, as ZeroMQ requires. Publishing never blocks (PUB drops at its high-water mark and
subscribers re-snapshot), so no device can stall another through the bus either.

Commands: the bus routes a command to the adapter that registered the point, and every one goes
through the operator-control executor (runtime.control): the write policy decides (roles,
limits, rate, quality, interlocks, select-before-operate, idempotent ids, then the registers),
the audit log records the attempt on disk, the owning device's poller writes and reads back
between two block reads on its own connection, the outcome is audited, and exactly one ack goes
back per command, whatever happens. A log that cannot be written refuses writes
(``audit_unavailable``) while polling carries on.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from adapters.modbus.coalesce import TickCoalescer
from adapters.modbus.control_link import PollerReadings, PollerWriter, printable, wire_ack
from adapters.modbus.device_poller import ColumnSink, DevicePoller, PollerOptions
from adapters.modbus.write_policy import AdapterWritePolicy, served_devices
from runtime.bus.adapter_link import AdapterLink
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import DEFAULT_HEARTBEAT_PERIOD_MS, Publisher
from runtime.bus.security import ClientSecurity
from runtime.bus.wire import MAX_TEXT_LEN
from runtime.control.ack import Ack, Outcome
from runtime.control.audit import AuditLog
from runtime.control.command import ControlCommand
from runtime.control.command_memory import restore as restore_command_ids
from runtime.control.executor import Executor
from runtime.scene.model import Devices

log = logging.getLogger("twinstage.adapter")

COMMAND_POLL_S = 0.02
"""How often the command socket is drained: bounds the latency a write adds before the device."""


def tune_gc() -> None:
    """Garbage collection for a polling process: the objects built at start (scene, devices,
    pollers and their state lists) are frozen out of every later collection, and young
    collections run every 20,000 net allocations instead of 700. The poll path creates no
    reference cycles in steady state; at 100 devices x 10 Hz this saves about a tenth of the
    adapter's CPU. Process-wide, so only the adapter process's own loop calls it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


def column_publisher(publisher: Publisher, point_ids: list[str]) -> ColumnSink:
    """A poller's ``column_sink`` publishing its batches through ``publisher``."""
    layout = publisher.layout(point_ids)
    publish_columns = publisher.publish_columns

    def sink(values: list[float], quality: list[int], reason: list[int],
             t_source_ns: list[int]) -> None:
        publish_columns(layout, values, quality, reason, t_source_ns)

    return sink


class ModbusAdapter:
    """Polls ``devices`` and publishes onto the bus at ``endpoints`` as source ``adapter_id``.

    ``devices`` is the whole devices.yaml (the policy needs its interlocks); ``device_ids``
    picks the devices this adapter polls (default: all). Every command is decided and carried
    out by one :class:`~runtime.control.executor.Executor` with ``audit`` as its log.
    """

    def __init__(
        self,
        devices: Devices,
        endpoints: BusEndpoints,
        *,
        adapter_id: str,
        audit: AuditLog,
        device_ids: Iterable[str] | None = None,
        options: PollerOptions | None = None,
        heartbeat_period_ms: int = DEFAULT_HEARTBEAT_PERIOD_MS,
        clock: Callable[[], int] = time.monotonic_ns,
        tune_gc: bool = True,
        security: ClientSecurity | None = None,
    ) -> None:
        self.adapter_id = adapter_id
        self.tune_gc = tune_gc
        """Whether :meth:`run` tunes the process's garbage collector (:func:`tune_gc`)."""
        served = served_devices(devices, None if device_ids is None else set(device_ids))
        self.devices = list(served.devices)
        self.points = [p.point for d in self.devices for p in d.points]
        self.policy = AdapterWritePolicy(served)
        self.audit = audit
        self.publisher = Publisher(endpoints, adapter_id, points=self.points,
                                   heartbeat_period_ms=heartbeat_period_ms, security=security)
        try:
            self.link = AdapterLink(endpoints, adapter_id, self.points, security=security)
        except BaseException:
            self.publisher.close()
            raise
        # Each poll batch goes out as columns in the poller's fixed point order, joined with the
        # other devices' batches of the same loop pass into one message.
        self.coalescer = TickCoalescer(self.publisher)
        self.pollers = {d.id: DevicePoller(d, self.coalescer.sink_for, options=options)
                        for d in self.devices}
        self.readings = PollerReadings(self.pollers)
        self.writer = PollerWriter(self.policy, self.pollers)
        self.executor = Executor(self.policy, audit, self.writer, self.readings, clock=clock)
        # Ids answered before a restart stay answered: a replay has no second effect.
        restore_command_ids(self.policy, audit.path)
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
        if self.tune_gc:
            tune_gc()
        pollers = [asyncio.create_task(p.run(), name=f"poll {d}")
                   for d, p in self.pollers.items()]
        self.publish_audit_head()
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
            ack = Ack(cmd.id, cmd.point, Outcome.FAILED,
                      printable(f"adapter error: {type(exc).__name__}: {exc}", MAX_TEXT_LEN),
                      None, "adapter_error")
        self.link.send_ack(ack)
        self.acks_sent += 1
        self.publish_audit_head()

    def publish_audit_head(self) -> None:
        """Put the audit chain's head on the bus (a recorder keeps it; ``audit verify --head``
        checks the log against it)."""
        if self.audit.available and self.audit.last_seq:
            self.publisher.publish_checkpoint(self.audit.last_seq, self.audit.head_hash)

    async def handle(self, cmd: Any) -> Ack:
        """Decide, audit and, if allowed, carry out one bus command; the ack to send back."""
        result = await self.executor.execute(ControlCommand.from_message(cmd))
        log.info("%s %s %s=%r by %s (%s): %s %s%s", result.action, cmd.id, cmd.point,
                 cmd.value, cmd.actor, cmd.role, result.outcome.value, result.code,
                 " (duplicate)" if result.duplicate else "")
        return wire_ack(result)


__all__ = ["COMMAND_POLL_S", "ModbusAdapter", "column_publisher", "tune_gc"]
