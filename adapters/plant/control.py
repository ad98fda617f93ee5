"""The plant's control socket: JSON lines over TCP on loopback (``twinstage fault`` talks to it).

Each request is one JSON object on one line; each reply is one JSON object on one line with
``ok`` true or false (and ``error`` when false). Requests:

- ``{"op": "status"}`` -> ``{"ok": true, "time_s": ..., "steps": ..., "devices": [...],
  "faults": ["freeze LT-102", ...]}``
- ``{"op": "fault", "kind": "freeze", "target": "LT-102"}``; ``drift`` takes ``"rate"``
  (point unit per second), ``exception`` takes ``"code"`` (1..255)
- ``{"op": "clear", "target": "LT-102"}`` or ``{"target": "all"}``
- ``{"op": "read", "point": "T-101/level_m"}`` -> ``{"ok": true, "value": 3.5}``
- ``{"op": "write", "point": "P-101/run_cmd", "value": 0}``
- training: ``freeze``, ``run``, ``speed``, ``snapshot``, ``snapshots``, ``restore``,
  ``backtrack``, ``save``, ``load``, ``read_many``, ``hash`` (:mod:`adapters.plant.training`)

Lines are capped at 64 KiB; a malformed request gets an error reply and the connection stays up.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from adapters.plant.faults import Fault, FaultBoard, FaultError
from adapters.plant.training import OPS as TRAINING_OPS
from adapters.plant.training import TrainingControls
from runtime.errors import UsageError

MAX_LINE = 65536
DEFAULT_CONTROL_PORT = 15019


class ControlServer:
    """Serves control requests for one running plant."""

    def __init__(self, board: FaultBoard, host: str, port: int, *,
                 training: TrainingControls | None = None) -> None:
        self.board = board
        self.training = training
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=MAX_LINE
            )
        except OSError as exc:
            raise UsageError(
                f"control socket: cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "pick another with --control-port"
            ) from None

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(b'{"ok": false, "error": "request line too long"}\n')
                    break
                if not line:
                    break
                reply = await self.handle_line(line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise FaultError("a request is a JSON object")
            return await self.handle(req)
        except json.JSONDecodeError as exc:
            return {"ok": False, "error": f"not JSON: {exc.msg}"}
        except (FaultError, KeyError, ValueError, TypeError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            return {"ok": False, "error": str(msg)}

    async def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        board = self.board
        model = board.model
        if op in TRAINING_OPS and self.training is not None:
            return self.training.handle(req)
        if op == "status":
            return {
                "ok": True,
                "time_s": model.time_ns / 1e9,
                "steps": model.steps,
                "devices": [
                    {"id": s.device_id, "host": s.host, "port": s.port, "unit_id": s.unit_id,
                     "mode": s.mode.value, "requests": s.requests, "writes": s.writes}
                    for s in board.servers.values()
                ],
                "faults": [f.describe() for f in board.active.values()],
                **({"frozen": self.training.frozen, "speed": self.training.speed}
                   if self.training else {}),
            }
        if op == "fault":
            args = {k: v for k, v in req.items() if k in ("rate", "code")}
            fault = Fault(str(req.get("kind")), str(req.get("target")), args)
            await board.apply(fault)
            return {"ok": True, "fault": fault.describe()}
        if op == "clear":
            cleared = await board.clear(str(req.get("target", "all")))
            return {"ok": True, "cleared": cleared}
        if op == "read":
            return {"ok": True, "value": model.read_point(str(req.get("point")))}
        if op == "write":
            model.write_point(str(req.get("point")), float(req.get("value")))
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r} (status, fault, clear, read, write, "
                                     f"{', '.join(TRAINING_OPS)})"}


async def request(host: str, port: int, req: dict[str, Any], timeout_s: float = 5.0) -> dict:
    """Send one request to a running plant and return its reply (used by ``twinstage fault``)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (TimeoutError, OSError):
        raise UsageError(
            f"no plant control socket at {host}:{port}; is `twinstage plant` running "
            "(with this --control-port and --port-offset)?"
        ) from None
    try:
        writer.write(json.dumps(req).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout_s)
    finally:
        writer.close()
    if not line:
        raise UsageError(f"the plant at {host}:{port} closed the control connection")
    return json.loads(line)
