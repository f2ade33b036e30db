"""Seeded synthesis of the UbiEar case study's acoustic events (UbiSound itself is private).

Each class is modelled on how the real sound is produced, so the network has to learn the cues a
human listener uses, not artefacts of the generator:

- fire_alarm: building alarms. NFPA 72 temporal-3 cadence (0.5 s on/off x3, 1.5 s off) on a low
  520 Hz square wave or a buzzy electromechanical horn, a high piezo horn (2.4-3.2 kHz, buzzy,
  overlapping the smoke alarm's band on purpose), a rising "whoop" sweep, or a struck bell.
- smoke_alarm: residential piezo beepers at 2.8-3.6 kHz, almost pure tones: temporal-3, fast
  interconnect beeping, or a two-frequency warble.
- kettle_whistle: a whistle gliding up from ~1 kHz to 2-3 kHz as the steam pressure builds, then
  wobbling, with breathy band noise and sometimes a second beating whistle.
- doorbell: struck-bar chimes (ding-dong, three- and four-note chimes) with exponential decay.
- door_knock: 2-5 impulsive knocks exciting low wooden-panel resonances, irregular spacing.
- baby_crying: harmonic cry units (f0 350-600 Hz) with arched pitch contour, 5-9 Hz vibrato,
  vowel-like formants and inhalation gaps.
- phone_ringing: landline cadences (440+480 Hz 2 s on; 400+450 Hz double ring), an
  electromechanical bell trill, a cordless-phone warble, or a melodic mobile ringtone.
- microwave_beep: a one-off run of 1.8-3 kHz piezo beeps (3 or 5 short, or one long); the
  band overlaps both alarms, so cadence and timbre, not pitch, tell them apart.
- background: household noise with no target event (sometimes a TV with tones in another
  room), often with a distractor (footsteps, clattering dishes, a voice, music notes, a door
  slam) that resembles some target class.

Every clip varies gain, pitch, tempo, reverberation (synthetic room impulse responses,
RT60 0.1-0.9 s) and time shift (the 1 s window lands anywhere that still holds a substantial
part of the event), and is mixed into background noise at a given SNR. SNR is the ratio of the
mean power of the event to that of the noise over the whole window (so a short knock at 0 dB is
much harder to hear than a continuous whistle at 0 dB, as in real life). For ``background`` the
SNR sets the level of the distractor, when there is one.

Bump SYNTH_VERSION whenever the output for a given seed changes: it keys the dataset cache.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from adaspring_ros.core.scene.classes import (  # noqa: F401 - re-exported
    BACKGROUND,
    CLASSES,
    EMERGENCY_CLASSES,
)

SYNTH_VERSION = 2


MIN_SAMPLE_RATE = 8000
#: Seconds of pattern rendered around the window, so the window can land at any pattern phase.
_PATTERN_MARGIN_S = 1.0
#: The window must hold at least this fraction of the best window's event energy.
_MIN_WINDOW_ENERGY_FRACTION = 0.15


# --------------------------------------------------------------------------- building blocks
def _times(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sr


def _harmonic_osc(freq, sr: int, amps, phase0: float = 0.0, ratios=None) -> np.ndarray:
    """Band-limited sum of partials over an instantaneous frequency track (Hz per sample).

    ``ratios`` default to integer harmonics; partials above 0.45*sr are silenced sample by
    sample so pitch glides never alias.
    """
    freq = np.asarray(freq, dtype=np.float64)
    phase = 2.0 * np.pi * np.cumsum(freq) / sr + phase0
    nyquist_guard = 0.45 * sr
    ratios = np.arange(1, len(amps) + 1) if ratios is None else ratios
    out = np.zeros_like(phase)
    for ratio, amp in zip(ratios, amps, strict=True):
        if amp == 0.0:
            continue
        audible = (ratio * freq) < nyquist_guard
        if not np.any(audible):
            continue
        out += amp * np.sin(ratio * phase) * audible
    return out


def _square_amps(n_harmonics: int) -> list[float]:
    return [1.0 / k if k % 2 == 1 else 0.0 for k in range(1, n_harmonics + 1)]


def _saw_amps(n_harmonics: int, tilt: float = 1.0) -> list[float]:
    return [1.0 / k**tilt for k in range(1, n_harmonics + 1)]


def _gate(n: int, sr: int, segments, ramp_s: float = 0.004) -> np.ndarray:
    """0/1 envelope for (start_s, end_s) segments with smooth edges (no clicks)."""
    env = np.zeros(n)
    for start, end in segments:
        i0, i1 = max(0, int(start * sr)), min(n, int(end * sr))
        if i1 > i0:
            env[i0:i1] = 1.0
    k = max(3, int(ramp_s * sr))
    kernel = np.hanning(k)
    return np.convolve(env, kernel / kernel.sum(), mode="same")


def _repeat_cadence(pattern, start: float, total: float):
    """Tile a cadence [(on_s, off_s), ...] from ``start`` until ``total`` seconds."""
    segments, t = [], start
    period = sum(on + off for on, off in pattern)
    if period <= 0:
        return segments
    while t < total:
        for on, off in pattern:
            segments.append((t, t + on))
            t += on + off
    return segments


def _decays(n: int, sr: int, onsets, tau: float) -> np.ndarray:
    """Sum of exponential decays starting at each onset (s): the envelope of struck sounds."""
    t = _times(n, sr)
    env = np.zeros(n)
    for onset in onsets:
        i0 = int(onset * sr)
        if 0 <= i0 < n:
            env[i0:] += np.exp(-(t[i0:] - t[i0]) / tau)
    attack = max(2, int(0.002 * sr))
    return np.convolve(env, np.ones(attack) / attack, mode="full")[:n]


def _shaped_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float,
                  slope: float = 0.0) -> np.ndarray:
    """White noise restricted to [lo, hi] Hz with a 1/f**slope power tilt, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    mask = (f >= lo) & (f <= hi)
    weight = np.zeros_like(f)
    weight[mask] = 1.0 / np.maximum(f[mask], 1.0) ** (slope / 2.0)
    x = np.fft.irfft(spec * weight, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _resonate(x: np.ndarray, sr: int, freq: float, q: float) -> np.ndarray:
    freq = min(freq, 0.45 * sr)
    b, a = signal.iirpeak(freq, q, fs=sr)
    return signal.lfilter(b, a, x)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _pitch(rng: np.random.Generator, semitones: float) -> float:
    return float(2.0 ** (rng.uniform(-semitones, semitones) / 12.0))


def _phase(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.0, 2 * np.pi))


def _tempo(rng: np.random.Generator, spread: float = 0.15) -> float:
    return float(rng.uniform(1.0 - spread, 1.0 + spread))


# --------------------------------------------------------------------------- the event classes
def _fire_alarm(rng, n, sr, start):
    t3 = [(0.5, 0.5), (0.5, 0.5), (0.5, 1.5)]
    tempo = _tempo(rng)
    cadence = [(on * tempo, off * tempo) for on, off in t3]
    variant = rng.integers(5)
    t = _times(n, sr)
    if variant == 0:  # low-frequency 520 Hz square wave (sleeping-area alarms)
        f0 = 520.0 * _pitch(rng, 0.6)
        tone = _harmonic_osc(np.full(n, f0), sr, _square_amps(15))
        return tone * _gate(n, sr, _repeat_cadence(cadence, start, n / sr))
    if variant == 1:  # electromechanical horn: buzzy sawtooth with a mains-rate rattle
        f0 = rng.uniform(350.0, 800.0)
        buzz = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(50.0, 120.0) * t)
        tone = _harmonic_osc(np.full(n, f0), sr, _saw_amps(20, 0.8)) * buzz
        return tone * _gate(n, sr, _repeat_cadence(cadence, start, n / sr))
    if variant == 2:  # high piezo horn: close to a smoke alarm, but buzzy and modulated
        f0 = rng.uniform(2400.0, 3200.0)
        buzz = 1.0 + 0.7 * np.sign(np.sin(2 * np.pi * rng.uniform(60.0, 110.0) * t))
        tone = _harmonic_osc(np.full(n, f0), sr, [1.0, 0.0, 0.35]) * buzz
        return tone * _gate(n, sr, _repeat_cadence(cadence, start, n / sr))
    if variant == 3:  # "whoop": repeated rising sweep
        lo = 500.0 * _pitch(rng, 2.0)
        hi = lo * rng.uniform(2.0, 2.6)
        sweep_s, gap_s = rng.uniform(0.6, 1.1) * tempo, rng.uniform(0.1, 0.3) * tempo
        phase = np.mod(t - start, sweep_s + gap_s)
        freq = lo + (hi - lo) * np.clip(phase / sweep_s, 0.0, 1.0)
        tone = _harmonic_osc(freq, sr, _square_amps(9))
        on = _gate(n, sr, _repeat_cadence([(sweep_s, gap_s)], start, n / sr))
        return tone * on
    # continuously struck bell: hammer at 15-25 Hz on an inharmonic gong
    f0 = rng.uniform(700.0, 1300.0)
    strike_rate = rng.uniform(15.0, 25.0)
    ring_s = rng.uniform(2.0, 4.0)
    onsets = np.arange(start, min(n / sr, start + ring_s), 1.0 / strike_rate)
    env = _decays(n, sr, onsets, rng.uniform(0.05, 0.15))
    tone = _harmonic_osc(np.full(n, f0), sr, [1.0, 0.6, 0.4, 0.25],
                         ratios=[1.0, 2.32, 4.25, 6.63])
    return tone * env


def _smoke_alarm(rng, n, sr, start):
    f0 = rng.uniform(2800.0, 3600.0)
    tempo = _tempo(rng)
    t = _times(n, sr)
    variant = rng.integers(3)
    fm = 1.0 + 0.004 * np.sin(2 * np.pi * rng.uniform(3.0, 8.0) * t)
    if variant == 0:  # temporal-3
        cadence = [(0.5 * tempo, 0.5 * tempo)] * 2 + [(0.5 * tempo, 1.5 * tempo)]
        segments = _repeat_cadence(cadence, start, n / sr)
    elif variant == 1:  # fast interconnect beeping
        on, off = rng.uniform(0.08, 0.2), rng.uniform(0.08, 0.25)
        segments = _repeat_cadence([(on, off)], start, n / sr)
    else:  # warble between two piezo frequencies
        rate = rng.uniform(5.0, 10.0)
        fm = 1.0 + 0.035 * np.sign(np.sin(2 * np.pi * rate * t))
        cadence = [(0.5 * tempo, 0.5 * tempo)] * 2 + [(0.5 * tempo, 1.5 * tempo)]
        segments = _repeat_cadence(cadence, start, n / sr)
    tone = _harmonic_osc(f0 * fm, sr, [1.0, 0.08, 0.05])
    return tone * _gate(n, sr, segments, ramp_s=0.002)


def _kettle_whistle(rng, n, sr, start):
    t = _times(n, sr)
    f_start = rng.uniform(800.0, 1500.0)
    f_end = rng.uniform(1800.0, 3000.0)
    glide_s = rng.uniform(0.3, 1.5) * _tempo(rng, 0.3)
    rel = np.clip((t - start) / glide_s, 0.0, None)
    freq = f_end - (f_end - f_start) * np.exp(-3.0 * rel)
    wobble = np.cumsum(rng.standard_normal(n)) / np.sqrt(sr) * rng.uniform(0.002, 0.01)
    vibrato = rng.uniform(0.002, 0.01) * np.sin(2 * np.pi * rng.uniform(3.0, 8.0) * t)
    freq = freq * (1.0 + wobble + vibrato)
    level = np.clip(rel * 2.0, 0.0, 1.0) ** 1.5 * (t >= start)
    tone = _harmonic_osc(freq, sr, [1.0, 0.12])
    if rng.random() < 0.4:  # second pipe: beating two-tone whistle
        tone += rng.uniform(0.4, 0.9) * _harmonic_osc(freq * rng.uniform(1.03, 1.08), sr, [1.0])
    breath = _shaped_noise(rng, n, sr, 0.8 * f_end, min(1.3 * f_end, 0.45 * sr))
    tone += rng.uniform(0.05, 0.3) * breath
    return tone * level


def _chime_note(n, sr, onset, f0, tau, partials):
    ratios, amps = zip(*partials, strict=True)
    tone = _harmonic_osc(np.full(n, f0), sr, list(amps), ratios=list(ratios))
    return tone * _decays(n, sr, [onset], tau)


def _doorbell(rng, n, sr, start):
    tempo = _tempo(rng)
    base = rng.uniform(500.0, 900.0)
    variant = rng.integers(3)
    partials = [(1.0, 1.0), (2.0, 0.35), (3.0, 0.2), (4.2, 0.1)]
    tau = rng.uniform(0.3, 1.0)
    if variant == 0:  # ding-dong (falling third, fourth or fifth)
        intervals = [1.0, 1.0 / rng.choice([1.26, 1.335, 1.5])]
    elif variant == 1:  # ding-dong-ding
        intervals = [1.0, 1.0 / rng.choice([1.26, 1.335]), 1.0]
    else:  # four-note chime
        scale = np.array([1.0, 1.122, 1.26, 1.5])
        intervals = list(rng.choice(scale, size=4))
        partials = [(1.0, 1.0), (2.0, 0.2), (3.0, 0.1)]
        tau = rng.uniform(0.4, 1.2)
    spacing = rng.uniform(0.35, 0.8) * tempo
    out = np.zeros(n)
    for i, ratio in enumerate(intervals):
        out += _chime_note(n, sr, start + i * spacing, base * ratio, tau, partials)
    return out


def _door_knock(rng, n, sr, start):
    tempo = _tempo(rng, 0.25)
    out = np.zeros(n)
    low_modes = rng.uniform(70.0, 300.0, size=2)
    high_mode = rng.uniform(500.0, 2000.0)
    t_knock = start
    groups = 1 if rng.random() < 0.7 else 2
    for _ in range(groups):
        for _ in range(int(rng.integers(2, 6))):
            i0 = int(t_knock * sr)
            if i0 >= n:
                break
            burst_len = max(4, int(rng.uniform(0.001, 0.004) * sr))
            excitation = np.zeros(n)
            end = min(n, i0 + burst_len)
            excitation[i0:end] = rng.standard_normal(end - i0) * rng.uniform(0.7, 1.3)
            body = sum(_resonate(excitation, sr, f, rng.uniform(4.0, 12.0)) for f in low_modes)
            panel = 0.4 * _resonate(excitation, sr, high_mode, rng.uniform(2.0, 6.0))
            decay_env = np.ones(n)
            decay_env[i0:] = np.exp(-(np.arange(n - i0) / sr) / rng.uniform(0.015, 0.06))
            click = signal.lfilter([0.3], [1.0, -0.8], excitation)  # knuckle click, dull
            out += (body + panel + click) * decay_env
            t_knock += rng.uniform(0.12, 0.3) * tempo
        t_knock += rng.uniform(0.4, 0.8) * tempo
    return out


def _formant_amps(f0: float, n_harmonics: int, formants) -> list[float]:
    amps = []
    for k in range(1, n_harmonics + 1):
        fk = k * f0
        gain = sum(a * math.exp(-0.5 * ((fk - f) / bw) ** 2) for f, bw, a in formants)
        amps.append((0.15 + gain) / k**0.6)
    return amps


def _baby_crying(rng, n, sr, start):
    t = _times(n, sr)
    out = np.zeros(n)
    cursor = start
    base = rng.uniform(350.0, 600.0)
    formants = [(rng.uniform(900, 1300), 250.0, 1.0), (rng.uniform(2500, 3500), 400.0, 0.6),
                (rng.uniform(4200, 5200), 500.0, 0.3)]
    amps = _formant_amps(base, 14, formants)
    while cursor < n / sr:
        dur = rng.uniform(0.3, 1.0)
        i0, i1 = int(cursor * sr), min(n, int((cursor + dur) * sr))
        if i1 <= i0:
            break
        u = (t[i0:i1] - cursor) / dur
        arch = 1.0 + rng.uniform(0.1, 0.25) * np.sin(np.pi * u)
        vib = 1.0 + rng.uniform(0.02, 0.05) * np.sin(2 * np.pi * rng.uniform(5.0, 9.0) * t[i0:i1])
        f = base * rng.uniform(0.9, 1.1) * arch * vib
        unit = _harmonic_osc(f, sr, amps)
        env = np.sin(np.pi * np.clip(u, 0, 1)) ** 0.4
        rough = 1.0 + rng.uniform(0.0, 0.3) * rng.standard_normal(i1 - i0)
        out[i0:i1] += unit * env * rough
        gap = rng.uniform(0.05, 0.4)
        j0, j1 = i1, min(n, i1 + int(gap * sr))
        if j1 > j0:  # inhalation
            out[j0:j1] += 0.05 * _shaped_noise(rng, j1 - j0, sr, 1000.0, 4000.0)
        cursor += dur + gap
    return out


def _phone_ringing(rng, n, sr, start):
    tempo = _tempo(rng, 0.1)
    variant = rng.integers(5)
    t = _times(n, sr)
    if variant in (0, 1):
        if variant == 0:  # North American landline: 440+480 Hz, 2 s on 4 s off
            f1, f2, cadence = 440.0, 480.0, [(2.0 * tempo, 4.0 * tempo)]
        else:  # UK double ring: 400+450 Hz
            f1, f2 = 400.0, 450.0
            cadence = [(0.4 * tempo, 0.2 * tempo), (0.4 * tempo, 2.0 * tempo)]
        tone = np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t)
        return tone * _gate(n, sr, _repeat_cadence(cadence, start, n / sr))
    if variant == 2:  # electromechanical bell: two gongs struck alternately at ~20 Hz
        rate = rng.uniform(17.0, 23.0)
        ring_s = rng.uniform(1.0, 2.0) * tempo
        g1, g2 = rng.uniform(900.0, 1100.0), rng.uniform(1200.0, 1450.0)
        onsets = np.arange(start, min(n / sr, start + ring_s), 1.0 / rate)
        tone = np.zeros(n)
        for gong, hits in ((g1, onsets[0::2]), (g2, onsets[1::2])):
            partial = _harmonic_osc(np.full(n, gong), sr, [1.0, 0.5, 0.3],
                                    ratios=[1.0, 2.7, 5.1])
            tone += partial * _decays(n, sr, hits, rng.uniform(0.03, 0.08))
        return tone
    if variant == 3:  # cordless warble: alternating tones in bursts
        fa = rng.uniform(900.0, 1100.0)
        fb = fa * rng.uniform(1.2, 1.4)
        rate = rng.uniform(12.0, 20.0)
        freq = np.where(np.sin(2 * np.pi * rate * t) >= 0, fa, fb)
        tone = _harmonic_osc(freq, sr, [1.0, 0.2, 0.1])
        cadence = [(1.0 * tempo, 2.0 * tempo)]
        return tone * _gate(n, sr, _repeat_cadence(cadence, start, n / sr))
    # mobile ringtone: a repeated pentatonic motif
    base = rng.uniform(500.0, 1000.0)
    scale = np.array([1.0, 1.125, 1.25, 1.5, 1.667, 2.0])
    motif = rng.choice(scale, size=int(rng.integers(4, 9)))
    note_s = rng.uniform(0.08, 0.2) * tempo
    timbre = [1.0, 0.0, 0.3, 0.0, 0.15] if rng.random() < 0.5 else [1.0, 0.0, 0.0, 0.5]
    out = np.zeros(n)
    cursor, i = start, 0
    while cursor < n / sr:
        f0 = base * motif[i % len(motif)]
        out += _chime_note(n, sr, cursor, f0, note_s * 0.8,
                           [(k + 1.0, a) for k, a in enumerate(timbre) if a > 0])
        cursor += note_s
        i += 1
        if i % len(motif) == 0:
            cursor += rng.uniform(0.2, 0.6)
    return out


def _microwave_beep(rng, n, sr, start):
    f0 = rng.uniform(1800.0, 3000.0)
    variant = rng.integers(3)
    if variant == 0:
        on, off, count = rng.uniform(0.1, 0.25), rng.uniform(0.1, 0.3), 3
    elif variant == 1:
        on, off, count = rng.uniform(0.1, 0.2), rng.uniform(0.08, 0.2), 5
    else:
        on, off, count = rng.uniform(0.6, 1.0), 0.0, 1
    segments = [(start + i * (on + off), start + i * (on + off) + on) for i in range(count)]
    tone = _harmonic_osc(np.full(n, f0), sr, [1.0, 0.0, 0.25, 0.0, 0.1])
    return tone * _gate(n, sr, segments, ramp_s=0.002)


_EVENT_RENDERERS = {
    "fire_alarm": _fire_alarm,
    "smoke_alarm": _smoke_alarm,
    "kettle_whistle": _kettle_whistle,
    "doorbell": _doorbell,
    "door_knock": _door_knock,
    "baby_crying": _baby_crying,
    "phone_ringing": _phone_ringing,
    "microwave_beep": _microwave_beep,
}


# --------------------------------------------------------------------------- distractors
def _voice(rng, n, sr, f0_lo=90.0, f0_hi=250.0):
    t = _times(n, sr)
    f0 = rng.uniform(f0_lo, f0_hi)
    contour = f0 * (1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + _phase(rng)))
    vowel = [(rng.uniform(300, 900), 150.0, 1.0), (rng.uniform(900, 2500), 250.0, 0.5)]
    out = _harmonic_osc(contour, sr, _formant_amps(f0, 20, vowel))
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3.0, 6.0) * t + _phase(rng))
    return out * syllables**2


def _distractor(rng, n, sr):
    return _distractor_kind(rng, n, sr, int(rng.integers(6)))


def _distractor_kind(rng, n, sr, kind: int):
    """Distractor ``kind``: 0 footsteps, 1 dishes, 2 talker, 3 music, 4 slam, 5 water/vacuum."""
    if kind == 0:  # footsteps: low thuds, close to knocks
        out = np.zeros(n)
        step = rng.uniform(0.4, 0.7)
        for onset in np.arange(rng.uniform(0.0, step), n / sr, step):
            exc = np.zeros(n)
            i0 = int(onset * sr)
            exc[i0:i0 + int(0.01 * sr)] = rng.standard_normal(len(exc[i0:i0 + int(0.01 * sr)]))
            out += _resonate(exc, sr, rng.uniform(50.0, 120.0), rng.uniform(2.0, 5.0))
        return out
    if kind == 1:  # clattering dishes: short inharmonic pings, close to beeps and bells
        out = np.zeros(n)
        for onset in rng.uniform(0.0, n / sr, size=int(rng.integers(3, 9))):
            f = rng.uniform(2000.0, min(6000.0, 0.4 * sr))
            out += _chime_note(n, sr, onset, f, rng.uniform(0.02, 0.1),
                               [(1.0, 1.0), (1.6, 0.5), (2.3, 0.3)])
        return out
    if kind == 2:  # one nearby talker
        return _voice(rng, n, sr)
    if kind == 3:  # music: a few sustained notes, close to chimes and ringtones
        out = np.zeros(n)
        for onset in np.arange(0.0, n / sr, rng.uniform(0.3, 0.8)):
            f = 220.0 * 2 ** (rng.integers(0, 24) / 12.0)
            out += _chime_note(n, sr, onset, f, rng.uniform(0.3, 0.8),
                               [(1.0, 1.0), (2.0, 0.5), (3.0, 0.25), (4.0, 0.12)])
        return out
    if kind == 4:  # door slam / object dropped: one broadband impulse
        exc = np.zeros(n)
        i0 = int(rng.uniform(0.0, 0.8) * n)
        exc[i0:i0 + int(0.02 * sr)] = rng.standard_normal(len(exc[i0:i0 + int(0.02 * sr)]))
        return exc + _resonate(exc, sr, rng.uniform(80.0, 200.0), 3.0)
    # running water / vacuum: strong band noise
    lo = rng.uniform(200.0, 1500.0)
    return _shaped_noise(rng, n, sr, lo, min(lo * rng.uniform(2, 6), 0.45 * sr))


# --------------------------------------------------------------------------- rooms and noise
def _room_impulse_response(rng, sr, rt60):
    length = max(8, int(min(1.0, rt60 * 1.2) * sr))
    t = _times(length, sr)
    tail = rng.standard_normal(length) * np.exp(-6.91 * t / rt60)
    tail = signal.lfilter([1.0], [1.0, -rng.uniform(0.3, 0.9)], tail)  # walls absorb highs
    tail[: int(0.003 * sr)] = 0.0
    ir = np.zeros(length)
    ir[0] = 1.0
    for _ in range(int(rng.integers(3, 7))):
        ir[int(rng.uniform(0.004, 0.03) * sr)] += rng.uniform(-0.6, 0.6)
    direct_to_reverb_db = rng.uniform(-3.0, 15.0)
    tail *= np.sqrt(np.sum(ir**2) / (np.sum(tail**2) + 1e-12)) * 10 ** (-direct_to_reverb_db / 20)
    return ir + tail


def _reverberate(x, rng, sr):
    if rng.random() < 0.15:  # outdoors / close-miked: dry
        return x
    ir = _room_impulse_response(rng, sr, rng.uniform(0.1, 0.9))
    return signal.fftconvolve(x, ir)[: x.size]


def render_background(rng: np.random.Generator, seconds: float,
                      sample_rate: int = 16000) -> np.ndarray:
    """Household noise with no target event: colored noise plus a random mix of hum, fan,
    babble, traffic, a distant TV and rain. Unit-free: callers set the level (render_clip
    uses the SNR)."""
    _check_timing(seconds, sample_rate)
    n = int(round(seconds * sample_rate))
    sr = sample_rate
    slope = rng.uniform(0.0, 2.0)
    out = _shaped_noise(rng, n, sr, 20.0, 0.49 * sr, slope)
    t = _times(n, sr)
    if rng.random() < 0.4:  # mains hum
        mains = 50.0 if rng.random() < 0.5 else 60.0
        hum = _harmonic_osc(np.full(n, mains), sr, list(rng.uniform(0.0, 1.0, size=5)))
        out += 10 ** (rng.uniform(-25, -8) / 20) * hum / (_rms(hum) + 1e-12)
    if rng.random() < 0.4:  # fan / HVAC
        fan = _shaped_noise(rng, n, sr, 50.0, 800.0, 1.0)
        fan += 0.5 * np.sin(2 * np.pi * rng.uniform(80.0, 300.0) * t)
        out += 10 ** (rng.uniform(-10, 3) / 20) * fan
    if rng.random() < 0.35:  # babble: several distant talkers
        babble = sum(_voice(rng, n, sr) for _ in range(int(rng.integers(2, 6))))
        out += 10 ** (rng.uniform(-12, 0) / 20) * babble / (_rms(babble) + 1e-12)
    if rng.random() < 0.25:  # traffic rumble with slow swells
        rumble = _shaped_noise(rng, n, sr, 20.0, 300.0, 2.0)
        rumble *= 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + _phase(rng))
        out += 10 ** (rng.uniform(-8, 4) / 20) * rumble
    if rng.random() < 0.3:  # TV / radio in another room: tones that are not events
        tv = sum(_chime_note(n, sr, onset, rng.uniform(300.0, 3000.0), rng.uniform(0.1, 0.5),
                             [(1.0, 1.0), (2.0, 0.3)])
                 for onset in rng.uniform(0.0, seconds, size=int(rng.integers(2, 8))))
        out += 10 ** (rng.uniform(-12, 0) / 20) * tv / (_rms(tv) + 1e-12)
    if rng.random() < 0.15:  # rain / crackle
        drops = (rng.random(n) < rng.uniform(0.0005, 0.005)) * rng.standard_normal(n)
        drops = signal.lfilter([1.0, -0.95], [1.0], drops)
        out += 10 ** (rng.uniform(-15, 0) / 20) * drops / (_rms(drops) + 1e-12)
    return out / (_rms(out) + 1e-12)


def _pick_window(event: np.ndarray, rng: np.random.Generator, n_out: int) -> np.ndarray:
    """A random window (time shift) that still holds a substantial part of the event."""
    if event.size <= n_out:
        return np.pad(event, (0, n_out - event.size))
    energy = np.concatenate(([0.0], np.cumsum(event**2)))
    sums = energy[n_out:] - energy[:-n_out]
    valid = np.flatnonzero(sums >= _MIN_WINDOW_ENERGY_FRACTION * sums.max())
    start = int(rng.choice(valid))
    return event[start:start + n_out]


def _check_timing(seconds: float, sample_rate: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ValueError(f"sample_rate must be an integer in Hz, got {sample_rate!r}")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate {sample_rate} Hz is too low; expected at least {MIN_SAMPLE_RATE} Hz"
        )
    if not (isinstance(seconds, (int, float, np.floating)) and math.isfinite(seconds)
            and seconds > 0):
        raise ValueError(f"seconds must be a positive finite number, got {seconds!r}")


def render_event(label: str, rng: np.random.Generator, seconds: float = 1.0,
                 sample_rate: int = 16000) -> np.ndarray:
    """The reverberated event alone (no noise), time-shifted into a window of ``seconds``."""
    _check_timing(seconds, sample_rate)
    if label not in _EVENT_RENDERERS:
        raise ValueError(
            f"unknown event label {label!r}; expected one of {', '.join(_EVENT_RENDERERS)}"
        )
    n_out = int(round(seconds * sample_rate))
    n = n_out + int(2 * _PATTERN_MARGIN_S * sample_rate)
    start = rng.uniform(0.5 * _PATTERN_MARGIN_S, _PATTERN_MARGIN_S + 0.5 * seconds)
    dry = _EVENT_RENDERERS[label](rng, n, sample_rate, start)
    wet = _reverberate(dry, rng, sample_rate)
    return _pick_window(wet, rng, n_out)


#: the classes that go on until someone acts (render_sustained); the others are one pattern
SUSTAINED = ("fire_alarm", "smoke_alarm", "kettle_whistle", "baby_crying", "phone_ringing")
#: a sustained sound whose burst ends on its own (a struck fire bell, an electromechanical phone
#: bell: 1-4 s) rings again after a pause of this many s, as the real ones do
REPEAT_PAUSE_S = (0.3, 1.0)


def render_sustained(label: str, rng: np.random.Generator, n: int, sample_rate: int,
                     start: float = 0.0) -> np.ndarray:
    """The dry event from ``start`` for ``n`` samples, ringing again (REPEAT_PAUSE_S) when its
    pattern ends on its own before that (a bell burst), then faded out over the last 20 ms:
    an alarm, whistle, cry or ring that goes on as long as asked. Not used by the training
    clips (render_event), whose output for a given seed is unchanged."""
    if label not in _EVENT_RENDERERS:
        raise ValueError(f"unknown event label {label!r}")
    dry = _EVENT_RENDERERS[label](rng, n, sample_rate, start)
    hop = int(0.05 * sample_rate)
    frames = dry[: dry.size // hop * hop].reshape(-1, hop)
    energy = np.sqrt(np.mean(frames**2, axis=1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(energy / energy.max()) > -30.0)
    last = int((loud[-1] + 1) * hop) if loud.size else n
    first = int(start * sample_rate)
    if last < n - int(REPEAT_PAUSE_S[1] * sample_rate) and last > first:
        burst = dry[first:last]
        pieces, size = [dry[:last]], last
        while size < n:
            pause = np.zeros(int(rng.uniform(*REPEAT_PAUSE_S) * sample_rate))
            pieces += [pause, burst]
            size += pause.size + burst.size
        dry = np.concatenate(pieces)[:n]
    tail = min(n, int(0.02 * sample_rate))
    dry = dry.copy()
    dry[n - tail:] *= np.linspace(1.0, 0.0, tail)
    return dry


def render_long_clip(label: str, rng: np.random.Generator, snr_db: float, seconds: int,
                     sample_rate: int = 16000) -> tuple[np.ndarray, list[bool]]:
    """An event that sounds from its onset (0-0.2 s in) for ``seconds`` whole seconds, over
    the household noise at ``snr_db`` (the event's mean power over its own length, `extent`,
    as in the held-out event set: a 1 s knock pattern in a 2 s clip is not 3 dB louder than
    its SNR says), finished as render_clip;
    and, for every second, whether it holds the event (at least the share of the loudest
    second's event energy a training window must hold, _MIN_WINDOW_ENERGY_FRACTION: a second
    that falls in an alarm's pause is background to a window classifier). The scripted day's
    events (day_scene.DURATION_S)."""
    if label not in _EVENT_RENDERERS:
        raise ValueError(f"unknown event label {label!r}; expected one of "
                         f"{', '.join(_EVENT_RENDERERS)}")
    if not (isinstance(seconds, (int, np.integer)) and seconds >= 1):
        raise ValueError(f"seconds must be a whole number >= 1, got {seconds!r}")
    n = int(seconds) * sample_rate
    start = float(rng.uniform(0.0, 0.2))
    dry = render_sustained(label, rng, n, sample_rate, start) if label in SUSTAINED \
        else _EVENT_RENDERERS[label](rng, n, sample_rate, start)  # one pattern, then quiet
    wet = _reverberate(dry, rng, sample_rate)
    noise = render_background(rng, float(seconds), sample_rate)
    first, last = extent(wet, sample_rate)
    clip = finish_clip(mix_at_snr(wet, noise, snr_db, reference=wet[first:last]), rng,
                       sample_rate)
    per_second = np.sum(wet.reshape(int(seconds), sample_rate) ** 2, axis=1)
    present = [bool(e >= _MIN_WINDOW_ENERGY_FRACTION * per_second.max()) for e in per_second]
    return clip, present


def _colour_microphone(x: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """A cheap microphone's band limits, different for every recording."""
    if rng.random() < 0.3:
        return x
    high_pass = signal.butter(2, rng.uniform(40.0, 250.0), "highpass", fs=sr, output="sos")
    low_cut = min(rng.uniform(4000.0, 7800.0), 0.45 * sr)
    low_pass = signal.butter(2, low_cut, "lowpass", fs=sr, output="sos")
    return signal.sosfilt(low_pass, signal.sosfilt(high_pass, x))


def extent(x: np.ndarray, sample_rate: int = 16000, floor_db: float = 30.0) -> tuple[int, int]:
    """(first, end) sample of the 50 ms frames within ``floor_db`` of the loudest frame: how
    long a sound lasts, its pauses inside included."""
    hop = int(0.05 * sample_rate)
    frames = x[: x.size // hop * hop].reshape(-1, hop)
    energy = np.sqrt(np.mean(frames**2, axis=1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(energy / energy.max()) > -floor_db)
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def mix_at_snr(foreground: np.ndarray, noise: np.ndarray, snr_db: float,
               reference: np.ndarray | None = None) -> np.ndarray:
    """foreground + noise scaled so mean foreground power / mean noise power = snr_db; the
    foreground's power is measured over ``reference`` where given (the sound's own length)."""
    fg_rms = _rms(foreground if reference is None else reference)
    noise_rms = _rms(noise)
    if fg_rms == 0.0 or noise_rms == 0.0:
        return foreground + noise
    return foreground + noise * (fg_rms / noise_rms / 10 ** (snr_db / 20.0))


def render_clip(label: str, rng: np.random.Generator, snr_db: float, sample_rate: int = 16000,
                seconds: float = 1.0) -> np.ndarray:
    """One labelled clip: the event (or, for background, maybe a distractor) mixed into noise.

    Returns float32 mono in [-1, 1] with a random overall gain (-38 to -12 dBFS RMS).
    """
    if label not in CLASSES:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(CLASSES)}")
    if not isinstance(snr_db, (int, float, np.floating)) or not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}")
    _check_timing(seconds, sample_rate)
    n = int(round(seconds * sample_rate))
    noise = render_background(rng, seconds, sample_rate)
    if label == BACKGROUND:
        foreground = None
        if rng.random() < 0.7:
            foreground = _reverberate(_distractor(rng, n, sample_rate), rng, sample_rate)
    else:
        foreground = render_event(label, rng, seconds, sample_rate)
        if rng.random() < 0.3:  # a distractor on top of the event
            extra = _distractor(rng, n, sample_rate)
            foreground = foreground + 10 ** (rng.uniform(-12, 0) / 20) * extra * (
                _rms(foreground) / (_rms(extra) + 1e-12))
    mix = mix_at_snr(foreground, noise, snr_db) if foreground is not None else noise
    return finish_clip(mix, rng, sample_rate)


def finish_clip(mix: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A cheap microphone's colouring, a random gain (-38 to -12 dBFS RMS), no clipping."""
    mix = _colour_microphone(mix, rng, sample_rate)
    mix = mix * (10 ** (rng.uniform(-38.0, -12.0) / 20.0) / (_rms(mix) + 1e-12))
    peak = float(np.max(np.abs(mix)))
    if peak > 0.99:
        mix *= 0.99 / peak
    return mix.astype(np.float32)
