import numpy as np
import pytest
import torch

from adaspring_ros.core.audio import features
from adaspring_ros.core.audio import stream_classifier as sc

CHUNK = 1600  # 100 ms at 16 kHz


def feed(windower, sequences):
    out = []
    for seq in sequences:
        out += windower.push(np.full(CHUNK, seq, np.float32), seq, seq * 100_000_000)
    return out


def test_windows_are_aligned_one_second_slices():
    out = feed(sc.AudioWindower(), range(30))
    assert [(w.first_sequence, w.last_sequence) for w in out] == [(0, 9), (10, 19), (20, 29)]
    assert all(w.samples.size == features.WINDOW_SAMPLES for w in out)
    assert out[1].samples[0] == 10 and out[1].samples[-1] == 19
    assert out[0].ready_stamp_ns == 1_000_000_000  # last chunk stamp + 100 ms


def test_a_lost_chunk_costs_only_its_window_and_is_counted():
    w = sc.AudioWindower()
    out = feed(w, [s for s in range(40) if s != 13])
    assert [(x.first_sequence, x.last_sequence) for x in out] == [(0, 9), (20, 29), (30, 39)]
    assert w.lost_chunks == 1


def test_overlapping_hop():
    out = feed(sc.AudioWindower(hop_seconds=0.5), range(25))
    assert [(w.first_sequence, w.last_sequence) for w in out] == [
        (0, 9), (5, 14), (10, 19), (15, 24)]


def test_bad_hop_is_refused():
    with pytest.raises(ValueError):
        sc.AudioWindower(hop_seconds=3.0)


def test_chunk_conversion_downmixes_and_resamples():
    stereo = np.zeros((4800, 2), np.float32)
    stereo[:, 0] = 1.0
    mono = sc.chunk_to_16k_mono(stereo, 48000)
    assert mono.shape == (1600,)
    assert abs(float(np.median(mono)) - 0.5) < 1e-3
    with pytest.raises(features.AudioError, match="NaN"):
        sc.chunk_to_16k_mono(np.full((10, 1), np.nan, np.float32), 16000)


class Constant(torch.nn.Module):
    def __init__(self, index, n=9):
        super().__init__()
        self.index, self.n = index, n

    def forward(self, x):
        out = torch.zeros(x.shape[0], self.n)
        out[:, self.index] = 10.0
        return out


def test_model_slot_swaps_whole_models():
    classes = [f"c{i}" for i in range(9)]
    slot = sc.ModelSlot(sc.ActiveModel(1, ("a",), Constant(2), "v"))
    window = feed(sc.AudioWindower(), range(10))[0]
    picked = slot.current
    slot.swap(sc.ActiveModel(2, ("b",), Constant(5), "v"))
    # a window handed the old model finishes on it; the next one sees the new model
    assert sc.classify(picked, window, classes).label == "c2"
    det = sc.classify(slot.current, window, classes)
    assert (det.label, det.config_id, slot.swaps) == ("c5", 2, 1)
    assert det.confidence > 0.99 and det.inference_ms >= 0


def test_a_new_chunk_size_re_anchors_on_the_sequence_grid():
    w = sc.AudioWindower()
    out = feed(w, range(10))  # 100 ms chunks, window 0-9
    for seq in range(100, 200):  # then 10 ms chunks, sequences aligned to 100 per window
        out += w.push(np.full(160, seq, np.float32), seq, 0)
    assert [(x.first_sequence, x.last_sequence) for x in out] == [(0, 9), (100, 199)]
    assert w.lost_chunks == 90  # the sequences 10-99 never arrived


def test_warm_up_runs_one_silent_patch_of_the_window_shape_without_gradients():
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            seen.append((tuple(x.shape), float(x.abs().sum()), torch.is_inference_mode_enabled()))
            return x.mean(dim=(2, 3))

    sc.warm_up(Recorder())
    assert seen == [((1, 1, features.N_MELS, features.N_FRAMES), 0.0, True)]
