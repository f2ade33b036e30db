"""Where the microphone node's audio comes from: a live microphone, a scripted scene, a file loop.

Every source has one interface: ``name``, ``read(scene_s, idle) -> list[Clip]`` called at each
tick, and ``close()``. ``open_source`` tries them in the order of a preference and records why
any was passed over (a robot without a microphone still runs the assistant on the scripted
day). ``Pacer`` plays back the clips of the scene and the file loop at a chosen speed, cut into
whole chunks. The node only publishes what these return; none of this needs ROS.
"""

from __future__ import annotations

import queue
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from adaspring_ros.core.audio import features
from adaspring_ros.core.scene import day_scene
from adaspring_ros.core.scene.classes import CLASSES

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")

#: the sources tried, in order, for each preference. "alsa" (the live assistant) never falls
#: back to the script: its fake alarms must not reach a user; it waits for a device instead.
FALLBACK_ORDER = {"auto": ("alsa", "scene"), "alsa": ("alsa",), "scene": ("scene",),
                  "files": ("files",)}
#: said once, with the reason, when live capture finds no device
NO_DEVICE_FIX = ("connect a microphone (a USB one on the Jetbot) or name it with alsa_device "
                 "(`python3 -m sounddevice` lists them); the node keeps retrying; for the "
                 "scripted scene instead: simulated_audio:=true")


class Clip(NamedTuple):
    """16 kHz mono float32 audio; a live capture carries its first sample's wall time."""

    samples: np.ndarray
    stamp_ns: int | None = None  # None: played back, stamped when published
    label: str | None = None  # the true class of a scripted event


class AudioSource:
    """The interface every source implements (``read``); the rest has working defaults."""

    name = ""

    def read(self, scene_s: float | None, idle: bool) -> list[Clip]:
        """Clips ready now. ``scene_s`` is None before the scene clock starts; ``idle`` says
        that the previous clips have all been played."""
        raise NotImplementedError

    def take_counts(self) -> Counter:
        """Problems seen since the last call (e.g. capture overflows), for diagnostics."""
        return Counter()

    def problem(self) -> str:
        """A standing condition that stops this source giving audio ("" = none)."""
        return ""

    def close(self) -> None:
        """Release the device, if any."""


class LiveMicrophone(AudioSource):
    """16 kHz mono capture with sounddevice; the callback queues chunks with their wall time."""

    name = "alsa"

    def __init__(self, device: str, chunk_ms: int, now_ns: Callable[[], int]) -> None:
        import sounddevice  # guarded: only needed with a real microphone

        self.counters: Counter[str] = Counter()  # capture status flags and overflows
        self._queue: queue.Queue = queue.Queue(maxsize=200)
        self._now_ns = now_ns
        self._stream = sounddevice.InputStream(
            samplerate=features.SAMPLE_RATE, channels=1, dtype="float32",
            device=int(device) if device.isdigit() else (device or None),
            blocksize=features.SAMPLE_RATE * chunk_ms // 1000, callback=self._on_audio)
        self._stream.start()

    def _on_audio(self, indata, frames, time_info, status) -> None:
        if status:
            self.counters["capture_status_" + str(status).replace(" ", "_")] += 1
        try:
            self._queue.put_nowait(Clip(indata[:, 0].copy(), self._now_ns()))
        except queue.Full:
            self.counters["capture_overflow_chunks"] += 1

    def read(self, scene_s: float | None, idle: bool) -> list[Clip]:
        clips = []
        while not self._queue.empty():
            clips.append(self._queue.get_nowait())
        return clips

    def take_counts(self) -> Counter:
        counts, self.counters = self.counters, Counter()  # one swap: the callback keeps counting
        return counts

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


class ScriptedScene(AudioSource):
    """The seeded 09:00-17:00 UbiEar day: each event is rendered once its scene time passes."""

    name = "scene"

    def __init__(self, seed: int, per_read: int | None = None) -> None:
        """``per_read``: render at most this many events per read (None: every one due). The
        node renders one per 10 ms tick: a scene clock that ran while the node started leaves
        a backlog, and rendering it all in one tick (25 clips, 0.8 s here) delayed the first
        window; one at a time, the first plays while the next is rendered. An event of
        several seconds comes as one 1 s clip per second, each with its own true label."""
        # the synthesiser (and scipy.signal, about a second of start-up) only where it plays
        from adaspring_ros.core.scene import sound_synth  # noqa: F401

        self.script = day_scene.make_day(CLASSES, seed=seed)
        self.position = 0
        self.per_read = per_read

    def read(self, scene_s: float | None, idle: bool) -> list[Clip]:
        clips, events = [], 0
        while (scene_s is not None and self.position < len(self.script)
               and (self.per_read is None or events < self.per_read)
               and self.script[self.position].scene_time_s <= scene_s):
            ev = self.script[self.position]
            self.position += 1
            events += 1
            clips += [Clip(audio.astype(np.float32), label=label)
                      for audio, label in day_scene.render(ev)]
        return clips


class FileLoop(AudioSource):
    """A sound file, or a folder of them (any rate, mono or stereo), looped one second at a time.

    ``on_skip(path, exc)`` hears of each unreadable file; none readable is FileNotFoundError.
    """

    name = "files"

    def __init__(self, path: str, on_skip: Callable[[Path, Exception], None]) -> None:
        import soundfile

        root = Path(path)
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) \
            if root.is_dir() else [root]
        clips = []
        for p in paths:
            try:
                data, rate = soundfile.read(str(p), dtype="float32", always_2d=True)
                clips.append(features.prepare_audio(data, rate))
            except Exception as exc:  # one bad file must not hide the good ones
                on_skip(p, exc)
        if not clips:
            raise FileNotFoundError(f"no readable audio under {root!s}")
        self.audio = np.concatenate(clips)
        self.position = 0

    def read(self, scene_s: float | None, idle: bool) -> list[Clip]:
        if not idle:
            return []
        end = self.position + features.SAMPLE_RATE
        piece = np.take(self.audio, range(self.position, end), mode="wrap")
        self.position = end % self.audio.size
        return [Clip(piece)]


class AwaitingMicrophone(AudioSource):
    """Live capture with no device yet: gives no audio, retries opening it every ``retry_s``.

    The assistant keeps running with what works (context, evolution, inference on whatever
    comes later), and a microphone plugged in later is picked up without a restart.
    """

    name = "alsa"

    def __init__(self, opener: Callable[[], AudioSource], error: Exception,
                 retry_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._opener, self.error, self.retry_s, self._clock = opener, error, retry_s, clock
        self._next_try = clock() + retry_s
        self.live: AudioSource | None = None

    def read(self, scene_s: float | None, idle: bool) -> list[Clip]:
        if self.live is None and self._clock() >= self._next_try:
            self._next_try = self._clock() + self.retry_s
            try:
                self.live = self._opener()
            except Exception as exc:  # still no device: keep waiting
                self.error = exc
        return self.live.read(scene_s, idle) if self.live is not None else []

    def take_counts(self) -> Counter:
        return self.live.take_counts() if self.live is not None else Counter()

    def problem(self) -> str:
        if self.live is not None:
            return ""
        return f"no capture device ({self.error}); fix: {NO_DEVICE_FIX}"

    def close(self) -> None:
        if self.live is not None:
            self.live.close()


def open_source(preference: str, openers: dict[str, Callable[[], AudioSource]]):
    """(source, passed_over): the first of ``FALLBACK_ORDER[preference]`` that opens, and
    ("name", exception) for each that did not. With "alsa" and no device: an
    AwaitingMicrophone. RuntimeError when none opens."""
    passed_over = []
    for name in FALLBACK_ORDER[preference]:
        try:
            return openers[name](), passed_over
        except Exception as exc:  # a missing device must not stop the assistant
            passed_over.append((name, exc))
    if preference == "alsa":
        return AwaitingMicrophone(openers["alsa"], passed_over[-1][1]), passed_over
    raise RuntimeError(f"no audio source could be opened for source={preference}")


class Played(NamedTuple):
    chunks: list  # whole chunks of one clip, the last zero-padded
    label: str | None


class Pacer:
    """Plays clips back at ``speed`` x real time, in whole chunks, as ``due`` is called.

    Each clip is padded to whole chunks so a downstream 1 s windower sees one window per clip.
    The rate holds inside a clip too: the elapsed time since the last call buys chunks
    (``speed`` / chunk length per second), a clip longer than that is spread over calls chunk by
    chunk, and its label comes with its last chunk. Why: since the scripted events last their
    real durations (an alarm 6-10 s), a pacer that always finished a started clip in one call
    sent a whole alarm in 10 ms at 1x. Time not spent because nothing was pending is not saved
    up, and a stalled caller catches up by at most ``max_catch_up_s`` of audio at once.
    """

    def __init__(self, chunk_samples: int, speed: float, max_catch_up_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0 or chunk_samples <= 0:
            raise ValueError(f"speed {speed} and chunk_samples {chunk_samples} must be > 0")
        self.chunk_samples = chunk_samples
        chunk_s = chunk_samples / features.SAMPLE_RATE
        self.chunks_per_s = speed / chunk_s
        self.max_credit = max(1.0, self.chunks_per_s * max_catch_up_s)
        self.clock = clock
        self.pending: deque[Clip] = deque()
        self._chunks: deque[np.ndarray] = deque()  # what is left of the clip being played
        self._label: str | None = None
        self._credit = 0.0
        self._last: float | None = None

    @property
    def busy(self) -> bool:
        """A clip is being played or waits to be."""
        return bool(self._chunks or self.pending)

    def add(self, clips: Iterable[Clip]) -> None:
        self.pending.extend(clips)

    def due(self) -> list[Played]:
        """The chunks to publish now, grouped by clip (a clip's label on its last part)."""
        now = self.clock()
        if self._last is not None and self.busy:
            self._credit = min(self.max_credit,
                               self._credit + (now - self._last) * self.chunks_per_s)
        self._last = now
        played, part = [], []
        while self._credit >= 1.0 and self.busy:
            if not self._chunks:
                clip = self.pending.popleft()
                n = self.chunk_samples
                samples = np.pad(clip.samples, (0, (-clip.samples.size) % n))
                self._chunks.extend(samples[i:i + n] for i in range(0, samples.size, n))
                self._label = clip.label
            part.append(self._chunks.popleft())
            self._credit -= 1.0
            if not self._chunks:
                played.append(Played(part, self._label))
                part = []
        if part:
            played.append(Played(part, None))
        if not self.busy:
            self._credit = 0.0
        return played
