"""The seeded synthetic set (determinism, balance, caching) and the user folder loader."""

import numpy as np
import pytest
import soundfile

from adaspring_ros.core.audio import features
from adaspring_ros.core.scene import dataset, sound_synth, speech_bank
from adaspring_ros.core.scene.dataset import DatasetError


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return cache, dataset.synthetic_split("val", seed=3, n_clips=22, cache_dir=cache, workers=1,
                                          progress=False)


def test_synthetic_split_shape_balance_and_snr(small_split):
    _, split = small_split
    assert split.features.shape == (22, features.N_MELS, features.N_FRAMES)
    assert split.features.dtype == np.float32
    assert np.all(np.isfinite(split.features))
    # 21 regular clips (every event class 2, background 3/11 of them, +-1), then 22 // 21 = 1
    # hard negative (background)
    assert dataset.hard_negative_count("val", 22) == 1
    counts = np.bincount(split.labels, minlength=9).tolist()
    assert sum(counts) == 22 and counts[:8].count(2) >= 7 and counts[8] >= 6
    assert split.labels[-1] == sound_synth.CLASSES.index("background")
    lo, hi = dataset.SNR_RANGE_DB
    assert np.all((split.snr_db >= lo) & (split.snr_db <= hi))
    assert split.class_names == sound_synth.CLASSES


def test_generation_is_deterministic_and_independent_of_cache(small_split, tmp_path):
    _, split = small_split
    again = dataset.synthetic_split("val", seed=3, n_clips=22, cache_dir=tmp_path, workers=1,
                                    progress=False)
    assert np.array_equal(split.features, again.features)
    assert np.array_equal(split.labels, again.labels)
    other_seed = dataset.synthetic_split("val", seed=4, n_clips=22, cache_dir=tmp_path,
                                         workers=1, progress=False)
    assert not np.allclose(split.features, other_seed.features)


def test_second_load_comes_from_the_cache(small_split, monkeypatch):
    cache, split = small_split
    assert dataset.cache_path(cache, "val", 3, 22).exists()

    def must_not_generate(*args, **kwargs):
        raise AssertionError("cache miss: the split was regenerated")

    monkeypatch.setattr(dataset, "_generate", must_not_generate)
    cached = dataset.synthetic_split("val", seed=3, n_clips=22, cache_dir=cache, progress=False)
    assert np.array_equal(cached.features, split.features)


def test_corrupt_cache_is_regenerated(small_split, tmp_path):
    _, split = small_split
    path = dataset.cache_path(tmp_path, "val", 3, 22)
    path.write_bytes(b"not an npz")
    rebuilt = dataset.synthetic_split("val", seed=3, n_clips=22, cache_dir=tmp_path, workers=1,
                                      progress=False)
    assert np.array_equal(rebuilt.features, split.features)


def test_hard_negatives_are_appended_seeded_and_disjoint(small_split):
    """Hard negatives (issue 11) come after the regular clips of train and val, which stay the
    clips of the same split without them; test has none; each is seeded and differs from
    every regular clip."""
    assert [dataset.hard_negative_count(s, 6930) for s in dataset.SPLITS] == [330, 330, 0]
    assert dataset.hard_negative_count("val", 866) == 41
    assert dataset.hard_negative_count("test", 825) == 0
    assert dataset.DEFAULT_SIZES["train"] - 330 == 6600
    assert dataset.DEFAULT_SIZES["val"] - 41 == 825
    background = sound_synth.CLASSES.index("background")
    labels = dataset._split_labels("train", 0, 6930)
    # the regular clips are those of the split without hard negatives (the old set)
    assert np.array_equal(labels[:6600], dataset._regular_labels("train", 0, 6600))
    assert np.all(labels[6600:] == background) and len(labels) == 6930
    assert np.array_equal(dataset._split_labels("test", 0, 825),
                          dataset._regular_labels("test", 0, 825))
    a, snr = dataset.render_hard_negative("train", 0, 0)
    b, snr_b = dataset.render_hard_negative("train", 0, 0)
    assert np.array_equal(a, b) and snr == snr_b
    assert a.dtype == np.float32 and a.shape == (16000,) and np.isfinite(a).all()
    lo, hi = dataset.SNR_RANGE_DB
    assert lo <= snr <= hi
    assert not np.allclose(a, dataset.render_hard_negative("val", 0, 0)[0])
    assert not np.allclose(a, dataset.render_hard_negative("train", 0, 1)[0])
    assert not np.allclose(a, dataset.render_split_clip("train", 0, 0, background)[0])
    # the fixture's 22 validation clips: 21 regular ones, then hard negative 0, rendered as such
    cache, split = small_split
    speech = speech_bank.load_bank(str(cache), dataset.SPEECH_PARTITION["val"], 3)
    assert split.labels[-1] == background
    assert np.allclose(split.features[-1],
                       features.log_mel(dataset.render_hard_negative("val", 3, 0, speech)[0]),
                       atol=1e-5)
    # and so in worker processes (21 clips: 20 regular, then the same hard negative 0)
    parallel = dataset.synthetic_split("val", seed=3, n_clips=21, cache_dir=cache, workers=2,
                                       progress=False)
    assert parallel.labels[-1] == background
    assert np.allclose(parallel.features[-1], split.features[-1], atol=1e-5)


def test_old_checkpoints_rebuild_their_splits_without_hard_negatives(small_split, monkeypatch):
    """A checkpoint trained on dataset version 2 rebuilds its validation split as it was:
    regular clips only (the same labels as before the hard negatives)."""
    seen = {}

    def fake_split(split, seed, n_clips, progress=True, hard_negatives=True):
        seen.update(split=split, n=n_clips, hard=hard_negatives)

    monkeypatch.setattr(dataset, "synthetic_split", fake_split)
    meta = {"data": "synthetic seed 0", "seed": 0, "data_sizes": {"val": 825},
            "dataset_version": 2}
    dataset.checkpoint_split(meta, "val")
    assert seen == {"split": "val", "n": 825, "hard": False}
    dataset.checkpoint_split({**meta, "dataset_version": 3}, "val")
    assert seen["hard"] is True
    monkeypatch.undo()
    assert np.array_equal(dataset._split_labels("val", 0, 825, hard_negatives=False),
                          dataset._regular_labels("val", 0, 825))
    cache, _ = small_split
    assert dataset.cache_path(cache, "val", 0, 825, False) != dataset.cache_path(cache, "val",
                                                                                0, 825)


def test_splits_do_not_share_clips():
    a, _ = dataset.render_split_clip("train", 0, 0, 1)
    b, _ = dataset.render_split_clip("test", 0, 0, 1)
    assert not np.allclose(a, b)


def test_parallel_workers_give_the_same_clips(tmp_path):
    serial = dataset.synthetic_split("test", seed=5, n_clips=6, cache_dir=tmp_path / "a",
                                     workers=1, progress=False)
    parallel = dataset.synthetic_split("test", seed=5, n_clips=6, cache_dir=tmp_path / "b",
                                       workers=2, progress=False)
    # equal up to float rounding (BLAS thread counts differ between parent and workers)
    assert np.allclose(serial.features, parallel.features, atol=1e-5)
    assert np.array_equal(serial.labels, parallel.labels)


def test_bad_split_arguments():
    with pytest.raises(DatasetError, match="unknown split"):
        dataset.synthetic_split("holdout", 0, 10)
    with pytest.raises(DatasetError, match="positive integer"):
        dataset.synthetic_split("val", 0, 0)
    with pytest.raises(DatasetError, match="lacks split"):
        dataset.load_synthetic(0, sizes={"train": 9})


def test_accuracy_by_snr_buckets():
    correct = np.array([1, 0, 1, 1, 1, 0])
    snr = np.array([-5.0, -1.0, 3.0, 7.0, 20.0, 12.0])
    report = dataset.accuracy_by_snr(correct, snr)
    assert report["[-5,0) dB"] == {"accuracy": 50.0, "n": 2}
    assert report["[0,5) dB"] == {"accuracy": 100.0, "n": 1}
    assert report["[10,20) dB"] == {"accuracy": 50.0, "n": 2}
    with pytest.raises(ValueError, match="shape"):
        dataset.accuracy_by_snr(correct, snr[:3])


def _tone(freq, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * freq * t)


def test_folder_loader_reads_any_format_and_reports_unreadable_files(tmp_path):
    (tmp_path / "doorbell").mkdir()
    (tmp_path / "kettle").mkdir()
    stereo = np.stack([_tone(700, 2.5, 44100), _tone(700, 2.5, 44100)], axis=1)
    soundfile.write(tmp_path / "doorbell" / "stereo44k.wav", stereo, 44100)
    soundfile.write(tmp_path / "doorbell" / "mono8k.flac", _tone(600, 0.5, 8000), 8000,
                    subtype="PCM_16")
    soundfile.write(tmp_path / "kettle" / "long.ogg", _tone(2500, 3.0, 22050), 22050)
    soundfile.write(tmp_path / "kettle" / "blip.wav", _tone(2500, 0.01, 16000), 16000)
    (tmp_path / "kettle" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage")
    (tmp_path / "kettle" / "notes.txt").write_text("not audio")
    nan_audio = _tone(2500, 1.0, 16000)
    nan_audio[100] = np.nan
    soundfile.write(tmp_path / "kettle" / "nan.wav", nan_audio, 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "kettle" / "silent.wav", np.zeros(16000), 16000)
    soundfile.write(tmp_path / "kettle" / "empty.wav", np.zeros(0), 16000)
    soundfile.write(tmp_path / "kettle" / "clipped.wav", np.clip(10 * _tone(900, 1.0, 16000),
                                                                 -1, 1), 16000)

    data = dataset.load_folder_dataset(tmp_path)
    assert data.class_names == ("doorbell", "kettle")
    assert len(data) == 3
    assert sorted(data.labels.tolist()) == [0, 0, 1]
    assert data.features.shape == (3, features.N_MELS, features.N_FRAMES)
    assert np.all(np.isnan(data.snr_db))
    assert data.n_skipped == 7
    reasons = {p.split("/")[-1]: r for p, r in data.skipped}
    assert set(reasons) == {"blip.wav", "corrupt.wav", "notes.txt", "nan.wav", "silent.wav",
                            "empty.wav", "clipped.wav"}
    assert "silent" in reasons["silent.wav"] and "clipped" in reasons["clipped.wav"]
    assert "empty" in reasons["empty.wav"] and "0.1 s" in reasons["blip.wav"]
    assert "NaN" in reasons["nan.wav"]
    assert "7 unreadable file(s) skipped" in data.report()
    assert "corrupt.wav" in data.report()
    with pytest.raises(DatasetError, match=r"fewer than 2 usable files.*kettle \(1\)"):
        dataset.load_folder_dataset(tmp_path, min_files=2)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetError, match=r"empty_class \(0\)"):
        dataset.load_folder_dataset(tmp_path)


def test_user_recordings_mix_in_at_any_share(small_split, tmp_path):
    _, split = small_split
    syn = dataset.SyntheticDataset(seed=0, train=split, val=split, test=split)
    for name in ("doorbell", "fire_alarm"):
        (tmp_path / name).mkdir()
        for i in range(10):
            soundfile.write(tmp_path / name / f"{i}.wav", _tone(500 + 40 * i, 1.0, 16000),
                            16000)
    user = dataset.load_folder_dataset(tmp_path, min_files=5)
    mixed = dataset.mix_user_recordings(syn, user, 0.5, seed=1)
    assert len(mixed.train) == 2 * len(split)  # as many user clips as synthetic ones
    user_rows = np.isnan(mixed.train.snr_db)
    assert user_rows.sum() == len(split)
    doorbell = sound_synth.CLASSES.index("doorbell")
    fire = sound_synth.CLASSES.index("fire_alarm")
    assert set(mixed.train.labels[user_rows].tolist()) == {doorbell, fire}
    assert len(mixed.val) == len(split) + 2 and len(mixed.test) == len(split) + 2
    only = dataset.mix_user_recordings(syn, user, 1.0)
    assert np.isnan(only.train.snr_db).all() and len(only.train) == 16
    none = dataset.mix_user_recordings(syn, user, 0.0)
    assert len(none.train) == len(split)
    again = dataset.mix_user_recordings(syn, user, 0.5, seed=1)
    assert np.array_equal(again.train.features, mixed.train.features)
    with pytest.raises(DatasetError, match="outside 0-1"):
        dataset.mix_user_recordings(syn, user, 1.5)
    (tmp_path / "toaster").mkdir()
    for i in range(5):
        soundfile.write(tmp_path / "toaster" / f"{i}.wav", _tone(300, 1.0, 16000), 16000)
    with pytest.raises(DatasetError, match="toaster are not classes"):
        dataset.mix_user_recordings(syn, dataset.load_folder_dataset(tmp_path), 0.5)


def test_folder_loader_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        dataset.load_folder_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no class sub-folders"):
        dataset.load_folder_dataset(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="no readable audio"):
        dataset.load_folder_dataset(tmp_path)
