"""The per-family analysis bench_families runs on measured numbers, checked on made-up ones."""

from __future__ import annotations

import itertools
import math
import random

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.testing.operator_families import (
    families_used,
    is_width_only,
    matched,
    pareto_front,
    predicted_front,
    structures,
)
from adaspring_ros.testing.profile_fixture import make_profile, small_arch


def brute_front(points):
    return {k for k, (a, c) in points.items()
            if not any(a2 >= a and c2 <= c and (a2 > a or c2 < c)
                       for k2, (a2, c2) in points.items() if k2 != k)}


def test_families_and_width_only():
    assert is_width_only(("conv@1.0", "conv@0.25"))
    assert not is_width_only(("conv@1.0", "skip"))
    assert structures(("fire@0.5", "skip", "conv@1.0")) == {"fire", "skip", "conv"}
    assert families_used(("fire@0.5", "dws@1.0", "conv@1.0")) == ["δ1 fire", "δ2 svd/dws"]
    assert families_used(("svd@0.5", "skip")) == ["δ2 svd/dws", "δ4 skip"]
    assert families_used(("conv@0.5", "conv@1.0")) == []


def test_pareto_front_matches_pairwise_dominance_ties_included():
    rng = random.Random(3)
    for _ in range(30):
        points = {i: (rng.choice([90.0, 91.0, 92.0, 93.0]), rng.choice([1.0, 2.0, 3.0]))
                  for i in range(rng.randint(1, 25))}
        assert pareto_front(points) == brute_front(points)
    assert pareto_front({"a": (90.0, 1.0), "b": (95.0, 2.0), "c": (94.0, 3.0)}) == {"a", "b"}


def test_matched_takes_the_best_width_only_configuration_no_costlier():
    width = {"w1": (95.0, 2.0), "w2": (93.0, 1.0), "w3": (96.0, 4.0)}
    family = {"f1": (94.0, 1.5), "f2": (90.0, 3.0), "f3": (80.0, 0.5)}
    rows = {m.config: m for m in matched(family, width)}
    assert rows[("f", "1")].width_config == ("w", "2") and rows[("f", "1")].margin_pp == 1.0
    assert rows[("f", "2")].width_config == ("w", "1") and rows[("f", "2")].margin_pp == -5.0
    assert rows[("f", "3")].width_config is None and rows[("f", "3")].margin_pp == math.inf
    assert [m.config for m in matched(family, width)][0] == ("f", "3")  # best margin first


def test_predicted_front_uses_the_family_only_and_is_not_dominated_by_prediction():
    profile = make_profile(1, arch=small_arch(3))
    picks = predicted_front(profile, {"conv", "fire"}, k=6, require={"fire"})
    assert 1 <= len(picks) <= 6
    options = [op for op in ss.OPTIONS if ss.parse_option(op)[0] in {"conv", "fire"}]
    pool = [c for c in itertools.product(options, repeat=profile.arch.n_compressible)
            if "fire" in structures(c)]
    pred = {c: profile.predict(c) for c in pool}
    on_t = brute_front({c: (-m.accuracy_loss, m.latency_ms) for c, m in pred.items()})
    on_p = brute_front({c: (-m.accuracy_loss, m.params_bytes) for c, m in pred.items()})
    assert set(picks) <= on_t | on_p
    everything = predicted_front(profile, {"conv", "fire"}, k=10**6, require={"fire"})
    assert set(everything) == on_t | on_p
    latencies = [pred[c].latency_ms for c in picks]
    assert latencies == sorted(latencies)
    width = predicted_front(profile, {"conv"}, k=50)
    assert all(is_width_only(c) for c in width)
    assert ss.backbone_configuration(profile.arch) in width  # the most accurate one
