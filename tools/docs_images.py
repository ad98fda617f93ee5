"""Regenerate the README's screenshots (``make images``): the pump station live, with the
faceplate of P-101 open for an operator, at 1280x720, rendered offscreen.

Starts bus, virtual plant and adapter on free loopback ports (as ``twinstage demo`` does),
runs ``twinstage view --headless`` against them, and copies the final frame into
``docs/images/``. Prints where the images went.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from runtime.scene import load_devices, load_scene
from runtime.supervisor import Supervisor, free_port_block, port_accepts

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "docs" / "images"
SHOTS = {
    "pump-station-live.png": ["--select", "P-101", "--key", "{keys}/operator.key_secret"],
    "pump-station-4k.png": ["--size", "3840x2160", "--key", "{keys}/viewer.key_secret"],
}


def main() -> int:
    scene = load_scene("pump_station")
    devices = load_devices(scene.path / "devices.yaml", scene)
    base = free_port_block(5)
    offset = free_port_block(20, start=30000) - min(d.port for d in devices.devices)
    bus = f"tcp://127.0.0.1:{base}"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        from runtime.commands.demo import ensure_demo_keys

        keys, _made = ensure_demo_keys(str(Path(tmp) / "keys"))
        sup = Supervisor(log_dir=Path(tmp) / "logs")
        try:
            child = sup.start("bus", ["bus", "--bind", bus, "--keys", str(keys),
                                      "--audit-log", str(Path(tmp) / "bus-audit.jsonl")])
            sup.wait_until(child, lambda: port_accepts("127.0.0.1", base), 30)
            child = sup.start("plant", ["plant", str(scene.path), "--port-offset", str(offset)])
            ports = [d.port + offset for d in devices.devices]
            sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", p) for p in ports), 300)
            sup.start("adapter", ["adapter", str(scene.path), "--bus", bus, "--port-offset",
                                  str(offset), "--keys", str(keys),
                                  "--audit-log", str(Path(tmp) / "adapter-audit.jsonl")])
            time.sleep(3.0)  # let the plant settle and the adapter publish a few polls
            for name, extra in SHOTS.items():
                shots = Path(tmp) / name
                view = sup.start(f"view-{name}", ["view", str(scene.path), "--bus", bus,
                                                  "--headless", "--seconds", "6",
                                                  "--screenshot-dir", str(shots),
                                                  "--screenshot-every", "100",
                                                  *(a.format(keys=keys) for a in extra)])
                code = view.process.wait(timeout=300)
                sup.children.remove(view)
                if code != 0:
                    print(f"view for {name} failed ({code}); see {view.log_path}",
                          file=sys.stderr)
                    return 1
                shutil.copyfile(shots / "final.png", OUT / name)
                print(f"wrote {OUT / name}")
        finally:
            sup.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
