"""The real DeviceWriter: writes and reads back points over Modbus TCP with pymodbus.

Holding-register points are encoded with ``runtime.registers.encode_value`` (the same code the
virtual plant decodes with) and written with function 6 (one register) or 16 (two); coils with
function 5. Every reply is checked: an exception reply or an echo that does not match the
request raises :class:`DeviceWriteError` (R6), so the executor reports ``write_failed`` instead
of trusting it. pymodbus's own timeout is used, never an outer ``wait_for`` (it can orphan a
request and desynchronize transaction ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from runtime.registers import REGISTER_COUNT, decode_value, encode_value
from runtime.scene.model import DevicePoint, Devices, DeviceSpec


class DeviceWriteError(Exception):
    """The device refused, did not answer, or answered something that does not match."""


class ModbusDeviceWriter:
    """Writes points of ``devices`` through one pymodbus client per device id.

    Pass the adapter's own clients (one connection per device, as design.md asks) or use
    :meth:`connect` to open dedicated ones. pymodbus 3.16 sends one request at a time per
    client, so sharing the adapter's poll connection is safe.
    """

    def __init__(self, devices: Devices, clients: Mapping[str, Any]) -> None:
        self._clients = dict(clients)
        self._owned = False
        self._where: dict[str, tuple[DeviceSpec, DevicePoint]] = {
            p.point: (d, p) for d in devices.devices for p in d.points
        }

    @classmethod
    async def connect(
        cls, devices: Devices, *, hosts: Mapping[str, tuple[str, int]] | None = None
    ) -> ModbusDeviceWriter:
        """Open a client per device (``hosts`` overrides a device's host and port by id).

        Connection failures are not raised here: a device that is down makes its writes fail
        with ``write_failed``, and each write tries to reconnect first.
        """
        clients: dict[str, AsyncModbusTcpClient] = {}
        for d in devices.devices:
            host, port = (hosts or {}).get(d.id, (d.host, d.port))
            client = AsyncModbusTcpClient(
                host, port=port, timeout=d.timeout_ms / 1000, retries=0, reconnect_delay=0.5
            )
            await client.connect()
            clients[d.id] = client
        writer = cls(devices, clients)
        writer._owned = True
        return writer

    def close(self) -> None:
        """Close the clients this writer opened (not ones the adapter passed in)."""
        if self._owned:
            for client in self._clients.values():
                client.close()

    def _target(self, point: str) -> tuple[DeviceSpec, DevicePoint, Any]:
        where = self._where.get(point)
        if where is None:
            raise DeviceWriteError(f"no device maps {point}")
        device, spec = where
        client = self._clients.get(device.id)
        if client is None:
            raise DeviceWriteError(f"no connection to {device.id} for {point}")
        return device, spec, client

    async def _ready(self, device: DeviceSpec, client: Any) -> None:
        if not client.connected and not await client.connect():
            raise DeviceWriteError(f"{device.id} at {device.host}:{device.port} is unreachable")

    async def write(self, point: str, value: float) -> None:
        """Encode and write ``value``; raise DeviceWriteError unless the device echoes it."""
        device, spec, client = self._target(point)
        if spec.table == "coil":
            bit = bool(encode_value("bool", device.word_order, spec.scale, spec.offset, value)[0])
            await self._ready(device, client)
            reply = await client.write_coil(spec.address, bit, device_id=device.unit_id)
            _check(reply, device, point)
            if list(reply.bits[:1]) != [bit] or reply.address != spec.address:
                raise DeviceWriteError(f"{device.id} echoed a different coil write for {point}")
            return
        if spec.table != "holding":
            raise DeviceWriteError(f"{point} lives in the read-only {spec.table} table")
        words = encode_value(spec.type, device.word_order, spec.scale, spec.offset, value)
        await self._ready(device, client)
        if len(words) == 1:
            reply = await client.write_register(spec.address, words[0], device_id=device.unit_id)
            _check(reply, device, point)
            if reply.address != spec.address or list(reply.registers[:1]) != words:
                raise DeviceWriteError(f"{device.id} echoed a different write for {point}")
        else:
            reply = await client.write_registers(spec.address, words, device_id=device.unit_id)
            _check(reply, device, point)
            if reply.address != spec.address or reply.count != len(words):
                raise DeviceWriteError(f"{device.id} echoed a different write for {point}")

    async def read_back(self, point: str) -> float:
        """Read ``point`` from the device and decode it to an engineering value."""
        device, spec, client = self._target(point)
        await self._ready(device, client)
        count = REGISTER_COUNT[spec.type]
        if spec.table == "coil":
            reply = await client.read_coils(spec.address, count=1, device_id=device.unit_id)
            _check(reply, device, point)
            if not reply.bits:
                raise DeviceWriteError(f"{device.id} sent no bits for {point}")
            return decode_value(
                "bool", device.word_order, spec.scale, spec.offset, [int(bool(reply.bits[0]))]
            )
        reply = await client.read_holding_registers(
            spec.address, count=count, device_id=device.unit_id
        )
        _check(reply, device, point)
        try:
            return decode_value(
                spec.type, device.word_order, spec.scale, spec.offset, list(reply.registers)
            )
        except ValueError as exc:
            raise DeviceWriteError(f"{device.id} sent a bad reply for {point}: {exc}") from exc


def _check(reply: Any, device: DeviceSpec, point: str) -> None:
    if reply is None:
        raise DeviceWriteError(f"{device.id} sent no reply for {point}")
    if reply.isError():
        code = getattr(reply, "exception_code", "?")
        raise DeviceWriteError(f"{device.id} answered Modbus exception {code} for {point}")


__all__ = ["DeviceWriteError", "ModbusDeviceWriter"]
