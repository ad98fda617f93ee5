"""Sign-in at a station: role from the key, idle timeout back to the viewer role."""

from __future__ import annotations

import pytest

from runtime.control.signin import SignIn, station_role
from runtime.errors import UsageError

S = 1_000_000_000


def test_station_role_comes_from_the_key() -> None:
    assert station_role(None, "olga", "operator", explicit_key=True) == "operator"
    assert station_role(None, "olga", "operator", explicit_key=False) == "viewer"
    assert station_role(None, "svc", "engineer", explicit_key=True) == "viewer"
    assert station_role("viewer", "olga", "operator", explicit_key=True) == "viewer"
    assert station_role("operator", "", "", explicit_key=False) == "operator"  # --insecure
    with pytest.raises(UsageError, match="holds role viewer"):
        station_role("operator", "kiosk", "viewer", explicit_key=True)


def test_idle_station_drops_to_viewer_and_activity_brings_it_back() -> None:
    signin = SignIn("olga", "operator", idle_timeout_ns=300 * S, last_activity_ns=0)
    assert signin.role_at(299 * S) == "operator"
    assert signin.status(299 * S) == "signed in: olga as operator"
    assert signin.role_at(301 * S) == "viewer"
    assert "idle: operator controls locked" in signin.status(301 * S)
    signin.touch(302 * S)
    assert signin.role_at(303 * S) == "operator"
    assert SignIn("kiosk", "viewer", 1).role_at(10**18) == "viewer"
