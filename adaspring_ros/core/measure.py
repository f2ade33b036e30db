"""Summary statistics every report computes the same way."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0-1): an observed value, never an interpolation; NaN
    for no values. p95 of 20 samples is the 19th smallest."""
    s = sorted(values)
    if not s:
        return math.nan
    return float(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))])
