"""Inference node: classifies 1 s audio windows with the configuration the evolution node chose.

A new ``compression_config`` is assembled from the checkpoint's stored tensors (no gradient
step) in its own callback group, while audio keeps being classified by the previous model, and
then swapped in by one reference assignment (core.stream_classifier.ModelSlot): no torn model,
no audio dropped during a swap. Until the first configuration arrives it runs the full backbone.

The id of the configuration in use is latched on ``inference/active_config`` after every
swap, so tools can see when a new configuration is actually running. What the model costs here
is published on ``inference/latency`` (ModelLatency, per configuration: forward-time p50/p95
over the last ``latency_window_s`` and the swap time) for the evolution node to adapt on; each
SoundEvent carries its window's forward time too.

Windows overlap (``hop_seconds``, 0.5 s by default). Every window gives a SoundEvent on
``sound_windows`` (kind WINDOW, background included, for rqt and debugging); its calibrated
probabilities (temperature from the checkpoint, core.events.calibration) go to the event
tracker (core.events: per-class threshold, k-of-n onset, hysteresis offset), which gives ONE
SoundEvent per detected event on ``sound_events`` when the event ends (start, duration, peak
confidence, urgency), and, for emergency events (fire alarm, smoke alarm, kettle whistle), one
message on ``notifications`` the moment the event is confirmed. When the audio stops for
``stream_timeout_s`` or jumps (lost chunks, a restarted publisher), open events are closed at
the last audio received. Bad chunks (NaN/Inf, empty, wrong or lying format, absurd length) are
counted per kind on /diagnostics and dropped; lost chunks show up as sequence gaps.
"""

from __future__ import annotations

from functools import partial
import statistics
import time
from collections import deque

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from std_msgs.msg import UInt32

from adaspring_ros.core.audio import features, pcm
from adaspring_ros.core.audio import stream_classifier as sc
from adaspring_ros.core.events import calibration
from adaspring_ros.core.events import policy as event_policy
from adaspring_ros.core.events.tracker import EventTracker, WindowScore
from adaspring_ros.core.model import checkpoint
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.latency_meter import LatencyMeter
from adaspring_ros.core.scene.classes import CLASSES, EMERGENCY_CLASSES
from adaspring_ros.msg import AudioChunk, CompressionConfig, ModelLatency, SoundEvent
from adaspring_ros.nodes import conversions, node_main, qos, scheduling, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.params import declare
from adaspring_ros.nodes.scene_clock import wall_now_ns, wall_timer

#: the parameters `ros2 param set` may change (model, threads, queue are set up at start)
RUNTIME_PARAMETERS = ("realtime_priority",)


#: descriptions of the event policy's text parameters (values: policy.parameter_texts)
_TEXT_PARAMETERS = {
    "class_thresholds": "Per-class thresholds over their urgency's, 'label=value, ...'; '' = "
                        "none (classes the model lacks are refused).",
    "event_short_rules": "Short-sound path per urgency, 'urgency=threshold/k/n, ...': k of the "
                         "last n windows at this higher probability also confirm an event (a "
                         "1 s doorbell cannot give event_k votes); an urgency not named, or "
                         "threshold 0, has none; '' = none.",
    "event_single_window": "Single-window path per class, 'label=threshold, ...': one window "
                           "at this probability confirms an event of that class (a knock "
                           "sequence fits in one window); '' = none.",
    "event_hold_s": "Hold per urgency, 'urgency=seconds, ...': an event of that urgency is "
                    "confirmed (and an emergency notified) only once the sound has gone on "
                    "this long; one that stops sooner is no event (real alarms keep sounding; "
                    "alarm-like TV music does not); an urgency not named, or 0, has none; '' = "
                    "none.",
}


class InferenceNode(Node):
    """Audio and configurations in, detections out; the model itself lives in a ModelSlot."""

    def __init__(self, **kwargs) -> None:
        super().__init__("inference", **kwargs)
        path, hop, depth, threads, window_s, report_s = self._declare_parameters()
        self.health = Health(self)
        self.loaded = checkpoint.load(path or None)  # CheckpointError: node_main reports it
        self.classes = tuple(self.loaded.meta.get("classes", CLASSES))
        self._setup_events(hop)
        import torch

        torch.set_num_threads(threads or int(self.loaded.profile.meta.get("latency_threads", 1)))
        self.health.values["torch_threads"] = str(torch.get_num_threads())
        self.arch = self.loaded.profile.arch
        backbone = ss.backbone_configuration(self.arch)
        self.slot = sc.ModelSlot(sc.ActiveModel(
            0, backbone, self.loaded.net.get_active_subnet(backbone), self.loaded.version))
        self.windower = sc.AudioWindower(hop)
        # the first window through librosa and torch costs ~1 s of one-off set-up; pay it now,
        # not on the first sound (a burst arriving meanwhile would overflow the audio queue)
        silent = sc.Window(np.zeros(features.WINDOW_SAMPLES, np.float32), 0, 0, 0, 0)
        sc.classify(self.slot.current, silent, self.classes)
        self._format = None
        self._model_ms = deque(maxlen=200)
        self.meter = LatencyMeter(window_s)
        self.pub_latency = self.create_publisher(ModelLatency, topics.LATENCY, qos.reliable(50))
        self.pub_events = self.create_publisher(SoundEvent, topics.EVENTS, qos.reliable(100))
        self.pub_windows = self.create_publisher(SoundEvent, topics.WINDOWS, qos.reliable(100))
        self.pub_notify = self.create_publisher(SoundEvent, topics.NOTIFICATIONS, qos.reliable(100))
        self.pub_active = self.create_publisher(UInt32, topics.ACTIVE_CONFIG, qos.latched())
        self.pub_active.publish(UInt32(data=0))
        self.create_subscription(AudioChunk, topics.AUDIO, self.on_audio, qos.audio(depth),
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.create_subscription(CompressionConfig, topics.CONFIG, self.on_config, qos.latched(),
                                 callback_group=MutuallyExclusiveCallbackGroup())
        wall_timer(self, 1.0, self.publish_health, MutuallyExclusiveCallbackGroup())
        wall_timer(self, report_s, self.publish_latency, MutuallyExclusiveCallbackGroup())
        # the priority belongs to the thread that runs the callbacks: ask from inside one
        self._priority_timer = wall_timer(self, 0.001, self._apply_initial_priority)
        self.add_on_set_parameters_callback(self.on_parameters)

    def _declare_parameters(self) -> tuple:
        """(checkpoint path, hop, audio queue depth, torch threads, latency window, latency
        report period); sets self.emergency."""
        path = declare(self, "checkpoint", "", "Self-evolutionary network checkpoint ('' = the "
                       "shipped models/ubiear_supernet.pt).", read_only=True)
        hop = declare(self, "hop_seconds", 0.5, "Window hop: 1 s windows start every hop "
                      "seconds; events need overlapping windows (<= 0.5).",
                      low=0.05, high=1.0, read_only=True)
        depth = declare(self, "audio_queue_depth", 400, "Audio subscription depth (chunks): "
                        "bounds memory under overload; overflow shows as lost chunks.",
                        low=1, high=100000, read_only=True)
        self.emergency = tuple(declare(self, "emergency_classes",
                                       list(EMERGENCY_CLASSES),
                                       "Labels that also go to notifications.",
                                       read_only=True))
        threads = declare(self, "torch_threads", 1, "torch intra-op threads; 0 = as many as "
                          "the profile's latencies were measured with. 1 suits a robot whose "
                          "cores are shared by the other nodes.", low=0, high=64, read_only=True)
        window_s = declare(self, "latency_window_s", 3.0, "Recent windows the reported model "
                           "latency covers, real s.", low=0.2, high=600.0, read_only=True)
        report_s = declare(self, "latency_report_period_s", 1.0, "How often inference/latency "
                           "is published, real s.", low=0.05, high=60.0, read_only=True)
        declare(self, "realtime_priority", 0, "SCHED_FIFO priority of the thread that runs "
                "this node's callbacks (1-98), 0 = the normal scheduler. Keeps the measured "
                "forward time the model's own when other processes compete for the cores; "
                "refused without rtprio rights (the node says how to grant them and runs on).",
                low=0, high=scheduling.MAX_PRIORITY)
        return path, hop, depth, threads, window_s, report_s

    # ------------------------------------------------------------------ scheduling
    def _apply_initial_priority(self) -> None:
        self._priority_timer.cancel()
        self.destroy_timer(self._priority_timer)
        state = self._apply_priority(self.get_parameter("realtime_priority").value)
        if not state.granted:
            self.get_logger().warning(state.reason)

    def _apply_priority(self, priority: int) -> scheduling.SchedulingState:
        state = scheduling.set_realtime_priority(priority)
        self.health.values["scheduling"] = state.policy
        if state.granted:
            self.health.clear("scheduling")
        else:
            self.health.count("realtime_refused")
            self.health.warn("scheduling", state.reason)
        return state

    def on_parameters(self, params) -> SetParametersResult:
        """realtime_priority applies at once (this callback runs on the executor thread)."""
        for p in params:
            if p.name == "realtime_priority":
                state = self._apply_priority(int(p.value))
                if not state.granted:
                    return SetParametersResult(successful=False, reason=state.reason)
        return SetParametersResult(successful=True)

    def _setup_events(self, hop: float) -> None:
        """The calibration and the event policy from the parameters (core.events)."""
        ro = {"read_only": True}
        temperature = declare(self, "calibration_temperature", 0.0, "Softmax temperature; 0 = "
                              "the checkpoint's (fitted on validation), else a sidecar "
                              "<checkpoint>.calibration.json, else 1.", low=0.0, high=20.0, **ro)
        rules = {}
        for urgency, (thr, k, n) in event_policy.DEFAULT_RULES.items():
            rules[urgency] = (declare(self, f"event_threshold_{urgency}", thr, f"Calibrated "
                                      f"probability a window needs to vote for an {urgency} "
                                      "class.", low=0.01, high=1.0, **ro), k, n)
        k0, n0 = event_policy.DEFAULT_RULES[event_policy.EMERGENCY][1:]
        k = declare(self, "event_k", k0, "Windows of the last event_n that must vote for a "
                    "class to confirm an event.", low=1, high=20, **ro)
        n = declare(self, "event_n", n0, "Windows the k-of-n vote looks back over.", low=1,
                    high=20, **ro)
        rules = {u: (thr, k, n) for u, (thr, _, _) in rules.items()}
        texts = {name: declare(self, name, value, _TEXT_PARAMETERS[name], **ro)
                 for name, value in event_policy.parameter_texts().items()}
        policy_kw = {
            "release_ratio": declare(self, "event_release_ratio",
                                     event_policy.DEFAULT_RELEASE_RATIO, "An event goes on while "
                                     "windows reach this fraction of its threshold.",
                                     low=0.05, high=1.0, **ro),
            "off_windows": declare(self, "event_off_windows", 2, "Windows below the release "
                                   "level that end an event.", low=1, high=20, **ro),
            "notify_cooldown_s": declare(self, "notify_cooldown_s", 30.0, "Audio seconds after "
                                         "a notification in which the same class is not "
                                         "notified again.", low=0.0, high=3600.0, **ro),
            "merge_gap_s": declare(self, "event_merge_gap_s", event_policy.DEFAULT_MERGE_GAP_S,
                                   "Audio seconds: an event of the same class confirmed within "
                                   "this gap after an event ended continues it (one SoundEvent "
                                   "per long sound); the event is published once the gap has "
                                   "passed. 0 = publish at the offset.", low=0.0, high=60.0,
                                   **ro)}
        self.stream_timeout_s = declare(self, "stream_timeout_s", 2.0, "Real seconds without "
                                        "audio that close open events at the last audio "
                                        "received.", low=0.1, high=600.0, **ro)
        self.calibration = calibration.Calibration(temperature, source="parameter") \
            if temperature > 0 else calibration.from_meta(self.loaded.meta, self.loaded.path)
        self.policy = event_policy.from_parameter_texts(
            self.classes, texts, hop_s=hop, emergency=self.emergency, urgency_rules=rules,
            **policy_kw)
        self.tracker = EventTracker(self.policy)
        self._last_audio_wall = None
        self.health.values["temperature"] = f"{self.calibration.temperature:.3f}"
        self.health.values["calibration"] = self.calibration.source

    # ------------------------------------------------------------------ configuration
    def on_config(self, msg: CompressionConfig) -> None:
        try:
            config = conversions.config_from_msg(msg, self.arch, self.loaded.version)
        except conversions.ConfigMessageError as exc:
            self.health.count("configs_rejected")
            self.get_logger().error(f"configuration refused, keeping the current model: {exc}")
            return
        t0 = time.perf_counter()
        current = self.slot.current
        if config == current.config:
            module = current.module
        else:
            module = self.loaded.net.get_active_subnet(config)
            sc.warm_up(module)
        self.slot.swap(sc.ActiveModel(msg.config_id, config, module, self.loaded.version))
        self.pub_active.publish(UInt32(data=msg.config_id))
        self._model_ms.clear()
        swap_ms = (time.perf_counter() - t0) * 1000
        self.meter.note_swap(msg.config_id, swap_ms)
        self.health.count("config_swaps")
        self.health.values["swap_ms"] = f"{swap_ms:.2f}"
        self.get_logger().info(f"now running config {msg.config_id}: {' '.join(config)}")

    # ------------------------------------------------------------------ audio
    def on_audio(self, msg: AudioChunk) -> None:
        try:
            frames, fmt = conversions.audio_frames(msg)
            mono = sc.chunk_to_16k_mono(frames, fmt.sample_rate)
        except (pcm.PcmError, features.AudioError) as exc:
            self.health.count("chunks_rejected")
            self.get_logger().warning(f"audio chunk {msg.sequence} dropped: {exc}",
                                      throttle_duration_sec=5.0)
            return
        if self._format is not None and fmt != self._format:
            self.health.count("format_changes")
            self.get_logger().info(f"audio format changed {self._format} -> {fmt}")
        self._format = fmt
        peak = float(np.max(np.abs(frames)))
        if peak >= 0.999:
            self.health.count("clipped_chunks")
        elif peak == 0.0:
            self.health.count("silent_chunks")
        self.health.count("chunks_received")
        stamp = conversions.stamp_ns(msg.header.stamp)
        before = (self.windower.lost_chunks, self.windower.discarded_samples)
        windows = self.windower.push(mono, msg.sequence, stamp)
        if (self.windower.lost_chunks, self.windower.discarded_samples) != before:
            self.close_events("audio jumped")  # windows across a gap are not consecutive
        self._last_audio_wall = time.monotonic()
        for window in windows:
            self.classify_and_publish(window)

    def classify_and_publish(self, window: sc.Window) -> None:
        model = self.slot.current  # one whole model for this window, whatever swaps meanwhile
        det = sc.classify(model, window, self.classes, self.calibration.temperature)
        self._model_ms.append(det.inference_ms)
        self.meter.add(det.config_id, det.inference_ms, time.monotonic())
        latency_ms = (wall_now_ns() - window.ready_stamp_ns) / 1e6
        self.pub_windows.publish(conversions.detection_msg(
            det, stamp_ns=window.first_stamp_ns, audio_sequence=window.last_sequence,
            urgency=self.policy.urgency(det.label), latency_ms=latency_ms))
        self.health.count("windows_classified")
        try:
            updates = self.tracker.push(WindowScore(window.first_stamp_ns, det.probs,
                                                    window.last_sequence, det.config_id))
        except ValueError as exc:  # non-finite probabilities: the window cannot vote
            self.health.count("windows_not_scored")
            self.get_logger().warning(f"window not scored for events: {exc}",
                                      throttle_duration_sec=5.0)
            return
        self.publish_updates(updates, latency_ms, det.inference_ms)

    def publish_updates(self, updates, latency_ms: float, model_ms: float) -> None:
        """Closed events to sound_events; confirmed emergencies (once) to notifications."""
        for update in updates:
            msg = conversions.event_msg(update.event, onset=update.kind == "onset",
                                        latency_ms=latency_ms, model_latency_ms=model_ms)
            if update.kind == "closed":
                self.pub_events.publish(msg)
                self.health.count("events")
            elif update.notify:
                self.pub_notify.publish(msg)
                self.health.count("notifications")

    def close_events(self, why: str) -> None:
        """Close every open event at the last audio received (the stream stopped or jumped)."""
        updates = self.tracker.close_all()
        if updates:
            self.get_logger().info(f"{why}: closed {len(updates)} open event(s) at the last "
                                   "audio received")
            self.health.count("events_closed_by_stream_end", len(updates))
        self.publish_updates(updates, float("nan"), float("nan"))

    def publish_latency(self) -> None:
        """Per configuration: model latency p50/p95 over its recent windows and its swap time."""
        active = self.slot.current.config_id
        stamp = self.get_clock().now().to_msg()
        for summary in self.meter.summaries(time.monotonic()):
            self.pub_latency.publish(conversions.summary_to_latency_msg(
                summary, checkpoint_version=self.loaded.version,
                active=summary.config_id == active, stamp=stamp))

    def publish_health(self) -> None:
        idle = self._last_audio_wall is not None and \
            time.monotonic() - self._last_audio_wall > self.stream_timeout_s
        if idle and (self.tracker.open_events or self.tracker.pending_events):
            self.close_events(f"no audio for {self.stream_timeout_s:g} s")
        self.health.values["lost_chunks"] = str(self.windower.lost_chunks)
        # sounds that passed the vote but stopped before their urgency's hold (event_hold_s):
        # what the hold took away, so an integrator tuning it sees the cost
        self.health.values["events_discarded_short_of_hold"] = str(self.tracker.discarded)
        self.health.values["config_id"] = str(self.slot.current.config_id)
        self.health.values["config"] = " ".join(self.slot.current.config)
        if self._model_ms:
            self.health.values["model_ms_median"] = f"{statistics.median(self._model_ms):.3f}"
        if self.windower.lost_chunks:
            self.health.warn("lost", f"{self.windower.lost_chunks} audio chunks lost")
        self.health.publish()


#: the executable's entry point (setup.py) and ``python -m``'s
main = partial(node_main.run, InferenceNode)


if __name__ == "__main__":
    main()
