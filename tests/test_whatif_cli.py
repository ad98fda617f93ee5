"""``twinstage whatif`` without a bus: the forecast, its JSON, and clear errors (exit 2)."""

from __future__ import annotations

import json

from conftest import run_cli


def test_whatif_json_names_the_alarms_and_final_states() -> None:
    proc = run_cli("whatif", "pump_station", "--settle", "300", "--set",
                   "FV-101/position_sp_pct=30", "--horizon", "2h", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["label"] == "FV-101/position_sp_pct to 30 (LIC-102 to Manual)"
    assert out["alarm_limits"] == "alarms.yaml"
    ids = [c["id"] for c in out["crossings"]]
    assert "T-102-LL" in ids and "T-101-HH" in ids
    ll = next(c for c in out["crossings"] if c["id"] == "T-102-LL")
    assert ll["priority"] == "Critical" and 0 < ll["t_s"] < 7200
    assert out["final"]["FV-101/position_pct"] == 30.0
    assert out["final"]["T-102/level_m"] < 0.8


def test_whatif_text_with_a_disturbance_and_a_fault() -> None:
    proc = run_cli("whatif", "pump_station", "--scale", "T-101/inflow_m3_h=+20%", "--fault",
                   "trip:P-101", "--horizon", "30min")
    assert proc.returncode == 0, proc.stderr
    assert "T-101/inflow_m3_h x1.2 (+20 %), trip P-101" in proc.stdout
    assert "P-101 trips in" in proc.stdout and "[High]" in proc.stdout


def test_whatif_bad_input_is_one_clear_line(capsys) -> None:  # noqa: ANN001
    from runtime.cli import main

    cases = [
        (("--set", "P-999/run_cmd=0"), "P-999/run_cmd is not a point"),
        (("--set", "T-101/level_m=2"), "computed by the plant"),
        (("--set", "P-101/run_cmd"), "expected POINT=VALUE"),
        (("--set", "P-101/run_cmd=maybe"), "is not a number"),
        (("--horizon", "2 weeks"), "--horizon"),
        (("--fault", "melt:P-101"), "expected KIND:TARGET"),
        (("--fault", "trip:LT-101"), "LT-101 is not a pump"),
        (("--scale", "T-101/inflow_m3_h=lots"), "is not a factor"),
    ]
    for args, words in cases:  # the CLI's own entry in this process (no interpreter start)
        code = main(["whatif", "pump_station", *args])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert words in err and err.count("\n") == 1, (args, err)
