"""Keep numba's cache of the plant kernels in step with their sources, one compile at a time.

numba checks a cached function against its own file only: a kernel inlined into ``plant_steps``
from another file can change (a pull, an edit) while ``plant_steps``'s cache still loads, with
the old code in it, and new code compiled against such stale entries was seen to abort inside
LLVM. ``make`` clears the cache when a source changes; a by-hand ``twinstage view`` or ``plant``
did not. :func:`fresh_cache` does it for every start: it keeps a fingerprint of
``runtime/sim/*.py`` beside the kernels' cache files, and when it differs (or is missing, a
cache of unknown age) it deletes the cache files and lets the compile inside the block redo
them. An exclusive file lock beside the cache makes a second process (the demo's plant and
viewer, bench children) wait for the first one's compile and then load it, instead of
compiling the same kernels into the same files at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

SIM_DIR = Path(__file__).resolve().parent
STAMP_NAME = "twinstage-sim-sources.sha256"
LOCK_NAME = "twinstage-compile.lock"
NOT_KERNELS = frozenset({"cache_guard.py", "compile_progress.py", "precompile.py"})
"""Files of runtime/sim that hold no numba code: editing them keeps the cache."""
WAIT_LINE_S = 10.0
"""A process waiting for another one's compile says so this often (a progress line)."""


def sources_fingerprint(sim_dir: Path = SIM_DIR) -> str:
    """sha256 over the names and contents of the plant's sources (``runtime/sim/*.py`` less
    :data:`NOT_KERNELS`)."""
    digest = hashlib.sha256()
    for path in sorted(sim_dir.glob("*.py")):
        if path.name in NOT_KERNELS:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dirs(kernels: Sequence[Any]) -> list[Path]:
    """Where numba keeps ``kernels``' cache files (in-tree ``__pycache__``, ``NUMBA_CACHE_DIR``
    or the user-wide cache when the tree is read-only), as numba itself located them."""
    dirs: list[Path] = []
    for kernel in kernels:
        path = getattr(getattr(kernel, "_cache", None), "_cache_path", None)
        if path is not None and Path(path) not in dirs:
            dirs.append(Path(path))
    return dirs


@contextlib.contextmanager
def fresh_cache(kernels: Sequence[Any], *, out: TextIO, what: str) -> Iterator[None]:
    """Run the block (the compile or cache load of ``kernels``) with the cache lock held, after
    deleting cache files made from other sources; record the sources' fingerprint after it."""
    dirs = cache_dirs(kernels)
    if not dirs:
        yield  # no on-disk cache (caching disabled): nothing to keep fresh
        return
    home = dirs[0]
    try:
        home.mkdir(parents=True, exist_ok=True)
        lock = (home / LOCK_NAME).open("a")
    except OSError:
        yield  # an unwritable cache: numba compiles in memory and keeps nothing either
        return
    with lock:
        _acquire(lock, out=out, what=what)
        want = sources_fingerprint()
        stamp = home / STAMP_NAME
        have = stamp.read_text().strip() if stamp.is_file() else None
        if have != want:
            stale = [p for d in dirs if d.is_dir() for p in d.iterdir()
                     if p.suffix in (".nbi", ".nbc")]
            for path in stale:
                path.unlink(missing_ok=True)
            if stale:
                print(f"compiling {what}: numba's cache was made from other sources than these "
                      f"(deleted {len(stale)} cache files)", file=out, flush=True)
        yield
        if have != want:
            tmp = stamp.with_suffix(".tmp")
            tmp.write_text(want + "\n")
            tmp.replace(stamp)


def _acquire(lock: TextIO, *, out: TextIO, what: str) -> None:
    """Take the exclusive lock, saying every ``WAIT_LINE_S`` that another process holds it."""
    start = time.monotonic()
    said = start - WAIT_LINE_S
    while True:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now - said >= WAIT_LINE_S:
                said = now
                print(f"compiling {what}: another process is compiling it, waiting "
                      f"({now - start:.0f} s)", file=out, flush=True)
            time.sleep(0.2)
