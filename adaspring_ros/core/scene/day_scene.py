"""The scripted 09:00-17:00 day of the UbiEar case study (paper §6.6), as data.

The day is a seeded list of acoustic events (which of the 9 classes, when, at what SNR) whose
rate changes hour by hour, so the same seed always replays the same day. The microphone node
plays it, and the day runner uses the same script as ground truth for detection accuracy.

Time compression: between events the scene is silent background, which a live system would
still classify once per second. The scripted playback skips those silent seconds (the battery
model still charges them, see `battery.EnergyModel.windows_per_second`) and plays each event for
its duration (`DURATION_S`, whole seconds, from its onset: `render`), plus background-only
windows of 1 s, each second as one aligned 1 s window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_START_S = 9 * 3600
DAY_END_S = 17 * 3600
#: Events per hour for each hour of the day (09:00 first): busy mornings, a quiet lunch...
DEFAULT_EVENTS_PER_HOUR = (60, 30, 90, 45, 120, 40, 75, 50)
BACKGROUND_PER_EVENT = 0.5
#: how long each class sounds in the scripted day, whole s (uniform, inclusive). Real sounds:
#: smoke and fire alarms repeat the temporal-three pattern (ISO 8201, NFPA 72 18.4.2; a 4 s
#: cycle) until the smoke clears or someone silences them; a kettle whistles until it is taken
#: off the heat; a phone rings until answered (voicemail after 4-6 rings of 3-6 s); a crying
#: baby cries for tens of seconds; a doorbell chime, a knock and a microwave's beeps are one
#: pattern of 1-2 s. The day takes the short end of each range (the held-out event set,
#: `event_stream.DURATION_S`, the longer one) so that the time-compressed day still plays
#: within the main job: 2,900 s of audio at 20x playback in the 192 s scene.
DURATION_S = {"fire_alarm": (6, 10), "smoke_alarm": (6, 10), "kettle_whistle": (5, 10),
              "baby_crying": (3, 8), "phone_ringing": (4, 8), "doorbell": (2, 2),
              "door_knock": (2, 2), "microwave_beep": (2, 2)}


@dataclass(frozen=True)
class ScriptedEvent:
    index: int
    scene_time_s: float
    label: str
    snr_db: float
    seed: int  # the render seed, so the clip itself is reproducible
    duration_s: int = 1  # how long it sounds (DURATION_S; background windows: 1)


def make_day(
    classes,
    seed: int = 0,
    start_s: float = DAY_START_S,
    end_s: float = DAY_END_S,
    events_per_hour=DEFAULT_EVENTS_PER_HOUR,
    background_per_event: float = BACKGROUND_PER_EVENT,
    snr_db_range=(0.0, 20.0),
) -> list[ScriptedEvent]:
    """Events sorted by scene time; ``classes`` is the label list, background last or named."""
    if end_s <= start_s:
        raise ValueError("the day must end after it starts")
    rng = np.random.default_rng(seed)
    foreground = [c for c in classes if c != "background"]
    events = []
    hour_start = start_s
    hour = 0
    while hour_start < end_s:
        hour_end = min(hour_start + 3600.0, end_s)
        rate = events_per_hour[hour % len(events_per_hour)]
        n_fg = int(round(rate * (hour_end - hour_start) / 3600.0))
        n_bg = int(round(n_fg * background_per_event))
        labels = list(rng.choice(foreground, size=n_fg)) + ["background"] * n_bg
        times = np.sort(rng.uniform(hour_start, hour_end, size=len(labels)))
        rng.shuffle(labels)
        for t, label in zip(times, labels, strict=True):
            events.append((float(t), str(label), float(rng.uniform(*snr_db_range)),
                           int(rng.integers(2**31))))
        hour_start = hour_end
        hour += 1
    events.sort(key=lambda e: e[0])
    return [ScriptedEvent(i, t, lab, snr, s, duration(lab, s))
            for i, (t, lab, snr, s) in enumerate(events)]


def duration(label: str, seed: int) -> int:
    """The event's duration in whole s, from its own seed (the script's other draws, hence the
    events' times, labels, SNRs and seeds, are what they were with 1 s clips)."""
    lo, hi = DURATION_S.get(label, (1, 1))
    return int(np.random.default_rng([seed, 7]).integers(lo, hi + 1))


def render(ev: ScriptedEvent) -> list[tuple[np.ndarray, str]]:
    """The event's audio as (1 s of float32 audio, true label of that second) for each second
    of its duration: a second of an event that holds too little of it (an alarm's pause) is
    labelled background. A 1 s background window is sound_synth.render_clip as before."""
    from adaspring_ros.core.scene import sound_synth  # scipy: only where the day is played

    rng = np.random.default_rng(ev.seed)
    if ev.label == sound_synth.BACKGROUND:
        return [(sound_synth.render_clip(ev.label, rng, ev.snr_db), ev.label)]
    clip, present = sound_synth.render_long_clip(ev.label, rng, ev.snr_db, ev.duration_s)
    sr = clip.size // ev.duration_s
    return [(clip[i * sr:(i + 1) * sr], ev.label if here else sound_synth.BACKGROUND)
            for i, here in enumerate(present)]


def events_per_hour_at(scene_time_s: float, start_s: float = DAY_START_S,
                       events_per_hour=DEFAULT_EVENTS_PER_HOUR) -> float:
    hour = int(max(0.0, scene_time_s - start_s) // 3600)
    return float(events_per_hour[hour % len(events_per_hour)])


def format_clock(scene_time_s: float) -> str:
    s = int(scene_time_s) % 86400
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}"
