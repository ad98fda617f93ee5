"""Roles and which points each may write.

A viewer's role comes from its configuration (kiosk and VR default to ``viewer``); the adapter
enforces it per point, the viewer only hides what the role cannot do. Defaults: ``viewer`` writes
nothing; ``operator`` and ``instructor`` write any point flagged ``writable``. A point's
``roles:`` list in devices.yaml replaces the default, which is how fault and scenario points are
kept to instructors (``roles: [instructor]``).
"""

from __future__ import annotations

from enum import StrEnum

from runtime.scene.model import DevicePoint


class Role(StrEnum):
    """Who is asking. Values are the spellings used in configuration and on the wire."""

    VIEWER = "viewer"
    """Looks only: kiosks, VR walkthroughs, visitors. Never writes."""
    OPERATOR = "operator"
    """Changes setpoints and starts/stops equipment on points flagged writable."""
    INSTRUCTOR = "instructor"
    """Everything an operator may, plus fault and scenario points kept to instructors."""


DEFAULT_WRITERS: frozenset[Role] = frozenset({Role.OPERATOR, Role.INSTRUCTOR})
"""Roles that may write a writable point whose devices.yaml entry has no ``roles:`` list."""


def parse_role(text: str) -> Role | None:
    """The role spelled ``text`` (case-insensitive), or None if there is no such role.

    None rather than an exception: a wrong role on the wire is a refusal with reason ``role``,
    not a crash.
    """
    try:
        return Role(str(text).strip().lower())
    except ValueError:
        return None


def allowed_roles(point: DevicePoint) -> frozenset[Role]:
    """Roles that may write ``point``: empty for a point that is not writable."""
    if not point.writable:
        return frozenset()
    if point.roles is None:
        return DEFAULT_WRITERS
    return frozenset(Role(r) for r in point.roles) - {Role.VIEWER}


def may_write(role: Role | None, point: DevicePoint) -> bool:
    """Whether ``role`` may write ``point``; the viewer uses it to hide controls."""
    return role is not None and role in allowed_roles(point)


__all__ = ["DEFAULT_WRITERS", "Role", "allowed_roles", "may_write", "parse_role"]
