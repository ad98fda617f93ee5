"""Several hosts (issue 17, item 7): a link cut between an adapter host and the bus host.

Four network namespaces (tools/netns_stack.py): two adapter hosts with their plants, a bus host
and a viewer host, real processes with CURVE keys. Each round cuts adapter host A's link, waits
until the viewer host sees all of A's points Bad, restores the link and waits until they are
Good again, while watching that B's points never leave Good.

Targets: a cut host's points are Bad within 1.5 s plus one poll (docs/bus-protocol.md §4: the
publisher's 500 ms heartbeats, silence after 3 periods); the other host's points never leave
Good. Recovery has no documented bound (it rides on TCP's retransmission back-off after the
link returns), so its row has none. Needs root and ``ip netns``; skipped with a note otherwise.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tools.bench.row import Row
from tools.netns_stack import can_use_netns, two_host_stack

SUITE = "hosts"
POLL_MS = 100
BAD_WITHIN_S = 1.5 + POLL_MS / 1000


def _rounds(n: int) -> tuple[list[float], list[float], int, float]:
    """Cut/restore ``n`` times: times to Bad, times to Good again, B's samples that left Good
    during the cuts, and the time from start to everything Good."""
    to_bad: list[float] = []
    to_good: list[float] = []
    b_left = 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        with two_host_stack(Path(tmp), POLL_MS) as stack:
            t_up = time.monotonic() - t0
            watch = stack.watch
            for _ in range(n):
                t_cut = stack.set_link("a", up=False)
                to_bad.append(watch.wait(stack.all_bad("A"), 15.0) - t_cut)
                t_back = stack.set_link("a", up=True)
                to_good.append(watch.wait(stack.everything_good(), 60.0) - t_back)
                b_left += sum(1 for t, s in watch.history
                              if t >= t_cut and s["B"]["good"] != stack.sizes["B"])
    return to_bad, to_good, b_left, t_up


def run(quick: bool) -> list[Row]:
    if not can_use_netns():
        return [Row(SUITE, "link cut: cut host's points Bad", float("nan"), "s", BAD_WITHIN_S,
                    "lower", note="skipped: needs root and ip netns")]
    n = 2 if quick else 5
    to_bad, to_good, b_left, t_up = _rounds(n)
    return [
        Row(SUITE, "4 hosts (2 adapter, bus, viewer): stack Good after start", t_up, "s",
            better="lower", note="incl. the plants' start"),
        Row(SUITE, f"link cut: cut host's points Bad, worst of {n}", max(to_bad), "s",
            BAD_WITHIN_S, "lower", note=f"100 ms poll; best {min(to_bad):.2f} s"),
        Row(SUITE, "link cut: other host's samples not all Good", float(b_left), "samples",
            0.0, "lower", note="viewer host samples every 50 ms"),
        Row(SUITE, f"link restored: cut host's points Good again, worst of {n}", max(to_good),
            "s", better="lower", note=f"best {min(to_good):.2f} s; TCP retransmission back-off"),
    ]
