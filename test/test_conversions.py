"""The messages the nodes publish, built in conversions and read back through its checks."""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from adaspring_ros.core.audio import pcm
from adaspring_ros.core.audio.stream_classifier import Detection
from adaspring_ros.nodes import conversions


def test_stamp_split_round_trips_nanoseconds():
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_700_000_123_999_999_999):
        t = conversions.set_stamp(Time(), ns)
        assert 0 <= t.nanosec < 1_000_000_000
        assert conversions.stamp_ns(t) == ns


def test_audio_chunk_decodes_to_the_samples_it_was_built_from():
    samples = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    msg = conversions.audio_chunk_msg(samples, stamp_ns=5_000_000_001, sequence=3,
                                      encoding=pcm.F32LE, frame_id="mic")
    frames, fmt = conversions.audio_frames(msg)
    assert (fmt.sample_rate, fmt.channels, msg.sequence) == (16000, 1, 3)
    assert np.array_equal(frames[:, 0], samples)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 1)


def test_platform_context_leaves_the_application_limits_to_the_evolution_node():
    msg = conversions.platform_context_msg(
        battery=0.5, battery_source="simulated", storage_budget_bytes=1_500_000,
        event_rate_per_min=2.0, scene_time_s=36000.0, stamp=Time(sec=1))
    assert math.isnan(msg.latency_budget_ms) and math.isnan(msg.lambda1)
    ctx = conversions.msg_to_context(msg, latency_budget_ms=3.0, accuracy_loss_threshold=0.5)
    assert (ctx.latency_budget_ms, ctx.accuracy_loss_threshold) == (3.0, 0.5)
    assert ctx.stamp_s == 36000.0 and ctx.lambda2 == 0.5


def test_events_carry_label_index_and_emergency():
    truth = conversions.ground_truth_msg("fire_alarm", audio_sequence=9, stamp=Time(sec=2))
    assert truth.emergency and truth.confidence == 1.0 and truth.audio_sequence == 9
    det = Detection(class_index=1, label="doorbell", confidence=0.9, inference_ms=0.3,
                    config_id=4)
    event = conversions.detection_msg(det, stamp_ns=2_500_000_000, audio_sequence=19,
                                      urgency="social", latency_ms=7.5)
    assert (event.label, event.class_index, event.config_id) == ("doorbell", 1, 4)
    assert (event.header.stamp.sec, event.header.stamp.nanosec) == (2, 500_000_000)
    assert event.kind == event.KIND_WINDOW and event.urgency == event.URGENCY_SOCIAL
    assert not event.emergency and event.duration_s == 1.0 and event.start == event.header.stamp
    assert truth.urgency == truth.URGENCY_EMERGENCY and truth.kind == truth.KIND_WINDOW


def test_event_records_become_one_message_with_start_duration_peak_and_urgency():
    from adaspring_ros.core.events.tracker import SoundEventRecord

    rec = SoundEventRecord(event_id=7, label="fire_alarm", class_index=0, urgency="emergency",
                           start_ns=10_250_000_000, end_ns=14_750_000_000,
                           confirmed_ns=11_500_000_000, peak_confidence=0.97,
                           mean_confidence=0.8, windows=9, first_sequence=100,
                           last_sequence=2**32 + 5, config_id=3, end_reason="stream_end")
    msg = conversions.event_msg(rec, onset=False, latency_ms=4.0, model_latency_ms=1.5)
    assert msg.kind == msg.KIND_EVENT and msg.emergency
    assert msg.urgency == msg.URGENCY_EMERGENCY and msg.event_id == 7
    assert (msg.start.sec, msg.start.nanosec) == (10, 250_000_000) == \
        (msg.header.stamp.sec, msg.header.stamp.nanosec)
    assert msg.duration_s == 4.5 and msg.detection_delay_s == 1.25
    assert msg.confidence == msg.peak_confidence == pytest.approx(0.97)
    assert msg.windows == 9 and msg.end_reason == "stream_end" and msg.audio_sequence == 5
    onset = conversions.event_msg(rec, onset=True, latency_ms=4.0, model_latency_ms=1.5)
    assert onset.kind == onset.KIND_ONSET
