"""Microphone capture node: a real ALSA microphone, or a scripted scene where there is none.

Sources, tried in this order with ``source: auto`` (the fallback is logged once and shown on
/diagnostics):
  alsa   16 kHz mono capture with sounddevice (the Jetbot's USB microphone)
  scene  the seeded 09:00-17:00 UbiEar day (core.day_scene + core.sound_synth), played as each
         event's scene time passes; the true label of each played window goes to
         scene/ground_truth so accuracy can be measured end to end
  files  a WAV/FLAC file or a folder of them (any rate, mono/stereo), streamed in a loop

Chunks go out as raw PCM with their format (AudioChunk) on sensor-data QoS. The header stamp is
the wall-clock time of the chunk's first sample, even under simulated time, so the inference
node can measure real latency: the capture time for a microphone, and for played-back audio the
publish time minus the chunk's duration (as if it had just been captured).
"""

from __future__ import annotations

import queue
from collections import deque
from pathlib import Path

import numpy as np
from rclpy.node import Node

from adaspring_ros.core.audio import features, pcm
from adaspring_ros.core.scene import day_scene, sound_synth
from adaspring_ros.msg import AudioChunk, SoundEvent
from adaspring_ros.nodes import node_main, qos, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.params import check_choice, declare
from adaspring_ros.nodes.scene_clock import clock_started, scene_seconds, wall_now_ns, wall_timer

SOURCES = ("auto", "alsa", "scene", "files")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")


class MicrophoneNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("microphone", **kwargs)
        self.source = declare(self, "source", "auto", "Where audio comes from.", choices=SOURCES)
        if check_choice("source", self.source, SOURCES).successful is False:
            raise ValueError(check_choice("source", self.source, SOURCES).reason)
        self.device = declare(self, "alsa_device", "", "sounddevice input device name or index "
                              "('' = system default).")
        self.chunk_ms = declare(self, "chunk_ms", 100, "Audio per chunk, milliseconds.",
                                low=10, high=1000)
        self.encoding = declare(self, "encoding", pcm.S16LE, "PCM encoding on the wire.",
                                choices=(pcm.S16LE, pcm.F32LE))
        self.frame_id = declare(self, "frame_id", "microphone", "Header frame_id of chunks.")
        self.scene_seed = declare(self, "scene_seed", 7, "Seed of the scripted day.",
                                  low=0, high=2**31 - 1)
        self.playback_speed = declare(
            self, "playback_speed", 20.0,
            "Scene/files playback rate, x real time (scene events are short bursts).",
            low=0.1, high=200.0)
        self.audio_path = declare(self, "audio_path", "", "File or folder for source=files.")
        depth = declare(self, "queue_depth", 50, "Publisher history depth (chunks).",
                        low=1, high=10000)
        self.health = Health(self, hardware_id=self.device or "default")
        self.pub = self.create_publisher(AudioChunk, topics.AUDIO, qos.audio(depth))
        self.truth_pub = self.create_publisher(SoundEvent, topics.GROUND_TRUTH, qos.reliable(100))
        self.sequence = 0
        self.pending: deque = deque()  # (samples16k, truth SoundEvent or None) to publish
        self._stream = None
        self._capture: queue.Queue = queue.Queue(maxsize=200)
        self.active_source = self._open_source()
        self.health.values["source"] = self.active_source
        wall_timer(self, 0.01, self._tick)
        wall_timer(self, 1.0, self.health.publish)

    # ------------------------------------------------------------------ sources
    def _open_source(self) -> str:
        order = {"auto": ("alsa", "scene"), "alsa": ("alsa", "scene"), "scene": ("scene",),
                 "files": ("files",)}[self.source]
        for name in order:
            try:
                getattr(self, f"_open_{name}")()
            except Exception as exc:  # a missing device must not stop the assistant
                self.get_logger().warning(f"audio source {name} unavailable: {exc}")
                self.health.warn("source", f"{name} unavailable ({exc}); fell back")
                continue
            self.get_logger().info(f"audio source: {name}")
            return name
        raise RuntimeError(f"no audio source could be opened for source={self.source}")

    def _open_alsa(self) -> None:
        import sounddevice  # guarded: only needed with a real microphone

        device = int(self.device) if self.device.isdigit() else (self.device or None)
        blocksize = features.SAMPLE_RATE * self.chunk_ms // 1000

        def on_audio(indata, frames, time_info, status) -> None:
            if status:
                self.health.count("capture_status_" + str(status).replace(" ", "_"))
            try:
                self._capture.put_nowait((indata[:, 0].copy(), wall_now_ns()))
            except queue.Full:
                self.health.count("capture_overflow_chunks")

        self._stream = sounddevice.InputStream(
            samplerate=features.SAMPLE_RATE, channels=1, dtype="float32", device=device,
            blocksize=blocksize, callback=on_audio)
        self._stream.start()

    def _open_scene(self) -> None:
        self.script = day_scene.make_day(sound_synth.CLASSES, seed=self.scene_seed)
        self.script_pos = 0
        self.health.values["scene_events"] = str(len(self.script))

    def _open_files(self) -> None:
        import soundfile

        root = Path(self.audio_path)
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) \
            if root.is_dir() else [root]
        clips = []
        for p in paths:
            try:
                data, rate = soundfile.read(str(p), dtype="float32", always_2d=True)
                clips.append(features.prepare_audio(data, rate))
            except Exception as exc:
                self.health.count("unreadable_files")
                self.get_logger().warning(f"skipping {p}: {exc}")
        if not clips:
            raise FileNotFoundError(f"no readable audio under {root!s}")
        self.file_audio = np.concatenate(clips)
        self.file_pos = 0

    # ------------------------------------------------------------------ publishing
    @property
    def _chunk_ns(self) -> int:
        return self.chunk_ms * 1_000_000

    @property
    def chunk_samples(self) -> int:
        return features.SAMPLE_RATE * self.chunk_ms // 1000

    def _tick(self) -> None:
        if self.active_source == "alsa":
            while not self._capture.empty():
                samples, stamp = self._capture.get_nowait()
                self._publish_chunk(samples, stamp)
            return
        if self.active_source == "scene":
            self._queue_due_scene_events()
        elif self.active_source == "files" and not self.pending:
            n = features.SAMPLE_RATE  # one second at a time
            end = self.file_pos + n
            piece = np.take(self.file_audio, range(self.file_pos, end), mode="wrap")
            self.file_pos = end % self.file_audio.size
            self.pending.append((piece, None))
        self._drain_pending()

    def _queue_due_scene_events(self) -> None:
        if not clock_started(self):
            return  # the simulated day has not begun
        now = scene_seconds(self)
        script = self.script
        while self.script_pos < len(script) and script[self.script_pos].scene_time_s <= now:
            ev = script[self.script_pos]
            self.script_pos += 1
            clip = sound_synth.render_clip(ev.label, np.random.default_rng(ev.seed), ev.snr_db)
            truth = SoundEvent(label=ev.label, class_index=sound_synth.CLASSES.index(ev.label),
                               confidence=1.0, emergency=ev.label in sound_synth.EMERGENCY_CLASSES)
            self.pending.append((clip.astype(np.float32), truth))

    def _drain_pending(self) -> None:
        """Publish at playback_speed: each 10 ms tick sends the chunks that much audio needs."""
        budget = max(1, int(round(self.playback_speed * 0.01 * 1000 / self.chunk_ms)))
        while self.pending and budget > 0:
            samples, truth = self.pending.popleft()
            n = self.chunk_samples
            # align every clip to whole windows so the inference windower sees one window per clip
            pad = (-samples.size) % n
            if pad:
                samples = np.pad(samples, (0, pad))
            for start in range(0, samples.size, n):
                # played-back audio is stamped as if just captured: its last sample is "now"
                self._publish_chunk(samples[start:start + n], wall_now_ns() - self._chunk_ns)
            budget -= samples.size // n
            if truth is not None:
                truth.audio_sequence = self.sequence - 1
                truth.header.stamp = self.get_clock().now().to_msg()
                self.truth_pub.publish(truth)

    def _publish_chunk(self, samples: np.ndarray, stamp_ns: int) -> None:
        msg = AudioChunk()
        msg.header.stamp.sec = stamp_ns // 1_000_000_000
        msg.header.stamp.nanosec = stamp_ns % 1_000_000_000
        msg.header.frame_id = self.frame_id
        msg.sequence = self.sequence
        msg.sample_rate = features.SAMPLE_RATE
        msg.channels = 1
        msg.encoding = self.encoding
        msg.data = pcm.encode(samples, self.encoding)
        self.pub.publish(msg)
        self.sequence = (self.sequence + 1) % 2**32
        self.health.count("chunks_published")

    def destroy_node(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
        super().destroy_node()


def main(args=None) -> None:
    node_main.run(MicrophoneNode, args)


if __name__ == "__main__":
    main()
