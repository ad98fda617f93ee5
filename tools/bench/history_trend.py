"""The trend panel's cost per frame on the render thread, 8 pens of 10 minutes at 10 Hz.

Frames at 60 Hz for 20 s of a live window: the window slides every frame, new data arrives
every 2 s (what the plugin's worker delivers); the mean of :meth:`TrendPanel.draw` over all
frames is the row, and the 99th percentile (frames that redraw part of the panel).
"""

from __future__ import annotations

import time

import numpy as np


def trend_frame_ms(frames: int = 1200) -> tuple[float, float]:
    """(mean ms per frame, 99th percentile ms per frame)."""
    from panda3d.core import NodePath

    from runtime.ui.trend_geometry import decimate, from_samples
    from runtime.ui.trend_panel import TrendPanel

    root = NodePath("aspect2d")
    panel = TrendPanel(root)
    panel.show()
    rng = np.random.default_rng(0)
    now = time.time_ns()

    def pens(end_ns: int) -> list:
        out = []
        for i in range(8):
            n = 6000
            t = end_ns - 600_000_000_000 + np.arange(n, dtype=np.int64) * 100_000_000
            v = np.cumsum(rng.normal(0, 0.01, n))
            q = np.zeros(n, np.int64)
            q[2000 + 100 * i: 2300 + 100 * i] = 2
            s = from_samples(f"P-{i}/v_m", "m", t, v, q, q, end_ns)
            out.append(decimate(s, end_ns - 600_000_000_000, end_ns))  # as the worker does
        return out

    limits = {"P-0/v_m": [("high", 1.0), ("low", -1.0)]}
    data = pens(now)
    version = 1
    total = 0.0
    times: list[float] = []
    panel.draw((0.0, 1.25, -0.95, 0.0), data, now, limits, version)  # the font loads once
    for f in range(frames):
        t = now + f * 16_666_667
        if f and f % 120 == 0:
            data = pens(t)  # the worker's new answer (built off the render thread)
            version += 1
        t0 = time.perf_counter()
        panel.draw((0.0, 1.25, -0.95, 0.0), data, t, limits, version)
        dt = time.perf_counter() - t0
        total += dt
        times.append(dt)
    return total / frames * 1000, float(np.percentile(times, 99)) * 1000
