"""Storage budget for parameters: the L2 cache left after other apps take their share.

Paper §6.3/§6.6: the budget is (2 - σ) MB, the Jetbot's 2 MB L2 cache minus a contention σ drawn
per hour. σ is seeded per hour (not a running random stream), so the same hour of the same day
always has the same contention no matter when or how often a node asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIB = 1024 * 1024
PAPER_L2_BYTES = 2 * MIB


def detect_l2_cache_bytes(sysfs: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int | None:
    """The CPU's L2 size from sysfs (Linux, x86 and ARM alike), or None if not exposed."""
    try:
        for index in sorted(sysfs.glob("index*")):
            if (index / "level").read_text().strip() != "2":
                continue
            size = (index / "size").read_text().strip().upper()
            scale = {"K": 1024, "M": MIB}.get(size[-1], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class CacheContention:
    """σ per hour ~ |N(mean, std)| clipped to [0, max], in MiB."""

    seed: int = 0
    l2_bytes: int = PAPER_L2_BYTES
    sigma_mean_mib: float = 0.35
    sigma_std_mib: float = 0.25
    sigma_max_mib: float = 1.0

    def sigma_mib(self, scene_time_s: float) -> float:
        if not math.isfinite(scene_time_s):
            raise ValueError("scene time must be finite")
        hour = int(scene_time_s // 3600)
        rng = np.random.default_rng([self.seed, hour])
        sigma = abs(rng.normal(self.sigma_mean_mib, self.sigma_std_mib))
        return float(min(sigma, self.sigma_max_mib))

    def budget_bytes(self, scene_time_s: float) -> int:
        return max(0, int(self.l2_bytes - self.sigma_mib(scene_time_s) * MIB))
