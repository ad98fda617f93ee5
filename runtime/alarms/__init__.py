"""Alarm management (ISA-18.2 / IEC 62682): definitions, the engine and its journal, the alarm
service, the viewer's board and feed. No Panda3D here (docs/alarms.md)."""
