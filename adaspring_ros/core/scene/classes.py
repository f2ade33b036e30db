"""The UbiEar sound classes, apart from their synthesis.

Every node labels events with these names, but only the scripted microphone synthesises sound;
kept here so that the others do not import core.scene.sound_synth and, with it, scipy.signal
(about a second of each node's start-up on 2 cores). sound_synth re-exports them.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "fire_alarm",
    "smoke_alarm",
    "kettle_whistle",
    "doorbell",
    "door_knock",
    "baby_crying",
    "phone_ringing",
    "microwave_beep",
    "background",
)
EMERGENCY_CLASSES: tuple[str, ...] = ("fire_alarm", "smoke_alarm", "kettle_whistle")
BACKGROUND = "background"
