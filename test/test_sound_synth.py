"""The synthetic UbiEar events: labels, determinism, SNR, and each class's acoustic signature."""

import numpy as np
import pytest

from adaspring_ros.core.scene import sound_synth as synth


def _dominant_hz(x, rate=16000):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    spectrum[: int(100 * x.size / rate)] = 0.0  # ignore rumble and hum
    return np.argmax(spectrum) * rate / x.size


def test_class_contract():
    assert synth.CLASSES == ("fire_alarm", "smoke_alarm", "kettle_whistle", "doorbell",
                             "door_knock", "baby_crying", "phone_ringing", "microwave_beep",
                             "background")
    assert synth.EMERGENCY_CLASSES == ("fire_alarm", "smoke_alarm", "kettle_whistle")


@pytest.mark.parametrize("label", synth.CLASSES)
def test_every_class_renders_a_finite_bounded_clip(label):
    clip = synth.render_clip(label, np.random.default_rng(3), snr_db=0.0)
    assert clip.shape == (16000,)
    assert clip.dtype == np.float32
    assert np.all(np.isfinite(clip))
    assert 0.0 < np.max(np.abs(clip)) <= 0.99 + 1e-6


@pytest.mark.parametrize("label", synth.CLASSES)
def test_rendering_is_deterministic_per_seed_and_varies_across_seeds(label):
    a = synth.render_clip(label, np.random.default_rng(7), 5.0)
    b = synth.render_clip(label, np.random.default_rng(7), 5.0)
    c = synth.render_clip(label, np.random.default_rng(8), 5.0)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("label", [c for c in synth.CLASSES if c != "background"])
def test_time_shift_keeps_a_substantial_part_of_the_event_in_the_window(label):
    for seed in range(5):
        event = synth.render_event(label, np.random.default_rng(seed))
        assert event.shape == (16000,)
        assert np.sqrt(np.mean(event**2)) > 1e-3


def test_mix_hits_the_requested_snr():
    rng = np.random.default_rng(0)
    fg, noise = rng.standard_normal(16000) * 3.0, rng.standard_normal(16000) * 0.2
    for snr in (-5.0, 0.0, 12.5):
        mix = synth.mix_at_snr(fg, noise, snr)
        scaled_noise = mix - fg
        measured = 10 * np.log10(np.mean(fg**2) / np.mean(scaled_noise**2))
        assert measured == pytest.approx(snr, abs=1e-6)


def test_snr_can_be_measured_over_the_sound_s_own_length():
    rng = np.random.default_rng(1)
    fg = np.zeros(32000)
    fg[4000:12000] = rng.standard_normal(8000)  # 0.5 s of sound in a 2 s clip
    noise = rng.standard_normal(32000) * 0.3
    first, end = synth.extent(fg)
    assert (first, end) == (4000, 12000)
    mix = synth.mix_at_snr(fg, noise, 6.0, reference=fg[first:end])
    scaled_noise = mix - fg
    over_sound = 10 * np.log10(np.mean(fg[first:end] ** 2) / np.mean(scaled_noise**2))
    assert over_sound == pytest.approx(6.0, abs=1e-6)
    # measured over the whole clip, the same SNR leaves the sound 6 dB louder (a quarter of it)
    whole = synth.mix_at_snr(fg, noise, 6.0) - fg
    assert 10 * np.log10(np.mean(scaled_noise**2) / np.mean(whole**2)) == pytest.approx(
        10 * np.log10(4.0), abs=1e-6)


def test_low_snr_clip_is_noisier_than_high_snr_clip():
    # same seed: same event, same noise; only the mixing ratio differs
    def tonality(clip):
        spectrum = np.abs(np.fft.rfft(clip)) ** 2
        return np.sort(spectrum)[-40:].sum() / spectrum.sum()

    for seed in range(5):
        clean = synth.render_clip("smoke_alarm", np.random.default_rng(seed), 20.0)
        noisy = synth.render_clip("smoke_alarm", np.random.default_rng(seed), -5.0)
        assert tonality(clean) > 1.5 * tonality(noisy)


@pytest.mark.parametrize(
    "label, lo, hi",
    [("smoke_alarm", 2750, 3700), ("microwave_beep", 1750, 3050),
     ("kettle_whistle", 750, 3300)],
)
def test_tonal_events_sit_at_their_real_frequencies(label, lo, hi):
    for seed in range(6):
        event = synth.render_event(label, np.random.default_rng(seed))
        assert lo <= _dominant_hz(event) <= hi


def test_knocks_are_impulsive_and_low_pitched():
    for seed in range(6):
        knock = synth.render_event("door_knock", np.random.default_rng(seed))
        crest = np.max(np.abs(knock)) / np.sqrt(np.mean(knock**2))
        assert crest > 4.0
        spectrum = np.abs(np.fft.rfft(knock)) ** 2
        freqs = np.fft.rfftfreq(knock.size, 1 / 16000)
        assert spectrum[freqs < 2500].sum() > 0.8 * spectrum.sum()


def test_phone_landline_cadences_use_standard_dual_tones():
    hits = 0
    for seed in range(30):
        event = synth.render_event("phone_ringing", np.random.default_rng(seed))
        hz = _dominant_hz(event)
        hits += any(abs(hz - f) < 8 for f in (400, 440, 450, 480))
    assert hits >= 3  # landline variants are 2 of 5


def test_background_and_other_rates():
    noise = synth.render_background(np.random.default_rng(0), 2.5)
    assert noise.shape == (40000,)
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=1e-6)
    clip = synth.render_clip("kettle_whistle", np.random.default_rng(0), 3.0,
                             sample_rate=8000, seconds=0.5)
    assert clip.shape == (4000,)
    assert np.all(np.isfinite(clip))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"label": "siren"}, "unknown label"),
        ({"snr_db": float("nan")}, "snr_db"),
        ({"sample_rate": 4000}, "too low"),
        ({"seconds": 0.0}, "positive"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, fragment):
    args = {"label": "doorbell", "rng": np.random.default_rng(0), "snr_db": 0.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        synth.render_clip(**args)
