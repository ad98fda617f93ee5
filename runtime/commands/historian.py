"""``twinstage historian SCENE``: keep every point's history in a store and answer queries.

A late-joining bus client: snapshot on join, gaps -> re-snapshot, every reading through the
scene's storage policy into the store (embedded SQLite under out/history by default, or
``--store postgresql://...``), one transaction per batch (every 0.5 s). The ``history``
service on the bus answers queries from any host (``twinstage history``, the viewer's trends).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from runtime.bus.endpoints import DEFAULT_ADDRESS, BusEndpoints
from runtime.commands.key_options import add_key_options, security_from_args
from runtime.commands.stop_signal import StopSignal
from runtime.errors import UsageError

HELP = "keep the bus's readings in a history store and answer history queries"
PROGRESS_EVERY_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")
    parser.add_argument("--bus", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"bus base address (default {DEFAULT_ADDRESS})")
    parser.add_argument("--store", default=None, metavar="URL",
                        help="a folder for the embedded store (default out/history) or "
                             "postgresql://user@host/db")
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C or SIGTERM)")
    parser.add_argument("--commit-every", type=float, default=0.5, metavar="S",
                        help="seconds between commits (a batch is stored when committed)")
    add_key_options(parser, service="historian")


def run(args: argparse.Namespace) -> int:
    stop = StopSignal()  # first: a Ctrl-C while starting stops cleanly too
    from runtime.history.errors import StoreUnavailableError
    from runtime.history.policy import load_history_config
    from runtime.history.store import DEFAULT_EMBEDDED, open_store
    from runtime.scene import load_scene, resolve_scene_dir

    scene = load_scene(resolve_scene_dir(args.scene))
    config = load_history_config(scene)
    try:
        endpoints = BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from None
    if args.seconds is not None and not args.seconds > 0:
        raise UsageError(f"--seconds {args.seconds}: must be positive")
    if not 0.01 <= args.commit_every <= 60:
        raise UsageError("--commit-every must be between 0.01 and 60 seconds")
    security = security_from_args(args, args.bus, "historian", service="historian")
    url = args.store or str(DEFAULT_EMBEDDED)
    try:
        store = open_store(url)
        service_store = open_store(url)
    except StoreUnavailableError as exc:
        raise UsageError(str(exc)) from None

    from runtime.bus.subscriber import Subscriber
    from runtime.history.ingest import Historian
    from runtime.history.service import HistoryService

    def say(text: str) -> None:
        print(f"twinstage historian: {text}", file=sys.stderr, flush=True)

    subscriber = Subscriber(endpoints, security=security)
    historian = Historian(subscriber, store, config, commit_every_s=args.commit_every,
                          on_state=say)
    service = HistoryService(endpoints, service_store, security=security)
    service.start()
    where = url if args.store else str(Path(url).resolve())
    print(f"historian of {scene.name}: {args.bus} -> {where}; service 'history' on the bus; "
          "Ctrl-C stops", flush=True)
    started = time.monotonic()
    next_progress = started + PROGRESS_EVERY_S
    warned = False
    try:
        while not stop.requested:
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            if not historian.run_once():
                time.sleep(0.01)
            now = time.monotonic()
            if not warned and not subscriber.synced and now - started > 3:
                say(f"no answer yet from the bus at {endpoints.snapshot}; still trying")
                warned = True
            if now >= next_progress:
                next_progress += PROGRESS_EVERY_S
                _progress(historian)
    finally:
        service.stop()
        subscriber.close()
        try:
            historian.close()
        except StoreUnavailableError as exc:
            say(f"could not store the last batch: {exc}")
    _progress(historian)
    return 0


def _progress(h: object) -> None:
    c = h.counts  # type: ignore[attr-defined]
    err = h.error  # type: ignore[attr-defined]
    state = f"; store unavailable: {err}" if err else ""
    through = h.stored_through_ns  # type: ignore[attr-defined]
    upto = time.strftime(" (all received before %H:%M:%S is stored)",
                         time.localtime(through / 1e9)) if through else ""
    print(f"history: received {c.received} readings, kept {c.kept}, stored {c.stored} in "
          f"{c.commits} commits{upto}, dropped {c.dropped}{state}", flush=True)
