"""TEST FIXTURE: a synthetic, seeded operator profile for unit tests of the search code.

Not measured on any network. The numbers are shaped like a real profile (accuracy drop grows as
width shrinks and with depth, latency follows MACs plus a per-module overhead, a few tiny
negative drops like measurement noise) so the search logic is exercised on a realistic landscape
without needing a trained checkpoint. Benchmarks use the shipped profile, never this.
"""

from __future__ import annotations

import random

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile


def tiny_network_and_data(n_clips: int = 45):
    """A seeded untrained tiny supernet and random features, for end-to-end profiler tests."""
    import numpy as np
    import torch

    from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
    from adaspring_ros.core.scene import dataset

    arch = ss.Architecture(channels=(4, 8, 8, 12, 12), pools=(True, True, True, False, False))
    torch.manual_seed(0)
    net = SelfEvolutionaryNet(arch)
    rng = np.random.default_rng(0)
    data = dataset.FeatureSet(
        features=rng.standard_normal((n_clips, arch.n_mels, arch.n_frames)).astype(np.float32),
        labels=np.arange(n_clips) % 9, snr_db=np.zeros(n_clips, np.float32),
        class_names=dataset.sound_synth.CLASSES)
    return arch, net, data

#: Base accuracy drop (pp) per structure and width at a mid-depth layer.
_BASE_DROP = {
    "conv": {1.0: 0.0, 0.75: 0.2, 0.5: 0.7, 0.25: 2.2},
    "fire": {1.0: 0.3, 0.75: 0.5, 0.5: 1.1, 0.25: 2.8},
    "svd": {1.0: 0.45, 0.75: 0.6, 0.5: 1.2, 0.25: 3.0},
    "dws": {1.0: 0.35, 0.75: 0.55, 0.5: 1.0, 0.25: 2.6},
}
_SKIP_DROP = 1.2
_MODULES = {"conv": 1, "fire": 3, "svd": 2, "dws": 2, ss.SKIP: 1}
_MS_PER_MAC = 1.0e-7
#: Per-module overhead as a share of the layer's backbone MAC time.
_MODULE_OVERHEAD = 0.05


def _reachable_inputs(arch: ss.Architecture, layer: int) -> list[int]:
    """Every input channel count layer ``layer`` can see (previous layer at any width or skip)."""
    if layer == 1:
        return [arch.layers[0].out_channels]
    prev = arch.layers[layer - 1].out_channels
    return sorted({ss.scaled(prev, w) for w in ss.WIDTHS})


def _layer_latency(arch: ss.Architecture, layer: int, option: str, cin: int) -> float:
    """MAC time plus a per-module overhead that scales with the layer (any backbone size)."""
    cost = ss.layer_cost(arch, layer, option, cin)
    if cost.macs == 0:  # identity skip
        return 0.0
    structure, _ = ss.parse_option(option)
    full = ss.layer_cost(arch, layer, ss.UNCOMPRESSED, arch.layers[layer].in_channels).macs
    return (cost.macs + _MODULES[structure] * _MODULE_OVERHEAD * full) * _MS_PER_MAC


def make_profile(seed: int = 0, arch: ss.Architecture | None = None,
                 drop_scale: float = 1.0) -> Profile:
    """A complete synthetic Profile; ``drop_scale`` stretches every accuracy drop."""
    arch = ss.Architecture() if arch is None else arch
    rng = random.Random(seed)
    n = arch.n_compressible
    accuracy_drop: dict[int, dict[str, float]] = {}
    latency: dict[int, dict[int, dict[str, float]]] = {}
    noise: dict[int, float] = {}
    for layer in range(1, n + 1):
        importance = 0.6 + 0.6 * (layer - 1) / max(1, n - 1)
        drops = {}
        for option in ss.OPTIONS:
            structure, width = ss.parse_option(option)
            base = _SKIP_DROP if structure == ss.SKIP else _BASE_DROP[structure][width]
            if option == ss.UNCOMPRESSED:
                drops[option] = 0.0
                continue
            drops[option] = drop_scale * (importance * base + rng.gauss(0.0, 0.08))
        accuracy_drop[layer] = drops
        latency[layer] = {
            cin: {o: _layer_latency(arch, layer, o, cin) for o in ss.OPTIONS}
            for cin in _reachable_inputs(arch, layer)
        }
        noise[layer] = 0.1 + 0.05 * (n - layer) + rng.uniform(0.0, 0.03)
    last = arch.layers[-1].out_channels
    head_inputs = sorted({ss.scaled(last, w) for w in ss.WIDTHS})
    stem = ss.stem_cost(arch).macs * _MS_PER_MAC * (1.0 + _MODULE_OVERHEAD)
    head = {c: ss.head_cost(arch, c).macs * _MS_PER_MAC + 0.01 * stem for c in head_inputs}
    return Profile(
        arch=arch,
        checkpoint_version=f"fixture-{seed}",
        backbone_accuracy=90.0,
        accuracy_drop=accuracy_drop,
        latency_ms=latency,
        stem_latency_ms=stem,
        head_latency_ms=head,
        channel_noise=noise,
        meta={"synthetic_fixture": True},
    )


def small_arch(n_compressible: int = 2) -> ss.Architecture:
    """A tiny backbone (17**n configurations) for brute-force checks; n in 1..4."""
    if not 1 <= n_compressible <= 4:
        raise ValueError(f"n_compressible must be 1..4; got {n_compressible}")
    channels = (8, 16, 24, 32, 40)[:n_compressible + 1]
    pools = (True, True, False, False, False)[:n_compressible + 1]
    return ss.Architecture(n_mels=16, n_frames=20, channels=channels, pools=pools)
