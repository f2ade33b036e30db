"""Microphone capture node: a real ALSA microphone, a scripted scene, or recordings.

``source: alsa`` (what the live launch uses) is capture only: with no device it says so once,
with the fix, reports it (WARN) on /diagnostics, keeps retrying and never plays the script (fake
alarms must not reach a user). Sources, tried in this order with ``source: auto`` (the fallback
is logged once and shown on /diagnostics):
  alsa   16 kHz mono capture with sounddevice (the Jetbot's USB microphone)
  scene  the seeded 09:00-17:00 UbiEar day (core.scene.day_scene + sound_synth), played as each
         event's scene time passes; the true label of each played window goes to
         scene/ground_truth so accuracy can be measured end to end
  files  a WAV/FLAC file or a folder of them (any rate, mono/stereo), streamed in a loop

Chunks go out as raw PCM with their format (AudioChunk) on sensor-data QoS. The header stamp is
the wall-clock time of the chunk's first sample, even under simulated time, so the inference
node can measure real latency: the capture time for a microphone, and for played-back audio the
publish time minus the chunk's duration (as if it had just been captured). The sources, their
fallback and the playback pacing live in core.audio.sources; this node only publishes.
"""

from __future__ import annotations

import time
from functools import partial

from rclpy.node import Node

from adaspring_ros.core.audio import features, pcm, sources
from adaspring_ros.core.scene import day_scene
from adaspring_ros.msg import AudioChunk, SoundEvent
from adaspring_ros.nodes import conversions, node_main, qos, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.params import declare
from adaspring_ros.nodes.scene_clock import clock_started, scene_seconds, wall_now_ns, wall_timer

SOURCES = ("auto", "alsa", "scene", "files")
#: the parameters `ros2 param set` may change: none, each one shapes the source at start
RUNTIME_PARAMETERS = ()


class MicrophoneNode(Node):
    """Publishes what its audio source (core.audio.sources) yields, paced and stamped."""

    def __init__(self, **kwargs) -> None:
        super().__init__("microphone", **kwargs)
        # every parameter picks the source or shapes the stream at start: read-only
        self.source_name = declare(self, "source", "auto", "Where audio comes from.",
                                   choices=SOURCES, read_only=True)
        self.device = declare(self, "alsa_device", "", "sounddevice input device name or index "
                              "('' = system default).", read_only=True)
        self.chunk_ms = declare(self, "chunk_ms", 100, "Audio per chunk, milliseconds.",
                                low=10, high=1000, read_only=True)
        self.encoding = declare(self, "encoding", pcm.S16LE, "PCM encoding on the wire.",
                                choices=(pcm.S16LE, pcm.F32LE), read_only=True)
        self.frame_id = declare(self, "frame_id", "microphone", "Header frame_id of chunks.",
                                read_only=True)
        self.scene_seed = declare(self, "scene_seed", 7, "Seed of the scripted day.",
                                  low=0, high=2**31 - 1, read_only=True)
        speed = declare(self, "playback_speed", 30.0,
                        "Scene/files playback rate, x real time, held within each clip too.",
                        low=0.1, high=200.0, read_only=True)
        self.audio_path = declare(self, "audio_path", "", "File or folder for source=files.",
                                  read_only=True)
        depth = declare(self, "queue_depth", 50, "Publisher history depth (chunks).",
                        low=1, high=10000, read_only=True)
        # without use_sim_time the scripted day runs on the wall clock from 09:00 at start-up
        self._wall_origin = None if self.get_parameter("use_sim_time").value \
            else time.monotonic()
        self.health = Health(self, hardware_id=self.device or "default")
        self.pub = self.create_publisher(AudioChunk, topics.AUDIO, qos.audio(depth))
        self.truth_pub = self.create_publisher(SoundEvent, topics.GROUND_TRUTH, qos.reliable(100))
        self.sequence = 0
        self.pacer = sources.Pacer(features.SAMPLE_RATE * self.chunk_ms // 1000, speed)
        self.source = self._open_source()
        wall_timer(self, 0.01, self._tick)
        wall_timer(self, 1.0, self._publish_health)

    # ------------------------------------------------------------------ sources
    def _open_source(self) -> sources.AudioSource:
        source, passed_over = sources.open_source(self.source_name, {
            "alsa": partial(sources.LiveMicrophone, self.device, self.chunk_ms, wall_now_ns),
            "scene": partial(sources.ScriptedScene, self.scene_seed, per_read=1),
            "files": partial(sources.FileLoop, self.audio_path, self._skipped_file)})
        if source.problem():  # live capture, no device: said once, with the fix
            self.get_logger().error(source.problem())
        else:
            for name, exc in passed_over:
                self.get_logger().warning(f"audio source {name} unavailable: {exc}")
                self.health.warn("source", f"{name} unavailable ({exc}); fell back")
        self.get_logger().info(f"audio source: {source.name}")
        self.health.values["source"] = source.name
        if isinstance(source, sources.ScriptedScene):
            self.health.values["scene_events"] = str(len(source.script))
        return source

    def _skipped_file(self, path, exc: Exception) -> None:
        self.health.count("unreadable_files")
        self.get_logger().warning(f"skipping {path}: {exc}")

    # ------------------------------------------------------------------ publishing
    def _scene_now(self) -> float | None:
        """Scene time: /clock under use_sim_time (None before it starts), else the wall clock
        from 09:00 at start-up, so a scripted scene plays in real time."""
        if self._wall_origin is not None:
            return day_scene.DAY_START_S + (time.monotonic() - self._wall_origin)
        return scene_seconds(self) if clock_started(self) else None

    def _tick(self) -> None:
        scene_s = self._scene_now()
        clips = self.source.read(scene_s, idle=not self.pacer.busy)
        for clip in clips:
            if clip.stamp_ns is not None:  # live capture: sent as captured
                self._publish_chunk(clip.samples, clip.stamp_ns)
        self.pacer.add(c for c in clips if c.stamp_ns is None)
        chunk_ns = self.chunk_ms * 1_000_000
        for played in self.pacer.due():
            for samples in played.chunks:
                # played-back audio is stamped as if just captured: its last sample is "now"
                self._publish_chunk(samples, wall_now_ns() - chunk_ns)
            if played.label is not None:
                self.truth_pub.publish(conversions.ground_truth_msg(
                    played.label, audio_sequence=self.sequence - 1,
                    stamp=self.get_clock().now().to_msg()))

    def _publish_chunk(self, samples, stamp_ns: int) -> None:
        self.pub.publish(conversions.audio_chunk_msg(
            samples, stamp_ns=stamp_ns, sequence=self.sequence, encoding=self.encoding,
            frame_id=self.frame_id))
        self.sequence = (self.sequence + 1) % 2**32
        self.health.count("chunks_published")

    def _publish_health(self) -> None:
        self.health.counters.update(self.source.take_counts())
        if self.source.problem():
            self.health.warn("capture", self.source.problem())
        else:
            self.health.clear("capture")
        self.health.publish()

    def destroy_node(self) -> None:
        try:
            self.source.close()  # stop the capture stream before the node goes
        finally:
            super().destroy_node()


#: the executable's entry point (setup.py) and ``python -m``'s
main = partial(node_main.run, MicrophoneNode)


if __name__ == "__main__":
    main()
