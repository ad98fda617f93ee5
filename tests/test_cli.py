"""The command line: help lists the commands, mistakes exit 2 without a traceback."""

from __future__ import annotations

from conftest import run_cli


def test_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in ("validate", "view", "bench", "schema"):
        assert name in result.stdout


def test_no_command_prints_help_and_exits_2() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "COMMAND" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr and "Traceback" not in result.stderr


def test_unknown_bench_suite_is_a_usage_error() -> None:
    result = run_cli("bench", "nosuchsuite")
    assert result.returncode == 2
    assert "unknown suite" in result.stderr and "Traceback" not in result.stderr
