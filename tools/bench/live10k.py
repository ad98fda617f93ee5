"""The whole live stack at 10,000 assets: plant + bus + adapter (100 devices) + viewer.

Issue 17's live target: "the 10,000-asset plant live at >= 30 fps offscreen at 1280x720".
Everything runs as real processes, as ``twinstage demo`` starts them, on free loopback ports:

- ``twinstage generate``'s plant (:func:`runtime.scene.generated.write_generated_plant`) in a
  temporary folder, its 100 devices on a free block of ports;
- ``twinstage bus`` with a local CURVE key set (the demo's, :func:`ensure_demo_keys`);
- ``twinstage plant`` serving the 100 Modbus devices;
- ``twinstage adapter`` polling all of them every 100 ms and publishing to the bus;
- ``twinstage view --headless --size 1280x720`` signed in as a viewer, with ``--stats-json``.

The viewer writes per-second frame counts and its process CPU (every thread) into its stats
(:class:`runtime.live.stats.FrameTimings`); the rows take the seconds after ``WARMUP_S`` of
frames: frames per second, CPU ms per frame, and the fraction of served points Good at exit.
The machine's load average sits beside them in the note (the CPU is shared).

    python -m runtime.cli bench live10k
    python -m tools.bench.live10k --seconds 40 --keep /tmp/out     # files and PNG kept
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.bench.row import Row

SUITE = "live10k"
REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = "1280x720"
TARGET_FPS = 30.0
WARMUP_S = 10.0
"""Frames in the first seconds (caches filling, the first snapshot, the label layout) are not
counted."""
DEVICES = 100
START_TIMEOUT_S = 600.0
"""The plant compiles its model on a first run (minutes on a busy machine)."""


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "runtime.cli", *args]


class Stack:
    """Bus, plant and adapter of a generated plant, running; :meth:`viewer_argv` for a view."""

    def __init__(self, n_assets: int, out: Path) -> None:
        from runtime.commands.demo import _wait_for_readings, ensure_demo_keys
        from runtime.scene.generated import write_generated_plant
        from runtime.supervisor import Supervisor, free_port_block, port_accepts

        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.plant_dir = out / "plant"
        base = free_port_block(DEVICES, start=30000)
        write_generated_plant(self.plant_dir, n_assets, devices=DEVICES, base_port=base)
        bus_port = free_port_block(5, start=base + DEVICES + 50)
        self.bus = f"tcp://127.0.0.1:{bus_port}"
        self.keys, _ = ensure_demo_keys(str(out / "keys"))
        self.sup = Supervisor(log_dir=out / "logs")
        self.times: dict[str, float] = {}
        sup, keys = self.sup, self.keys
        try:
            t0 = time.monotonic()
            child = sup.start("bus", ["bus", "--bind", self.bus, "--keys", str(keys),
                                      "--audit-log", str(out / "audit" / "bus.jsonl")])
            sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", bus_port + i)
                                              for i in range(5)), 30)
            child = sup.start("plant", ["plant", str(self.plant_dir), "--control-port", "0"])
            ports = _device_ports(self.plant_dir)  # a small plant may fill fewer devices
            sup.wait_until(child, lambda: all(port_accepts(host, port) for host, port in ports),
                           START_TIMEOUT_S)
            self.times["plant_start_s"] = time.monotonic() - t0
            child = sup.start("adapter", ["adapter", str(self.plant_dir), "--bus", self.bus,
                                          "--keys", str(keys), "--audit-log",
                                          str(out / "audit" / "adapter.jsonl")])
            _wait_for_readings(sup, child, self.bus, keys / "viewer.key_secret", timeout_s=60)
        except BaseException:
            sup.stop_all()
            raise

    def viewer_argv(self, seconds: float, *extra: str) -> list[str]:
        """``twinstage view`` of the plant on this bus, headless at SIZE, with its files in
        the output folder (stats, hud, a first and a final PNG)."""
        out = self.out
        return _cli(["view", str(self.plant_dir), "--bus", self.bus, "--key",
                     str(self.keys / "viewer.key_secret"), "--headless", "--size", SIZE,
                     "--seconds", str(seconds), "--stats-json", str(out / "viewer-stats.json"),
                     "--hud-json", str(out / "hud.json"), "--screenshot-dir", str(out),
                     "--screenshot-every", str(10 * seconds), *extra])

    def close(self) -> None:
        self.sup.stop_all()


def _device_ports(plant_dir: Path) -> list[tuple[str, int]]:
    from runtime.scene import load_devices, load_scene

    scene = load_scene(plant_dir)
    return [(d.host, d.port) for d in load_devices(plant_dir / "devices.yaml", scene).devices]


def run_stack(n_assets: int, seconds: float, out: Path, *,
              viewer_prefix: list[str] | None = None,
              viewer_args: list[str] | None = None) -> dict[str, Any]:
    """Run the stack for ``seconds`` of live view; return the viewer's stats plus the setup
    times. ``viewer_prefix`` replaces ``python`` for the viewer (``python -m cProfile -o F``)."""
    stack = Stack(n_assets, out)
    try:
        stats_path = out / "viewer-stats.json"
        argv = stack.viewer_argv(seconds, *(viewer_args or []))
        if viewer_prefix:
            argv = [*viewer_prefix, *argv[1:]]
        t1 = time.monotonic()
        load_before = os.getloadavg()
        with (out / "logs" / "viewer.log").open("wb") as log:
            viewer = subprocess.run(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                    timeout=seconds + START_TIMEOUT_S, check=False)
        stack.times["viewer_run_s"] = time.monotonic() - t1
        load_after = os.getloadavg()
        if viewer.returncode != 0 or not stats_path.is_file():
            tail = (out / "logs" / "viewer.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"viewer failed (rc {viewer.returncode}): {tail}")
        stats = json.loads(stats_path.read_text())
    finally:
        stack.close()
    stats["setup"] = stack.times
    stats["load_avg"] = {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in load_after]}
    return stats


def steady(stats: dict[str, Any], warmup_s: float = WARMUP_S) -> dict[str, float]:
    """fps, viewer CPU ms per frame and Good fraction after the warm-up (from the stats)."""
    series = stats["timings_ms"].get("per_second", [])
    first = series[0]["t_s"] if series else 0.0
    kept = [s for s in series[:-1] if s["t_s"] >= first + warmup_s]  # the last is partial
    frames = sum(s["frames"] for s in kept)
    cpu_ms = sum(s["cpu_ms"] for s in kept)
    served = [p for p in stats["points"].values() if p["served"]]
    good = sum(p["quality"] == "GOOD" for p in served)
    return {"seconds": float(len(kept)), "fps": frames / len(kept) if kept else float("nan"),
            "cpu_ms_per_frame": cpu_ms / frames if frames else float("nan"),
            "good_fraction": good / len(served) if served else float("nan"),
            "served": float(len(served))}


def run(quick: bool) -> list[Row]:
    """Rows: live fps at 1280x720 with the whole stack, the viewer's CPU per frame, Good."""
    n = 1000 if quick else 10_000
    seconds = 20.0 if quick else 40.0
    with tempfile.TemporaryDirectory(prefix="live10k-") as tmp:
        stats = run_stack(n, seconds, Path(tmp))
    warmup_s = 5.0 if quick else WARMUP_S
    s = steady(stats, warmup_s)
    what = f"live generated plant of {len(stats['entities']):,} entities, {DEVICES} devices"
    load = "/".join(f"{x:.1f}" for x in stats["load_avg"]["after"])
    return [
        Row(SUITE, f"fps offscreen {SIZE}, {what}", s["fps"], "fps",
            TARGET_FPS if n >= 10_000 else None, "higher",
            f"{s['seconds']:.0f} s after {warmup_s:.0f} s warm-up; load {load}"),
        Row(SUITE, f"viewer CPU per frame (all threads), {what}", s["cpu_ms_per_frame"], "ms",
            None, "lower", "plant, bus and adapter share the same cores"),
        Row(SUITE, f"served points Good at the end, {what}", 100.0 * s["good_fraction"], "%",
            100.0 if n >= 10_000 else None, "higher", f"{s['served']:.0f} points"),
    ]


def _main() -> int:
    p = argparse.ArgumentParser(description="live 10k stack bench")
    p.add_argument("--assets", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--keep", type=Path, default=None, help="folder for logs, stats and PNGs")
    p.add_argument("--profile", action="store_true", help="run the viewer under cProfile "
                   "(viewer.prof in --keep)")
    p.add_argument("--serve", action="store_true", help="start the stack in --keep, print the "
                   "view command, run until interrupted")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--ingest", default=None, choices=("thread", "frame"),
                   help="the viewer's --ingest (default: the view command's own default)")
    args = p.parse_args()
    viewer_args = [] if args.ingest is None else ["--ingest", args.ingest]
    if args.serve:
        stack = Stack(args.assets, args.keep)
        print(" ".join(stack.viewer_argv(args.seconds, *viewer_args)), flush=True)
        try:
            while stack.sup.first_exit() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stack.close()
        return 0
    if args.keep is None:
        from tools.bench.runner import render_table

        print(render_table(run(args.quick)))
        return 0
    prefix = None
    if args.profile:
        prefix = [sys.executable, "-m", "cProfile", "-o", str(args.keep / "viewer.prof")]
    stats = run_stack(args.assets, args.seconds, args.keep, viewer_prefix=prefix,
                      viewer_args=viewer_args)
    summary = {k: v for k, v in stats["timings_ms"].items() if k != "per_second"}
    print(json.dumps({"steady": steady(stats), "timings_ms": summary, "bus": stats.get("bus"),
                      "ingest": {k: v for k, v in stats.get("ingest", {}).items()
                                 if k != "unknown_points"},
                      "setup": stats["setup"], "load_avg": stats["load_avg"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
