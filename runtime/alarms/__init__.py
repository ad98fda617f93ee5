"""Alarm management (ISA-18.2 / IEC 62682, EEMUA 191): definitions, engine, journal, report.

Nothing here imports Panda3D. The engine, definitions, journal and report import no bus either;
``service.py`` runs the engine on the bus (``twinstage alarms``), ``board.py`` and ``feed.py``
are a viewer's side, ``replay.py`` judges a replayed world. See docs/alarms.md.
"""

from importlib import import_module
from typing import Any

# Names load on first use: `twinstage validate` needs only the definitions, and the engine pulls
# in numpy (~0.15 s of CPU on every validate of a scene with alarms.yaml).
_HOME = {
    **dict.fromkeys(("ALARM_TYPES", "PRIORITIES", "AlarmDef", "AlarmSet", "Condition",
                     "Rationalization", "load_alarms"), "definitions"),
    **dict.fromkeys(("ACTION_ROLES", "ACTIONS", "AlarmEngine", "CommandResult", "Transition"),
                    "engine"),
    **dict.fromkeys(("AlarmJournal", "JournalError"), "journal"),
    "STATE_NAMES": "states",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"runtime.alarms.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ACTIONS",
    "ACTION_ROLES",
    "ALARM_TYPES",
    "PRIORITIES",
    "STATE_NAMES",
    "AlarmDef",
    "AlarmEngine",
    "AlarmJournal",
    "AlarmSet",
    "CommandResult",
    "Condition",
    "JournalError",
    "Rationalization",
    "Transition",
    "load_alarms",
]
