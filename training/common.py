"""Seeding, batching, augmentation and evaluation shared by every training stage."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch

from adaspring_ros.core.dataset import FeatureSet

EVAL_BATCH = 256
#: Set (e.g. by train_all --threads) to skip measuring and always use this thread count.
FIXED_THREADS: int | None = None


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for data order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
            gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches; the last short batch is dropped (it would be noisy for KD).

    A data set smaller than one batch (a small user folder) gives one batch of everything.
    """
    batch_size = min(batch_size, x.shape[0])
    order = torch.randperm(x.shape[0], generator=gen)
    for start in range(0, x.shape[0] - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 8, max_freq_mask: int = 5,
            max_time_mask: int = 6) -> torch.Tensor:
    """Per-clip circular time shift plus one frequency and one time mask (SpecAugment).

    Masks fill with 0, the mean of a standardised patch, so they remove information without
    adding a fake level.
    """
    b, _, n_mels, n_frames = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (b,), generator=gen)
    frames = (torch.arange(n_frames).reshape(1, -1) - shifts.reshape(-1, 1)) % n_frames
    x = torch.gather(x, 3, frames.reshape(b, 1, 1, n_frames).expand(b, 1, n_mels, n_frames))
    f0 = torch.randint(0, n_mels, (b,), generator=gen)
    fw = torch.randint(0, max_freq_mask + 1, (b,), generator=gen)
    t0 = torch.randint(0, n_frames, (b,), generator=gen)
    tw = torch.randint(0, max_time_mask + 1, (b,), generator=gen)
    mel_idx = torch.arange(n_mels).reshape(1, -1)
    frame_idx = torch.arange(n_frames).reshape(1, -1)
    fmask = (mel_idx >= f0.reshape(-1, 1)) & (mel_idx < (f0 + fw).reshape(-1, 1))
    tmask = (frame_idx >= t0.reshape(-1, 1)) & (frame_idx < (t0 + tw).reshape(-1, 1))
    keep = ~(fmask.reshape(b, 1, n_mels, 1) | tmask.reshape(b, 1, 1, n_frames))
    return x * keep


@torch.no_grad()
def predict(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits for every row of x, evaluated in chunks."""
    return torch.cat([model(x[i:i + EVAL_BATCH]) for i in range(0, x.shape[0], EVAL_BATCH)])


def accuracy(model: Callable[[torch.Tensor], torch.Tensor], data: FeatureSet) -> float:
    """Top-1 accuracy in percent."""
    x, y = data.tensors()
    return float(100.0 * (predict(model, x).argmax(1) == y).float().mean())


def pick_threads(step: Callable[[], object], candidates: tuple[int, ...] = (1, 2),
                 trials: int = 3) -> int:
    """Set torch to whichever thread count runs ``step`` fastest right now, and return it.

    Other processes share these two cores: with them busy, two OpenMP threads spin against
    each other and train up to 4x slower than one (measured), so the choice is measured, not
    assumed. ``step`` must not change the model being trained (probe on a copy).
    """
    import time

    if FIXED_THREADS is not None:
        torch.set_num_threads(FIXED_THREADS)
        return FIXED_THREADS
    best, best_time = candidates[0], float("inf")
    for n in candidates:
        torch.set_num_threads(n)
        step()  # warm-up
        start = time.perf_counter()
        for _ in range(trials):
            step()
        elapsed = time.perf_counter() - start
        if elapsed < best_time:
            best, best_time = n, elapsed
    torch.set_num_threads(best)
    return best


def warmup_cosine(opt: torch.optim.Optimizer, steps: int,
                  warmup_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to zero; valid for any number of steps >= 1."""
    warmup = max(1, int(warmup_fraction * steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
