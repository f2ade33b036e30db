"""Event detection on top of window classification (issue 11): policy, k-of-n, offsets,
notifications, stream end, calibration. Pure core, no ROS."""

import json
import re

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
    kw.setdefault("merge_gap_s", 0.0)  # closed at the offset; the merge tests set a gap
    kw.setdefault("holds", {pol.EMERGENCY: 0.0})  # confirmed at once; the hold tests set one
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
    t = tracker(merge_gap_s=0.0)  # fragments stay apart: what the cooldown is for
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


def test_same_class_detections_within_the_merge_gap_are_one_event():
    """A long sound whose confidence dips for a few windows: two confirmations 1.5 s apart
    (end of the first to start of the second) are ONE event with one onset and one
    notification; it is published only once the gap has passed."""
    alarm = ["fire_alarm"] * 4 + [None] * 3 + ["fire_alarm"] * 4 + [None] * 12
    t = tracker(merge_gap_s=2.0)
    ups = stream(t, alarm)
    assert [u.kind for _, u in ups] == ["onset", "closed"]
    assert ups[0][1].notify and t.notifications == 1 and t.suppressed_notifications == 0
    ev = ups[1][1].event
    # positive windows 0-3 and 7-10: from centre(0) - half hop to centre(10) + half hop
    assert ev.start_ns == int(0.25 * NS) and ev.end_ns == int(5.75 * NS)
    assert ev.windows == 8 and ev.merged == 1 and ev.end_reason == "offset"
    assert ev.event_id == ups[0][1].event.event_id
    assert ev.confirmed_ns == ups[0][1].event.confirmed_ns  # the delay is the first onset's
    # published after the second part ended (window 12) and the gap passed, not before
    closed_at = ups[1][0]
    assert 12 < closed_at <= 12 + 2.0 / HOP + 3
    # without the gap: two events
    assert [u.kind for _, u in stream(tracker(merge_gap_s=0.0), alarm)] == \
        ["onset", "closed", "onset", "closed"]


def test_detections_further_apart_than_the_gap_or_of_another_class_stay_apart():
    t = tracker(merge_gap_s=2.0)
    # 4.5 s from the first event's end (1.75 s) to the second's start (6.25 s): two events
    ups = stream(t, ["doorbell"] * 3 + [None] * 10 + ["doorbell"] * 4 + [None] * 12)
    assert [(u.kind, u.event.label) for _, u in ups] == [
        ("onset", "doorbell"), ("closed", "doorbell"), ("onset", "doorbell"),
        ("closed", "doorbell")]
    first = ups[1][1].event
    assert first.merged == 0 and first.end_ns == int(1.75 * NS)
    assert ups[1][0] < ups[2][0]  # the first was published before the second began
    # a different class in the gap neither merges nor is merged
    t = tracker(merge_gap_s=2.0)
    ups = stream(t, ["doorbell"] * 3 + [None] * 2 + ["fire_alarm"] * 3 + [None] * 12)
    closed = [u.event.label for _, u in ups if u.kind == "closed"]
    assert sorted(closed) == ["doorbell", "fire_alarm"]


def test_stream_end_publishes_a_pending_event_at_its_own_end():
    t = tracker(merge_gap_s=5.0)
    ups = stream(t, ["doorbell"] * 4 + [None] * 3)
    assert [u.kind for _, u in ups] == ["onset"]  # ended, pending for the gap
    assert t.pending_events == ("doorbell",) and t.open_events == ()
    closed = t.close_all()
    assert [u.kind for u in closed] == ["closed"]
    assert closed[0].event.end_ns == int(2.25 * NS) and closed[0].event.end_reason == "offset"
    assert t.pending_events == () and t.close_all() == []


def test_short_confident_sound_is_confirmed_by_the_short_path_only():
    """A 1 s doorbell gives one or two confident windows: the main rule (2 of 3 here, 3 of 4
    shipped) misses it; the short-sound path (1 of 1 at 0.95) reports it, while a window at
    0.9 (under the short threshold) still needs the main rule's votes."""
    short = {u: (0.95, 1, 1) for u in pol.URGENCIES}
    ring = [None] * 3 + ["doorbell"] + [None] * 8
    assert stream(tracker(), ring, p=0.97) == []
    t = tracker(short_rules=short)
    ups = stream(t, ring, p=0.97)
    assert [(u.kind, u.event.label) for _, u in ups] == [("onset", "doorbell"),
                                                         ("closed", "doorbell")]
    assert ups[0][0] == 3  # confirmed on that window, no waiting for more votes
    ev = ups[1][1].event
    assert ev.windows == 1 and ev.start_ns == int(1.75 * NS) and ev.end_ns == int(2.25 * NS)
    assert stream(tracker(short_rules=short), ring, p=0.9) == []
    # an emergency confirmed by the short path is notified like any other
    alarm = tracker(short_rules=short)
    assert [u.notify for _, u in stream(alarm, ["fire_alarm"] + [None] * 4, p=0.99)
            if u.kind == "onset"] == [True]


def test_single_window_path_confirms_one_very_confident_window_of_its_class_only():
    """A knock sequence fits in one window: one window at the class's single-window threshold
    confirms it; a window under it, or one of a class without the path, does not."""
    knock = [None] * 3 + ["doorbell"] + [None] * 8
    none = {u: (0.0, 1, 1) for u in pol.URGENCIES}
    t = tracker(short_rules=none, single_window={"doorbell": 0.99})
    ups = stream(t, knock, p=0.995)
    assert [(u.kind, u.event.label) for _, u in ups] == [("onset", "doorbell"),
                                                         ("closed", "doorbell")]
    assert ups[0][0] == 3 and ups[1][1].event.windows == 1
    assert stream(tracker(short_rules=none, single_window={"doorbell": 0.99}), knock,
                  p=0.98) == []
    assert stream(tracker(short_rules=none), knock, p=0.995) == []  # no default for doorbell
    beep = [None] * 3 + ["microwave_beep"] + [None] * 8
    assert stream(tracker(short_rules=none, single_window={"doorbell": 0.99}), beep,
                  p=0.995) == []
    with pytest.raises(pol.PolicyError, match="single-window threshold"):
        pol.default_policy(CLASSES, urgency_rules=RULES, single_window={"doorbell": 0.5})
    with pytest.raises(pol.PolicyError, match="unknown or background"):
        pol.default_policy(CLASSES, single_window={"door_knock": 0.999})
    # the shipped default is the knock's; the node's parameter text round-trips
    assert pol.default_policy(("door_knock", "background")).rules["door_knock"] \
        .single_threshold == pol.DEFAULT_SINGLE_WINDOW["door_knock"]
    text = pol.format_thresholds(pol.DEFAULT_SINGLE_WINDOW)
    assert pol.parse_thresholds(text) == pol.DEFAULT_SINGLE_WINDOW
    assert pol.default_policy(("door_knock", "background"), single_window=pol.parse_thresholds(
        "")).rules["door_knock"].single_threshold == 0.0


def test_class_thresholds_ask_a_class_for_more_confidence():
    classes = ("doorbell", "door_knock", "phone_ringing", "microwave_beep", "background")
    shipped = pol.default_policy(classes, hop_s=HOP)
    assert {k: r.threshold for k, r in shipped.rules.items()} == {
        "doorbell": 0.8, "door_knock": 0.8, "phone_ringing": 0.8, "microwave_beep": 0.8}
    assert shipped.release_ratio == pol.DEFAULT_RELEASE_RATIO == 0.5
    strict = pol.default_policy(classes, hop_s=HOP,
                                thresholds=pol.parse_thresholds("doorbell=0.85"))
    assert strict.rules["doorbell"].threshold == 0.85
    assert strict.rules["door_knock"].threshold == 0.8

    def events(policy):
        t = EventTracker(policy)
        p = np.full(len(classes), 0.02)
        out = []
        for i in range(12):
            q = p.copy()
            q[0] = 0.82 if 3 <= i < 7 else 0.0  # four doorbell windows at 0.82
            out += t.push(WindowScore(int(i * HOP * NS), q, i))
        return [u.kind for u in out + t.close_all()]
    assert events(strict) == [] and events(shipped) == ["onset", "closed"]
    assert pol.parse_thresholds(pol.format_thresholds({"doorbell": 0.85})) == {"doorbell": 0.85}


def test_short_path_is_validated():
    with pytest.raises(pol.PolicyError, match="short-sound threshold"):
        pol.default_policy(CLASSES, urgency_rules=RULES,
                           short_rules={pol.SOCIAL: (0.5, 1, 1)})  # under the threshold 0.6
    with pytest.raises(pol.PolicyError, match="short-sound k-of-n"):
        pol.default_policy(CLASSES, short_rules={pol.SOCIAL: (0.95, 3, 2)})
    rule = pol.default_policy(CLASSES, short_rules={pol.SOCIAL: (0.95, 2, 5)}).rules["doorbell"]
    assert rule.short and rule.depth == 5


def test_short_rules_parameter_text_round_trips_and_bad_text_says_why():
    text = pol.format_short_rules(pol.DEFAULT_SHORT_RULES)
    assert pol.parse_short_rules(text) == pol.DEFAULT_SHORT_RULES
    assert pol.parse_short_rules("") == {u: (0.0, 1, 1) for u in pol.URGENCIES}
    assert pol.parse_short_rules("social=0.9/2/3")[pol.SOCIAL] == (0.9, 2, 3)
    assert pol.parse_short_rules("social=0.9/2/3")[pol.EMERGENCY] == (0.0, 1, 1)
    with pytest.raises(pol.PolicyError, match="not one of"):
        pol.parse_short_rules("loud=0.9/1/1")
    with pytest.raises(pol.PolicyError, match="urgency=threshold/k/n"):
        pol.parse_short_rules("social=0.9")
    # the shipped short path: one window at 0.995 starts an emergency, 0.99 does not; with
    # the shipped hold, a single confident window is still no event
    shipped = pol.default_policy(CLASSES, hop_s=HOP, holds={pol.EMERGENCY: 0.0})
    assert stream(EventTracker(shipped), ["fire_alarm"] + [None] * 4, p=0.99) == []
    assert [u.kind for _, u in stream(EventTracker(shipped), ["fire_alarm"] + [None] * 4,
                                      p=0.996)] == ["onset"]
    held = EventTracker(pol.default_policy(CLASSES, hop_s=HOP))
    assert stream(held, ["fire_alarm"] + [None] * 14, p=0.996) == []  # after the merge gap
    assert held.discarded == 1 and held.notifications == 0


def test_merge_gap_is_validated():
    with pytest.raises(pol.PolicyError, match="merge_gap_s"):
        pol.default_policy(CLASSES, merge_gap_s=-1.0)
    with pytest.raises(pol.PolicyError, match="merge_gap_s"):
        pol.default_policy(CLASSES, merge_gap_s=float("nan"))
    assert pol.default_policy(CLASSES).merge_gap_s == pol.DEFAULT_MERGE_GAP_S


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
                                 thresholds={"doorbell": 0.4, "fire_alarm": 0.4},
                                 holds={pol.EMERGENCY: 0.0})
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
    hold = pol.DEFAULT_HOLD_S[pol.EMERGENCY]
    ups = stream(t, ["fire_alarm"] * int(hold / HOP + 2), p=0.95, t0=100.0)
    assert [u.kind for _, u in ups] == ["onset"] and ups[0][1].notify
    # the shipped hold: an alarm-like burst shorter than it notifies nothing
    burst = EventTracker(pol.default_policy(CLASSES, hop_s=HOP))
    assert stream(burst, ["fire_alarm"] * int(hold / HOP - 1) + [None] * 14, p=0.999) == []
    assert burst.notifications == 0 and burst.discarded == 1


def test_hold_confirms_an_alarm_only_once_it_has_gone_on():
    """A rule with a hold: the vote starts the sound, the onset (and notification) comes once
    it has lasted hold_s; a burst that stops sooner makes no event and no notification."""
    t = tracker(holds={pol.EMERGENCY: 2.0})
    assert stream(t, [None] * 2 + ["fire_alarm"] * 3 + [None] * 6) == []  # 1.5 s: no event
    assert t.discarded == 1 and t.notifications == 0 and t.open_events == ()
    t = tracker(holds={pol.EMERGENCY: 2.0})
    ups = stream(t, [None] * 2 + ["fire_alarm"] * 8 + [None] * 4)
    assert [(i, u.kind) for i, u in ups] == [(5, "onset"), (11, "closed")]
    onset = ups[0][1]
    assert onset.notify and t.notifications == 1
    # positive windows from 1.0 s: start 1.25 s; 4 windows = 2.0 s lasted at window 5
    assert onset.event.start_ns == int(1.25 * NS)
    assert onset.event.confirmed_ns == int((5 * HOP + 1.0) * NS)
    ev = ups[1][1].event
    assert ev.start_ns == int(1.25 * NS) and ev.duration_s == pytest.approx(4.0)
    assert ev.windows == 8 and ev.detection_delay_s == pytest.approx(3.5 - 1.25)
    # social classes have no hold here: a 1.5 s doorbell is an event
    assert [u.kind for _, u in stream(t, ["doorbell"] * 3 + [None] * 4, t0=50.0)] == [
        "onset", "closed"]


def test_hold_counts_an_alarm_through_its_pauses_and_a_stream_end_before_it_is_no_event():
    # temporal-three: a pause of one window (under off_windows = 2) does not restart the hold
    t = tracker(holds={pol.EMERGENCY: 3.0})
    alarm = ["fire_alarm", "fire_alarm", None] * 4
    ups = stream(t, alarm)
    assert [u.kind for _, u in ups] == ["onset"] and ups[0][0] == 6  # 0.0-3.0 s lasted
    t = tracker(holds={pol.EMERGENCY: 3.0})
    stream(t, ["fire_alarm"] * 4)  # 2 s, then the audio stops
    assert t.open_events == ("fire_alarm",)
    assert t.close_all() == [] and t.discarded == 1 and t.open_events == ()


def test_fragments_of_one_alarm_within_the_merge_gap_count_towards_its_hold():
    """A quiet alarm heard in pieces (the confidence dips for longer than off_windows): the
    pieces within merge_gap_s are one sound, and their span counts towards the hold; a burst
    that does not go on within the gap is no event."""
    t = tracker(holds={pol.EMERGENCY: 3.0}, merge_gap_s=2.0)
    alarm = [None] * 2 + ["fire_alarm"] * 4 + [None] * 3 + ["fire_alarm"] * 4 + [None] * 12
    ups = stream(t, alarm)
    assert [(i, u.kind) for i, u in ups][:1] == [(10, "onset")]
    assert ups[0][1].notify and ups[0][1].event.start_ns == int(1.25 * NS)
    assert [u.kind for _, u in ups] == ["onset", "closed"] and ups[1][1].event.merged == 1
    t = tracker(holds={pol.EMERGENCY: 3.0}, merge_gap_s=2.0)
    assert stream(t, [None] * 2 + ["fire_alarm"] * 4 + [None] * 12) == []
    assert t.discarded == 1 and t.pending_events == () and t.notifications == 0


def test_holds_parameter_text_round_trips_and_bad_values_are_refused():
    text = pol.format_holds(pol.DEFAULT_HOLD_S)
    assert pol.parse_holds(text) == pol.DEFAULT_HOLD_S
    assert pol.parse_holds("") == {u: 0.0 for u in pol.URGENCIES}
    assert pol.parse_holds("social=2.5")[pol.SOCIAL] == 2.5
    with pytest.raises(pol.PolicyError, match="not one of"):
        pol.parse_holds("loud=2")
    with pytest.raises(pol.PolicyError, match="urgency=seconds"):
        pol.parse_holds("emergency")
    with pytest.raises(pol.PolicyError, match="0-60"):
        pol.parse_holds("emergency=-1")
    with pytest.raises(pol.PolicyError, match="hold"):
        pol.default_policy(CLASSES, holds={pol.EMERGENCY: float("nan")})
    assert pol.default_policy(CLASSES).rules["fire_alarm"].hold_s == \
        pol.DEFAULT_HOLD_S[pol.EMERGENCY]


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



@pytest.mark.parametrize(("parse", "text", "message"), [
    (pol.parse_thresholds, "doorbell", "class_thresholds item 'doorbell' is not label=value"),
    (lambda t: pol.parse_thresholds(t, "event_single_window"), "=0.9",
     "event_single_window item '=0.9' is not"),
    (pol.parse_thresholds, "doorbell=high", "class_thresholds item 'doorbell=high'"),
    (pol.parse_short_rules, "social", "event_short_rules item 'social' is not"),
    (pol.parse_holds, "loud=4", "event_hold_s item 'loud=4': 'loud' is not one of"),
])
def test_malformed_parameter_items_name_the_parameter_and_the_item(parse, text, message):
    with pytest.raises(pol.PolicyError, match=re.escape(message)):
        parse(text)


def test_parameter_items_tolerate_spaces_and_empty_items():
    assert pol.parse_thresholds(" doorbell = 0.9 ,, ") == {"doorbell": 0.9}


def test_policy_from_the_nodes_parameter_texts():
    texts = pol.parameter_texts()
    classes = ("fire_alarm", "doorbell", "background")  # no door_knock: a user's own model
    shipped = pol.from_parameter_texts(classes, texts, hop_s=HOP)
    assert shipped == pol.default_policy(classes, hop_s=HOP)
    assert shipped.rules["fire_alarm"].hold_s == pol.DEFAULT_HOLD_S[pol.EMERGENCY]
    mine = pol.from_parameter_texts(classes, {**texts, "event_single_window": "doorbell=0.995",
                                              "event_hold_s": ""}, hop_s=HOP)
    assert mine.rules["doorbell"].single_threshold == 0.995
    assert mine.rules["fire_alarm"].hold_s == 0.0
    with pytest.raises(pol.PolicyError, match="unknown or background"):
        pol.from_parameter_texts(classes, {**texts, "class_thresholds": "door_knock=0.9"})
