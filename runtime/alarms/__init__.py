"""Alarm management (ISA-18.2 / IEC 62682, EEMUA 191): definitions, engine, journal, report.

Nothing here imports Panda3D. The engine, definitions, journal and report import no bus either;
``service.py`` runs the engine on the bus (``twinstage alarms``), ``board.py`` and ``feed.py``
are a viewer's side, ``replay.py`` judges a replayed world. See docs/alarms.md.
"""

from runtime.alarms.definitions import (
    ALARM_TYPES,
    PRIORITIES,
    AlarmDef,
    AlarmSet,
    Condition,
    Rationalization,
    load_alarms,
)
from runtime.alarms.engine import ACTION_ROLES, ACTIONS, AlarmEngine, CommandResult, Transition
from runtime.alarms.journal import AlarmJournal, JournalError
from runtime.alarms.states import STATE_NAMES

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
