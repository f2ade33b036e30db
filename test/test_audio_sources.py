"""The microphone node's sources, fallback and playback pacing, without ROS."""

import numpy as np
import pytest
import soundfile

from adaspring_ros.core.audio import features, sources
from adaspring_ros.core.scene import day_scene
from adaspring_ros.core.scene.classes import CLASSES


def test_scripted_scene_renders_events_once_their_scene_time_has_passed():
    scene = sources.ScriptedScene(seed=7)
    first = scene.script[0]
    assert scene.read(None, idle=True) == []  # scene clock not started
    assert scene.read(first.scene_time_s - 0.01, idle=True) == []
    clips = scene.read(first.scene_time_s, idle=False)
    # one 1 s clip per second of the event, each labelled (an alarm's pause: background)
    assert len(clips) == first.duration_s
    assert first.label in [c.label for c in clips]
    assert set(c.label for c in clips) <= {first.label, "background"}
    assert all(c.samples.size == features.SAMPLE_RATE for c in clips)
    assert clips[0].stamp_ns is None and clips[0].samples.dtype == np.float32
    assert scene.read(first.scene_time_s, idle=True) == []  # played once only
    half_hour = day_scene.DAY_START_S + 1800.0
    rest = scene.read(half_hour, idle=True)
    assert len(rest) == sum(ev.played_s for ev in scene.script[1:]
                            if ev.scene_time_s <= half_hour)


def test_scripted_day_events_last_as_long_as_their_class_does():
    script = day_scene.make_day(CLASSES, seed=3)
    by_label = {}
    for ev in script:
        by_label.setdefault(ev.label, set()).add(ev.duration_s)
    assert by_label["background"] == {1}
    for label, (lo, hi) in day_scene.DURATION_S.items():
        assert by_label[label] <= set(range(lo, hi + 1))
    assert min(by_label["fire_alarm"]) >= 6 and by_label["door_knock"] == {2}
    # a fire alarm is heard from its first second; the whole clip is played
    alarm = next(ev for ev in script if ev.label == "fire_alarm")
    seconds = day_scene.render(alarm)
    assert len(seconds) == alarm.duration_s and seconds[0][1] == "fire_alarm"
    assert sum(label == "fire_alarm" for _, label in seconds) >= alarm.duration_s // 2


def test_same_class_events_keep_their_scene_gap_and_close_ones_are_one_true_event():
    script = day_scene.make_day(CLASSES, seed=0)
    fg = [ev for ev in script if ev.label != "background"]
    assert fg[0].lead_s == 0 and not fg[0].joined
    same = []
    for i, b in enumerate(fg):
        a = next((x for x in reversed(fg[:i]) if x.label == b.label), None)
        if a is None:
            assert b.lead_s == 0 and not b.joined  # the first of its class
            continue
        same.append(b)
        gap = b.scene_time_s - a.scene_time_s - a.duration_s
        played_between = sum(x.played_s for x in script[a.index + 1:b.index])
        assert b.joined == (gap < day_scene.ONE_EVENT_GAP_S)
        assert b.lead_s + played_between >= min(int(max(gap, 0)), day_scene.SAME_CLASS_GAP_S)
        assert b.lead_s == 0 or b.lead_s + played_between == min(int(gap),
                                                                   day_scene.SAME_CLASS_GAP_S)
    assert sum(ev.lead_s > 0 for ev in same) > 20 and sum(ev.joined for ev in same) > 5
    # the lead is played as background seconds before the event
    ev = next(b for b in same if b.lead_s >= 3)
    seconds = day_scene.render(ev)
    assert len(seconds) == ev.played_s
    assert [label for _, label in seconds[:ev.lead_s]] == ["background"] * ev.lead_s
    assert seconds[ev.lead_s][1] == ev.label
    # truth: playback times; joined events extend their class's previous one
    truth = day_scene.playback_truth(script)
    assert len(truth) == len(fg) - sum(ev.joined for ev in fg)
    assert max(end for _, _, end, _ in truth) <= sum(x.played_s for x in script)
    t = sum(x.played_s for x in script[:ev.index])
    assert (ev.label, t + ev.lead_s, t + ev.played_s, ev.snr_db) in truth or ev.joined
    for label in set(CLASSES) - {"background"}:
        mine = [x for x in truth if x[0] == label]
        assert all(a[2] + 1 <= b[1] for a, b in zip(mine, mine[1:], strict=False))  # never touching


def test_a_scene_backlog_is_rendered_one_event_per_read_in_order():
    scene = sources.ScriptedScene(seed=7, per_read=1)
    every = sources.ScriptedScene(seed=7).read(day_scene.DAY_START_S + 900.0, idle=True)
    assert len(every) > 3  # the clock ran 15 scene minutes before the first read
    due = sum(ev.scene_time_s <= day_scene.DAY_START_S + 900.0 for ev in scene.script)
    one_by_one = [scene.read(day_scene.DAY_START_S + 900.0, idle=False) for _ in range(due)]
    flat = [clip for clips in one_by_one for clip in clips]
    assert [len(clips) for clips in one_by_one] == [
        ev.played_s for ev in scene.script[:len(one_by_one)]]
    assert len(flat) == len(every) and [c.label for c in flat] == [c.label for c in every]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(flat, every, strict=True))
    assert scene.read(day_scene.DAY_START_S + 900.0, idle=True) == []


def test_file_loop_wraps_one_second_at_a_time_and_skips_unreadable_files(tmp_path):
    tone = np.sin(np.arange(24000) / 10.0).astype(np.float32) * 0.5  # 1.5 s at 16 kHz
    soundfile.write(str(tmp_path / "a.wav"), tone, 16000)
    (tmp_path / "b.wav").write_bytes(b"not audio")
    skipped = []
    loop = sources.FileLoop(str(tmp_path), on_skip=lambda p, exc: skipped.append(p.name))
    assert skipped == ["b.wav"]
    assert loop.read(None, idle=False) == []  # the previous second is still playing
    first, second = loop.read(None, idle=True)[0], loop.read(None, idle=True)[0]
    assert first.samples.size == second.samples.size == features.SAMPLE_RATE
    assert np.allclose(second.samples[:8000], loop.audio[16000:24000])
    assert np.allclose(second.samples[8000:], loop.audio[:8000])  # wrapped around


def test_file_loop_without_readable_audio_refuses_to_open(tmp_path):
    with pytest.raises(FileNotFoundError, match="no readable audio"):
        sources.FileLoop(str(tmp_path), on_skip=lambda p, exc: None)


class _Fixed(sources.AudioSource):
    name = "scene"


def test_open_source_falls_back_and_says_why():
    def broken():
        raise OSError("no microphone")

    source, passed = sources.open_source("auto", {"alsa": broken, "scene": _Fixed})
    assert source.name == "scene"
    assert [(n, str(e)) for n, e in passed] == [("alsa", "no microphone")]
    with pytest.raises(RuntimeError, match="source=files"):
        sources.open_source("files", {"files": broken})


class _Capture(sources.AudioSource):
    name = "alsa"

    def read(self, scene_s, idle):
        return [sources.Clip(np.zeros(1600, np.float32), stamp_ns=1, label="captured")]


def test_live_capture_never_falls_back_to_the_script_and_waits_for_a_device():
    now = [0.0]
    attempts = []

    def opener():
        attempts.append(now[0])
        if len(attempts) < 3:
            raise OSError("no default input device")
        return _Capture()

    source, passed = sources.open_source("alsa", {"alsa": opener, "scene": _Fixed})
    assert isinstance(source, sources.AwaitingMicrophone) and source.name == "alsa"
    assert [n for n, _ in passed] == ["alsa"]
    source._clock, source._next_try = (lambda: now[0]), 5.0
    assert source.read(None, idle=True) == [] and len(attempts) == 1  # not before retry_s
    assert "no capture device (no default input device)" in source.problem()
    assert "alsa_device" in source.problem() and "simulated_audio:=true" in source.problem()
    now[0] = 5.0
    source.read(None, idle=True)
    assert len(attempts) == 2 and source.problem()
    now[0] = 10.0
    source.read(None, idle=True)
    assert len(attempts) == 3 and source.problem() == ""  # plugged in: picked up
    assert source.read(None, idle=True)[0].label == "captured"


def test_pacer_pads_each_clip_to_whole_chunks_and_keeps_the_rate_inside_a_clip():
    now = [0.0]
    pacer = sources.Pacer(chunk_samples=1600, speed=20.0, clock=lambda: now[0])
    assert pacer.chunks_per_s == 200.0  # 20x: 200 chunks of 100 ms per second
    assert pacer.due() == [] and not pacer.busy
    pacer.add([sources.Clip(np.ones(2000, np.float32), label="doorbell"),
               sources.Clip(np.ones(1600, np.float32)), sources.Clip(np.ones(10, np.float32))])
    now[0] = 0.01  # 10 ms buys 2 chunks: the doorbell, padded to 2
    played = pacer.due()
    assert [(len(p.chunks), p.label) for p in played] == [(2, "doorbell")]
    assert played[0].chunks[1][399] == 1.0 and not played[0].chunks[1][400:].any()
    now[0] = 0.02
    assert [len(p.chunks) for p in pacer.due()] == [1, 1]  # both short clips
    now[0] = 5.0  # idle time is not saved up
    assert pacer.due() == [] and not pacer.busy


def test_pacer_spreads_a_long_clip_over_calls_at_1x_and_labels_its_last_part():
    """An 8 s scripted alarm at 1x takes 8 s, not one call (the old pacer sent it in 10 ms)."""
    now = [0.0]
    pacer = sources.Pacer(chunk_samples=1600, speed=1.0, clock=lambda: now[0])
    pacer.due()
    pacer.add([sources.Clip(np.ones(8 * 16000, np.float32), label="fire_alarm")])
    chunks, labels = 0, []
    for tick in range(1, 901):  # 9 s of 10 ms ticks
        now[0] = tick * 0.01
        for p in pacer.due():
            chunks += len(p.chunks)
            labels.append((round(now[0], 2), p.label))
        if tick == 400:
            assert 39 <= chunks <= 40, chunks  # 4 s in: 4 s of audio
    assert chunks == 80 and not pacer.busy
    assert [lab for _, lab in labels if lab is not None] == ["fire_alarm"]
    assert 7.9 <= next(t for t, lab in labels if lab) <= 8.1
    # a stalled caller catches up by at most max_catch_up_s of audio at once
    pacer.add([sources.Clip(np.ones(5 * 16000, np.float32))])
    now[0] += 0.01
    pacer.due()
    now[0] += 3.0
    assert sum(len(p.chunks) for p in pacer.due()) == 10  # 1 s of 100 ms chunks
