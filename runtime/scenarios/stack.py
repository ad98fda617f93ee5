"""What a scenario run needs, as real processes: bus, plant, adapter, recorder, alarm service.

Reuses the demo's process management (:class:`runtime.supervisor.Supervisor`) and key set
(:func:`runtime.commands.demo.ensure_demo_keys`), adding the keys a scenario run uses:
``scenario`` (engineer; publishes the scenario's events and offers the ``scenario`` service).
The alarm service is started when the scene has ``alarms.yaml`` and this build has the
``alarms`` command.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from runtime.bus.endpoints import BusEndpoints
from runtime.commands.demo import BUS_HOST, BUS_PORT_COUNT, _wait_for_readings, ensure_demo_keys
from runtime.commands.ports import DEFAULT_CONTROL_PORT
from runtime.errors import UsageError
from runtime.progress import wait_while_progressing
from runtime.scene import load_devices, load_scene
from runtime.supervisor import Child, Supervisor, port_accepts, port_is_free

RUN_KEYS = (("scenario", "engineer", ("scenario",)),)


@dataclass
class Stack:
    scene_dir: Path
    out: Path
    bus_port: int = 5555
    port_offset: int = 0
    keys: Path | None = None
    speed: float = 1.0
    record: bool = True
    log: object = print
    sup: Supervisor = field(init=False)
    alarms: bool = False
    recording: Path | None = None

    @property
    def bus(self) -> str:
        return f"tcp://{BUS_HOST}:{self.bus_port}"

    @property
    def endpoints(self) -> BusEndpoints:
        return BusEndpoints.from_address(self.bus)

    @property
    def control_port(self) -> int:
        return DEFAULT_CONTROL_PORT + self.port_offset

    def key(self, name: str) -> Path:
        assert self.keys is not None
        return self.keys / f"{name}.key_secret"

    def start(self) -> None:
        from runtime.bus.keys import add_key, load_site

        scene = load_scene(self.scene_dir)
        devices = load_devices(scene.path / "devices.yaml", scene)
        device_ports = [(d.id, d.host, d.port + self.port_offset) for d in devices.devices]
        bus_ports = [self.bus_port + i for i in range(BUS_PORT_COUNT)]
        busy = [f"{BUS_HOST}:{p}" for p in bus_ports if not port_is_free(BUS_HOST, p)]
        busy += [f"{h}:{p} ({i})" for i, h, p in device_ports if not port_is_free(h, p)]
        if not port_is_free(BUS_HOST, self.control_port):
            busy.append(f"{BUS_HOST}:{self.control_port} (plant control)")
        if busy:
            raise UsageError(f"ports already in use: {', '.join(busy)}; stop what holds them or "
                             "pass --bus-port / --port-offset")
        self.keys, _made = ensure_demo_keys(str(self.keys) if self.keys else None)
        ring = load_site(self.keys / "site.json")
        for name, role, publish in RUN_KEYS:
            if name not in ring.by_name:
                add_key(self.keys, name, role, publish=publish)
        self.out.mkdir(parents=True, exist_ok=True)
        self.sup = Supervisor(log_dir=self.out / "logs")
        sup = self.sup
        child = sup.start("bus", ["bus", "--bind", self.bus, "--keys", str(self.keys),
                                  "--audit-log", str(self.out / "audit" / "bus.jsonl")])
        sup.wait_until(child, lambda: all(port_accepts(BUS_HOST, p) for p in bus_ports), 20)
        self.log(f"bus      {self.bus}")
        child = sup.start("plant", ["plant", str(scene.path), "--port-offset",
                                    str(self.port_offset), "--speed", f"{self.speed:g}"])
        wait_while_progressing(
            sup, child, lambda: all(port_accepts(h, p) for _, h, p in device_ports)
            and port_accepts(BUS_HOST, self.control_port),
            quiet_s=60, on_progress=lambda line: self.log(f"plant    {line}"))
        self.log(f"plant    control on {BUS_HOST}:{self.control_port}, speed x{self.speed:g}")
        child = sup.start("adapter", ["adapter", str(scene.path), "--bus", self.bus,
                                      "--port-offset", str(self.port_offset), "--keys",
                                      str(self.keys), "--audit-log",
                                      str(self.out / "audit" / "adapter.jsonl")])
        _wait_for_readings(sup, child, self.bus, self.key("viewer"), timeout_s=30)
        self.log(f"adapter  polling {len(device_ports)} devices")
        if (scene.path / "alarms.yaml").is_file() and \
                importlib.util.find_spec("runtime.commands.alarms") is not None:
            self.start_alarms(scene.path)
        if self.record:
            self.recording = self.out / "recording"
            child = sup.start("recorder", [
                "record", "--bus", self.bus, "--out", str(self.recording), "--scene",
                scene.name, "--key", str(self.key("viewer")), "--events", "scenario",
                "--events", "alarms"])
            # ready when it has joined the bus and written its first file (the bus's snapshot)
            rec = self.recording
            sup.wait_until(child, lambda: rec.is_dir() and any(rec.glob("*.mcap")), 30)
            self.log(f"recorder {self.recording}")

    def start_alarms(self, scene_dir: Path) -> None:
        """The alarm service, ready when it answers a snapshot request through the bus."""
        from runtime.bus.security import client_security
        from runtime.bus.service_client import ServiceClient

        child = self.sup.start("alarms", [
            "alarms", str(scene_dir), "--bus", self.bus, "--keys", str(self.keys),
            "--journal", str(self.out / "alarms" / "journal.jsonl"),
            "--audit-log", str(self.out / "audit" / "alarms.jsonl")])
        security = client_security(self.key("viewer"), command="scenario")
        with ServiceClient(self.endpoints, security=security) as client:
            self.sup.wait_until(
                child, lambda: client.call("alarms", "snapshot", {}, timeout_s=1.0).ok, 30)
        self.alarms = True
        self.log("alarms   alarm service answering")

    def first_exit(self) -> Child | None:
        return self.sup.first_exit()

    def stop(self) -> dict[str, int]:
        return self.sup.stop_all()
