"""Shared loop timers for pollers sleeping to the same tick (adapters.modbus.shared_timers)."""

from __future__ import annotations

import asyncio

from adapters.modbus.shared_timers import shared_timers


def test_callbacks_due_together_share_one_loop_timer_and_keep_their_order() -> None:
    async def main() -> tuple[list[tuple[str, float]], int, list[dict]]:
        loop = asyncio.get_running_loop()
        errors: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        timers = shared_timers(loop)
        assert shared_timers(loop) is timers
        ran: list[tuple[str, float]] = []
        at = loop.time() + 0.05
        later = at + 0.03
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        for name in ("a", "b", "c", "d"):
            timers.call_at(at, lambda n=name: ran.append((n, loop.time())))
        timers.call_at(later, lambda: ran.append(("late", loop.time())))
        timers.call_at(at, lambda: 1 / 0)  # a failing callback does not stop the others
        timers.call_at(at, lambda: ran.append(("e", loop.time())))
        timers.call_at(at, lambda: ran.append(("cancelled", loop.time()))).cancel()
        loop_timers = len(loop._scheduled) - before  # type: ignore[attr-defined]
        deadline = loop.time() + 5.0
        while len(ran) < 6 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return [(n, t - at if n != "late" else t - later) for n, t in ran], loop_timers, errors

    ran, loop_timers, errors = asyncio.run(main())
    assert loop_timers == 2  # one per distinct due time
    assert [n for n, _ in ran] == ["a", "b", "c", "d", "e", "late"]
    assert all(early >= -1e-6 for _, early in ran)  # never before its time
    assert len(errors) == 1 and isinstance(errors[0]["exception"], ZeroDivisionError)


def test_each_event_loop_has_its_own_timers() -> None:
    async def get() -> object:
        return shared_timers(asyncio.get_running_loop())

    assert asyncio.run(get()) is not asyncio.run(get())


def test_a_finished_loop_is_not_kept_alive() -> None:
    import gc
    import weakref

    async def get() -> weakref.ref:
        shared_timers(asyncio.get_running_loop())
        return weakref.ref(asyncio.get_running_loop())

    ref = asyncio.run(get())
    gc.collect()
    assert ref() is None
