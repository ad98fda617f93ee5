"""The twin spread over several hosts (issue 17, item 7), with network namespaces as hosts.

Two adapter hosts (each with its plant on its own loopback), a bus host and a viewer host, joined
in a star of veth links (tools/netns_stack.py). Cutting A's link turns only A's points Bad at the
viewer; restoring it brings them back. Every process runs inside a namespace, so no traffic can
use anything but the namespaces' own addresses and loopbacks, and the test checks the
established connections to be sure.

Needs root and ``ip netns`` (skipped otherwise); marked ``soak``: ``pytest -m soak``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.netns_stack import can_use_netns, two_host_stack

pytestmark = pytest.mark.soak


@pytest.mark.skipif(not can_use_netns(), reason="needs root and ip netns")
def test_two_adapter_hosts_bus_host_viewer_host(tmp_path: Path) -> None:
    with two_host_stack(tmp_path) as stack:
        watch = stack.watch
        n_b = stack.sizes["B"]

        # Cut adapter host A's link: only A's points go Bad; B's stay Good throughout.
        t_cut = stack.set_link("a", up=False)
        watch.wait(stack.all_bad("A"), 15.0)
        assert watch.state["B"]["good"] == n_b
        after_cut = [s for t, s in watch.history if t >= t_cut]
        assert all(s["B"]["good"] == n_b for s in after_cut), "B's points left Good"

        # Restore it: A's points recover.
        stack.set_link("a", up=True)
        watch.wait(stack.everything_good(), 60.0)

        # Nothing used anything but the namespaces' own addresses and their loopbacks.
        assert stack.bus_has_connections(), "the bus host has no connections"
        assert stack.stray_connections() == []
