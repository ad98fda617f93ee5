"""The viewer's rendering: Panda3D app, procedural asset models, scene graph, instancing.

Importing this package loads no Panda3D; each module imports it when it is imported itself, and
``runtime.commands.view`` imports them only when the viewer is chosen.
"""
