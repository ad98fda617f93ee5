"""2D panels drawn over the 3D world (status bar, timeline, faceplates, ...)."""
