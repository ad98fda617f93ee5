"""``twinstage record``: record everything on the bus into MCAP files; ``record repair FILE``
rewrites a recording whose recorder was killed (docs/recording-format.md).

The recorder is a late-joining bus client: it starts from the bus's snapshot, then records
every batch, publisher silence and return, and command ack, each stamped with its receive
time. One file per hour by default (``--split``), each starting with a full snapshot; at most
the last second is lost if the recorder is killed. A full disk stops the recording with a
clear message; the bus and everyone else on it carry on.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.commands.stop_signal import StopSignal
from runtime.errors import UsageError

HELP = "record the bus into MCAP files (or: record repair FILE)"
PROGRESS_EVERY_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["repair"],
                        help="repair: rewrite an interrupted recording FILE with its index")
    parser.add_argument("file", nargs="?", type=Path, help="the file to repair")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for the .mcap files (created if missing)")
    parser.add_argument("--split", default="1h", metavar="DURATION",
                        help="start a new file this often, e.g. 1h, 15m (default 1h)")
    parser.add_argument("--keyframe", default="10s", metavar="DURATION",
                        help="full snapshot this often inside a file, for fast seeks "
                             "(default 10s)")
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C or SIGTERM)")
    parser.add_argument("--scene", default="", metavar="NAME",
                        help="scene name to note in the files' metadata")
    parser.add_argument("--prefix", default="rec", help="file name prefix (default rec)")
    parser.add_argument("--events", action="append", default=[], metavar="SOURCE",
                        help="also keep the bus events of SOURCE (e.g. scenario: a training "
                             "run's events, shown on the replay's timeline); repeatable")
    add_key_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.action == "repair":
        return _repair(args)
    if args.file is not None:
        raise UsageError(f"unexpected argument {args.file}; did you mean 'record repair FILE'?")
    if args.out is None:
        raise UsageError("--out DIR is required: where to write the recording")
    from runtime.time.parse import parse_duration_ns

    try:
        split_s = parse_duration_ns(args.split) / 1e9
        keyframe_s = parse_duration_ns(args.keyframe) / 1e9
    except ValueError as exc:
        raise UsageError(f"--split/--keyframe: {exc}") from None
    if split_s < 1 or keyframe_s < 0.1:
        raise UsageError("--split must be at least 1s and --keyframe at least 0.1s")
    if args.seconds is not None and not args.seconds > 0:
        raise UsageError(f"--seconds {args.seconds}: must be positive")
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None

    from runtime.bus.subscriber import Subscriber

    security = security_from_args(args, args.bus, "record")
    from runtime.recording.errors import RecordingWriteError
    from runtime.recording.recorder import Recorder
    from runtime.recording.writer import RecordingWriter

    stop = StopSignal()
    writer = RecordingWriter(args.out, prefix=args.prefix, split_s=split_s,
                             keyframe_s=keyframe_s, scene=args.scene, host=socket.gethostname())
    subscriber = Subscriber(endpoints, acks=True, checkpoints=True, security=security)
    events = None
    if args.events:
        from runtime.bus.events import EventSubscriber

        events = EventSubscriber(endpoints, args.events, security=security)
    recorder = Recorder(subscriber, writer, events=events)
    print(f"recording {args.bus} into {args.out.resolve()} (one file per {args.split}, "
          f"keyframes every {args.keyframe}); Ctrl-C stops", flush=True)
    started = time.monotonic()
    next_progress = started + PROGRESS_EVERY_S
    warned = False
    try:
        while not stop.requested:
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            if not recorder.run_once():
                time.sleep(0.005)
            now = time.monotonic()
            if not warned and not subscriber.synced and now - started > 3:
                print(f"twinstage record: no answer yet from the bus at {endpoints.snapshot}; "
                      "still trying", file=sys.stderr, flush=True)
                warned = True
            if now >= next_progress:
                next_progress += PROGRESS_EVERY_S
                _progress(recorder)
    except RecordingWriteError as exc:
        print(f"twinstage record: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        subscriber.close()
        if events is not None:
            events.close()
    try:
        recorder.close()
    except RecordingWriteError as exc:
        print(f"twinstage record: {exc}", file=sys.stderr, flush=True)
        return 1
    _progress(recorder)
    files = ", ".join(str(p) for p in writer.files) or "(nothing received: no file written)"
    print(f"recording stopped; files: {files}", flush=True)
    return 0


def _progress(recorder: object) -> None:
    c = recorder.counts  # type: ignore[attr-defined]
    print(f"recorded {c.batches} batches ({c.readings} readings), {c.snapshots} snapshots, "
          f"{c.source_changes} source changes, {c.acks} acks, {c.checkpoints} audit heads",
          flush=True)


def _repair(args: argparse.Namespace) -> int:
    if args.file is None:
        raise UsageError("record repair FILE: which file?")
    from runtime.recording.repair import repair_recording

    result = repair_recording(args.file)
    print(result.describe(), flush=True)
    return 0
