"""Pause Python's cyclic garbage collector while a large file is turned into records.

Loading a scene or device file allocates hundreds of thousands of small containers (YAML nodes,
dicts, records) and frees none of them until the end: every allocation burst triggers a
collection that walks everything alive, so a 10,000-point file spent most of its time in the
collector. The documents are trees (no cycles to find), so nothing is lost by collecting once
afterwards instead.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (re-entrant; restores the previous state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
