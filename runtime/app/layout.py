"""Control-room layouts: one process, one world, several display regions on one window.

A layout file (``scenes/<scene>/layouts/<name>.yaml``) lists regions, each a rectangle of the
window in fractions (left, right, bottom, top; 0,0 is bottom-left) and a kind:

- ``overview``: the twin's own view (exactly one): the orbit/walk camera, badges, status bar,
  inspector and mini-map, all drawn inside its rectangle (the mouse is read relative to it).
- ``detail``: a second camera in the same world that follows the selection, with a caption.
- any other kind (``alarms``, ``trend``): a 2D panel from :mod:`runtime.app.panel_registry`,
  or a placeholder card until a provider for that kind is registered.

``ui_scale`` enlarges the layout's own text for a wall seen from across the room. All 2D sizes
are in units of the region's height, so the same layout keeps its proportions from a 1080p
monitor to a 4K wall (text is twice as many pixels tall at 2160 lines).

:func:`load_layout` checks the file with located errors; :func:`prepare_layout` splits the
window before the twin's plugins are built (they lay themselves out for the overview's aspect);
:class:`LayoutPlugin` builds the other regions on the twin.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from direct.task.Task import Task
from panda3d.core import (
    Camera,
    DisplayRegion,
    NodePath,
    OrthographicLens,
    PerspectiveLens,
    Point3,
    TextNode,
)

from runtime.app.panel_registry import Panel, PanelContext, make_panel
from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.scene.errors import SceneError
from runtime.scene.fields import Doc, Path_
from runtime.scene.model import Scene
from runtime.scene.yaml_located import load_located
from runtime.ui.hud import HudElement, element

LAYOUT_FORMAT = "twinstage.layout/1"
BUILTIN_KINDS = ("overview", "detail")
DETAIL_FOV_DEG = 35.0
DETAIL_FOLLOW_PER_S = 3.0
"""How quickly the detail camera catches up with a new selection (1/s, exponential)."""
CAPTION_SCALE = 0.055
PANEL_BG_RGBA = (0.08, 0.085, 0.09, 1.0)
"""Behind a panel region (ISA-101: a quiet dark grey, nothing 3D shows through)."""


@dataclass(frozen=True, slots=True)
class Region:
    kind: str
    rect: tuple[float, float, float, float]
    """(left, right, bottom, top) as fractions of the window."""
    title: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    path: Path
    regions: tuple[Region, ...]
    ui_scale: float = 1.0

    @property
    def overview(self) -> Region:
        return next(r for r in self.regions if r.kind == "overview")


def layout_path(name_or_file: str, scene: Scene) -> Path:
    """``wall`` -> ``<scene>/layouts/wall.yaml``; a path is taken as it is."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    return scene.path / "layouts" / f"{name_or_file}.yaml"


def available_layouts(scene: Scene) -> list[str]:
    folder = scene.path / "layouts"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_layout(path: Path) -> Layout:
    """Read and check a layout file; SceneError names file, line and key."""
    if not path.is_file():
        raise SceneError(path, None, "", "no such layout file")
    data, lines = load_located(path)
    doc = Doc(path, lines)
    root = doc.mapping(data, ())
    doc.only_keys(root, (), {"format", "name", "ui_scale", "regions"})
    fmt = doc.string(root, (), "format")
    if fmt != LAYOUT_FORMAT:
        raise doc.fail(("format",), f"unsupported format {fmt!r}; expected {LAYOUT_FORMAT!r}")
    ui_scale = doc.number(root, (), "ui_scale", default=1.0, positive=True)
    if ui_scale > 4:
        raise doc.fail(("ui_scale",), f"{ui_scale:g} is more than 4")
    raw = doc.sequence(doc.required(root, (), "regions"), ("regions",))
    regions = [_region(doc, item, ("regions", i)) for i, item in enumerate(raw)]
    overviews = [i for i, r in enumerate(regions) if r.kind == "overview"]
    if len(overviews) != 1:
        raise doc.fail(("regions",), f"a layout needs exactly one overview region, found "
                       f"{len(overviews)}")
    for i, a in enumerate(regions):
        for j in range(i):
            if _overlap(a.rect, regions[j].rect):
                raise doc.fail(("regions", i, "rect"), f"overlaps region {j + 1} "
                               f"({regions[j].kind}, line {regions[j].line})")
    return Layout(name=doc.string(root, (), "name"), path=path, regions=tuple(regions),
                  ui_scale=ui_scale)


def _region(doc: Doc, raw: Any, at: Path_) -> Region:
    item = doc.mapping(raw, at)
    kind = doc.string(item, at, "kind")
    if not kind.replace("_", "").isalnum():
        raise doc.fail(at + ("kind",), f"kind {kind!r}: letters, digits and _ only")
    known = {"kind", "rect", "title"}
    if kind == "detail":
        known |= {"distance_m", "follow"}
    options = {k: v for k, v in item.items() if k not in {"kind", "rect", "title"}}
    if kind in BUILTIN_KINDS:
        doc.only_keys(item, at, known)
    rect = doc.vector(doc.required(item, at, "rect"), at + ("rect",), 4)
    left, right, bottom, top = rect
    if not (0.0 <= left < right <= 1.0 and 0.0 <= bottom < top <= 1.0):
        raise doc.fail(at + ("rect",), "expected [left, right, bottom, top] as fractions of "
                       "the window, 0 <= left < right <= 1 and 0 <= bottom < top <= 1")
    if kind == "detail":
        if "distance_m" in item:
            options["distance_m"] = doc.number(item, at, "distance_m", positive=True)
        if "follow" in item:
            options["follow"] = doc.choice(item, at, "follow", ("selection",))
    return Region(kind=kind, rect=rect,  # type: ignore[arg-type]
                  title=str(item.get("title") or ""), options=options, line=doc.line(at) or 0)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    eps = 1e-9
    return a[0] < b[1] - eps and b[0] < a[1] - eps and a[2] < b[3] - eps and b[2] < a[3] - eps


# -- regions on the window -----------------------------------------------------------------------


def _region_of(app: Any, camera: NodePath) -> DisplayRegion | None:
    for i in range(app.win.get_num_display_regions()):
        dr = app.win.get_display_region(i)
        if dr.get_camera() == camera:
            return dr
    return None


def region_px(app: Any, rect: tuple[float, float, float, float]) -> tuple[int, int]:
    w, h = app.win.get_x_size(), app.win.get_y_size()
    return max(1, round((rect[1] - rect[0]) * w)), max(1, round((rect[3] - rect[2]) * h))


def region_origin_px(app: Any, rect: tuple[float, float, float, float]) -> tuple[int, int]:
    """Top-left corner of a region in window pixels (row 0 at the top)."""
    w, h = app.win.get_x_size(), app.win.get_y_size()
    return round(rect[0] * w), round((1.0 - rect[3]) * h)


def placed(elements: list[HudElement], app: Any, rect: tuple[float, float, float, float],
           kind: str) -> list[HudElement]:
    """A region's HUD elements moved into window pixels and tagged with the region kind."""
    x0, y0 = region_origin_px(app, rect)
    for e in elements:
        box = e["bbox"]
        e["bbox"] = [round(box[0] + x0, 1), round(box[1] + y0, 1), box[2], box[3]]
        e["region"] = kind
    return elements


def prepare_layout(app: Any, viewer: Any, layout: Layout) -> float:
    """Move the twin's own 3D and 2D drawing into the overview rectangle and give the lens
    and the 2D layer its aspect; returns that aspect. Call before the live view and plugins
    are built (they lay out for ``viewer.aspect``)."""
    from runtime.render.viewer import FOV_V_DEG

    rect = layout.overview.rect
    for cam in (app.cam, app.cam2d):
        dr = _region_of(app, cam)
        if dr is not None:
            dr.set_dimensions(*rect)
    w, h = region_px(app, rect)
    aspect = w / h
    app.camLens.set_fov(FOV_V_DEG * aspect, FOV_V_DEG)
    app.camLens.set_aspect_ratio(aspect)
    app.aspect2d.set_scale(1.0 / aspect, 1.0, 1.0)
    viewer.aspect = aspect
    viewer.labels.update(app.render, aspect)
    watcher = getattr(app, "mouseWatcherNode", None)
    overview_dr = _region_of(app, app.cam)
    if watcher is not None and overview_dr is not None:
        watcher.set_display_region(overview_dr)  # clicks are read relative to the overview
    return aspect


class Overlay2D:
    """A 2D layer of its own over one region: ``root`` spans x in +-aspect, y in +-1."""

    def __init__(self, app: Any, rect: tuple[float, float, float, float], name: str,
                 sort: int, clear_rgba: tuple[float, float, float, float] | None = None
                 ) -> None:
        self.top = NodePath(f"{name}-2d")
        self.top.set_depth_test(False)
        self.top.set_depth_write(False)
        lens = OrthographicLens()
        lens.set_film_size(2, 2)
        lens.set_near_far(-1000, 1000)
        cam = Camera(f"{name}-cam2d", lens)
        self.camera = self.top.attach_new_node(cam)
        self.region = app.win.make_display_region(*rect)
        self.region.set_sort(sort)
        self.region.set_camera(self.camera)
        self.region.set_clear_depth_active(True)
        if clear_rgba is not None:  # a panel's own background (nothing 3D behind it)
            self.region.set_clear_color_active(True)
            self.region.set_clear_color(clear_rgba)
        w, h = region_px(app, rect)
        self.size_px = (w, h)
        self.aspect = w / h
        self.root = self.top.attach_new_node(f"{name}-aspect")
        self.root.set_scale(1.0 / self.aspect, 1.0, 1.0)


class DetailView:
    """A second camera on the same world, flying after the selected asset."""

    def __init__(self, twin: Twin, region: Region, ui_scale: float) -> None:
        app = twin.app
        self.twin = twin
        self.rect = region.rect
        self.distance_m = float(region.options.get("distance_m", 0.0)) or None
        w, h = region_px(app, region.rect)
        lens = PerspectiveLens()
        lens.set_fov(DETAIL_FOV_DEG * w / h, DETAIL_FOV_DEG)
        lens.set_near_far(0.2, 1000.0)
        self.camera = app.render.attach_new_node(Camera("detail-camera", lens))
        self.region = app.win.make_display_region(*region.rect)
        self.region.set_sort(5)
        self.region.set_camera(self.camera)
        self.region.set_clear_color_active(True)
        self.region.set_clear_color(app.win.get_clear_color())
        self.region.set_clear_depth_active(True)
        self.overlay = Overlay2D(app, region.rect, "detail", 15)
        tn = TextNode("detail-caption")
        tn.set_text_color(1, 1, 1, 1)
        tn.set_card_color(0.10, 0.11, 0.12, 0.85)
        tn.set_card_as_margin(0.4, 0.4, 0.25, 0.2)
        self.caption_node = self.overlay.root.attach_new_node(tn)
        self.caption_node.set_scale(CAPTION_SCALE * ui_scale)
        self.caption_node.set_pos(-self.overlay.aspect + 0.05, 0, 1.0 - 0.1 * ui_scale)
        self.caption = ""
        self.following: str | None = None
        home = twin.viewer.camera.home
        self._target = Point3(home.target)
        self._distance_m = home.distance_m * 0.6
        self._heading_deg = home.heading_deg + 25.0
        self._place()

    def update(self, dt_s: float) -> None:
        twin = self.twin
        selected = twin.live.selection.selected
        world = twin.session.world
        if selected is not None and selected in world.entity_row:
            x, y, z = (float(v) for v in world.entities.position_m[world.entity_row[selected]])
            vis = twin.viewer.view.visuals.get(selected)
            height = vis.height_m if vis is not None else 2.0
            want_target = Point3(x, y, z + 0.5 * height)
            want_distance = self.distance_m or max(9.0, 4.0 * height)
            name = world.scene.entity(selected).name
            caption = f"Detail: {selected}  {name}"
        else:
            home = twin.viewer.camera.home
            want_target, want_distance = Point3(home.target), home.distance_m * 0.6
            caption = "Detail: select an asset to follow it here"
        self.following = selected
        k = 1.0 - math.exp(-DETAIL_FOLLOW_PER_S * max(dt_s, 0.0))
        self._target += (want_target - self._target) * k
        self._distance_m += (want_distance - self._distance_m) * k
        self._place()
        if caption != self.caption:
            self.caption = caption
            self.caption_node.node().set_text(caption)

    def settle(self) -> None:
        """Jump to where the view is heading (tests, a new layout)."""
        for _ in range(60):
            self.update(1.0)

    def _place(self) -> None:
        h, p = math.radians(self._heading_deg), math.radians(-25.0)
        direction = (-math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p))
        t = self._target
        self.camera.set_pos(t.x - direction[0] * self._distance_m,
                            t.y - direction[1] * self._distance_m,
                            t.z - direction[2] * self._distance_m)
        self.camera.look_at(t)

    def hud(self) -> list[HudElement]:
        left, right, bottom, top = self.caption_node.node().get_card_actual()
        pos, k = self.caption_node.get_pos(), self.caption_node.get_scale().x
        return [element("detail", self.caption, (pos.x + left * k, pos.x + right * k,
                                                 pos.z + bottom * k, pos.z + top * k),
                        self.overlay.aspect, self.overlay.size_px)]


class LayoutPlugin:
    """Builds the layout's regions other than the overview on a twin and updates them."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.twin: Twin | None = None
        self.detail: list[DetailView] = []
        self.panels: dict[str, tuple[Region, Panel]] = {}
        self._last_ns = -1

    def build(self, twin: Twin) -> None:
        self.twin = twin
        overview = self.layout.overview.rect
        twin.viewport = (*region_origin_px(twin.app, overview), *region_px(twin.app, overview))
        twin.live.view_px = region_px(twin.app, overview)
        for i, region in enumerate(self.layout.regions):
            if region.kind == "overview":
                continue
            if region.kind == "detail":
                self.detail.append(DetailView(twin, region, self.layout.ui_scale))
                continue
            overlay = Overlay2D(twin.app, region.rect, f"{region.kind}-{i}", 15,
                                clear_rgba=PANEL_BG_RGBA)
            ctx = PanelContext(twin=twin, root=overlay.root, aspect=overlay.aspect,
                               size_px=overlay.size_px, ui_scale=self.layout.ui_scale,
                               options=dict(region.options), kind=region.kind)
            self.panels[f"{region.kind}-{i}"] = (region, make_panel(ctx))
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "layout", sort=Phase.HUD + 1)

    def _task(self, task: Task) -> int:
        twin = self.twin
        assert twin is not None
        t0 = time.perf_counter_ns()
        now = twin.session.wall_ns
        dt = 0.0 if self._last_ns < 0 else (now - self._last_ns) / 1e9
        self._last_ns = now
        for view in self.detail:
            view.update(dt)
        for _region, panel in self.panels.values():
            panel.update()
        twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def hud(self) -> list[HudElement]:
        assert self.twin is not None
        app = self.twin.app
        out: list[HudElement] = []
        for view in self.detail:
            out += placed(view.hud(), app, view.rect, "detail")
        for region, panel in self.panels.values():
            out += placed(panel.hud(), app, region.rect, region.kind)
        return out
