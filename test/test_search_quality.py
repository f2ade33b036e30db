"""The benchmarks' one definition of a search's quality against the exhaustive optimum."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from adaspring_ros.testing.search_quality import gap_of, quality


def result(objective, feasible=True, ms=1.0):
    return SimpleNamespace(objective=objective, feasible=feasible, search_time_ms=ms)


def exact(objective, worst, feasible=True):
    return SimpleNamespace(objective=objective, feasible=feasible,
                           details={"worst_feasible_objective": worst if feasible else None})


def test_gap_is_nan_without_a_feasible_optimum_and_inf_for_a_miss():
    assert math.isnan(gap_of(result(0.0), exact(0.0, 0.0, feasible=False)))
    assert gap_of(result(0.0, feasible=False), exact(-1.0, 1.0)) == math.inf
    assert gap_of(result(0.0), exact(-1.0, 1.0)) == pytest.approx(0.5)


def test_quality_counts_misses_as_gap_one_and_skips_infeasible_contexts():
    exacts = [exact(0.0, 1.0), exact(0.0, 1.0), exact(0.0, 1.0), exact(0.0, 0.0, False)]
    results = [result(0.0, ms=1.0), result(0.04, ms=2.0), result(9.0, False, ms=3.0),
               result(5.0, False, ms=4.0)]
    q = quality(results, exacts)
    assert q["feasible_contexts"] == 3
    assert q["missed_feasible"] == 1
    assert q["within_5pct_share"] == pytest.approx(2 / 3)
    assert q["mean_gap"] == pytest.approx((0.0 + 0.04 + 1.0) / 3)
    assert q["mean_gap_feasible_only"] == pytest.approx(0.02)
    assert q["median_ms"] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="results"):
        quality(results[:2], exacts)
