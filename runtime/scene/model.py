"""Typed, immutable records for what a scene and its devices declare.

They are built once by the loaders after validation; nothing here touches files or Panda3D.
Point names carry their unit (``level_m``, ``speed_rpm``); a full point id is
``<entity>/<point>``, e.g. ``P-101/speed_rpm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

ASSET_TYPES = (
    "tank",
    "pump",
    "motor",
    "valve",
    "pipe",
    "junction",
    "transmitter",
    "controller",
)
"""Asset types a scene may use; each has a procedural model of the same name (pipe is drawn
from its connection geometry)."""

POINT_KINDS = ("measurement", "setpoint", "command", "status", "process")
"""measurement/status come from instruments; setpoint/command are written by operators;
process is a simulated truth value (not served by a device unless a device maps it)."""


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One named value an entity exposes."""

    entity_id: str
    name: str
    """Point name with its unit suffix, e.g. ``speed_rpm``."""
    unit: str
    """Unit as written in the scene: ``m``, ``m3/h``, ``rpm``, ``%``, ``kPa``, ``bool``, ..."""
    kind: str
    states: tuple[str, ...] = ()
    """For ``unit: enum``: the label of each integer value, in order."""
    line: int = 0

    @property
    def id(self) -> str:
        return f"{self.entity_id}/{self.name}"


MODEL_UNITS: dict[str, float] = {"mm": 0.001, "cm": 0.01, "m": 1.0, "in": 0.0254, "ft": 0.3048}
"""Length unit a model file was authored in -> metres per unit (glTF says metres; CAD exports
often are millimetres)."""
MODEL_ORIGINS = ("model", "center", "bottom_center")
"""Which point of the model sits at the entity's position: the file's own origin, the centre of
its bounding box, or the centre of the bottom face of that box."""
MODEL_ACTIONS = ("spin", "light", "beacon")
"""What a live point does to a bound node: spin it at a speed (rpm), light it (a run lamp: on
while the point is true), show it flashing (a trip beacon: while the point is true)."""
SPIN_AXES = ("x", "y", "z")


@dataclass(frozen=True, slots=True)
class ModelBinding:
    """A live point driving a named node of a model file."""

    node: str
    point: str
    """Full point id, ``<entity>/<point>``."""
    action: str
    """One of :data:`MODEL_ACTIONS`."""
    axis: str = "x"
    """spin: the node's own axis it turns about (model coordinates, as authored)."""
    line: int = 0


@dataclass(frozen=True, slots=True)
class ModelAnchor:
    """A named point where pipes attach (a nozzle), by node or by model coordinates."""

    name: str
    node: str | None
    """A node of the model whose origin is the anchor; or None when ``at`` is given."""
    at: tuple[float, float, float] | None
    """The anchor in model coordinates and units (as authored, Z up after conversion)."""
    outward: tuple[float, float, float] | None
    """Direction the pipe leaves in, entity frame; None: away from the model's centre."""
    line: int = 0


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file (glTF, glb, bam, egg) and how it is placed on its entity."""

    path: Path
    """Absolute path of the file."""
    scale: float = 1.0
    """Metres per model unit (``unit``) times ``scale``."""
    origin: str = "model"
    """One of :data:`MODEL_ORIGINS`."""
    floor: bool = False
    """``place: floor``: lift or lower the model so its lowest point sits at the entity's Z."""
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Moves the placed model in the entity's frame, metres."""
    rotate_hpr_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Turns the model (heading about Z, pitch about X, roll about Y) before placing it."""
    anchors: tuple[ModelAnchor, ...] = ()
    bindings: tuple[ModelBinding, ...] = ()
    line: int = 0
    """Line of the model's ``gltf:`` (or ``file:``) key."""
    key: str = ""
    """That key's place in the document, e.g. ``entities[3].model.gltf``: where a problem
    found when the viewer loads the file is reported."""


@dataclass(frozen=True, slots=True)
class Entity:
    """A physical asset (or a pipe, built from a connection)."""

    id: str
    type: str
    name: str
    position_m: tuple[float, float, float]
    heading_deg: float
    model_procedural: str | None
    """Name of the procedural model, or None when a glTF file is used."""
    model_file: Path | None
    """Absolute path of a glTF/glb/bam model, or None."""
    params: dict[str, Any]
    """The type's own block (``tank:``, ``pump:``, ...) as validated plain data."""
    points: tuple[PointSpec, ...]
    line: int = 0
    model: ModelFile | None = None
    """How the model file is placed and bound (None for procedural models)."""


@dataclass(frozen=True, slots=True)
class Connection:
    """A pipe between two entities; flow is positive from ``source`` to ``target``."""

    id: str
    type: str
    source: str
    target: str
    diameter_m: float
    length_m: float
    via_m: tuple[tuple[float, float, float], ...]
    line: int = 0
    source_anchor: str | None = None
    """A named anchor of the source's model file the pipe starts at (None: nearest one)."""
    target_anchor: str | None = None


@dataclass(frozen=True, slots=True)
class Viewpoint:
    """A named camera pose for the number keys (1-9): where the view looks and from where."""

    name: str
    target_m: tuple[float, float, float]
    distance_m: float
    heading_deg: float
    pitch_deg: float


@dataclass(frozen=True, slots=True)
class Scene:
    """A validated scene: entities in file order (pipes appended after), connections, points."""

    path: Path
    """The scene folder."""
    name: str
    description: str
    entities: tuple[Entity, ...]
    connections: tuple[Connection, ...]
    points: tuple[PointSpec, ...] = field(default=())
    """All points of all entities, in entity order: the order of the world's point columns."""
    viewpoints: tuple[Viewpoint, ...] = ()
    """Camera poses on the keys 1-9, in file order."""
    tours: tuple[Any, ...] = ()
    """:class:`runtime.scene.tours.Tour` in file order (kiosk attract loop, guided visits)."""
    _index: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Id -> entity and id -> point, built on the first lookup (a device file of 10,000 points
    asks once per point: a scan each time made loading it quadratic)."""

    def entity(self, entity_id: str) -> Entity:
        return self._lookup("entities", entity_id)

    def point(self, point_id: str) -> PointSpec:
        return self._lookup("points", point_id)

    def points_by_id(self) -> Mapping[str, PointSpec]:
        """Point id -> its spec, as :meth:`point` answers it (for a caller asking thousands)."""
        return MappingProxyType(self._indexed()["points"])

    def _lookup(self, kind: str, ident: str) -> Any:
        return self._indexed()[kind][ident]

    def _indexed(self) -> dict[str, Any]:
        if not self._index:
            # First occurrence wins, as the scan this replaces did.
            self._index["entities"] = {e.id: e for e in reversed(self.entities)}
            self._index["points"] = {p.id: p for p in reversed(self.points)}
        return self._index


DEVICE_TABLES = ("holding", "input", "coil", "discrete")
DATA_TYPES = ("int16", "uint16", "int32", "uint32", "float32", "bool")
REGISTERS_OF_TYPE = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "bool": 1}
"""Registers (or bits) a value of each data type occupies."""
WORD_ORDERS = ("big", "little")
WRITE_ROLES = ("operator", "instructor")
"""Roles a point's ``roles:`` list may name; ``viewer`` never writes (runtime.control.roles)."""
INTERLOCK_OPS = ("==", "!=", ">", ">=", "<", "<=")
"""Comparisons an interlock condition may use: a closed set, so nothing is ever evaluated."""


@dataclass(frozen=True, slots=True)
class DevicePoint:
    """Where one scene point lives on a Modbus device and how to decode it."""

    point: str
    """Full point id, ``<entity>/<point>``."""
    table: str
    """``holding`` | ``input`` | ``coil`` | ``discrete``."""
    address: int
    """Zero-based register or bit address."""
    type: str
    """``int16`` | ``uint16`` | ``int32`` | ``uint32`` | ``float32`` | ``bool``."""
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    """Engineering value = raw * scale + offset."""
    writable: bool = False
    min: float | None = None
    max: float | None = None
    """Engineering limits for writes (inclusive); None means unbounded."""
    line: int = 0
    roles: tuple[str, ...] | None = None
    """Roles allowed to write this point; None means the default (operator and instructor for
    a writable point). See docs/control.md."""
    max_rate_per_s: float | None = None
    """Largest accepted change per second between accepted writes, in the point's unit."""
    sbo: bool = False
    """Select-before-operate: writes that move equipment must be selected first (10 s expiry)."""
    feedback: str | None = None
    """A separate read-only point that confirms this setpoint (many PLCs answer a command
    through a feedback register): a write is confirmed when it comes within
    ``feedback_tolerance`` of the value asked, within ``feedback_timeout_ms``."""
    feedback_tolerance: float = 0.0
    feedback_timeout_ms: int = 10_000

    @property
    def register_count(self) -> int:
        """Registers (or bits) the point occupies."""
        return REGISTERS_OF_TYPE.get(self.type, 1)


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One Modbus TCP device (a PLC, RTU or gateway unit)."""

    id: str
    name: str
    host: str
    port: int
    unit_id: int
    word_order: str
    """``big``: high word first; ``little``: low word first (bytes within a word are big-endian)."""
    poll_period_ms: int
    timeout_ms: int
    points: tuple[DevicePoint, ...]
    line: int = 0
    pipeline_depth: int = 1
    """Block reads the adapter writes at once on the connection (1: one request at a time)."""


@dataclass(frozen=True, slots=True)
class InterlockCondition:
    """``<point> <op> <value>`` over the adapter's latest reading of ``point``."""

    point: str
    op: str
    """One of :data:`INTERLOCK_OPS`."""
    value: float
    line: int = 0


@dataclass(frozen=True, slots=True)
class Interlock:
    """A rule that refuses writes to ``blocks`` while every ``when`` condition holds.

    Only requested values inside the blocked region are refused: above ``above``, below
    ``below``, anything but ``unless_value``, or (with none of the three) every value.
    """

    id: str
    blocks: str
    """Full point id of the writable point this interlock guards."""
    when: tuple[InterlockCondition, ...]
    """All must hold for the interlock to be active."""
    above: float | None = None
    below: float | None = None
    unless_value: float | None = None
    message: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Devices:
    """A validated ``devices.yaml``."""

    path: Path
    devices: tuple[DeviceSpec, ...]
    interlocks: tuple[Interlock, ...] = ()
    _index: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Id -> device and point id -> (device, mapping), built on the first lookup."""

    def device(self, device_id: str) -> DeviceSpec:
        if not self._index:
            self._build_index()
        return self._index["devices"][device_id]

    def owner_of(self, point_id: str) -> tuple[DeviceSpec, DevicePoint] | None:
        """The device and mapping that serve ``point_id``, or None."""
        if not self._index:
            self._build_index()
        return self._index["owners"].get(point_id)

    def _build_index(self) -> None:
        # Reversed so that the first occurrence wins, as a scan would.
        self._index["devices"] = {d.id: d for d in reversed(self.devices)}
        self._index["owners"] = {
            p.point: (d, p) for d in reversed(self.devices) for p in reversed(d.points)
        }
