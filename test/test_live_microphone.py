"""The microphone node live: no capture device, and the scripted scene on the wall clock.

(a) source=alsa (what the bare launch uses) on a machine without a capture device: the node
stays up, says so once with the fix, shows WARN on /diagnostics, and publishes no audio (it
never falls back to the script, whose fake alarms must not reach a user).
(b) source=scene without use_sim_time (simulated_audio:=true alone): the scripted day plays in
real time from 09:00 at start-up; its first events are at 09:00:13.4 and 09:00:18.6, so about
20 s in, two 1 s clips have played. Before, scene times were compared with the epoch clock and
the whole day (7,650 chunks) went out in one burst.
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
    ros.spin_until(lambda: time.monotonic() - started > 21.0, 30)
    assert 1 <= len(truth.messages) <= 2, [m.label for m in truth.messages]
    assert 10 <= len(audio.messages) <= 25, len(audio.messages)  # 1 s clips at 1x, 100 ms chunks
