"""A search's quality against the exhaustive optimum over a context set (bench_runtime3c,
bench_ablation): one definition of "missed", "within 5 %" and the mean gap.

Gaps are on runtime3c.normalised_gap's scale (0 = the optimum, 1 = the worst feasible
configuration), counted only on contexts where the exhaustive search finds a feasible one; an
infeasible answer there is a miss and counts as gap 1 in the mean (``mean_gap``), and is left
out of ``mean_gap_feasible_only``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from adaspring_ros.core.search.runtime3c import normalised_gap

#: "Within 5 % of the optimum": a normalised gap at most this.
WITHIN = 0.05


def gap_of(result, exact) -> float:
    """The normalised gap of ``result`` to the exhaustive result ``exact`` of the same context:
    NaN where nothing is feasible, inf where ``result`` missed a feasible context."""
    if not exact.feasible:
        return math.nan
    if not result.feasible:
        return math.inf
    return normalised_gap(result.objective, exact.objective,
                          exact.details["worst_feasible_objective"])


def quality(results: Sequence, exacts: Sequence) -> dict:
    """Missed feasible contexts, share within WITHIN, mean gaps and median search time of one
    search's ``results``, index-aligned with the exhaustive ``exacts``."""
    if len(results) != len(exacts):
        raise ValueError(f"{len(results)} results for {len(exacts)} exhaustive results")
    gaps = [gap_of(r, e) for r, e in zip(results, exacts, strict=True) if e.feasible]
    finite = [g for g in gaps if math.isfinite(g)]
    return {
        "feasible_contexts": len(gaps),
        "missed_feasible": sum(1 for g in gaps if g == math.inf),
        "within_5pct_share": sum(1 for g in gaps if g <= WITHIN) / max(1, len(gaps)),
        "mean_gap": statistics.mean(min(g, 1.0) for g in gaps) if gaps else math.nan,
        "mean_gap_feasible_only": statistics.mean(finite) if finite else math.nan,
        "median_ms": statistics.median(r.search_time_ms for r in results) if results
        else math.nan,
    }
