"""The what-if twin: forecasts from a fork of the viewer's plant model (no Panda3D here)."""
