"""The microphone node live: no capture device, and the scripted scene on the wall clock.

(a) source=alsa (what the bare launch uses) on a machine without a capture device: the node
stays up, says so once with the fix, shows WARN on /diagnostics, and publishes no audio (it
never falls back to the script, whose fake alarms must not reach a user).
(b) source=scene without use_sim_time (simulated_audio:=true alone): the scripted day plays in
real time from 09:00 at start-up; its first event starts at 09:00:13.4 and lasts several seconds,
played one second at a time at 1x (10 chunks of 100 ms a second, one ground-truth label a
second), not in one burst. Before, scene times were compared with the epoch clock and the whole
day went out in one burst, and later a multi-second event went out in one 10 ms tick.
"""

from __future__ import annotations

import time

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from adaspring_ros.msg import AudioChunk, SoundEvent
from adaspring_ros.nodes import qos
from adaspring_ros.testing.fault_scenarios import Diagnostics, start

pytestmark = pytest.mark.ros


def test_live_capture_without_a_device_says_so_once_and_keeps_running(ros):
    diags = Diagnostics(ros)
    audio = ros.subscribe(AudioChunk, "audio", qos=qos.audio())
    mic = start(ros, "microphone", source="alsa", alsa_device="no-such-microphone")
    assert ros.spin_until(lambda: getattr(diags.latest.get("microphone"), "level", None)
                          == DiagnosticStatus.WARN, 60), mic.output()
    message = diags.latest["microphone"].message
    assert "no capture device" in message and "alsa_device" in message, message
    ros.spin_for(6.0)  # past one retry
    assert mic.running, mic.output()
    assert mic.output().count("no capture device") == 1, mic.output()
    assert audio.messages == []
    assert diags.values("microphone")["source"] == "alsa"


def test_scripted_scene_on_the_wall_clock_plays_in_real_time(ros):
    audio = ros.subscribe(AudioChunk, "audio", qos=qos.audio(1000))
    truth = ros.subscribe(SoundEvent, "scene/ground_truth", qos=100)
    mic = start(ros, "microphone", source="scene", playback_speed=1.0)
    mic.wait_for_output("audio source: scene", timeout=60)
    started = time.monotonic()
    truth.wait_for(1, timeout=30)
    first_after = time.monotonic() - started
    assert first_after > 10.0, first_after  # 09:00:13.4, not at once
    # the first event lasts several seconds (day_scene.DURATION_S), one truth per played second:
    # when its first second is labelled, about one second of audio has gone out, not the event
    ros.spin_for(0.3)
    assert len(audio.messages) <= 16, len(audio.messages)
    ros.spin_until(lambda: time.monotonic() - started > 21.0, 30)
    played_s = time.monotonic() - started - (first_after - 1.0)  # since the first second began
    chunks, seconds = len(audio.messages), len(truth.messages)
    assert 10 * (played_s - 2.0) <= chunks <= 10 * (played_s + 1.0), (chunks, played_s)
    assert chunks // 10 - 1 <= seconds <= chunks // 10 + 1, (seconds, chunks)  # 100 ms chunks
