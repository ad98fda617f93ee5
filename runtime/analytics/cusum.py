"""Two-sided CUSUM on normalised residuals (Page 1954): flags a persistent shift of the mean.

For each point, ``z = residual / sigma`` is accumulated as

    S+ = max(0, S+ + z - k)        S- = max(0, S- - z - k)

and the point is flagged when either sum exceeds ``h``. ``k`` is half the shift (in sigmas) the
detector is tuned for; ``h`` sets the false-alarm rate: for independent unit-normal ``z`` the
in-control average run length grows roughly as ``exp(2 k h)`` samples, so the defaults (k = 1,
h = 12, one sample a second) give far more than years between false flags of pure noise; what
remains is model error, which ``sigma``'s floor absorbs (see :mod:`runtime.analytics.residual`).
A flag latches until :meth:`Cusum.clear`.
"""

from __future__ import annotations

import numpy as np

DEFAULT_K = 1.0
DEFAULT_H = 12.0


class Cusum:
    """Vectorised two-sided CUSUM over P residual channels."""

    def __init__(self, n: int, *, k: float = DEFAULT_K, h: float = DEFAULT_H) -> None:
        self.k = k
        self.h = h
        self.hi = np.zeros(n)
        self.lo = np.zeros(n)
        self.flagged = np.zeros(n, dtype=bool)
        self.flagged_at_s = np.full(n, np.nan)
        self.peak = np.zeros(n)
        """Largest statistic seen per channel (calibration and tests)."""

    def update(self, z: np.ndarray, t_s: float) -> np.ndarray:
        """One sample per channel (NaN: no sample, the sums hold); indices newly flagged."""
        ok = np.isfinite(z)
        zz = np.where(ok, z, 0.0)
        self.hi = np.where(ok, np.maximum(0.0, self.hi + zz - self.k), self.hi)
        self.lo = np.where(ok, np.maximum(0.0, self.lo - zz - self.k), self.lo)
        stat = np.maximum(self.hi, self.lo)
        np.maximum(self.peak, stat, out=self.peak)
        new = (stat > self.h) & ~self.flagged
        self.flagged |= new
        self.flagged_at_s[new] = t_s
        return np.flatnonzero(new)

    def statistic(self) -> np.ndarray:
        return np.maximum(self.hi, self.lo)

    def direction(self, i: int) -> int:
        """+1 when the measurement reads above the model, -1 below."""
        return 1 if self.hi[i] >= self.lo[i] else -1

    def clear(self, i: int) -> None:
        self.hi[i] = self.lo[i] = 0.0
        self.flagged[i] = False
        self.flagged_at_s[i] = np.nan
