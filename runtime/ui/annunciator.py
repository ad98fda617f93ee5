"""The audible alarm annunciator (hmi.md): Critical sounds continuously until silenced, High
repeats every few seconds, Medium sounds once, Low is silent. Tones are generated here (short
sine bursts written as WAV files, no assets to ship). Silence stops the sound until a new alarm
of a sounding priority arrives; acknowledging the alarms stops it too. With no sound device (or
offscreen) the sound calls do nothing and :attr:`sounding` still says what would sound."""

from __future__ import annotations

import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np

from runtime.alarms.board import RANK, AlarmBoard

RATE_HZ = 22_050
TONES = {"Critical": (880.0, 0.45), "High": (660.0, 0.30), "Medium": (520.0, 0.25)}
"""Priority -> (pitch in Hz, burst length in s)."""
REPEAT_S = 3.0
"""High alarms sound again this often until silenced or acknowledged."""


def write_tone(path: Path, pitch_hz: float, length_s: float) -> Path:
    """A sine burst with 10 ms fades (no clicks), 16-bit mono."""
    n = int(RATE_HZ * length_s)
    t = np.arange(n) / RATE_HZ
    fade = np.minimum(1.0, np.minimum(t, length_s - t) / 0.01)
    samples = (0.5 * np.sin(2 * np.pi * pitch_hz * t) * fade * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE_HZ)
        out.writeframes(samples.tobytes())
    return path


class Annunciator:
    """:meth:`update` once a refresh with the board and the wall time; :meth:`silence` on the
    operator's button."""

    def __init__(self, loader: Any | None = None) -> None:
        self._loader = loader
        self._sounds: dict[str, Any] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._heard: set[str] = set()
        self.sounding = ""
        """The priority sounding now (``""`` silent)."""
        self.silenced = False
        self.plays = 0
        """Tones started (tests, stats)."""
        self._next_repeat_s = 0.0

    def _sound(self, priority: str) -> Any | None:
        if self._loader is None:
            return None
        sound = self._sounds.get(priority)
        if sound is None:
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="twinstage-tones-")
            pitch, length = TONES[priority]
            path = write_tone(Path(self._folder.name) / f"{priority}.wav", pitch, length)
            sound = self._sounds[priority] = self._loader.load_sfx(str(path))
        return sound

    def _play(self, priority: str, loop: bool = False) -> None:
        self.plays += 1
        sound = self._sound(priority)
        if sound is not None:
            sound.set_loop(loop)
            sound.play()

    def _stop(self) -> None:
        for sound in self._sounds.values():
            sound.stop()

    def update(self, board: AlarmBoard, now_s: float) -> None:
        unacked = {a.id: a.priority for a in board.alarms.values() if a.unacked}
        new = [unacked[i] for i in unacked.keys() - self._heard]
        self._heard = set(unacked)
        if new:
            top = max(new, key=lambda p: RANK.get(p, 0))
            if top == "Medium" and RANK.get(self.sounding, 0) < RANK["High"]:
                self._play("Medium")
            elif top in ("Critical", "High") and RANK[top] >= RANK.get(self.sounding, 0):
                self.silenced = False
                if top != self.sounding:
                    self._stop()
                    self.sounding = top
                    self._play(top, loop=top == "Critical")
                    self._next_repeat_s = now_s + REPEAT_S
        still = [p for p in unacked.values() if p in ("Critical", "High")]
        if self.sounding and self.sounding not in still:
            self._stop()
            self.sounding = max(still, key=lambda p: RANK[p]) if still else ""
            if self.sounding and not self.silenced:
                self._play(self.sounding, loop=self.sounding == "Critical")
        if self.sounding == "High" and not self.silenced and now_s >= self._next_repeat_s:
            self._play("High")
            self._next_repeat_s = now_s + REPEAT_S

    def silence(self) -> None:
        self.silenced = True
        self._stop()

    def state(self) -> str:
        """``""``, or e.g. ``High alarm tone`` / ``High alarm tone silenced``."""
        if not self.sounding:
            return ""
        return f"{self.sounding} alarm tone{' silenced' if self.silenced else ''}"

    def close(self) -> None:
        self._stop()
        if self._folder is not None:
            self._folder.cleanup()


__all__ = ["Annunciator", "write_tone"]
