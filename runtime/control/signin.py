"""Who is signed in at a station, and in which role (``twinstage view --key FILE``).

The key decides who a station is: the bus takes actor and role from it for every command. The
station's own role is the key's, or a lower one asked for with ``--role viewer``; a role the
key does not hold is refused before any window opens (the router would refuse every command).
After ``idle_timeout_s`` without operator input an operator or instructor station drops back to
the viewer role: controls hide and nothing more is sent until someone is active again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.errors import UsageError

STATION_ROLES = ("viewer", "operator", "instructor")
DEFAULT_IDLE_TIMEOUT_S = 300.0


@dataclass(slots=True)
class SignIn:
    """The signed-in key's name and role, and when the operator last did something."""

    actor: str
    role: str
    """The role the station runs with while active."""
    idle_timeout_ns: int
    last_activity_ns: int = 0

    def touch(self, now_ns: int) -> None:
        """Operator input happened (a key press, a click)."""
        self.last_activity_ns = now_ns

    def role_at(self, now_ns: int) -> str:
        """``role``, or ``viewer`` once the station has been idle past the timeout."""
        if self.role != "viewer" and now_ns - self.last_activity_ns > self.idle_timeout_ns:
            return "viewer"
        return self.role

    def status(self, now_ns: int) -> str:
        """One line for the status bar: who, and in which role now."""
        role = self.role_at(now_ns)
        idle = "" if role == self.role else f" (idle: {self.role} controls locked)"
        return f"signed in: {self.actor} as {role}{idle}"


def station_role(asked: str | None, key_name: str, key_role: str, *, explicit_key: bool) -> str:
    """The station's role from ``--role`` (``asked``) and the key.

    No ``--role``: the key's role when the key was given with ``--key`` (a sign-in), else
    viewer. ``--role viewer`` is always allowed; any other must be the key's role.
    """
    held = key_role if key_role in STATION_ROLES else "viewer"
    if asked is None:
        return held if explicit_key else "viewer"
    if asked != "viewer" and key_name and asked != key_role:
        raise UsageError(f"--role {asked}: key {key_name} holds role {key_role or 'none'}; the "
                         f"bus would refuse every command (sign in with an {asked} key)")
    return asked




def install_idle_lock(app: Any, live: Any, signin: SignIn) -> None:
    """Window mode: any key or mouse button counts as activity; once ``signin`` goes idle the
    live viewer's control section is taken away (nothing can be sent) and comes back with the
    next input. Prints each change, which is what the status bar will show."""
    import time

    from direct.task.Task import Task

    from runtime.phases import Phase

    held: dict[str, Any] = {"control": None}
    signin.touch(time.monotonic_ns())

    def on_input(*_args: object) -> None:
        signin.touch(time.monotonic_ns())

    def check(task: Task) -> int:
        now = time.monotonic_ns()
        if signin.role_at(now) == "viewer" and live.control is not None:
            held["control"], live.control = live.control, None
            print(signin.status(now), flush=True)
        elif signin.role_at(now) != "viewer" and held["control"] is not None:
            live.control, held["control"] = held["control"], None
            print(signin.status(now), flush=True)
        return Task.cont

    throwers = getattr(app, "buttonThrowers", None) or []
    if throwers:
        throwers[0].node().setButtonDownEvent("twinstage-input")
        app.accept("twinstage-input", on_input)
    app.task_mgr.add(check, "signin-idle-lock", sort=Phase.INPUT)


__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "SignIn", "install_idle_lock", "station_role"]
