"""glTF colours made to match the procedural assets on the pipelines without simplepbr.

glTF base colour factors are linear light and its colour textures are sRGB-encoded, the same
conventions :mod:`runtime.render.materials` uses with simplepbr, which decodes, lights in linear
light and encodes for the display. The forward and fixed-function pipelines (llvmpipe, a
software rasteriser) have no encoding pass: :class:`~runtime.render.materials.Materials` hands
them display-space colours (linear ** (1/2.2)) and half the metallic darkening. A glTF model
gets the same treatment here, once per loaded file: its materials are replaced by converted
copies, and its sRGB textures are relabelled as plain RGB, so the sampler passes their texels
through as display values instead of decoding them to linear light (which drew a texture's
blue (108, 173, 223) as (51, 118, 199) before).
"""

from __future__ import annotations

from panda3d.core import (
    GeomNode,
    Material,
    MaterialAttrib,
    NodePath,
    RenderState,
    Texture,
    TextureAttrib,
)

DISPLAY_GAMMA = 2.2
"""The same encoding :class:`runtime.render.materials.Materials` uses for display colours."""
_PLAIN = {Texture.F_srgb: Texture.F_rgb8, Texture.F_srgb_alpha: Texture.F_rgba8,
          Texture.F_sluminance: Texture.F_luminance,
          Texture.F_sluminance_alpha: Texture.F_luminance_alpha}


def to_display_colours(model: NodePath) -> None:
    """Convert every material and sRGB texture under ``model`` for a display-space pipeline."""
    nodes = list(model.find_all_matches("**"))
    if not any(n == model for n in nodes):
        nodes.append(model)
    for np_ in nodes:
        node = np_.node()
        node.set_state(_convert_state(node.get_state()))
        if isinstance(node, GeomNode):
            for i in range(node.get_num_geoms()):
                node.set_geom_state(i, _convert_state(node.get_geom_state(i)))


def display_rgb(linear: tuple[float, float, float]) -> tuple[float, float, float]:
    """A linear-light colour as the display value the forward pipeline writes."""
    return tuple(max(c, 0.0) ** (1 / DISPLAY_GAMMA) for c in linear)  # type: ignore[return-value]


def _convert_state(state: RenderState) -> RenderState:
    attrib = state.get_attrib(MaterialAttrib)
    if attrib is not None and not attrib.is_off():
        mat = attrib.get_material()
        new = Material(mat)
        if mat.has_base_color():
            base = mat.get_base_color()
            new.set_base_color((*display_rgb((base.x, base.y, base.z)), base.w))
            new.set_metallic(mat.get_metallic() * 0.5)
        state = state.set_attrib(MaterialAttrib.make(new))
    textures = state.get_attrib(TextureAttrib)
    if textures is not None:
        for k in range(textures.get_num_on_stages()):
            tex = textures.get_on_texture(textures.get_on_stage(k))
            plain = _PLAIN.get(tex.get_format())
            if plain is not None:
                tex.set_format(plain)
    return state
