"""Connected analytics: model-versus-measurement residual detection and pump KPIs (no Panda3D)."""
