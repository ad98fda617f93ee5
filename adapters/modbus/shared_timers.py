"""Callbacks due at the same moment, run from one asyncio timer.

Pollers tick on a shared grid (``device_poller.TICK_GRID_S``), so the devices of one tick all
sleep until the same loop time: at 100 devices x 10 Hz, twenty timers a tick due at once. Each
asyncio timer is a ``TimerHandle`` pushed on and popped off the loop's heap with Python-level
comparisons, a few microseconds apiece; here the callbacks of one due time share one timer and
are run in the order they were scheduled, at the same loop pass their own timers would have run.

Nothing is rounded: only callbacks due at exactly the same ``when`` share a timer, so a callback
never runs earlier or later than ``loop.call_at(when, callback)`` would run it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedTimers] = (
    weakref.WeakKeyDictionary())


class SharedTimer:
    """One scheduled callback; :meth:`cancel` as for an asyncio TimerHandle."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SharedTimers:
    """``call_at`` for one event loop, one loop timer per distinct due time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        """Weak: the registry keys on the loop, which must stay collectable."""
        self._due: dict[float, list[SharedTimer]] = {}

    def call_at(self, when: float, callback: Callable[[], None]) -> SharedTimer:
        """Run ``callback()`` at loop time ``when`` unless cancelled first."""
        timer = SharedTimer(callback)
        group = self._due.get(when)
        if group is None:
            self._due[when] = [timer]
            loop = self._loop()
            assert loop is not None, "shared timers of a loop that is gone"
            loop.call_at(when, self._run, when)
        else:
            group.append(timer)
        return timer

    def _run(self, when: float) -> None:
        for timer in self._due.pop(when):
            if timer.cancelled:
                continue
            try:
                timer.callback()
            except Exception as exc:  # one failing callback must not starve the others
                loop = self._loop()
                if loop is not None:
                    loop.call_exception_handler({
                        "message": "exception in a shared timer callback", "exception": exc})


def shared_timers(loop: asyncio.AbstractEventLoop) -> SharedTimers:
    """The loop's SharedTimers (made on first use)."""
    timers = _SHARED.get(loop)
    if timers is None:
        timers = _SHARED[loop] = SharedTimers(loop)
    return timers


__all__ = ["SharedTimer", "SharedTimers", "shared_timers"]
