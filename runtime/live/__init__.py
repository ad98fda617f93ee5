"""The live twin: bus readings and the viewer's own plant model drive the 3D world.

``bindings`` says which point drives which visual, ``observer`` keeps the viewer's model close to
the measurements, ``latency`` and ``stats`` record what the end-to-end tests read, and
``live_viewer`` registers it all as frame phases on a :class:`runtime.render.viewer.Viewer`.
Nothing runs at import.
"""
