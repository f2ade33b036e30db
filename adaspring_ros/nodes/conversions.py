"""Messages <-> core types. Every check of a message's content lives here, once.

Each function either returns a valid core value or raises a ValueError subclass whose text goes
into the node's log and diagnostics, so a malformed message is counted and dropped, never
half-applied.
"""

from __future__ import annotations

import math

from sensor_msgs.msg import BatteryState
from std_msgs.msg import Header

from adaspring_ros.core.context.battery import BatteryReading
from adaspring_ros.core.events import policy as event_policy
from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.latency_feedback import LatencyReport
from adaspring_ros.core.audio import features, pcm
from adaspring_ros.core.scene.classes import CLASSES, EMERGENCY_CLASSES
from adaspring_ros.msg import AudioChunk, CompressionConfig, ModelLatency, SoundEvent
from adaspring_ros.msg import DeploymentContext as ContextMsg


class ConfigMessageError(ValueError):
    """A CompressionConfig that cannot be applied to the loaded checkpoint."""


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def set_stamp(stamp, ns: int):
    """Write integer nanoseconds into a builtin_interfaces/Time (sec, nanosec); return it."""
    stamp.sec, stamp.nanosec = divmod(int(ns), 1_000_000_000)
    return stamp


def audio_chunk_msg(samples, *, stamp_ns: int, sequence: int, encoding: str = pcm.S16LE,
                    frame_id: str = "", sample_rate: int = features.SAMPLE_RATE,
                    channels: int = 1) -> AudioChunk:
    """Float samples, (n,) or (n, channels) -> AudioChunk in ``encoding`` (S16LE or F32LE)."""
    msg = AudioChunk(sequence=sequence % 2**32, sample_rate=sample_rate, channels=channels,
                     encoding=encoding, data=pcm.encode(samples, encoding))
    set_stamp(msg.header.stamp, stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def ground_truth_msg(label: str, *, audio_sequence: int, stamp) -> SoundEvent:
    """The true label of a scripted window (confidence 1), for end-to-end accuracy."""
    emergency = label in EMERGENCY_CLASSES
    return SoundEvent(header=Header(stamp=stamp), label=label,
                      class_index=CLASSES.index(label), confidence=1.0,
                      emergency=emergency, audio_sequence=audio_sequence,
                      kind=SoundEvent.KIND_WINDOW, start=stamp, duration_s=1.0,
                      peak_confidence=1.0, mean_confidence=1.0, windows=1,
                      urgency=urgency_code(event_policy.DEFAULT_URGENCY.get(
                          label, event_policy.AMBIENT)))


def urgency_code(urgency: str) -> int:
    """core.events.policy urgency name -> SoundEvent.URGENCY_* constant."""
    return event_policy.URGENCIES.index(urgency)


def detection_msg(det, *, stamp_ns: int, audio_sequence: int, urgency: str,
                  latency_ms: float) -> SoundEvent:
    """A classified window (core.audio.stream_classifier.Detection) -> SoundEvent (KIND_WINDOW)."""
    msg = SoundEvent(label=det.label, class_index=det.class_index, confidence=det.confidence,
                     config_id=det.config_id, audio_sequence=audio_sequence,
                     emergency=urgency == event_policy.EMERGENCY, latency_ms=latency_ms,
                     model_latency_ms=det.inference_ms, kind=SoundEvent.KIND_WINDOW,
                     urgency=urgency_code(urgency), duration_s=features.WINDOW_SECONDS,
                     peak_confidence=det.confidence, mean_confidence=det.confidence, windows=1)
    set_stamp(msg.header.stamp, stamp_ns)
    set_stamp(msg.start, stamp_ns)
    return msg


def event_msg(record, *, onset: bool, latency_ms: float, model_latency_ms: float,
              frame_id: str = "") -> SoundEvent:
    """core.events.tracker.SoundEventRecord -> SoundEvent (KIND_ONSET or KIND_EVENT)."""
    msg = SoundEvent(label=record.label, class_index=record.class_index,
                     confidence=record.peak_confidence, latency_ms=latency_ms,
                     model_latency_ms=model_latency_ms, config_id=record.config_id,
                     audio_sequence=record.last_sequence % 2**32,
                     emergency=record.urgency == event_policy.EMERGENCY,
                     kind=SoundEvent.KIND_ONSET if onset else SoundEvent.KIND_EVENT,
                     urgency=urgency_code(record.urgency), event_id=record.event_id % 2**32,
                     duration_s=record.duration_s, peak_confidence=record.peak_confidence,
                     mean_confidence=record.mean_confidence, windows=min(record.windows, 65535),
                     detection_delay_s=record.detection_delay_s, end_reason=record.end_reason)
    set_stamp(msg.header.stamp, record.start_ns)
    set_stamp(msg.start, record.start_ns)
    msg.header.frame_id = frame_id
    return msg


def audio_frames(msg: AudioChunk):
    """(frames float32 (n, channels), PcmFormat) or PcmError."""
    fmt = pcm.PcmFormat(int(msg.sample_rate), int(msg.channels), str(msg.encoding))
    return pcm.decode(bytes(msg.data), fmt), fmt


def context_to_msg(ctx: DeploymentContext, *, battery_source: str, scene_time_s: float,
                   stamp) -> ContextMsg:
    msg = ContextMsg()
    msg.header.stamp = stamp
    msg.battery = float(ctx.battery)
    msg.battery_source = battery_source
    storage = ctx.storage_budget_bytes
    msg.storage_budget_bytes = int(min(storage, 2**64 - 1)) if math.isfinite(storage) else 2**64 - 1
    msg.latency_budget_ms = float(ctx.latency_budget_ms)
    msg.accuracy_loss_threshold = float(ctx.accuracy_loss_threshold)
    msg.lambda1 = math.nan if ctx.lambda1 is None else float(ctx.lambda1)
    msg.lambda2 = math.nan if ctx.lambda2 is None else float(ctx.lambda2)
    msg.event_rate_per_min = float(ctx.event_rate_per_min)
    msg.scene_time_s = float(scene_time_s)
    return msg


def platform_context_msg(*, battery: float, battery_source: str, storage_budget_bytes: int,
                         event_rate_per_min: float, scene_time_s: float, stamp) -> ContextMsg:
    """What the context monitor knows: the platform. Latency budget, accuracy threshold and λ
    are NaN: the application's limits are set on the evolution node, λ derive from battery."""
    nan = math.nan
    return ContextMsg(header=Header(stamp=stamp), battery=float(battery),
                      battery_source=battery_source,
                      storage_budget_bytes=int(storage_budget_bytes), latency_budget_ms=nan,
                      accuracy_loss_threshold=nan, lambda1=nan, lambda2=nan,
                      event_rate_per_min=float(event_rate_per_min),
                      scene_time_s=float(scene_time_s))


def battery_state_msg(reading, *, capacity_ah: float, location: str, stamp) -> BatteryState:
    """A core.context.battery.BatteryReading -> sensor_msgs/BatteryState (NaN = unknown)."""
    msg = BatteryState(header=Header(stamp=stamp, frame_id="battery"),
                       voltage=float(reading.voltage), temperature=math.nan,
                       current=float(reading.current),
                       charge=float(reading.percentage * capacity_ah),
                       capacity=float(capacity_ah), design_capacity=float(capacity_ah),
                       percentage=float(reading.percentage),
                       present=not math.isnan(reading.percentage), location=location)
    if reading.power_supply_plugged is None:  # the source cannot tell (simulation)
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_UNKNOWN
    elif reading.power_supply_plugged:
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_CHARGING
    else:
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    msg.power_supply_health = BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
    return msg


_PLUGGED = (BatteryState.POWER_SUPPLY_STATUS_CHARGING, BatteryState.POWER_SUPPLY_STATUS_FULL)


def battery_reading_from_msg(msg: BatteryState) -> BatteryReading:
    """A robot driver's sensor_msgs/BatteryState -> BatteryReading (the ``topic`` source).

    Its percentage must be 0-1 or NaN (the message's convention); a driver sending 0-100 is
    refused (ValueError), not divided silently. ``present`` false reads as unknown.
    """
    pct = float(msg.percentage)
    if not math.isnan(pct) and not 0.0 <= pct <= 1.0:
        raise ValueError(f"percentage {pct} outside 0-1 (sensor_msgs/BatteryState uses 0-1)")
    plugged = None
    if msg.power_supply_status != BatteryState.POWER_SUPPLY_STATUS_UNKNOWN:
        plugged = msg.power_supply_status in _PLUGGED
    return BatteryReading(percentage=pct if msg.present else math.nan,
                          voltage=float(msg.voltage), current=float(msg.current),
                          power_supply_plugged=plugged)


def msg_to_context(msg: ContextMsg, *, latency_budget_ms: float,
                   accuracy_loss_threshold: float) -> DeploymentContext:
    """Platform context from the monitor + the application's limits -> validated core context.

    The monitor publishes NaN for latency budget and accuracy threshold (it knows the platform,
    not the application); a finite value there, from an application that sets its own, wins over
    the evolution node's parameter. NaN λ mean "derive from the battery".
    """
    def app(value: float, default: float) -> float:
        return float(value) if math.isfinite(value) else default

    storage = int(msg.storage_budget_bytes)
    ctx = DeploymentContext(
        battery=float(msg.battery),
        storage_budget_bytes=math.inf if storage == 2**64 - 1 else storage,
        latency_budget_ms=app(msg.latency_budget_ms, latency_budget_ms),
        accuracy_loss_threshold=app(msg.accuracy_loss_threshold, accuracy_loss_threshold),
        event_rate_per_min=float(msg.event_rate_per_min),
        lambda1=None if math.isnan(msg.lambda1) else float(msg.lambda1),
        lambda2=None if math.isnan(msg.lambda2) else float(msg.lambda2),
        stamp_s=float(msg.scene_time_s) if math.isfinite(msg.scene_time_s)
        else stamp_ns(msg.header.stamp) / 1e9,
    )
    return ctx.validated()


def result_to_msg(result, *, config_id: int, checkpoint_version: str, trigger: str,
                  context: ContextMsg, stamp) -> CompressionConfig:
    m = result.metrics
    return CompressionConfig(
        header=Header(stamp=stamp), config_id=int(config_id),
        checkpoint_version=checkpoint_version, layer_operators=list(result.config),
        encoding=[int(x) for x in result.encoding],
        predicted_accuracy_loss=float(m.accuracy_loss), predicted_latency_ms=float(m.latency_ms),
        macs=int(m.macs), params_bytes=int(m.params_bytes), activation_bytes=int(m.act_bytes),
        energy=float(m.energy), energy_per_window_mj=float(result.energy_per_window_j * 1e3),
        energy_objective=result.energy_objective, search_time_ms=float(result.search_time_ms),
        candidates_evaluated=int(result.candidates_evaluated), feasible=bool(result.feasible),
        violated_constraints=list(result.violated), trigger=trigger, reason=result.reason,
        context=context)


def config_from_msg(msg: CompressionConfig, arch: ss.Architecture,
                    checkpoint_version: str) -> tuple:
    """The operator tuple to run, or ConfigMessageError naming what does not fit."""
    if msg.checkpoint_version != checkpoint_version:
        raise ConfigMessageError(
            f"configuration {msg.config_id} is for checkpoint {msg.checkpoint_version!r}, "
            f"this node runs {checkpoint_version!r}"
        )
    try:
        return ss.validate_configuration(arch, list(msg.layer_operators))
    except ValueError as exc:
        raise ConfigMessageError(f"configuration {msg.config_id}: {exc}") from exc


def summary_to_latency_msg(summary, *, checkpoint_version: str, active: bool,
                           stamp) -> ModelLatency:
    """core.model.latency_meter.Summary -> ModelLatency (one configuration)."""
    msg = ModelLatency()
    msg.header.stamp = stamp
    msg.checkpoint_version = checkpoint_version
    msg.config_id = int(summary.config_id)
    msg.active = bool(active)
    msg.p50_ms = float(summary.p50_ms)
    msg.p95_ms = float(summary.p95_ms)
    msg.windows = int(min(summary.windows, 2**32 - 1))
    msg.span_s = float(summary.span_s)
    msg.swap_ms = float(summary.swap_ms)
    return msg


def latency_report_from_msg(msg: ModelLatency, received_s: float) -> LatencyReport:
    """ModelLatency -> core LatencyReport; the core's LatencyFeedback judges its values."""
    return LatencyReport(config_id=int(msg.config_id),
                         checkpoint_version=str(msg.checkpoint_version),
                         p50_ms=float(msg.p50_ms), p95_ms=float(msg.p95_ms),
                         windows=int(msg.windows), swap_ms=float(msg.swap_ms),
                         stamp_s=float(received_s))
