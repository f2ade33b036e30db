"""The scripted 09:00-17:00 day of the UbiEar case study (paper §6.6), as data.

The day is a seeded list of acoustic events (which of the 9 classes, when, at what SNR) whose
rate changes hour by hour, so the same seed always replays the same day. The microphone node
plays it, and the day runner uses the same script as ground truth for detection accuracy.

Time compression: between events the scene is silent background, which a live system would
still classify once per second. The scripted playback skips those silent seconds (the battery
model still charges them, see `battery.EnergyModel.windows_per_second`) and plays each event for
its duration (`DURATION_S`, whole seconds, from its onset: `render`), plus background-only
windows of 1 s, each second as one aligned 1 s window.

Same-class gaps: compressing the silence away would play two doorbells that ring a minute apart
as one 4 s ring, which no listener (and no detector) could tell from one visitor ringing twice.
So an event keeps its scene-time gap since the last event of its class, up to
`SAME_CLASS_GAP_S` s: what playback puts between them (background windows, other classes'
events) counts, and seconds of the scene's quiet (household noise, no distractor) played
before it (``lead_s``) make up the rest. Two
same-class sounds closer than `ONE_EVENT_GAP_S` (in scene time; overlapping ones too) are one
event to a user (a visitor ringing twice, a phone that rings again): `playback_truth` joins
them. Events of other classes are still played back to back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

DAY_START_S = 9 * 3600
DAY_END_S = 17 * 3600
#: Events per hour for each hour of the day (09:00 first): busy mornings, a quiet lunch...
DEFAULT_EVENTS_PER_HOUR = (60, 30, 90, 45, 120, 40, 75, 50)
BACKGROUND_PER_EVENT = 0.5
BACKGROUND = "background"
#: how long each class sounds in the scripted day, whole s (uniform, inclusive). Real sounds:
#: smoke and fire alarms repeat the temporal-three pattern (ISO 8201, NFPA 72 18.4.2; a 4 s
#: cycle) until the smoke clears or someone silences them; a kettle whistles until it is taken
#: off the heat; a phone rings until answered (voicemail after 4-6 rings of 3-6 s); a crying
#: baby cries for tens of seconds; a doorbell chime, a knock and a microwave's beeps are one
#: pattern of 1-2 s. The day takes the short end of each range (the held-out event set,
#: `event_stream.DURATION_S`, the longer one) so that the time-compressed day still plays
#: within the main job: 3,736 s of audio at 30x playback (125 s) in the 192 s scene (at 20x,
#: with the busy hours' backlog, the last 122 windows did not play before the day ended).
DURATION_S = {"fire_alarm": (6, 10), "smoke_alarm": (6, 10), "kettle_whistle": (5, 10),
              "baby_crying": (3, 8), "phone_ringing": (4, 8), "doorbell": (2, 2),
              "door_knock": (2, 2), "microwave_beep": (2, 2)}
#: the longest scene-time gap before a same-class event that playback keeps, s (longer gaps
#: are cut to this: enough for any event detector's merge gap and offset, see the module doc)
SAME_CLASS_GAP_S = 10
#: same-class sounds closer than this in scene time, s, are one event (`playback_truth`)
ONE_EVENT_GAP_S = 5.0


@dataclass(frozen=True)
class ScriptedEvent:
    index: int
    scene_time_s: float
    label: str
    snr_db: float
    seed: int  # the render seed, so the clip itself is reproducible
    duration_s: int = 1  # how long it sounds (DURATION_S; background windows: 1)
    lead_s: int = 0  # background seconds played before it (a same-class gap, see module doc)
    joined: bool = False  # one event with the previous same-class event (ONE_EVENT_GAP_S)

    @property
    def played_s(self) -> int:
        """Seconds of audio playback gives it: the lead, then the event."""
        return self.lead_s + self.duration_s


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
    script = [ScriptedEvent(i, t, lab, snr, s, duration(lab, s))
              for i, (t, lab, snr, s) in enumerate(events)]
    return _same_class_gaps(script)


def _same_class_gaps(script: list[ScriptedEvent]) -> list[ScriptedEvent]:
    """Each event gets the scene-time gap since the last event of its class (up to
    SAME_CLASS_GAP_S whole s, less the seconds played since then: background windows, other
    classes' events) as lead background seconds, and is marked joined when that gap is under
    ONE_EVENT_GAP_S."""
    out = []
    last: dict[str, tuple[ScriptedEvent, int]] = {}  # label -> (event, seconds played since)
    for ev in script:
        if ev.label != BACKGROUND and ev.label in last:
            prev, since = last[ev.label]
            gap = ev.scene_time_s - (prev.scene_time_s + prev.duration_s)
            lead = max(0, int(min(max(gap, 0.0), SAME_CLASS_GAP_S)) - since)
            ev = replace(ev, lead_s=lead, joined=gap < ONE_EVENT_GAP_S)
        last = {label: (e, since + ev.played_s) for label, (e, since) in last.items()}
        if ev.label != BACKGROUND:
            last[ev.label] = (ev, 0)
        out.append(ev)
    return out


def playback_truth(script: list[ScriptedEvent]) -> list[tuple[str, float, float, float]]:
    """The true events of the played day: (label, onset, offset, SNR dB), in seconds of
    playback from its start; an event joined to its class's previous one extends it."""
    truth, latest, t = [], {}, 0.0
    for ev in script:
        onset = t + ev.lead_s
        t = onset + ev.duration_s
        if ev.label == BACKGROUND:
            continue
        if ev.joined and ev.label in latest:
            latest[ev.label][2] = t
        else:
            latest[ev.label] = [ev.label, onset, t, ev.snr_db]
            truth.append(latest[ev.label])
    return [tuple(x) for x in truth]


def duration(label: str, seed: int) -> int:
    """The event's duration in whole s, from its own seed (the script's other draws, hence the
    events' times, labels, SNRs and seeds, are what they were with 1 s clips)."""
    lo, hi = DURATION_S.get(label, (1, 1))
    return int(np.random.default_rng([seed, 7]).integers(lo, hi + 1))


def render(ev: ScriptedEvent) -> list[tuple[np.ndarray, str]]:
    """The event's audio as (1 s of float32 audio, true label of that second) for each second
    it is played: its lead seconds (``lead_s``: the scene's quiet between events, household
    noise with no distractor, as the compressed silence), then each second of its duration
    (a second that holds too little of the event, an alarm's pause, is labelled background).
    A 1 s background window is sound_synth.render_clip as before."""
    from adaspring_ros.core.scene import sound_synth  # scipy: only where the day is played

    lead = []
    if ev.lead_s:  # the scene's quiet between events (no distractor), one stretch of it
        lead_rng = np.random.default_rng([ev.seed, 11])
        quiet = sound_synth.finish_clip(sound_synth.render_background(
            lead_rng, float(ev.lead_s)), lead_rng, 16000)
        lead = [(quiet[i * 16000:(i + 1) * 16000], BACKGROUND) for i in range(ev.lead_s)]
    rng = np.random.default_rng(ev.seed)
    if ev.label == BACKGROUND:
        return lead + [(sound_synth.render_clip(ev.label, rng, ev.snr_db), ev.label)]
    clip, present = sound_synth.render_long_clip(ev.label, rng, ev.snr_db, ev.duration_s)
    sr = clip.size // ev.duration_s
    return lead + [(clip[i * sr:(i + 1) * sr], ev.label if here else BACKGROUND)
                   for i, here in enumerate(present)]


def events_per_hour_at(scene_time_s: float, start_s: float = DAY_START_S,
                       events_per_hour=DEFAULT_EVENTS_PER_HOUR) -> float:
    hour = int(max(0.0, scene_time_s - start_s) // 3600)
    return float(events_per_hour[hour % len(events_per_hour)])


def format_clock(scene_time_s: float) -> str:
    s = int(scene_time_s) % 86400
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}"
