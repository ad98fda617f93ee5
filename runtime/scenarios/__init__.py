"""Training scenarios as code: files, triggers, scoring, the live runner, autopilots, reports.

Nothing here imports Panda3D: the runner is a headless service; the instructor station and the
trainee's viewer reach it through the bus (service ``scenario``, events ``e.scenario``).
"""
