"""Benches that measure in a child process (one Panda3D ShowBase per process): run the child,
read the JSON object it prints last; and the ``--child N SECONDS`` entry point they share."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tools.bench.row import Row

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_child(module: str, n_assets: int, seconds: float, *, what: str,
              extra_timeout_s: float = 300.0) -> dict:
    """``python -m MODULE --child N SECONDS``: the JSON object on its last ``{`` line."""
    out = subprocess.run(
        [sys.executable, "-m", module, "--child", str(n_assets), str(seconds)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=seconds + extra_timeout_s,
        check=False, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{what} bench child failed (rc {out.returncode}): "
                           f"{out.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def bench_main(description: str, child: Callable[[int, float], None],
               run: Callable[[bool], list[Row]]) -> int:
    """``--child N_ASSETS SECONDS`` measures in this process; otherwise print the rows."""
    p = argparse.ArgumentParser(description=f"{description} (--child N SECONDS measures)")
    p.add_argument("--child", nargs=2, metavar=("N_ASSETS", "SECONDS"), default=None)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.child is not None:
        child(int(args.child[0]), float(args.child[1]))
        return 0
    from tools.bench.runner import render_table

    print(render_table(run(args.quick)))
    return 0
