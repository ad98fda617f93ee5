"""One pymodbus TCP server per device, answering from a RegisterImage, with comm faults.

pymodbus 3.16 hands every request to ``context.async_getValues/async_setValues`` when the
context is a ModbusServerContext without SimDevices (its "old simulator" path), so this module
subclasses it and answers from the image directly: no copy into pymodbus datablocks, writes land
in the model at once, and a fault can replace the answer.

Communication faults (:class:`CommMode`):
- ``ok``: normal answers.
- ``silent``: the socket stays open, requests get no reply (the master times out).
- ``down``: the server closes its listening socket and every connection (connection refused).
- ``exception``: every request is answered with the given Modbus exception code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from adapters.plant.image import TABLE_OF_FUNCTION, RegisterImage
from runtime.errors import UsageError

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class CommMode(StrEnum):
    OK = "ok"
    SILENT = "silent"
    DOWN = "down"
    EXCEPTION = "exception"


class _ImageContext(ModbusServerContext):
    """A server context that reads and writes a RegisterImage (one unit id per server)."""

    def __init__(self, owner: DeviceServer) -> None:  # noqa: D107 - no super(): no SimDevices
        self._owner = owner
        self.old_simulator = True
        self.simdevices = []
        self._devices = {}

    def device_ids(self) -> list[int]:
        return [self._owner.unit_id]

    def _check(self, device_id: int) -> ExcCodes | None:
        owner = self._owner
        owner.requests += 1
        if owner.mode is CommMode.SILENT:
            raise NoSuchIdException("silent fault")  # with ignore_missing_devices: no reply
        if owner.mode is CommMode.EXCEPTION:
            return ExcCodes(owner.exception_code)
        if device_id not in (owner.unit_id, 0, 255):
            return ExcCodes.GATEWAY_NO_RESPONSE
        return None

    async def async_getValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        problem = self._check(device_id)
        if problem is not None:
            return problem
        table = TABLE_OF_FUNCTION.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        out = self._owner.image.read(table, address, count)
        if isinstance(out, int):
            return ExcCodes(out)
        if table in ("coil", "discrete"):
            return [bool(v) for v in out]
        return out

    async def async_setValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        problem = self._check(device_id)
        if problem is not None:
            return problem
        table = TABLE_OF_FUNCTION.get(func_code)
        if table not in ("holding", "coil"):
            return ExcCodes.ILLEGAL_FUNCTION
        rc = self._owner.image.write(table, address, [int(v) for v in values])
        if rc is not None:
            return ExcCodes(rc)
        self._owner.writes += 1
        return None


class DeviceServer:
    """A device's Modbus TCP server on ``host:port``; ``set_mode`` injects comm faults."""

    def __init__(self, image: RegisterImage, host: str, port: int) -> None:
        self.image = image
        self.host = host
        self.port = port
        self.unit_id = image.device.unit_id
        self.mode = CommMode.OK
        self.exception_code = 4
        self.requests = 0
        self.writes = 0
        self._server: ModbusTcpServer | None = None

    @property
    def device_id(self) -> str:
        return self.image.device.id

    async def start(self) -> None:
        """Listen; UsageError when the port cannot be bound (in use, or not a local address)."""
        server = ModbusTcpServer(
            _ImageContext(self), address=(self.host, self.port), ignore_missing_devices=True
        )
        try:
            ok = await server.listen()
        except OSError as exc:
            ok = False
            reason = exc.strerror or str(exc)
        else:
            reason = "address in use?"
        if not ok:
            server.close()
            raise UsageError(
                f"device {self.device_id}: cannot listen on {self.host}:{self.port} ({reason}); "
                "stop whatever uses that port or move the plant with --port-offset"
            )
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def set_mode(self, mode: CommMode, exception_code: int = 4) -> None:
        """Switch the communication behaviour; ``down`` closes the sockets, leaving it reopens."""
        if mode is CommMode.EXCEPTION and not 1 <= exception_code <= 255:
            raise ValueError(f"exception code {exception_code} is not 1..255")
        previous = self.mode
        self.mode = mode
        self.exception_code = exception_code
        if mode is CommMode.DOWN and previous is not CommMode.DOWN:
            await self.stop()
        elif mode is not CommMode.DOWN and self._server is None:
            for _ in range(50):  # the old socket may linger a moment after close
                try:
                    await self.start()
                    break
                except UsageError:
                    await asyncio.sleep(0.02)
            else:
                await self.start()
