"""The viewer's ShowBase, built from explicit configuration.

Project code never uses the builtins ShowBase injects (``base``, ``render``, ``taskMgr``,
``loader``): the app object is passed to whoever needs it. simplepbr is given the render node,
window, camera and task manager explicitly for the same reason.
"""

from __future__ import annotations

from direct.showbase.ShowBase import ShowBase
from panda3d.core import (
    GraphicsOutput,
    GraphicsPipeSelection,
    GraphicsStateGuardianBase,
    load_prc_file_data,
)

from runtime.render.config import DEFAULT_SIZE, FALLBACK_DISPLAY, prc_text

BACKGROUND_RGB = (0.20, 0.36, 0.62)
"""Overcast sky (linear light): light enough that dark equipment stands out, dark enough for
white labels."""
PIPELINES = ("auto", "pbr", "forward")
"""``pbr``: simplepbr (HDR buffer + tonemapping post-process). ``forward``: OpenGL's own
per-vertex lighting of the same materials straight to the window, no post-process (Panda's
shader generator emits Cg, which Mesa's core profiles reject, so it is not used). ``auto``:
pbr on a GPU, forward on a software rasteriser, where the full-screen post-process alone costs
~12 ms of a 16.7 ms frame at 1280x720 (Mesa llvmpipe, 2 cores: see ``twinstage bench render``).
"""
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "tinydisplay")
SHADOWS = ("auto", "on", "off")
"""Sun shadows through simplepbr's shadow maps, where the renderer supports them: with the pbr
pipeline on a GPU (``auto`` and ``on``). Never on a software rasteriser: the forward pipeline
has no shadow pass, and simplepbr's shadow shader segfaults Mesa llvmpipe (22.3 and 15.0.6
here, on the first frame of any scene with geometry), so ``on`` is refused there
(:attr:`ViewerApp.shadows_note` says why) rather than crash the viewer. ``off``: never."""


class ViewerApp(ShowBase):
    """A ShowBase with one window or offscreen buffer and, where shaders work, simplepbr.

    ``pbr`` is None when the pipe cannot run shaders (p3tinydisplay); the scene then falls back
    to fixed-function lighting of the same materials.
    """

    def __init__(
        self,
        *,
        headless: bool,
        size: tuple[int, int] = DEFAULT_SIZE,
        title: str = "twinstage",
        pipeline: str = "auto",
        msaa: int | None = None,
        shadows: str = "auto",
    ) -> None:
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {PIPELINES}, got {pipeline!r}")
        if shadows not in SHADOWS:
            raise ValueError(f"shadows must be one of {SHADOWS}, got {shadows!r}")
        load_prc_file_data("twinstage-viewer", prc_text(headless=headless, size=size, title=title))
        super().__init__(windowType="none")
        kind = "offscreen" if headless else "onscreen"
        self.open_main_window(type=kind, size=size)
        if self.win is None:
            # OpenGL could not start: retry once on the software rasteriser.
            self.pipe = GraphicsPipeSelection.get_global_ptr().make_module_pipe(FALLBACK_DISPLAY)
            if self.pipe is not None:
                self.open_main_window(type=kind, size=size)
        if self.win is None:
            raise RuntimeError("Panda3D could not open a window or offscreen buffer")
        self.headless = headless
        self.size = size
        self.disable_mouse()
        self.pbr = None
        self.shaders_ok = bool(self.win.gsg.supports_basic_shaders)
        renderer = self.win.gsg.driver_renderer.lower()
        software = any(name in renderer for name in SOFTWARE_RENDERERS)
        if pipeline == "auto":
            pipeline = "forward" if software else "pbr"
        self.pipeline = pipeline if self.shaders_ok else "fixed"
        """The pipeline in use: pbr, forward, or fixed (no shaders at all)."""
        self.shadows = self.pipeline == "pbr" and not software and shadows != "off"
        """Whether the sun casts shadows (see SHADOWS)."""
        self.shadows_note = ""
        """Why ``shadows='on'`` was not honoured, for the command to say; empty otherwise."""
        if shadows == "on" and not self.shadows:
            self.shadows_note = ("no shadows: the software renderer cannot draw simplepbr's "
                                 "shadow maps" if software else
                                 f"no shadows with the {self.pipeline} pipeline")
        if self.pipeline == "pbr":
            self.set_background_color(*BACKGROUND_RGB, 1.0)
        else:
            # No tonemapping pass converts to sRGB, so give the sky its display-space value.
            self.set_background_color(*(c ** (1 / 2.2) for c in BACKGROUND_RGB), 1.0)
        if self.pipeline == "pbr":
            import simplepbr

            self.pbr = simplepbr.Pipeline(
                render_node=self.render,
                window=self.win,
                camera_node=self.cam,
                taskmgr=self.task_mgr,
                msaa_samples=(0 if headless else 4) if msaa is None else msaa,
                enable_shadows=self.shadows,
                use_330=_glsl_330(self.win.gsg),
                exposure=0.0,
            )

    @property
    def pipe_name(self) -> str:
        """The graphics pipe and renderer in use, for messages and bench notes."""
        gsg = self.win.gsg
        return f"{self.pipe.get_interface_name()} / {gsg.driver_renderer} / {self.pipeline}"

    @property
    def output(self) -> GraphicsOutput:
        return self.win


def _glsl_330(gsg: GraphicsStateGuardianBase) -> bool:
    """GLSL 3.30 when the driver has it: the 1.20 path of simplepbr logs a warning per shader."""
    major, minor = gsg.get_driver_shader_version_major(), gsg.get_driver_shader_version_minor()
    return (major, minor) >= (3, 30)


def make_app(
    *,
    headless: bool,
    size: tuple[int, int] = DEFAULT_SIZE,
    title: str = "twinstage",
    pipeline: str = "auto",
    msaa: int | None = None,
    shadows: str = "auto",
) -> ViewerApp:
    """Create the one ViewerApp of this process (ShowBase is a per-process singleton).

    Raises RuntimeError (Panda3D raises a plain Exception) when no pipe can open the output.
    """
    try:
        return ViewerApp(headless=headless, size=size, title=title, pipeline=pipeline, msaa=msaa,
                         shadows=shadows)
    except RuntimeError:
        raise
    except Exception as exc:  # Panda raises a bare Exception when no graphics pipe opens
        raise RuntimeError(f"Panda3D could not open a window: {exc}") from exc
