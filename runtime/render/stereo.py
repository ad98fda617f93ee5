"""Two eyes from one camera rig: side-by-side stereo (``--stereo sbs``) and VR headsets.

**Side by side** is the "half SBS" frame 3D televisions and projectors take: the window is split
into a left and a right half, each drawn by the same camera (``app.cam``) through Panda3D's own
stereo lens channels (the lens shifts each eye by half the interocular distance and converges
the two views at :data:`CONVERGENCE_M`). The display stretches each half back to full width, so
the lens keeps the whole window's aspect ratio, and the 2D layer (badges, cards) is drawn into
both halves the same way. Whatever moves the camera (orbit, walk, tours) moves both eyes.

**VR** uses the optional extra ``twinstage[vr]`` (panda3d-openxr over pyopenxr): it is imported
only when asked for, with a clear message when missing. The headset's tracking space hangs
under a rig node that the walk controller places (teleport locomotion: a controller's ray on
the floor, confirmed by a button). No headset is available where twinstage is tested; see
docs/walkthrough.md for running with one.
"""

from __future__ import annotations

from direct.showbase.ShowBase import ShowBase
from panda3d.core import DisplayRegion, Lens, NodePath

EYE_SEPARATION_M = 0.064
"""A typical adult interpupillary distance."""
CONVERGENCE_M = 12.0
"""Where the two eyes' views meet: things at this distance sit on the screen plane."""
VR_EXTRA_HINT = ("VR needs the optional extra: pip install 'twinstage[vr]' (panda3d-openxr), "
                 "and an OpenXR runtime with a headset (docs/walkthrough.md)")


def _region_of(app: ShowBase, camera: NodePath) -> DisplayRegion | None:
    win = app.win
    for i in range(win.get_num_display_regions()):
        region = win.get_display_region(i)
        if region.get_camera() == camera:
            return region
    return None


class SideBySide:
    """Splits the window into a left-eye and a right-eye half, 3D and 2D alike."""

    def __init__(self, app: ShowBase, *, eye_separation_m: float = EYE_SEPARATION_M,
                 convergence_m: float = CONVERGENCE_M) -> None:
        if getattr(app, "pbr", None) is not None:
            raise RuntimeError("side-by-side stereo draws the scene straight to the window; "
                               "start the app with pipeline='forward' (simplepbr's "
                               "post-process would cover both halves)")
        self.eye_separation_m = eye_separation_m
        lens: Lens = app.camLens
        lens.set_interocular_distance(eye_separation_m)
        lens.set_convergence_distance(convergence_m)
        self.regions: dict[str, tuple[DisplayRegion, DisplayRegion]] = {}
        for name, camera, stereo in (("3d", app.cam, True), ("2d", app.cam2d, False)):
            left = _region_of(app, camera)
            if left is None:
                raise RuntimeError(f"no display region draws the {name} camera")
            left.set_dimensions(0.0, 0.5, 0.0, 1.0)
            right = app.win.make_display_region(0.5, 1.0, 0.0, 1.0)
            right.set_sort(left.get_sort())
            right.set_camera(camera)
            right.set_clear_depth_active(left.get_clear_depth_active())
            right.set_clear_color_active(left.get_clear_color_active())
            if stereo:
                left.set_stereo_channel(Lens.SC_left)
                right.set_stereo_channel(Lens.SC_right)
            self.regions[name] = (left, right)


class VrUnavailableError(RuntimeError):
    """The VR extra or an OpenXR runtime is missing; the message says what to install."""


def open_vr(app: ShowBase, rig: NodePath) -> object:
    """Start OpenXR rendering and tracking with the headset's space under ``rig`` (the walk
    controller's body: teleporting the body moves the visitor). Raises VrUnavailableError."""
    try:
        from p3dopenxr.p3dopenxr import P3DOpenXR  # type: ignore[import-not-found]
    except ImportError as exc:
        raise VrUnavailableError(f"{VR_EXTRA_HINT} ({exc})") from None
    vr = P3DOpenXR()
    try:
        vr.init()
    except Exception as exc:  # the runtime's own error types; say what to check
        raise VrUnavailableError(f"OpenXR could not start ({exc}); is an OpenXR runtime active "
                            "and the headset connected? (docs/walkthrough.md)") from None
    space = getattr(vr, "tracking_space", None)
    if space is not None:
        space.reparent_to(rig)
    return vr
