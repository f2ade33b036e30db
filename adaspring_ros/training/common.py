"""Seeding, batching, augmentation and evaluation shared by every training stage."""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from adaspring_ros.core.scene.dataset import FeatureSet

EVAL_BATCH = 256
#: Set (e.g. by train_all --threads) to skip measuring and always use this thread count.
FIXED_THREADS: int | None = None
#: Where training steps and evaluation run (train_all/reprofile --device); data, checkpoints
#: and latency timing stay on the CPU.
DEVICE = torch.device("cpu")
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """--device auto|cpu|cuda -> a torch.device; cuda without a usable GPU is an error."""
    if name not in DEVICES:
        raise ValueError(f"device {name!r} is not one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no usable CUDA GPU here (this torch is "
                         f"{torch.__version__}); use --device cpu or auto")
    return torch.device(name)


def use_device(name: str) -> torch.device:
    """Set DEVICE for every training stage; returns it."""
    global DEVICE
    DEVICE = resolve_device(name)
    return DEVICE


def on_device(model):
    """``model`` where DEVICE is: itself on the CPU, else a copy (a subnet shares its
    parameters with the supernet, which must not move)."""
    if DEVICE.type == "cpu" or not isinstance(model, torch.nn.Module):
        return model
    return copy.deepcopy(model).to(DEVICE)


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


def run_epoch(x: torch.Tensor, y: torch.Tensor, batch_size: int, gen: torch.Generator,
              tuner: ThreadTuner, step: Callable) -> float:
    """One pass over shuffled, augmented mini-batches, each step timed for the thread tuner.

    ``step(xb, yb) -> (loss, weight)``; returns the weighted mean loss of the epoch.
    """
    total, n = 0.0, 0
    for xb, yb in batches(x, y, batch_size, gen):
        tuner.before()
        start = time.perf_counter()
        value, weight = step(augment(xb, gen).to(DEVICE), yb.to(DEVICE))
        tuner.after(time.perf_counter() - start)
        total, n = total + value * weight, n + weight
    return total / max(1, n)


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
    """Logits for every row of x, evaluated in chunks (on DEVICE), returned on the CPU."""
    model = on_device(model)
    return torch.cat([model(x[i:i + EVAL_BATCH].to(DEVICE)).cpu()
                      for i in range(0, x.shape[0], EVAL_BATCH)])


def correct(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
            y: torch.Tensor) -> np.ndarray:
    """Per row of x: is the top-1 class the label (bool array)."""
    return (predict(model, x).argmax(1) == y).numpy()


def top1(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
         y: torch.Tensor) -> float:
    """Top-1 accuracy in percent (a float32 mean, as every stored figure was computed)."""
    return float(100.0 * (predict(model, x).argmax(1) == y).float().mean())


def accuracy(model: Callable[[torch.Tensor], torch.Tensor], data: FeatureSet) -> float:
    """Top-1 accuracy in percent on a feature set."""
    return top1(model, *data.tensors())


class ThreadTuner:
    """Keep torch on whichever thread count trains fastest *now*, measured on real steps.

    Other processes share these two cores and their load comes and goes: with them busy, two
    OpenMP threads trained up to 4x slower than one (measured 86 vs 338 clips/s), with the
    cores free two are faster. A one-off probe at the start of a stage picked 2 threads in a
    lull and then ran 2.4x slower for the rest of the stage, so instead every ``period`` steps
    the next ``trial`` steps run with the other count (real training steps, nothing wasted)
    and the faster count is kept. Thread counts change float rounding only.
    """

    def __init__(self, candidates: tuple[int, ...] = (1, 2), period: int = 40, trial: int = 4):
        self.candidates = (FIXED_THREADS,) if FIXED_THREADS is not None else tuple(candidates)
        self.current = self.candidates[0]
        self.period, self.trial = period, trial
        self.step = 0
        self.recent: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.used: dict[int, int] = {c: 0 for c in self.candidates}
        self._trying: int | None = None
        self._trial_times: list[float] = []

    def before(self) -> int:
        """Set the thread count for the coming step and return it."""
        others = [c for c in self.candidates if c != self.current]
        if self._trying is None and others and self.step % self.period == self.period - 1:
            self._trying = others[(self.step // self.period) % len(others)]
            self._trial_times = []
        threads = self._trying if self._trying is not None else self.current
        torch.set_num_threads(threads)
        return threads

    def after(self, seconds: float) -> None:
        """Record the step that just ran (wall-clock seconds)."""
        self.step += 1
        if self._trying is None:
            self.used[self.current] += 1
            self.recent[self.current] = (self.recent[self.current] + [seconds])[-10:]
            return
        self.used[self._trying] += 1
        self._trial_times.append(seconds)
        if len(self._trial_times) >= self.trial:
            trial = float(np.median(self._trial_times[1:]))  # first step warms the pool
            mine = self.recent[self.current]
            if not mine or trial < 0.95 * float(np.median(mine)):
                self.current = self._trying
                self.recent[self.current] = self._trial_times[1:]
            self._trying = None

    def summary(self) -> dict[str, int]:
        return {f"{c}_threads_steps": n for c, n in self.used.items()}


def warmup_cosine(opt: torch.optim.Optimizer, steps: int,
                  warmup_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to zero; valid for any number of steps >= 1."""
    warmup = max(1, int(warmup_fraction * steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
