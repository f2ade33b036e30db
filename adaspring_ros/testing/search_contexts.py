"""The fixed, seeded context set every search benchmark uses (bench_runtime3c, bench_ablation,
bench_families), so their figures are about the same contexts.

The paper's ranges: battery 0.38-0.86, storage budget (2 - σ) MiB with σ ~ U(0, 1.2), latency
budget 0.3-1.3 x the backbone's profiled latency, A_thr 0.3-2 pp.
"""

from __future__ import annotations

import random

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss

MIB = 1 << 20
#: The benchmarks' defaults: 120 contexts from seed 4.
DEFAULT_CONTEXTS = 120
DEFAULT_SEED = 4


def make_contexts(profile, n: int = DEFAULT_CONTEXTS,
                  seed: int = DEFAULT_SEED) -> list[DeploymentContext]:
    """The fixed context set: the paper's ranges, latency relative to the profiled backbone."""
    rng = random.Random(seed)
    backbone_ms = profile.predict(ss.backbone_configuration(profile.arch)).latency_ms
    return [DeploymentContext(
        battery=rng.uniform(0.38, 0.86),
        storage_budget_bytes=int((2.0 - rng.uniform(0.0, 1.2)) * MIB),
        latency_budget_ms=backbone_ms * rng.uniform(0.3, 1.3),
        accuracy_loss_threshold=rng.uniform(0.3, 2.0),
        stamp_s=float(i)) for i in range(n)]
