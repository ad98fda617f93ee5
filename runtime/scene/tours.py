"""Tours in ``scene.yaml``: named sequences of stops, each a camera pose, a dwell time and a
narration card (title, text, and the live values of the stop's assets).

```yaml
tours:
  - name: Visitor tour
    stops:
      - title: Raw water tank
        text: River water arrives here ...
        assets: [T-101, LT-101]
        camera: {target_m: [-22, 0, 2], distance_m: 24, heading_deg: 20, pitch_deg: -20}
        dwell_s: 8          # time at the stop (default 8)
        travel_s: 3         # time to fly there from the previous stop (default 3)
      - title: Pumps
        viewpoint: Pump skid   # or the pose of a named viewpoint
        text: ...
```

Parsed here, apart from the entity and model keys, so the loader only calls :func:`parse_tours`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.scene.fields import Doc, Path_
from runtime.scene.model import Viewpoint

MAX_STOPS = 50
DEFAULT_DWELL_S = 8.0
DEFAULT_TRAVEL_S = 3.0
MAX_TEXT_CHARS = 600
"""A narration card is read from a few metres away: a paragraph, not a page."""
PITCH_RANGE_DEG = (-88.0, -3.0)


@dataclass(frozen=True, slots=True)
class TourStop:
    title: str
    text: str
    assets: tuple[str, ...]
    """Entity ids whose live values the card shows."""
    target_m: tuple[float, float, float]
    distance_m: float
    heading_deg: float
    pitch_deg: float
    dwell_s: float
    travel_s: float
    line: int = 0


@dataclass(frozen=True, slots=True)
class Tour:
    name: str
    stops: tuple[TourStop, ...]
    line: int = 0


def parse_tours(doc: Doc, raw: Any, entity_ids: set[str],
                viewpoints: tuple[Viewpoint, ...]) -> tuple[Tour, ...]:
    """The ``tours:`` block (absent: none). Errors name file, line and key."""
    if raw is None:
        return ()
    items = doc.sequence(raw, ("tours",))
    names: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        at: Path_ = ("tours", i)
        tour = doc.mapping(item, at)
        doc.only_keys(tour, at, {"name", "stops"})
        name = doc.string(tour, at, "name")
        if name in names:
            raise doc.fail(at + ("name",), f"duplicate tour name {name!r} (first used on line "
                           f"{names[name]})")
        names[name] = doc.line(at) or 0
        stops_raw = doc.sequence(doc.required(tour, at, "stops"), at + ("stops",))
        if not stops_raw:
            raise doc.fail(at + ("stops",), "a tour needs at least one stop")
        if len(stops_raw) > MAX_STOPS:
            raise doc.fail(at + ("stops",), f"{len(stops_raw)} stops; at most {MAX_STOPS}")
        stops = tuple(_stop(doc, s, at + ("stops", j), entity_ids, viewpoints)
                      for j, s in enumerate(stops_raw))
        out.append(Tour(name=name, stops=stops, line=doc.line(at) or 0))
    return tuple(out)


def _stop(doc: Doc, raw: Any, at: Path_, entity_ids: set[str],
          viewpoints: tuple[Viewpoint, ...]) -> TourStop:
    stop = doc.mapping(raw, at)
    doc.only_keys(stop, at, {"title", "text", "assets", "camera", "viewpoint", "dwell_s",
                             "travel_s"})
    title = doc.string(stop, at, "title")
    text = str(stop.get("text") or "").strip()
    if len(text) > MAX_TEXT_CHARS:
        raise doc.fail(at + ("text",), f"{len(text)} characters; at most {MAX_TEXT_CHARS} "
                       "(a card is read standing up)")
    assets = []
    for k, ident in enumerate(doc.sequence(stop.get("assets") or [], at + ("assets",))):
        if not isinstance(ident, str) or ident not in entity_ids:
            raise doc.fail(at + ("assets", k), f"refers to missing entity {ident!r}")
        assets.append(ident)
    if ("camera" in stop) == ("viewpoint" in stop):
        raise doc.fail(at, "give exactly one of 'camera: {target_m, distance_m, heading_deg, "
                       "pitch_deg}' or 'viewpoint: <name>'")
    if "viewpoint" in stop:
        wanted = doc.string(stop, at, "viewpoint")
        vp = next((v for v in viewpoints if v.name == wanted), None)
        if vp is None:
            known = ", ".join(v.name for v in viewpoints) or "none declared"
            raise doc.fail(at + ("viewpoint",), f"no viewpoint named {wanted!r} (known: {known})")
        target, distance, heading, pitch = vp.target_m, vp.distance_m, vp.heading_deg, \
            vp.pitch_deg
    else:
        cam_at = at + ("camera",)
        cam = doc.mapping(stop["camera"], cam_at)
        doc.only_keys(cam, cam_at, {"target_m", "distance_m", "heading_deg", "pitch_deg"})
        target = doc.vector(doc.required(cam, cam_at, "target_m"), cam_at + ("target_m",), 3)
        distance = doc.number(cam, cam_at, "distance_m", positive=True)
        heading = doc.number(cam, cam_at, "heading_deg", default=0.0)
        pitch = doc.number(cam, cam_at, "pitch_deg", default=-30.0)
        lo, hi = PITCH_RANGE_DEG
        if not lo <= pitch <= hi:
            raise doc.fail(cam_at + ("pitch_deg",), f"{pitch:g} is outside {lo:g}..{hi:g} "
                           "(degrees down)")
    return TourStop(
        title=title, text=text, assets=tuple(assets),
        target_m=target,  # type: ignore[arg-type]
        distance_m=distance, heading_deg=heading, pitch_deg=pitch,
        dwell_s=doc.number(stop, at, "dwell_s", default=DEFAULT_DWELL_S, positive=True),
        travel_s=doc.number(stop, at, "travel_s", default=DEFAULT_TRAVEL_S, minimum=0.0),
        line=doc.line(at) or 0)


def tour_schema() -> dict[str, Any]:
    """The JSON Schema of the ``tours:`` block (runtime.scene.schema includes it)."""
    vec3 = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
    camera = {
        "type": "object", "additionalProperties": False,
        "required": ["target_m", "distance_m"],
        "properties": {
            "target_m": vec3,
            "distance_m": {"type": "number", "exclusiveMinimum": 0},
            "heading_deg": {"type": "number"},
            "pitch_deg": {"type": "number", "minimum": PITCH_RANGE_DEG[0],
                          "maximum": PITCH_RANGE_DEG[1]},
        },
    }
    stop = {
        "type": "object", "additionalProperties": False, "required": ["title"],
        "oneOf": [{"required": ["camera"]}, {"required": ["viewpoint"]}],
        "properties": {
            "title": {"type": "string"},
            "text": {"type": "string", "maxLength": MAX_TEXT_CHARS},
            "assets": {"type": "array", "items": {"type": "string"}},
            "camera": camera,
            "viewpoint": {"type": "string"},
            "dwell_s": {"type": "number", "exclusiveMinimum": 0},
            "travel_s": {"type": "number", "minimum": 0},
        },
    }
    return {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "stops"],
        "properties": {"name": {"type": "string"},
                       "stops": {"type": "array", "minItems": 1, "maxItems": MAX_STOPS,
                                 "items": stop}},
    }}
