"""First-person walking at eye height: WASD/arrows and mouse look, a gamepad when present.

The walker is a body (two spheres, knee and chest) in a collision world of its own: one solid per
piece of equipment (a vertical capsule for a tank's shell, a box around any other model's
bounds, turned with the asset), bucketed into grid cells so a traverse of a 5,000-asset plant
only looks at the cells near the body. Panda3D's ``CollisionHandlerPusher`` pushes the body out
of whatever it walked into, and a ray cast down from above the head onto the floor solids (the
ground plane) sets the feet's height, as in Panda3D's Roaming Ralph sample. The camera follows the
body's eye every frame.

Movement is a plain method (:meth:`WalkController.walk`) called with the input's axes and the
frame's delta, so tests and tours drive the same path as keys. Moves are split into sub-steps
of at most :data:`MAX_SUBSTEP_M`, so a long frame cannot carry the body through a thin wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from direct.showbase.ShowBase import ShowBase
from panda3d.core import (
    BitMask32,
    CollisionBox,
    CollisionCapsule,
    CollisionHandlerPusher,
    CollisionHandlerQueue,
    CollisionNode,
    CollisionPlane,
    CollisionRay,
    CollisionSphere,
    CollisionTraverser,
    KeyboardButton,
    NodePath,
    Plane,
    Point3,
    Vec3,
)

from runtime.render.scene_graph import SceneView
from runtime.scene.model import Scene

EYE_HEIGHT_M = 1.7
BODY_RADIUS_M = 0.35
"""A person's half-width: the eye stays this far from any wall."""
WALK_SPEED_M_S = 1.6
RUN_FACTOR = 2.5
"""Shift (or the gamepad's right trigger) runs."""
TURN_DEG_S = 90.0
"""Arrow keys left/right and the gamepad's right stick turn at this rate."""
LOOK_DEG_PER_PX = 0.15
PITCH_LIMITS_DEG = (-80.0, 80.0)
MAX_SUBSTEP_M = 0.2
STEP_UP_M = 0.45
"""The floor ray starts this far above the feet: a kerb or a plinth is stepped onto, a tank's
roof is not."""
CELL_M = 20.0
"""Grid cell size for the equipment solids (the traverser culls whole cells by bounds)."""
MIN_HALF_M = 0.15
WALL_MASK = BitMask32.bit(21)
FLOOR_MASK = BitMask32.bit(22)


@dataclass(slots=True)
class WalkPose:
    """Where the walker stands (feet, metres) and looks (degrees; heading 0 = +Y, as the orbit
    camera's heading)."""

    x_m: float
    y_m: float
    z_m: float
    heading_deg: float
    pitch_deg: float = 0.0


def tight_local_bounds(view: SceneView, scene: Scene
                       ) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Entity id -> (low, high) corners of its model in its own frame. Copies of one procedural
    model share one measurement (a tight-bounds walk visits every vertex)."""
    cache: dict[tuple, tuple[tuple[float, ...], tuple[float, ...]] | None] = {}
    out = {}
    for entity in scene.entities:
        vis = view.visuals.get(entity.id)
        if vis is None or entity.id in view.pipe_routes:
            continue
        key = None
        if entity.model_procedural is not None:
            key = (entity.model_procedural, entity.type, repr(sorted(entity.params.items())),
                   float(entity.position_m[2]))
        if key is None or key not in cache:
            found = vis.root.get_tight_bounds(vis.root)
            value = None if not found else (tuple(found[0]), tuple(found[1]))
            if key is not None:
                cache[key] = value
        else:
            value = cache[key]
        if value is not None:
            out[entity.id] = value
    return out


class WalkWorld:
    """The collision solids the walker meets: equipment walls and the floor."""

    def __init__(self, scene: Scene, view: SceneView) -> None:
        self.root = NodePath("walk-world")
        self._cells: dict[tuple[int, int], NodePath] = {}
        self.solid_count = 0
        bounds = tight_local_bounds(view, scene)
        for entity in scene.entities:
            if entity.id not in bounds:
                continue
            x, y, z = entity.position_m
            cell = self._cell(x, y)
            node = CollisionNode(f"wall-{entity.id}")
            node.set_from_collide_mask(BitMask32.all_off())
            node.set_into_collide_mask(WALL_MASK)
            holder = cell.attach_new_node(node)
            holder.set_pos(x, y, z)
            holder.set_h(entity.heading_deg)
            holder.set_tag("entity", entity.id)
            lo, hi = bounds[entity.id]
            if entity.type == "tank" and entity.model_procedural:
                radius = 0.5 * float(entity.params.get("diameter_m", 2.0))
                top = max(hi[2], 0.5)
                node.add_solid(CollisionCapsule(Point3(0, 0, 0), Point3(0, 0, top), radius))
            else:
                centre = Point3(*((a + b) * 0.5 for a, b in zip(lo, hi, strict=True)))
                half = [max((b - a) * 0.5, MIN_HALF_M) for a, b in zip(lo, hi, strict=True)]
                node.add_solid(CollisionBox(centre, *half))
            self.solid_count += 1
        floor = CollisionNode("floor")
        floor.set_from_collide_mask(BitMask32.all_off())
        floor.set_into_collide_mask(FLOOR_MASK)
        floor.add_solid(CollisionPlane(Plane(Vec3(0, 0, 1), Point3(0, 0, 0))))
        self.root.attach_new_node(floor)

    def _cell(self, x_m: float, y_m: float) -> NodePath:
        key = (math.floor(x_m / CELL_M), math.floor(y_m / CELL_M))
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = self.root.attach_new_node(f"cell-{key[0]}-{key[1]}")
        return cell


class WalkController:
    """The walking body, its pusher and floor ray, and the camera at its eye."""

    def __init__(self, app: ShowBase, world: WalkWorld, start: WalkPose, *,
                 eye_height_m: float = EYE_HEIGHT_M) -> None:
        self._app = app
        self.world = world
        self.eye_height_m = eye_height_m
        self.active = False
        """The camera follows the body only while walking (the orbit camera owns it else)."""
        self.body = world.root.attach_new_node("walker")
        self.pose = WalkPose(start.x_m, start.y_m, start.z_m, start.heading_deg,
                             start.pitch_deg)
        self.traverser = CollisionTraverser("walk")
        self.pusher = CollisionHandlerPusher()
        self.pusher.set_horizontal(True)
        body_node = CollisionNode("walker-body")
        for z in (0.5, 1.3):  # knee and chest: a capsule the pusher can resolve robustly
            body_node.add_solid(CollisionSphere(0, 0, z, BODY_RADIUS_M))
        body_node.set_from_collide_mask(WALL_MASK)
        body_node.set_into_collide_mask(BitMask32.all_off())
        body_np = self.body.attach_new_node(body_node)
        self.pusher.add_collider(body_np, self.body)
        self.traverser.add_collider(body_np, self.pusher)
        self.floor_queue = CollisionHandlerQueue()
        ray_node = CollisionNode("walker-floor-ray")
        ray_node.add_solid(CollisionRay(0, 0, STEP_UP_M + 0.5, 0, 0, -1))
        ray_node.set_from_collide_mask(FLOOR_MASK)
        ray_node.set_into_collide_mask(BitMask32.all_off())
        self._floor_traverser = CollisionTraverser("walk-floor")
        self._floor_traverser.add_collider(self.body.attach_new_node(ray_node), self.floor_queue)
        self._last_mouse: tuple[float, float] | None = None
        self.gamepad = None
        self.teleports: list[tuple[str, WalkPose]] = []
        """Named places the walker can jump to (number keys while walking)."""
        self.place(self.pose)

    # -- actions ------------------------------------------------------------------------------

    def place(self, pose: WalkPose) -> WalkPose:
        """Stand at ``pose`` (teleport): pushed clear of equipment, feet on the floor."""
        self.pose = WalkPose(pose.x_m, pose.y_m, pose.z_m, pose.heading_deg % 360.0,
                             min(max(pose.pitch_deg, PITCH_LIMITS_DEG[0]), PITCH_LIMITS_DEG[1]))
        self.body.set_pos(pose.x_m, pose.y_m, pose.z_m)
        self._resolve()
        return self.pose

    def teleport(self, index: int) -> str | None:
        """Jump to teleport point ``index`` (0-based); its name, or None if there is none."""
        if not 0 <= index < len(self.teleports):
            return None
        name, pose = self.teleports[index]
        self.place(pose)
        return name

    def look(self, d_heading_deg: float, d_pitch_deg: float) -> None:
        p = self.pose
        p.heading_deg = (p.heading_deg + d_heading_deg) % 360.0
        p.pitch_deg = min(max(p.pitch_deg + d_pitch_deg, PITCH_LIMITS_DEG[0]),
                          PITCH_LIMITS_DEG[1])
        self.apply()

    def walk(self, forward: float, strafe: float, dt_s: float, *, run: bool = False) -> WalkPose:
        """Move by the input axes (-1..1 each; forward along the heading, strafe to the right)
        for ``dt_s`` seconds at walking speed; equipment stops the body, the floor carries it."""
        length = math.hypot(forward, strafe)
        if length > 1.0:
            forward, strafe = forward / length, strafe / length
        speed = WALK_SPEED_M_S * (RUN_FACTOR if run else 1.0)
        h = math.radians(self.pose.heading_deg)
        ahead = Vec3(-math.sin(h), math.cos(h), 0.0)
        right = Vec3(math.cos(h), math.sin(h), 0.0)
        motion = (ahead * forward + right * strafe) * (speed * max(dt_s, 0.0))
        distance = motion.length()
        steps = max(1, math.ceil(distance / MAX_SUBSTEP_M))
        step = motion / steps
        for _ in range(steps):
            self.body.set_pos(self.body.get_pos() + step)
            self._resolve()
        return self.pose

    def apply(self) -> None:
        """Put the camera at the body's eye (walking only)."""
        if not self.active:
            return
        cam = self._app.camera
        cam.set_pos(self.pose.x_m, self.pose.y_m, self.pose.z_m + self.eye_height_m)
        cam.set_hpr(self.pose.heading_deg, self.pose.pitch_deg, 0.0)

    def eye_m(self) -> tuple[float, float, float]:
        return (self.pose.x_m, self.pose.y_m, self.pose.z_m + self.eye_height_m)

    def _resolve(self) -> None:
        self.traverser.traverse(self.world.root)
        self.floor_queue.clear_entries()
        self._floor_traverser.traverse(self.world.root)
        pos = self.body.get_pos()
        if self.floor_queue.get_num_entries():
            self.floor_queue.sort_entries()
            z = self.floor_queue.get_entry(0).get_surface_point(self.world.root).z
            pos = Point3(pos.x, pos.y, z)
            self.body.set_pos(pos)
        self.pose.x_m, self.pose.y_m, self.pose.z_m = float(pos.x), float(pos.y), float(pos.z)
        self.apply()

    # -- input (windowed) ---------------------------------------------------------------------

    def find_gamepad(self) -> None:
        """Use the first gamepad Panda3D's device manager knows of (none on most kiosks)."""
        from panda3d.core import InputDevice

        devices = getattr(self._app, "devices", None)
        if devices is None:
            return
        pads = devices.get_devices(InputDevice.DeviceClass.gamepad)
        self.gamepad = pads[0] if pads else None

    def read_input(self, dt_s: float) -> bool:
        """Keys, mouse look and the gamepad for one frame; True when anything moved."""
        watcher = self._app.mouseWatcherNode
        forward = strafe = turn = 0.0
        run = False
        moved = False
        if watcher is not None:
            down = watcher.is_button_down
            key = KeyboardButton.ascii_key
            forward += (down(key("w")) or down(KeyboardButton.up())) - (
                down(key("s")) or down(KeyboardButton.down()))
            strafe += down(key("d")) - down(key("a"))
            turn += down(KeyboardButton.left()) - down(KeyboardButton.right())
            run = bool(down(KeyboardButton.shift()))
            if watcher.has_mouse():
                from panda3d.core import MouseButton

                m = watcher.get_mouse()
                w, h = self._app.win.get_x_size(), self._app.win.get_y_size()
                px = (m.x * w / 2, m.y * h / 2)
                last, self._last_mouse = self._last_mouse, px
                if last is not None and down(MouseButton.one()):
                    dx, dy = px[0] - last[0], px[1] - last[1]
                    if dx or dy:
                        self.look(-dx * LOOK_DEG_PER_PX, dy * LOOK_DEG_PER_PX)
                        moved = True
            else:
                self._last_mouse = None
        pad = self.gamepad
        if pad is not None and pad.connected:
            from panda3d.core import InputDevice

            axis = InputDevice.Axis
            lx, ly = _axis(pad, axis.left_x), _axis(pad, axis.left_y)
            rx, ry = _axis(pad, axis.right_x), _axis(pad, axis.right_y)
            forward += ly
            strafe += lx
            turn -= rx
            if abs(ry) > 0:
                self.look(0.0, ry * TURN_DEG_S * 0.5 * dt_s)
                moved = True
            run = run or _axis(pad, axis.right_trigger) > 0.5
        if turn:
            self.look(turn * TURN_DEG_S * dt_s, 0.0)
            moved = True
        if forward or strafe:
            self.walk(forward, strafe, dt_s, run=run)
            moved = True
        return moved


DEAD_ZONE = 0.15


def _axis(pad: object, which: object) -> float:
    """A gamepad axis with a dead zone (sticks rest a little off centre)."""
    found = pad.find_axis(which)  # type: ignore[attr-defined]
    if found is None:
        return 0.0
    value = float(found.value)
    return 0.0 if abs(value) < DEAD_ZONE else value
