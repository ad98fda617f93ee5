"""Sun, sky fill and ambient: enough to read shapes and colours of equipment from any side.

A warm key light from the south-east (optionally a shadow caster), a cool fill from
the opposite side keeps shaded faces from going black, and a low ambient lifts crevices.
"""

from __future__ import annotations

from panda3d.core import AmbientLight, DirectionalLight, NodePath

FORWARD_DIRECT_SCALE = 0.42
"""simplepbr's Lambert term divides by pi and tonemaps; OpenGL's fixed-function lighting does
neither, so the direct lights are scaled down there or light finishes clip to white."""


def add_lights(render: NodePath, *, extent_m: float, shadows: bool,
               pipeline: str = "pbr",
               center_m: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> list[NodePath]:
    """Attach the lights under ``render``; ``extent_m`` sizes the sun's shadow frustum, which
    is centred on ``center_m`` (the site's middle)."""
    k = 1.0 if pipeline == "pbr" else FORWARD_DIRECT_SCALE
    sun = DirectionalLight("sun")
    sun.set_color((2.6 * k, 2.45 * k, 2.2 * k, 1.0))
    sun_np = render.attach_new_node(sun)
    sun_np.set_hpr(35, -50, 0)  # from the south-east, 50 degrees up
    sun_np.set_pos(*center_m)
    if shadows:
        sun.set_shadow_caster(True, 2048, 2048)
        lens = sun.get_lens()
        lens.set_film_size(extent_m, extent_m)
        lens.set_near_far(-extent_m, extent_m)
    fill = DirectionalLight("sky_fill")
    fill.set_color((0.55 * k, 0.65 * k, 0.85 * k, 1.0))
    fill_np = render.attach_new_node(fill)
    fill_np.set_hpr(-150, -30, 0)
    amb = AmbientLight("ambient")
    amb.set_color((0.35, 0.37, 0.42, 1.0))
    amb_np = render.attach_new_node(amb)
    for np_ in (sun_np, fill_np, amb_np):
        render.set_light(np_)
    return [sun_np, fill_np, amb_np]
