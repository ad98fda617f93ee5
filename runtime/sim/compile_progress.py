"""Say what numba is doing while the plant model compiles, instead of 50-100 s of silence.

numba compiles a kernel on its first call with new argument types and keeps the result in its
on-disk cache (``cache=True``: ``runtime/sim/__pycache__/*.nbi|*.nbc``), so this happens once per
checkout, unless ``make`` already did it (``python -m runtime.sim.precompile``). numba reports
each compile and each compiler pass through its event API (``numba.core.event``); a kernel
compiles in a fixed pipeline of passes, so "passes done / passes in all the kernels" is a real
fraction of the work (uneven: a few passes, inlining and lowering, take most of the time).

Lines go to ``out`` (stderr by default) and start with ``compiling `` / ``compiled `` (see
:mod:`runtime.progress`), e.g.::

    compiling the plant model, first run only: 0/54 (plant_init, 0 s)
    compiling the plant model, first run only: 10/54 (plant_init: inline_inlinables, 1 s)
    compiling the plant model, first run only: 37/54 (plant_steps: inline_inlinables
    network_solve, 24 s)
    ...
    compiled the plant model in 83 s; later runs load it from numba's cache

A pass that runs at least ``TICK_S`` gets a line, as does each helper function a long pass (the
inliner) works through; a line only when something changed, so silence means a stuck compiler
or one very long pass (native lowering of ``plant_steps``: 26 s on a busy two-core machine).

Nothing is printed when every kernel comes from the cache.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from numba.core import event

WHAT = "the plant model"
TICK_S = 0.5
"""How often the reporter looks at the compiler's state: a pass that runs at least this long gets
a line, the many short ones do not."""


def passes_per_kernel(dispatcher: Any) -> int | None:
    """How many passes numba's nopython pipeline runs for one compile of ``dispatcher`` (None
    when this numba does not let us count them: the lines then give passes done only)."""
    try:
        from types import SimpleNamespace

        from numba.core.compiler import DefaultPassBuilder, Flags

        flags = Flags()
        dispatcher.targetdescr.options.parse_as_flags(flags, dispatcher.targetoptions)
        pipeline = DefaultPassBuilder.define_nopython_pipeline(
            SimpleNamespace(flags=flags, func_ir=None))
        return len(pipeline.passes)
    except Exception:  # noqa: BLE001 - numba internals; the count is a nicety
        return None


class CompileReporter:
    """Counts numba's compiler passes for ``kernels`` and prints progress lines to ``out``."""

    def __init__(self, kernels: Sequence[Any], *, out: TextIO, what: str = WHAT,
                 tick_s: float = TICK_S) -> None:
        self.names = {k.py_func.__qualname__ for k in kernels}
        per = passes_per_kernel(kernels[0]) if kernels else None
        self.total = per * len(kernels) if per else None
        self.out = out
        self.what = what
        self.tick_s = tick_s
        self.started: float | None = None
        self.done = 0
        self.state: tuple[int, str, str, str] = (0, "", "", "")
        """(passes done, kernel being compiled, its pass running, the helper that pass is working
        on): one tuple, swapped whole, so the reporting thread never sees half an update."""
        self._printed: tuple[int, str, str, str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- numba's events (compiling thread) ---------------------------------------------------
    def on_compile(self, ev: event.Event) -> None:
        dispatcher = (ev.data or {}).get("dispatcher")
        name = getattr(getattr(dispatcher, "py_func", None), "__qualname__", "")
        if name not in self.names or not ev.is_start:
            return
        if self.started is None:
            self.started = time.monotonic()
            self._thread = threading.Thread(target=self._tick, name="compile-progress",
                                            daemon=True)
            self._thread.start()
        self.state = (self.done, name, "", "")
        self._print(self.state)

    def on_pass(self, ev: event.Event) -> None:
        data = ev.data or {}
        qualname = str(data.get("qualname", ""))
        done, kernel, stage, _helper = self.state
        if qualname not in self.names:
            if kernel and ev.is_start and "<" not in qualname:  # not numba's own overloads
                # a helper's own pipeline, run by the kernel's pass (inlining runs one per
                # helper): not counted, but it shows that a long pass advances
                self.state = (done, kernel, stage, qualname)
            return
        if ev.is_end:
            self.done += 1
        stage = str(data.get("name", "")).split(" [", 1)[0] if ev.is_start else ""
        self.state = (self.done, qualname, stage, "")

    # --- output ------------------------------------------------------------------------------
    def _tick(self) -> None:
        seen = None
        while not self._stop.wait(self.tick_s):
            state = self.state
            if state == seen and state != self._printed:
                self._print(state)  # unchanged for a whole tick: a slow pass, worth a line
            seen = state

    def _print(self, state: tuple[int, str, str, str]) -> None:
        done, kernel, stage, helper = state
        elapsed = time.monotonic() - (self.started or time.monotonic())
        count = f"{done}/{self.total}" if self.total else f"{done} passes"
        where = f"{kernel}: {stage}" if stage else kernel
        where += f" {helper}" if stage and helper else ""
        with self._lock:
            self._printed = state
            print(f"compiling {self.what}, first run only: {count} ({where}, {elapsed:.0f} s)",
                  file=self.out, flush=True)

    def finish(self, ok: bool) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.started is None:
            return  # everything came from the cache
        elapsed = time.monotonic() - self.started
        with self._lock:
            if ok:
                print(f"compiled {self.what} in {elapsed:.0f} s; later runs load it from numba's "
                      "cache", file=self.out, flush=True)
            else:
                print(f"compiling {self.what} failed after {elapsed:.0f} s", file=self.out,
                      flush=True)


class _Listener(event.Listener):
    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def on_start(self, ev: event.Event) -> None:
        self.handler(ev)

    def on_end(self, ev: event.Event) -> None:
        self.handler(ev)


@contextmanager
def compile_progress(kernels: Sequence[Any], *, out: TextIO | None = None,
                     what: str = WHAT) -> Iterator[CompileReporter]:
    """Report compiles of ``kernels`` (numba dispatchers) that happen inside the block."""
    reporter = CompileReporter(kernels, out=out or sys.stderr, what=what)
    listeners = [("numba:compile", _Listener(reporter.on_compile)),
                 ("numba:run_pass", _Listener(reporter.on_pass))]
    for kind, listener in listeners:
        event.register(kind, listener)
    ok = False
    try:
        yield reporter
        ok = True
    finally:
        for kind, listener in listeners:
            event.unregister(kind, listener)
        reporter.finish(ok)
