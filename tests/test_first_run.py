"""First run (issue 11, item 6): port options agree across commands, ``demo`` passes a role to
its viewer, the plant's compile is visible, and the demo waits while it advances."""

from __future__ import annotations

import pytest
from conftest import run_cli
from plant_fixtures import port_offset_for

BAD_PORTS = [
    ("demo", "--headless", "--bus-port", "70000"),
    ("demo", "--headless", "--bus-port", "65533"),  # the bus needs 5 ports
    ("demo", "--headless", "--bus-port", "-1"),
    ("demo", "--headless", "--port-offset", "70000"),
    ("demo", "--headless", "--port-offset", "-15020"),
    ("plant", "pump_station", "--control-port", "70000"),
    ("plant", "pump_station", "--control-port", "-5"),
    ("plant", "pump_station", "--port-offset", "60000"),
    ("plant", "pump_station", "--control-port", "65535", "--port-offset", "1"),
    ("adapter", "pump_station", "--port-offset", "70000"),
    ("bus", "--bind", "tcp://127.0.0.1:70000"),
    ("fault", "list", "--control-port", "70000"),
    ("fault", "list", "--control-port", "0"),
    ("fault", "list", "--port-offset", "60000"),
    ("tap", "--bus", "tcp://127.0.0.1:99999"),
    ("write", "P-101/run_cmd", "1", "--bus", "tcp://127.0.0.1:99999"),
]


@pytest.mark.parametrize("argv", BAD_PORTS, ids=[" ".join(a) for a in BAD_PORTS])
def test_a_port_out_of_range_is_one_line_and_exit_2(argv: tuple[str, ...]) -> None:
    r = run_cli(*argv)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "OverflowError" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"twinstage {argv[0]}: ")
    assert "port" in lines[0]


def test_fault_takes_the_plants_port_offset() -> None:
    """``fault --port-offset N`` reaches the control port a ``plant --port-offset N`` opened
    (15019 + N); without a plant there it says so by that port."""
    offset = port_offset_for()
    r = run_cli("fault", "list", "--port-offset", str(offset))
    assert r.returncode == 2
    assert "no plant control socket" in r.stderr and str(15019 + offset) in r.stderr
    help_text = run_cli("fault", "--help").stdout
    assert "--port-offset" in help_text


def test_demo_takes_a_role() -> None:
    help_text = run_cli("demo", "--help").stdout
    assert "--role" in help_text
    r = run_cli("demo", "--headless", "--role", "janitor")
    assert r.returncode == 2 and "janitor" in r.stderr and "Traceback" not in r.stderr
