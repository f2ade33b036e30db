"""Home audio for the training data and the benchmarks (issue 11): espeak-ng speech bank,
non-event home sounds, streams with known events, and event scoring."""

import numpy as np
import pytest

from adaspring_ros.core.events import policy as pol
from adaspring_ros.core.events import scoring
from adaspring_ros.core.events.tracker import NS, SoundEventRecord
from adaspring_ros.core.scene import event_stream, home_sounds, sound_synth, speech_bank


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    cache = tmp_path_factory.mktemp("speech")
    return cache, speech_bank.ensure_bank(cache, "heldout", seed=0, size=6)


def test_speech_bank_renders_real_speech_once_per_utterance(bank):
    cache, paths = bank
    assert len(paths) == 6 and all(p.exists() for p in paths)
    before = [p.stat().st_mtime_ns for p in paths]
    again = speech_bank.ensure_bank(cache, "heldout", seed=0, size=6)
    assert again == paths and [p.stat().st_mtime_ns for p in again] == before  # cached
    audio = speech_bank.load_bank(str(cache), "heldout", 0, 6)
    for x in audio:
        assert x.dtype == np.float32 and 0.5 < x.size / 16000 < 15
        assert np.max(np.abs(x)) == pytest.approx(1.0)
        # speech has pauses and bursts: its 50 ms energy varies by more than 20 dB
        frames = x[: x.size // 800 * 800].reshape(-1, 800)
        db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        assert db.max() - np.percentile(db, 10) > 20


def test_utterances_are_seeded_and_partitions_never_share_one():
    a = speech_bank.utterance_spec("train", 0, 3)
    assert a == speech_bank.utterance_spec("train", 0, 3)
    specs = {p: [speech_bank.utterance_spec(p, 0, i) for i in range(40)]
             for p in speech_bank.PARTITIONS}
    texts = {p: {s["text"] + s["voice"] for s in v} for p, v in specs.items()}
    assert not texts["train"] & texts["bench"] and not texts["train"] & texts["heldout"]
    langs = {s["voice"].split("+")[0] for s in specs["train"]}
    assert len(langs) >= 6  # many languages and voices
    with pytest.raises(speech_bank.SpeechBankError, match="unknown speech partition"):
        speech_bank.utterance_spec("other", 0, 0)


def test_missing_espeak_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(speech_bank.shutil, "which", lambda name: None)
    with pytest.raises(speech_bank.SpeechBankError, match="apt-get install -y espeak-ng"):
        speech_bank.ensure_bank(tmp_path, "train", size=1)


@pytest.mark.parametrize("kind", sorted(home_sounds.SOURCE_WEIGHTS)
                         + sorted(home_sounds.HARD_NEGATIVE_WEIGHTS))
def test_every_home_sound_is_finite_seeded_and_unit_level(kind, bank):
    cache, _ = bank
    speech = speech_bank.load_bank(str(cache), "heldout", 0, 6)
    x = home_sounds.render_source(kind, np.random.default_rng(5), speech=speech)
    y = home_sounds.render_source(kind, np.random.default_rng(5), speech=speech)
    assert x.shape == (16000,) and np.isfinite(x).all() and np.array_equal(x, y)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-6)


def test_home_clips_keep_render_clip_contract_and_refuse_bad_input():
    for label in sound_synth.CLASSES:
        clip = home_sounds.render_home_clip(label, np.random.default_rng(1), 5.0)
        assert clip.dtype == np.float32 and clip.shape == (16000,)
        assert np.max(np.abs(clip)) <= 0.99 + 1e-6
    with pytest.raises(ValueError, match="unknown label"):
        home_sounds.render_home_clip("toaster", np.random.default_rng(1), 5.0)
    with pytest.raises(ValueError, match="finite"):
        home_sounds.render_home_clip("doorbell", np.random.default_rng(1), float("nan"))
    with pytest.raises(ValueError, match="unknown home sound"):
        home_sounds.render_source("jet", np.random.default_rng(1))


def test_hard_negatives_are_seeded_background_clips_never_in_scenes():
    """Hard negatives (issue 11) are clips of their own: every kind is drawn, each clip is a
    pure function of its generator, and home scenes (the benchmark streams) never pick one."""
    assert not set(home_sounds.HARD_NEGATIVE_WEIGHTS) & set(home_sounds.SOURCE_WEIGHTS)
    kinds = set()
    for seed in range(40):
        clip, kind = home_sounds.render_hard_negative_clip(np.random.default_rng(seed), 5.0)
        again, _ = home_sounds.render_hard_negative_clip(np.random.default_rng(seed), 5.0)
        assert np.array_equal(clip, again)
        assert clip.dtype == np.float32 and clip.shape == (16000,)
        assert np.max(np.abs(clip)) <= 0.99 + 1e-6 and np.sqrt(np.mean(clip**2)) > 1e-3
        kinds.add(kind)
    assert kinds == set(home_sounds.HARD_NEGATIVE_WEIGHTS)
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert not set(home_sounds.pick_kinds(rng, 3)) & set(home_sounds.HARD_NEGATIVE_WEIGHTS)
    with pytest.raises(ValueError, match="finite"):
        home_sounds.render_hard_negative_clip(np.random.default_rng(1), float("inf"))


def test_render_clip_is_unchanged_by_the_refactor():
    """The scripted day plays sound_synth.render_clip: its output for a seed must not move."""
    a = sound_synth.render_clip("background", np.random.default_rng(123), 5.0)
    b = sound_synth.render_clip("background", np.random.default_rng(123), 5.0)
    assert np.array_equal(a, b)


def test_streams_place_events_at_known_times():
    labels = ["fire_alarm", "doorbell", "door_knock"]
    s = event_stream.render_stream(3, 60.0, labels, snr_db=(15.0, 15.0))
    again = event_stream.render_stream(3, 60.0, labels, snr_db=(15.0, 15.0))
    assert np.array_equal(s.audio, again.audio) and s.events == again.events
    assert [e.label for e in s.events] == labels and s.seconds == 60.0
    background = event_stream.render_stream(3, 60.0).audio  # the same scene, no events
    for e in s.events:
        assert 0 < e.onset_s < e.offset_s <= 60.0 and e.snr_db == 15.0
        span = slice(int(e.onset_s * 16000), int(e.offset_s * 16000))
        ratio = np.mean(s.audio[span].astype(float)**2) / np.mean(background[span].astype(
            float)**2)
        assert ratio == pytest.approx(1 + 10**1.5, rel=0.15)  # event at 15 dB over the scene
        outside = slice(int(e.offset_s * 16000) + 1600, int(e.offset_s * 16000) + 3200)
        assert np.allclose(s.audio[outside], background[outside])
    assert s.events[0].emergency and not s.events[1].emergency
    free = event_stream.render_stream(4, 30.0)
    assert free.events == [] and np.isfinite(free.audio).all()


def _rec(label, start, end, confirmed, urgency="social"):
    return SoundEventRecord(0, label, 0, urgency, int(start * NS), int(end * NS),
                            int(confirmed * NS), 0.9, 0.8, 3, 0, 0, 0, "offset")


def test_scoring_counts_found_missed_false_and_repeated_events():
    truth = [event_stream.TrueEvent("doorbell", 10.0, 12.0, 5.0),
             event_stream.TrueEvent("fire_alarm", 20.0, 26.0, 5.0),
             event_stream.TrueEvent("door_knock", 40.0, 41.0, 5.0)]
    policy = pol.default_policy(sound_synth.CLASSES)
    dets = [_rec("doorbell", 9.8, 12.2, 11.0),  # found, 1 s after onset
            _rec("fire_alarm", 19.9, 22.0, 21.2, "emergency"),  # found
            _rec("fire_alarm", 23.0, 26.0, 24.0, "emergency"),  # the same alarm again
            _rec("doorbell", 40.0, 41.0, 40.5),  # wrong class at the knock
            _rec("phone_ringing", 60.0, 62.0, 61.0)]  # nothing there
    s = scoring.score(dets, truth, policy)
    assert (s.true_events, s.found, s.false_positives, s.duplicates) == (3, 2, 3, 1)
    assert s.recall == pytest.approx(2 / 3) and s.precision == pytest.approx(2 / 5)
    assert sorted(s.delays_s) == pytest.approx([1.0, 1.2])
    assert s.per_class["door_knock"] == {"n": 1, "tp": 0, "fn": 1, "fp": 0}
    assert s.by_urgency["emergency"] == {"n": 1, "found": 1, "fp": 1}
    assert scoring.false_alarms(dets) == {"emergency": 2, "social": 3, "ambient": 0}


def test_share_and_rate_intervals_hold_the_estimate_and_narrow_with_more_data():
    low, high = scoring.share_interval(13, 20)  # 13 of 20 knocks found
    assert low < 0.65 < high and (round(low, 2), round(high, 2)) == (0.43, 0.82)
    low4, high4 = scoring.share_interval(52, 80)  # the same share, 4x the events
    assert low < low4 < 0.65 < high4 < high
    # every event found: the interval reaches 1 and its low end says how sure that is
    all_low, all_high = scoring.share_interval(20, 20)
    assert round(all_low, 2) == 0.84 and all_high == pytest.approx(1.0)
    assert all(np.isnan(scoring.share_interval(0, 0)))
    # 6 false events in 2 h: 3.0/h, 1.1-6.5/h at 95 % (Garwood); none in 2 h: 0 to 1.84/h
    assert tuple(round(x, 1) for x in scoring.rate_interval(6, 2.0)) == (1.1, 6.5)
    assert scoring.rate_interval(0, 2.0) == (0.0, pytest.approx(3.689 / 2, abs=1e-3))
    with pytest.raises(ValueError, match="hours must be > 0"):
        scoring.rate_interval(1, 0.0)
