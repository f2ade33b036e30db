"""Long home recordings with known events: what event detection is judged on (issue 11).

`render_stream` builds a continuous 16 kHz stream out of home scenes (`home_sounds`, 6-10 s
segments cross-faded, the level drifting between segments) and places events of the target
classes at known times and SNRs; it returns the audio and the truth (label, onset, offset).
An event is rendered from its onset (not a window cut out of it), for a realistic duration
(`DURATION_S`): alarms, whistles, crying and ringing go on for many seconds, doorbells, knocks
and beeps last as long as their pattern (1-2 s). Its offset is where its 50 ms energy falls
30 dB under its peak for good.

With no events it is the event-free stream the false-alarm rate is measured on. Every stream
is a pure function of its seed (and of the speech utterances it is handed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adaspring_ros.core.scene import home_sounds
from adaspring_ros.core.scene import sound_synth as syn

SAMPLE_RATE = 16000
#: how long continuous sounds go on in a stream, s (uniform). Real ones go on longer still, so
#: these ranges are the pessimistic side for a rule that waits for persistence:
#: - fire and smoke alarms sound the temporal-three pattern (ISO 8201, NFPA 72 18.4.2: 0.5 s
#:   on/off x3, then 1.5 s off, a 4 s cycle) for as long as smoke is present or until silenced;
#:   a press of the test button alone sounds several cycles: 8-30 s (2-7 cycles);
#: - a whistling kettle whistles from the boil until it is taken off the heat: 5-20 s;
#: - a baby's crying bout lasts seconds to minutes (infant crying studies report bouts of tens
#:   of seconds): 5-30 s;
#: - a phone rings until it is answered or voicemail takes it, typically after 4-6 rings of a
#:   3-6 s cadence (NANP 2 s on 4 s off; UK double ring 3 s): 6-20 s;
#: - doorbell chimes, knocks and microwave beeps: one pattern, 1-2 s (not listed here).
DURATION_S = {"fire_alarm": (8.0, 30.0), "smoke_alarm": (8.0, 30.0),
              "kettle_whistle": (5.0, 20.0), "baby_crying": (5.0, 30.0),
              "phone_ringing": (6.0, 20.0)}
CONTINUOUS = tuple(DURATION_S)
SEGMENT_S = (6.0, 10.0)
FADE_S = 0.25
#: background level, dBFS RMS: low enough that an event 20 dB over it rarely clips
LEVEL_DBFS = (-48.0, -32.0)


@dataclass(frozen=True)
class TrueEvent:
    label: str
    onset_s: float
    offset_s: float
    snr_db: float

    @property
    def emergency(self) -> bool:
        return self.label in syn.EMERGENCY_CLASSES


@dataclass
class Stream:
    audio: np.ndarray  # float32 mono, SAMPLE_RATE
    events: list[TrueEvent]
    seed: int

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def render_scene_audio(rng: np.random.Generator, seconds: float, speech=None,
                       segments: list | None = None) -> np.ndarray:
    """Continuous home background: scene segments, cross-faded, level drifting (LEVEL_DBFS).
    ``segments``, when given, receives (start_s, end_s, kinds) of every segment (what a false
    alarm was heard on); the audio is the same either way."""
    n = int(round(seconds * SAMPLE_RATE))
    out = np.zeros(n)
    fade = int(FADE_S * SAMPLE_RATE)
    cursor = 0
    while cursor < n:
        seg_s = float(rng.uniform(*SEGMENT_S))
        seg, kinds = home_sounds.render_home_scene(rng, seg_s + FADE_S, SAMPLE_RATE, speech)
        if segments is not None:
            segments.append((cursor / SAMPLE_RATE, (cursor + seg.size) / SAMPLE_RATE,
                             tuple(kinds)))
        seg = seg * 10 ** (rng.uniform(*LEVEL_DBFS) / 20.0)
        ramp = np.linspace(0.0, 1.0, fade)
        seg[:fade] *= ramp
        seg[-fade:] *= ramp[::-1]
        end = min(n, cursor + seg.size)
        out[cursor:end] += seg[: end - cursor]
        cursor += seg.size - fade
    return out


def render_event_audio(label: str, rng: np.random.Generator) -> np.ndarray:
    """The reverberated event from its onset, for a realistic duration (no noise)."""
    if label not in syn._EVENT_RENDERERS:
        raise ValueError(f"unknown event label {label!r}")
    seconds = float(rng.uniform(*DURATION_S[label])) if label in CONTINUOUS else 4.0
    n = int(seconds * SAMPLE_RATE)
    if label in CONTINUOUS:  # goes on (a bell rings again) and stops smoothly at that time
        dry = syn.render_sustained(label, rng, n, SAMPLE_RATE, 0.0)
    else:
        dry = syn._EVENT_RENDERERS[label](rng, n, SAMPLE_RATE, 0.0)
    return syn._reverberate(dry, rng, SAMPLE_RATE)


def event_extent(event: np.ndarray, floor_db: float = 30.0) -> tuple[int, int]:
    """(first, last) sample of the frames within ``floor_db`` of the event's loudest frame."""
    return syn.extent(event, SAMPLE_RATE, floor_db)


def render_stream(seed: int, seconds: float, labels=(), snr_db=(0.0, 20.0), gap_s=(4.0, 12.0),
                  speech=None, lead_s: float = 5.0) -> Stream:
    """A home stream of ``seconds`` with the ``labels`` as events in order, spaced by gaps of
    ``gap_s`` (as many as fit), at SNRs drawn from ``snr_db`` over the local background."""
    rng = np.random.default_rng([seed, 4242])
    audio = render_scene_audio(rng, seconds, speech)
    events = []
    cursor = lead_s
    for label in labels:
        ev = render_event_audio(label, rng)
        first, last = event_extent(ev)
        ev = ev[first:last]
        start = int(cursor * SAMPLE_RATE)
        if start + ev.size >= audio.size:
            break
        snr = float(rng.uniform(*snr_db))
        local = audio[start:start + ev.size]
        ev_rms, bg_rms = syn._rms(ev), syn._rms(local)
        if ev_rms > 0 and bg_rms > 0:
            audio[start:start + ev.size] += ev * (bg_rms / ev_rms) * 10 ** (snr / 20.0)
        events.append(TrueEvent(label, start / SAMPLE_RATE, (start + ev.size) / SAMPLE_RATE,
                                snr))
        cursor = (start + ev.size) / SAMPLE_RATE + float(rng.uniform(*gap_s))
    # a microphone clips what is too loud; everything else is left exactly as mixed
    return Stream(np.clip(audio, -1.0, 1.0).astype(np.float32), events, seed)
