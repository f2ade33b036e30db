"""Event detection on top of window classification (issue 11): policy, k-of-n, offsets,
notifications, stream end, calibration. Pure core, no ROS."""

import json

import numpy as np
import pytest

from adaspring_ros.core.events import calibration, policy as pol
from adaspring_ros.core.events.tracker import NS, EventTracker, WindowScore

CLASSES = ("fire_alarm", "doorbell", "microwave_beep", "background")
HOP = 0.5


def probs(label=None, p=0.9):
    out = np.full(len(CLASSES), (1.0 - p) / (len(CLASSES) - 1))
    out[CLASSES.index(label or "background")] = p
    return out


def stream(tracker, labels, p=0.9, t0=0.0):
    """Feed one window per hop; labels[i] is the top class of window i (None = background)."""
    updates = []
    for i, label in enumerate(labels):
        start = int((t0 + i * HOP) * NS)
        for u in tracker.push(WindowScore(start, probs(label, p), sequence=i)):
            updates.append((i, u))
    return updates


#: the rules these tests were written for (the shipped defaults are tuned by bench_events)
RULES = {pol.EMERGENCY: (0.5, 2, 3), pol.SOCIAL: (0.6, 2, 3), pol.AMBIENT: (0.6, 2, 3)}


def tracker(**kw):
    return EventTracker(pol.default_policy(CLASSES, hop_s=HOP, urgency_rules=RULES, **kw))


def test_one_event_per_sound_with_start_duration_and_peak():
    t = tracker()
    ups = stream(t, [None] * 4 + ["doorbell"] * 6 + [None] * 6)
    kinds = [(u.kind, u.event.label) for _, u in ups]
    assert kinds == [("onset", "doorbell"), ("closed", "doorbell")]
    onset_i, onset = ups[0]
    assert onset_i == 5  # 2 of 3: confirmed on the second positive window
    assert not onset.notify  # social events are not notified
    ev = ups[1][1].event
    assert ev.urgency == pol.SOCIAL and not ev.emergency
    # positive windows start at 2.0 .. 4.5 s: centres 2.5 .. 5.0, widened by half a hop
    assert ev.start_ns == int(2.25 * NS) and ev.end_ns == int(5.25 * NS)
    assert ev.duration_s == pytest.approx(3.0)
    assert ev.peak_confidence == pytest.approx(0.9) and ev.windows == 6
    assert ev.detection_delay_s == pytest.approx(3.5 - 2.25)
    assert ev.end_reason == "offset" and ev.event_id == onset.event.event_id


def test_single_window_blips_and_isolated_hits_make_no_event():
    t = tracker()
    labels = [None, "fire_alarm", None, None, "fire_alarm", None, None, "doorbell", None] * 5
    assert stream(t, labels) == []
    assert t.notifications == 0


def test_threshold_is_per_class_and_applies_to_calibrated_probability():
    low = tracker(thresholds={"doorbell": 0.95})
    assert stream(low, ["doorbell"] * 6, p=0.9) == []
    t = tracker(thresholds={"doorbell": 0.85})
    assert [u.kind for _, u in stream(t, ["doorbell"] * 6, p=0.9)] == ["onset"]


def test_emergency_onset_notifies_once_and_cooldown_suppresses_fragments():
    t = tracker()
    alarm = ["fire_alarm"] * 4 + [None] * 3 + ["fire_alarm"] * 4 + [None] * 3
    ups = stream(t, alarm)
    onsets = [u for _, u in ups if u.kind == "onset"]
    closes = [u for _, u in ups if u.kind == "closed"]
    assert len(onsets) == 2 and len(closes) == 2
    assert [o.notify for o in onsets] == [True, False]  # second fragment within 30 s
    assert t.notifications == 1 and t.suppressed_notifications == 1
    assert all(c.event.emergency for c in closes)
    later = stream(t, ["fire_alarm"] * 4, t0=60.0)
    assert later[0][1].notify  # a new alarm after the cooldown is notified again


def test_hysteresis_keeps_a_pausing_alarm_as_one_event():
    t = tracker()
    # one window in a cadence gap, then the alarm continues: one event, not two
    ups = stream(t, ["fire_alarm"] * 4 + [None] + ["fire_alarm"] * 4 + [None] * 3)
    assert [u.kind for _, u in ups] == ["onset", "closed"]
    assert ups[1][1].event.windows == 8


def test_stream_that_stops_mid_event_closes_it_at_the_last_audio_time():
    t = tracker()
    stream(t, [None] * 2 + ["fire_alarm"] * 5)
    assert t.open_events == ("fire_alarm",)
    closed = t.close_all()
    assert len(closed) == 1 and closed[0].kind == "closed"
    ev = closed[0].event
    last_audio = int((6 * HOP + 1.0) * NS)  # last window starts at 3.0 s, lasts 1 s
    assert t.last_audio_ns == last_audio
    assert ev.end_ns <= last_audio and ev.end_reason == "stream_end"
    assert t.open_events == () and t.close_all() == []
    # votes do not carry across the gap: one positive window after it confirms nothing
    assert t.push(WindowScore(int(100 * NS), probs("fire_alarm"))) == []


def test_two_classes_can_be_open_at_once_and_background_never_makes_events():
    t = tracker()
    both = np.array([0.45, 0.45, 0.05, 0.05])
    pol_low = pol.default_policy(CLASSES, hop_s=HOP, urgency_rules=RULES,
                                 thresholds={"doorbell": 0.4, "fire_alarm": 0.4})
    t = EventTracker(pol_low)
    ups = []
    for i in range(3):
        ups += t.push(WindowScore(int(i * HOP * NS), both))
    assert sorted(u.event.label for u in ups) == ["doorbell", "fire_alarm"]
    bg = tracker()
    assert stream(bg, [None] * 20, p=0.99) == []


def test_bad_window_and_bad_policy_are_refused_with_the_reason():
    t = tracker()
    with pytest.raises(ValueError, match="4 finite values"):
        t.push(WindowScore(0, np.array([0.5, 0.5])))
    with pytest.raises(ValueError, match="finite"):
        t.push(WindowScore(0, np.array([np.nan, 0.5, 0.0, 0.0])))
    with pytest.raises(pol.PolicyError, match="k-of-n"):
        pol.with_rules(pol.default_policy(CLASSES), k=4, n=3)
    with pytest.raises(pol.PolicyError, match="threshold"):
        pol.default_policy(CLASSES, thresholds={"doorbell": 1.5})
    with pytest.raises(pol.PolicyError, match="unknown or background"):
        pol.default_policy(CLASSES, thresholds={"background": 0.5})
    with pytest.raises(pol.PolicyError, match="hop_s"):
        pol.default_policy(CLASSES, hop_s=1.5)


def test_shipped_default_rules_need_more_evidence_than_one_blip():
    t = EventTracker(pol.default_policy(CLASSES, hop_s=HOP))
    assert stream(t, [None, "fire_alarm", "fire_alarm", None] * 5, p=0.95) == []
    ups = stream(t, ["fire_alarm"] * 6, p=0.95, t0=100.0)
    assert [u.kind for _, u in ups] == ["onset"] and ups[0][1].notify


def test_emergency_classes_override_moves_urgency():
    p = pol.default_policy(CLASSES, emergency=("doorbell",))
    assert p.urgency("doorbell") == pol.EMERGENCY
    assert p.urgency("fire_alarm") == pol.SOCIAL
    assert p.urgency("background") == pol.AMBIENT and p.rule("background") is None


# ---------------------------------------------------------------- calibration
def overconfident(n=600, seed=0):
    """Logits of a 70 %-accurate classifier that is ~99 % confident."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < 0.7, labels, (labels + 1) % 4)
    logits = rng.normal(0, 0.3, (n, 4))
    logits[np.arange(n), pred] += 6.0
    return logits, labels


def test_temperature_scaling_lowers_nll_and_ece_and_keeps_decisions():
    logits, labels = overconfident()
    cal = calibration.fit_temperature(logits, labels)
    assert cal.temperature > 1.5  # softens an over-confident model
    assert cal.nll_after < cal.nll_before and cal.ece_after < cal.ece_before / 2
    p0, p1 = calibration.softmax(logits), calibration.softmax(logits, cal.temperature)
    assert np.array_equal(p0.argmax(1), p1.argmax(1))
    assert abs(p1.max(1).mean() - 0.7) < 0.05  # confidence now matches accuracy
    assert cal.clips == 600 and cal.split == "val"


def test_calibration_comes_from_meta_then_sidecar_then_none(tmp_path):
    ck = tmp_path / "net.pt"
    assert calibration.from_meta({}, ck).source == "none"
    assert calibration.from_meta({}, ck).temperature == 1.0
    calibration.sidecar_path(ck).write_text(json.dumps({"temperature": 2.5}))
    side = calibration.from_meta({}, ck)
    assert side.temperature == 2.5 and side.source == "sidecar"
    meta = {"calibration": calibration.Calibration(1.7, clips=9).as_meta()}
    assert calibration.from_meta(meta, ck).temperature == 1.7
    assert calibration.from_meta(meta, ck).source == "checkpoint"
    with pytest.raises(calibration.CalibrationError, match="outside"):
        calibration.from_meta({"calibration": {"temperature": -1}})
    calibration.sidecar_path(ck).write_text("{not json")
    with pytest.raises(calibration.CalibrationError, match="unreadable"):
        calibration.from_meta({}, ck)
    with pytest.raises(calibration.CalibrationError, match="NaN"):
        calibration.fit_temperature(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([0, 1]))
