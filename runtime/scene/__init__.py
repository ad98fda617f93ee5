"""Scene and device files: data model, loading and validation.

Public entry points: :func:`load_scene` and :func:`load_devices`; both raise
:class:`SceneError` naming file, line and key.
"""

from runtime.scene.devices import load_devices
from runtime.scene.errors import SceneError
from runtime.scene.load import load_scene, resolve_scene_dir
from runtime.scene.model import (
    Connection,
    DevicePoint,
    Devices,
    DeviceSpec,
    Entity,
    PointSpec,
    Scene,
)

__all__ = [
    "Connection",
    "DevicePoint",
    "DeviceSpec",
    "Devices",
    "Entity",
    "PointSpec",
    "Scene",
    "SceneError",
    "load_devices",
    "load_scene",
    "resolve_scene_dir",
]
