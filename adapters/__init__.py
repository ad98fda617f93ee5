"""Device adapters and the virtual plant's device servers (no Panda3D imports here)."""
