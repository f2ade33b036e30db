"""Data sets as log-mel features: the seeded synthetic UbiEar set and a user's own recordings.

The synthetic set is the embedded default because UbiSound is not public. It is a pure function
of (seed, split, clip index): every clip draws its label, SNR and sound from its own
`numpy.random.SeedSequence`, so the set is the same (to float rounding) across machines, worker
counts and runs, and the three splits never share a clip. Generating 7,500 clips takes about
two minutes on two cores, so features are cached (npz) under a gitignored folder, keyed by
every version that changes the output (this module, the synthesiser and the feature parameters).

Each clip keeps the SNR it was mixed at, so accuracy can be reported per SNR bucket: a model
that is only good in clean conditions should look bad where it matters.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from adaspring_ros.core.audio import features
from adaspring_ros.core.scene import home_sounds, sound_synth, speech_bank

#: 2: home scenes (speech, music, TV, appliances, ...) under every clip, background 3/11 of clips
#: 3: hard negatives (door creaks, distorted music, humming) appended to train and val
#: 4: mallet and music-box melodies among the hard negatives (false doorbells and phones)
DATASET_VERSION = 4
SPLITS: tuple[str, ...] = ("train", "val", "test")
_SPLIT_CODE = {"train": 11, "val": 22, "test": 33}
#: About the paper's 7,500 clips, 80/10/10, plus 10 % for the larger share of non-event audio,
#: plus the hard negatives (1 in 21 clips of train and val: 6,600 + 330 and 825 + 41).
DEFAULT_SIZES: dict[str, int] = {"train": 6930, "val": 866, "test": 825}
SNR_RANGE_DB: tuple[float, float] = (-5.0, 20.0)
#: Half-open [lo, hi) buckets for reporting; the last one includes its upper edge.
SNR_BUCKETS_DB: tuple[tuple[float, float], ...] = ((-5.0, 0.0), (0.0, 5.0), (5.0, 10.0),
                                                   (10.0, 20.0))
#: label slots per cycle: one per event class and this many for background (non-event audio is
#: what a home hears most; the event-free stream is the false-alarm test)
BACKGROUND_SLOTS = 3
#: share of clips rendered the first way (`sound_synth.render_clip`: noise and distractors,
#: what the scripted day plays); the rest are home scenes (`home_sounds.render_home_clip`)
LEGACY_SHARE = 0.25
#: which speech partition each split hears (training and held-out speech never overlap)
SPEECH_PARTITION = {"train": "train", "val": "heldout", "test": "heldout"}
#: Hard negatives (issue 11): non-event sounds the home-audio checkpoint took for a fire alarm
#: on the event-free benchmark stream (`home_sounds.HARD_NEGATIVE_WEIGHTS`), as ``background``
#: clips. One in HARD_NEGATIVE_PERIOD clips of these splits is one, placed after the regular
#: clips, so the regular clips of a split are those of the same split without them; each draws
#: from its own SeedSequence (seed, split, HARD_NEGATIVE_CODE, j), disjoint from every regular
#: clip and from the benchmark streams (seeds 9001+, other sequences). The test split has none:
#: held-out window accuracy stays comparable with earlier checkpoints' (the event-free
#: benchmark stream is where hard negatives are judged).
HARD_NEGATIVE_SPLITS: tuple[str, ...] = ("train", "val")
HARD_NEGATIVE_PERIOD = 21
HARD_NEGATIVE_CODE = 99
_CHUNK = 50
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class DatasetError(ValueError):
    """A data set that cannot be built or read; the message says what to fix."""


@dataclass
class FeatureSet:
    """Log-mel patches with labels; ``snr_db`` is NaN where unknown (a user's recordings)."""

    features: np.ndarray  # (n, n_mels, n_frames) float32
    labels: np.ndarray  # (n,) int64, index into class_names
    snr_db: np.ndarray  # (n,) float32
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> FeatureSet:
        return FeatureSet(self.features[index], self.labels[index], self.snr_db[index],
                          self.class_names)

    def concat(self, other: FeatureSet) -> FeatureSet:
        """This set's clips, then ``other``'s (its labels index the same class names)."""
        return FeatureSet(np.concatenate([self.features, other.features]),
                          np.concatenate([self.labels, other.labels]),
                          np.concatenate([self.snr_db, other.snr_db]), self.class_names)

    def tensors(self):
        """(x, y) torch tensors shaped (n, 1, n_mels, n_frames) and (n,)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(self.features)).unsqueeze(1)
        return x, torch.from_numpy(self.labels.astype(np.int64))


@dataclass
class SyntheticDataset:
    seed: int
    train: FeatureSet
    val: FeatureSet
    test: FeatureSet

    def split(self, name: str) -> FeatureSet:
        if name not in SPLITS:
            raise DatasetError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, name)


# --------------------------------------------------------------------------- synthetic set
def hard_negative_count(split: str, n_clips: int, hard_negatives: bool = True) -> int:
    """How many of a split's ``n_clips`` are hard negatives (the last ones); none when
    ``hard_negatives`` is False (the splits of checkpoints trained on DATASET_VERSION < 3)."""
    if not hard_negatives or split not in HARD_NEGATIVE_SPLITS:
        return 0
    return int(n_clips) // HARD_NEGATIVE_PERIOD


def _split_labels(split: str, seed: int, n_clips: int, hard_negatives: bool = True) -> np.ndarray:
    """Labels: the regular clips in a seeded order (every event class 1/11, background 3/11,
    +-1), then the hard negatives (background)."""
    n_hard = hard_negative_count(split, n_clips, hard_negatives)
    background = sound_synth.CLASSES.index(sound_synth.BACKGROUND)
    regular = _regular_labels(split, seed, n_clips - n_hard)
    return np.concatenate([regular, np.full(n_hard, background, dtype=regular.dtype)])


def _regular_labels(split: str, seed: int, n_clips: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _SPLIT_CODE[split]])
    n_events = len(sound_synth.CLASSES) - 1
    background = sound_synth.CLASSES.index(sound_synth.BACKGROUND)
    slots = np.arange(n_clips) % (n_events + BACKGROUND_SLOTS)
    events = [i for i in range(len(sound_synth.CLASSES)) if i != background]
    table = np.array(events + [background] * BACKGROUND_SLOTS)
    return rng.permutation(table[slots])


def render_hard_negative(split: str, seed: int, j: int, speech=None) -> tuple[np.ndarray, float]:
    """Audio and SNR (the hard negative over its home scene) of the split's ``j``-th hard
    negative: a pure function of (seed, split, j, speech)."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], HARD_NEGATIVE_CODE, j])
    snr = float(rng.uniform(*SNR_RANGE_DB))
    clip, _ = home_sounds.render_hard_negative_clip(rng, snr, speech=speech)
    return clip, snr


def render_split_clip(split: str, seed: int, index: int, label: int,
                      speech=None) -> tuple[np.ndarray, float]:
    """Audio and SNR of one regular clip: a pure function of (seed, split, index, label,
    speech)."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index])
    snr = float(rng.uniform(*SNR_RANGE_DB))
    name = sound_synth.CLASSES[label]
    if rng.random() < LEGACY_SHARE:
        return sound_synth.render_clip(name, rng, snr), snr
    return home_sounds.render_home_clip(name, rng, snr, speech=speech), snr


def _render_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    split, seed, indices, labels, cache_dir, n_regular = args
    speech = speech_bank.load_bank(str(cache_dir), SPEECH_PARTITION[split], seed)
    feats = np.empty((len(indices), features.N_MELS, features.N_FRAMES), np.float32)
    snrs = np.empty(len(indices), np.float32)
    for k, (index, label) in enumerate(zip(indices, labels, strict=True)):
        if index >= n_regular:
            audio, snr = render_hard_negative(split, seed, int(index) - n_regular, speech)
        else:
            audio, snr = render_split_clip(split, seed, int(index), int(label), speech)
        feats[k] = features.log_mel(audio)
        snrs[k] = snr
    return feats, snrs


def _feature_signature() -> str:
    params = (features.SAMPLE_RATE, features.WINDOW_SAMPLES, features.N_FFT,
              features.HOP_LENGTH, features.N_MELS, features.FMIN_HZ, features.FMAX_HZ,
              features.TOP_DB, SNR_RANGE_DB, BACKGROUND_SLOTS, LEGACY_SHARE,
              home_sounds.HOME_SOUNDS_VERSION, speech_bank.bank_signature(),
              HARD_NEGATIVE_SPLITS, HARD_NEGATIVE_PERIOD, HARD_NEGATIVE_CODE,
              sorted(home_sounds.HARD_NEGATIVE_WEIGHTS.items()))
    return hashlib.sha1(repr(params).encode()).hexdigest()[:10]


def default_cache_dir() -> Path:
    """ADASPRING_DATA_DIR, else data/ in the source tree (gitignored), else a user cache."""
    env = os.environ.get("ADASPRING_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "adaspring_ros").is_dir() and os.access(repo, os.W_OK):
        return repo / "data"
    return Path.home() / ".cache" / "adaspring_ros"


def cache_path(cache_dir: Path, split: str, seed: int, n_clips: int,
               hard_negatives: bool = True) -> Path:
    key = (f"ubiear_synth_d{DATASET_VERSION}_s{sound_synth.SYNTH_VERSION}_"
           f"f{_feature_signature()}_seed{seed}_{split}_{n_clips}"
           f"{'' if hard_negatives else '_nohard'}.npz")
    return Path(cache_dir) / key


def synthetic_split(split: str, seed: int, n_clips: int, cache_dir: Path | None = None,
                    workers: int | None = None, progress: bool = True,
                    hard_negatives: bool = True) -> FeatureSet:
    """One split of the synthetic set, from the cache when present, else generated and cached
    (``hard_negatives`` False: the split as DATASET_VERSION 2 built it, regular clips only)."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if not isinstance(n_clips, (int, np.integer)) or n_clips <= 0:
        raise DatasetError(f"n_clips must be a positive integer, got {n_clips!r}")
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = cache_path(cache_dir, split, seed, n_clips, hard_negatives)
    labels = _split_labels(split, seed, n_clips, hard_negatives)
    if path.exists():
        try:
            with np.load(path) as data:
                if np.array_equal(data["labels"], labels):
                    return FeatureSet(data["features"], data["labels"].astype(np.int64),
                                      data["snr_db"], sound_synth.CLASSES)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: regenerate it below
    speech_bank.ensure_bank(cache_dir, SPEECH_PARTITION[split], seed, progress=progress)
    n_regular = n_clips - hard_negative_count(split, n_clips, hard_negatives)
    feats, snrs = _generate(split, seed, labels, workers, progress, cache_dir, n_regular)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=feats, labels=labels, snr_db=snrs)
    os.replace(tmp, path)
    return FeatureSet(feats, labels.astype(np.int64), snrs, sound_synth.CLASSES)


def _generate(split, seed, labels, workers, progress, cache_dir, n_regular):
    n = len(labels)
    chunks = [(split, seed, np.arange(i, min(n, i + _CHUNK)), labels[i:i + _CHUNK], cache_dir,
               n_regular) for i in range(0, n, _CHUNK)]
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    bar = tqdm(total=n, desc=f"synthesising {split} (seed {seed})", unit="clip",
               disable=not progress)
    results = []
    if workers <= 1:
        for chunk in chunks:
            results.append(_render_chunk(chunk))
            bar.update(len(chunk[2]))
    else:
        # spawn: workers must not inherit torch's OpenMP thread pool from the parent; one
        # BLAS/OpenMP thread each, or two workers on two cores oversubscribe them
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                for chunk, result in zip(chunks, pool.map(_render_chunk, chunks), strict=True):
                    results.append(result)
                    bar.update(len(chunk[2]))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    bar.close()
    return (np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results]))


def checkpoint_split(meta: dict, split: str, progress: bool = True) -> FeatureSet:
    """The ``split`` a checkpoint was trained and evaluated with, rebuilt from its metadata
    (seed and split sizes); DatasetError when it was trained on a user's folder instead."""
    data = str(meta.get("data", ""))
    if "data_sizes" not in meta or not data.startswith("synthetic") or " + " in data:
        raise DatasetError("this checkpoint was not trained on the synthetic set; its "
                           f"{split} split is not reproducible here")
    # checkpoints trained before the hard negatives (dataset version 2) have none in any split
    hard = int(meta.get("dataset_version", DATASET_VERSION)) >= 3
    return synthetic_split(split, int(meta.get("seed", 0)), int(meta["data_sizes"][split]),
                           progress=progress, hard_negatives=hard)


def load_synthetic(seed: int = 0, sizes: dict[str, int] | None = None,
                   cache_dir: Path | None = None, workers: int | None = None,
                   progress: bool = True) -> SyntheticDataset:
    """The train/val/test splits for ``seed`` (default sizes: DEFAULT_SIZES, hard negatives
    included)."""
    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    missing = set(SPLITS) - set(sizes)
    if missing:
        raise DatasetError(f"sizes lacks split(s) {sorted(missing)}; expected keys {SPLITS}")
    parts = {s: synthetic_split(s, seed, sizes[s], cache_dir, workers, progress) for s in SPLITS}
    return SyntheticDataset(seed=seed, **parts)


# --------------------------------------------------------------------------- reporting
def snr_bucket_label(lo: float, hi: float) -> str:
    return f"[{lo:g},{hi:g}) dB"


def accuracy_by_snr(correct: np.ndarray, snr_db: np.ndarray) -> dict[str, dict[str, float]]:
    """Accuracy (%) and clip count per SNR bucket; clips outside every bucket are ignored."""
    correct = np.asarray(correct, dtype=bool)
    snr_db = np.asarray(snr_db, dtype=np.float64)
    if correct.shape != snr_db.shape:
        raise ValueError(f"correct {correct.shape} and snr_db {snr_db.shape} differ in shape")
    out = {}
    for i, (lo, hi) in enumerate(SNR_BUCKETS_DB):
        last = i == len(SNR_BUCKETS_DB) - 1
        mask = (snr_db >= lo) & ((snr_db <= hi) if last else (snr_db < hi))
        n = int(mask.sum())
        out[snr_bucket_label(lo, hi)] = {
            "accuracy": float(100.0 * correct[mask].mean()) if n else float("nan"),
            "n": n,
        }
    return out


# --------------------------------------------------------------------------- user folders
@dataclass
class FolderDataset(FeatureSet):
    """A user's recordings: one feature patch (the loudest second) per readable file."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def report(self) -> str:
        lines = [f"{len(self)} clips in {len(self.class_names)} classes, "
                 f"{self.n_skipped} unreadable file(s) skipped"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


#: a file whose loudest sample is under this (-80 dBFS) holds no sound
SILENT_PEAK = 1e-4
#: a file with more than this share of samples at full scale is clipped (distorted)
CLIPPED_SHARE = 0.01
CLIP_LEVEL = 0.999
#: a class folder needs at least this many usable files (train_all's default)
MIN_FILES_PER_CLASS = 5


def _read_patch(path: Path) -> np.ndarray:
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if samples.size == 0:
        raise features.AudioError("empty: the file holds no samples")
    audio = features.prepare_audio(samples, int(rate))
    peak = float(np.max(np.abs(samples)))
    if peak < SILENT_PEAK:
        raise features.AudioError(f"silent: peak {peak:.1e} is under -80 dBFS")
    clipped = float(np.mean(np.abs(samples) >= CLIP_LEVEL))
    if clipped > CLIPPED_SHARE:
        raise features.AudioError(f"clipped: {100 * clipped:.1f} % of the samples are at full "
                                  f"scale (more than {100 * CLIPPED_SHARE:g} %)")
    return features.log_mel(features.loudest_window(audio))


def load_folder_dataset(root, progress: bool = False, min_files: int = 1) -> FolderDataset:
    """Features of a folder with one sub-folder of audio files per class.

    Any sample rate, mono or multi-channel, any length (the loudest second of each file is
    kept). Files that cannot be decoded or hold unusable audio (empty, shorter than
    features.MIN_SECONDS, NaN/Inf, silent, clipped) are skipped and listed in ``.skipped``
    with the reason; a class folder with fewer than ``min_files`` usable files, or a folder
    with no usable file at all, is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; expected a folder with one sub-folder "
                           "of audio files per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{root} has no class sub-folders; expected e.g. "
                           f"{root}/doorbell/*.wav, {root}/fire_alarm/*.wav")
    patches, labels, files, skipped = [], [], [], []
    todo = [(label, path) for label, d in enumerate(class_dirs)
            for path in sorted(d.rglob("*")) if path.is_file() and not path.name.startswith(".")]
    for label, path in tqdm(todo, desc=f"reading {root}", unit="file", disable=not progress):
        try:
            patches.append(_read_patch(path))
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        labels.append(label)
        files.append(str(path))
    if not patches:
        raise DatasetError(f"no readable audio under {root} ({len(skipped)} file(s) skipped); "
                           "expected wav/flac/ogg files in class sub-folders")
    counts = np.bincount(np.asarray(labels), minlength=len(class_dirs))
    few = [f"{d.name} ({int(c)})" for d, c in zip(class_dirs, counts, strict=True)
           if c < min_files]
    if few:
        detail = "; ".join(f"skipped {p}: {r}" for p, r in skipped[:10])
        raise DatasetError(f"class folder(s) with fewer than {min_files} usable files under "
                           f"{root}: {', '.join(few)}; record more or remove the folder"
                           + (f" ({detail})" if detail else ""))
    return FolderDataset(
        features=np.stack(patches).astype(np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        snr_db=np.full(len(labels), np.nan, dtype=np.float32),
        class_names=tuple(d.name for d in class_dirs),
        files=files,
        skipped=skipped,
    )


def mix_user_recordings(data: SyntheticDataset, user: FolderDataset, share: float,
                        seed: int = 0) -> SyntheticDataset:
    """The synthetic splits with a user's recordings mixed in: ``share`` (0-1) of the training
    clips are the user's (resampled with replacement when there are fewer), the rest
    synthetic; the user's files are split 80/10/10 per class first and their held-out parts
    added to validation and test. Folder names must be class names of the synthetic set."""
    if not 0.0 <= share <= 1.0:
        raise DatasetError(f"user share {share} outside 0-1")
    names = data.train.class_names
    unknown = [c for c in user.class_names if c not in names]
    if unknown:
        raise DatasetError(f"user class folder(s) {', '.join(unknown)} are not classes of the "
                           f"model; expected some of {', '.join(names)}")
    remap = np.array([names.index(c) for c in user.class_names])
    user = FeatureSet(user.features, remap[user.labels], user.snr_db, names)
    rng = np.random.default_rng([seed, 777])
    parts = {"train": [], "val": [], "test": []}
    for label in np.unique(user.labels):
        idx = rng.permutation(np.flatnonzero(user.labels == label))
        n_val = len(idx) // 10
        parts["val"] += idx[:n_val].tolist()
        parts["test"] += idx[n_val:2 * n_val].tolist()
        parts["train"] += idx[2 * n_val:].tolist()
    train_idx = np.asarray(parts["train"], dtype=np.int64)
    n_syn = len(data.train)
    if share >= 1.0:
        n_user, keep = len(train_idx), np.zeros(0, dtype=np.int64)
    else:
        n_user = int(round(share / (1.0 - share) * n_syn))
        keep = np.arange(n_syn)
    pick = rng.choice(train_idx, size=n_user, replace=n_user > len(train_idx)) \
        if n_user and len(train_idx) else np.zeros(0, dtype=np.int64)

    return SyntheticDataset(
        seed=data.seed,
        train=data.train.subset(keep).concat(user.subset(pick)),
        val=data.val.concat(user.subset(np.asarray(parts["val"], dtype=np.int64))),
        test=data.test.concat(user.subset(np.asarray(parts["test"], dtype=np.int64))))
