"""Child process for the kill -9 test: a flood of alarm transitions into a journal.

Usage: python alarm_flood_child.py JOURNAL N_ALARMS. Step k (virtual time T0 + k * 100 ms)
sets every value above its limit on odd k and below on even k, so every evaluate is a flood
of N transitions; after each evaluate returns, prints the last journal_seq it returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alarm_fixtures import T0, alarm, alarm_set  # noqa: E402

from runtime.alarms import AlarmEngine, AlarmJournal  # noqa: E402


def flood_defs(n: int):  # noqa: ANN201
    return alarm_set(*[alarm(f"F{i}", f"E{i}/v", "high", limit=1.0) for i in range(n)])


def flood_values(k: int, n: int) -> np.ndarray:
    return np.full(n, 2.0 if k % 2 else 0.0)


def main() -> None:
    path, n = Path(sys.argv[1]), int(sys.argv[2])
    engine = AlarmEngine(flood_defs(n), AlarmJournal(path))
    quality = np.zeros(n, np.uint8)
    k = 0
    while True:
        k += 1
        out = engine.evaluate(T0 + k * 100_000_000, flood_values(k, n), quality)
        if out:
            print(f"returned {out[-1].journal_seq}", flush=True)


if __name__ == "__main__":
    main()
