"""A forecast worker: one daemon thread that runs forecasts so the render loop never waits.

The frame thread forks the live model (a copy of a few arrays, microseconds for the pump
station) and :meth:`ForecastWorker.submit` hands the fork over; the worker runs it
(:func:`runtime.whatif.forecast.forecast`, compiled steps with the interpreter lock released),
and :meth:`ForecastWorker.poll` (frame thread, never blocks) collects finished results. Jobs
carry a ``key``: a newer job of the same key replaces a waiting one and cancels a running one
(the continuous look-ahead, a command being checked), so the worker never falls behind.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field

from runtime.sim.fork import Change
from runtime.sim.plant_model import PlantModel
from runtime.whatif.alarm_defs import AlarmDef
from runtime.whatif.forecast import DEFAULT_HORIZON_S, ForecastResult, forecast

log = logging.getLogger("twinstage.whatif")


@dataclass
class ForecastJob:
    key: str
    fork: PlantModel
    fork_hash: str | None
    """The fork's state hash at the fork instant; None: the worker computes it first."""
    changes: list[Change]
    defs: list[AlarmDef]
    horizon_s: float = DEFAULT_HORIZON_S
    label: str = ""
    id: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class Finished:
    key: str
    id: int
    result: ForecastResult | None
    error: str = ""


class ForecastWorker:
    """One thread, a queue of jobs (latest per key wins), a deque of finished results."""

    def __init__(self, name: str = "whatif-forecast") -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._waiting: dict[str, ForecastJob] = {}
        self._running: ForecastJob | None = None
        self._done: deque[Finished] = deque(maxlen=64)
        self._stop = False
        self.completed = 0
        self.busy_s = 0.0
        """Seconds of forecasting done so far (all jobs)."""
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, job: ForecastJob) -> int:
        """Queue ``job``; a waiting job of the same key is dropped, a running one cancelled."""
        job.id = next(self._ids)
        with self._lock:
            self._waiting[job.key] = job
            if self._running is not None and self._running.key == job.key:
                self._running.cancel.set()
            self._lock.notify()
        return job.id

    def poll(self) -> list[Finished]:
        """Finished results since the last poll (never blocks)."""
        out = []
        while self._done:
            out.append(self._done.popleft())
        return out

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._running is None and not self._waiting

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._stop = True
            if self._running is not None:
                self._running.cancel.set()
            self._lock.notify()
        self.thread.join(timeout=timeout_s)

    def _run(self) -> None:
        import time

        while True:
            with self._lock:
                while not self._waiting and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                key = next(iter(self._waiting))
                job = self._waiting.pop(key)
                self._running = job
            t0 = time.perf_counter()
            try:
                result = forecast(job.fork, job.changes, job.defs, horizon_s=job.horizon_s,
                                  label=job.label, fork_hash=job.fork_hash, cancelled=job.cancel)
                done = None if job.cancel.is_set() else Finished(job.key, job.id, result)
            except Exception as exc:  # a bad change: the asker shows it, the worker goes on
                log.warning("forecast %s failed: %s", job.label or job.key, exc)
                done = Finished(job.key, job.id, None, str(exc))
            self.busy_s += time.perf_counter() - t0
            with self._lock:
                self._running = None
                if done is not None:
                    self._done.append(done)
                    self.completed += 1
