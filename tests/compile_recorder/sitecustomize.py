"""Loaded by a child viewer whose PYTHONPATH starts with this folder (tests/test_cold_viewer.py):
records every numba compile that starts in the process, one JSON line to
$TWINSTAGE_TEST_COMPILE_LOG, with its thread and whether a Panda3D window was open by then.
A cache load is no compile and is not recorded."""

from __future__ import annotations

import json
import os
import sys
import threading

_LOG = os.environ.get("TWINSTAGE_TEST_COMPILE_LOG")


def _windows_open() -> int:
    if "panda3d.core" not in sys.modules:
        return 0
    from panda3d.core import GraphicsEngine

    return GraphicsEngine.get_global_ptr().get_num_windows()


def _install() -> None:
    from numba.core import event

    class Recorder(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            dispatcher = (ev.data or {}).get("dispatcher")
            name = getattr(getattr(dispatcher, "py_func", None), "__qualname__", "?")
            line = json.dumps({"function": name, "thread": threading.current_thread().name,
                               "main_thread": threading.current_thread() is threading.main_thread(),
                               "windows_open": _windows_open()})
            with open(_LOG, "a", encoding="utf-8") as f:  # noqa: PTH123
                f.write(line + "\n")

        def on_end(self, ev: event.Event) -> None:
            pass

    event.register("numba:compile", Recorder())


if _LOG:
    _install()
