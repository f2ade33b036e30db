"""Exhaustive, greedy, random and fixed-operator baselines on fixture profiles."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.search import baselines
from adaspring_ros.testing.profile_fixture import make_profile, small_arch

SMALL = make_profile(3, arch=small_arch(2))
SMALL_BB = SMALL.predict(ss.backbone_configuration(SMALL.arch))
PROFILE = make_profile(0)
BB = PROFILE.predict(ss.backbone_configuration(PROFILE.arch))


def context(latency_x, storage_x, threshold, battery=0.5, bb=BB):
    return DeploymentContext(battery, int(bb.params_bytes * storage_x), bb.latency_ms * latency_x,
                             threshold)


def brute_force(profile, c, kind="joules"):
    """Independent reference: Profile.predict and Eq. (1) written out, no shared evaluator."""
    v = c.validated()
    window = WindowEnergy()
    best = None
    for cfg in itertools.product(ss.OPTIONS, repeat=profile.arch.n_compressible):
        m = profile.predict(cfg)
        feasible = (m.accuracy_loss <= v.accuracy_loss_threshold
                    and m.latency_ms <= v.latency_budget_ms
                    and m.params_bytes <= v.storage_budget_bytes)
        joules = window.joules(m.macs, m.params_bytes, m.act_bytes, m.latency_ms)
        energy = math.log(joules) if kind == "joules" else -math.log(m.energy)
        j = v.lambda1 * math.log(max(m.accuracy_loss, 0.0) + 0.1) + v.lambda2 * energy
        if feasible and (best is None or j < best[0]):
            best = (j, cfg)
    return best


@pytest.mark.parametrize("kind", ["joules", "paper"])
def test_exhaustive_is_the_true_optimum_on_a_small_profile(kind):
    rng = random.Random(0)
    seen_feasible = 0
    for _ in range(25):
        c = context(rng.uniform(0.3, 1.2), rng.uniform(0.1, 1.2), rng.uniform(0.2, 2.5),
                    rng.uniform(0.3, 0.9), bb=SMALL_BB)
        got = baselines.exhaustive(SMALL, c, energy_objective=kind)
        assert got.energy_objective == kind
        want = brute_force(SMALL, c, kind)
        assert got.candidates_evaluated == len(ss.OPTIONS) ** 2
        if want is None:
            assert not got.feasible and got.details["worst_feasible_objective"] is None
            continue
        seen_feasible += 1
        assert got.feasible
        assert got.objective == pytest.approx(want[0], rel=1e-12)
        assert got.details["worst_feasible_objective"] >= got.objective
    assert seen_feasible >= 5


def test_exhaustive_reports_least_violating_when_infeasible():
    c = context(0.01, 0.01, 0.0, bb=SMALL_BB)
    r = baselines.exhaustive(SMALL, c)
    assert not r.feasible and "latency" in r.violated and "storage" in r.violated
    assert r.details["n_feasible"] == 0


def test_greedy_is_layer_by_layer_with_a_fixed_half_importance():
    rng = random.Random(5)
    worse_somewhere = False
    for _ in range(8):
        budgets = (rng.uniform(0.4, 1.0), rng.uniform(0.3, 1.0), rng.uniform(0.5, 2.0))
        low, high = context(*budgets, battery=0.38), context(*budgets, battery=0.86)
        g_low, g_high = baselines.greedy(PROFILE, low), baselines.greedy(PROFILE, high)
        # the battery (λ) does not move it: its importance is fixed at 0.5
        assert g_low.config == g_high.config
        assert g_low.candidates_evaluated <= len(ss.OPTIONS) * PROFILE.arch.n_compressible + 1
        e = baselines.exhaustive(PROFILE, low)
        if e.feasible and g_low.feasible:
            assert g_low.objective >= e.objective - 1e-12
            worse_somewhere |= g_low.objective > e.objective + 1e-9
    assert worse_somewhere  # never revisiting a layer costs objective on some contexts


def test_random_search_is_seeded_and_bounded():
    c = context(0.6, 0.7, 1.5)
    a = baselines.random_search(PROFILE, c, time_budget_ms=1e3, seed=3, max_candidates=50)
    b = baselines.random_search(PROFILE, c, time_budget_ms=1e3, seed=3, max_candidates=50)
    assert a.config == b.config and a.candidates_evaluated <= 50
    assert a.details["draws"] == 50
    zero = baselines.random_search(PROFILE, c, time_budget_ms=0.0, seed=3)
    assert zero.details["draws"] == 1
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="time_budget_ms"):
            baselines.random_search(PROFILE, c, time_budget_ms=bad)
    with pytest.raises(ValueError, match="max_candidates"):
        baselines.random_search(PROFILE, c, time_budget_ms=1.0, max_candidates=0)


def test_fixed_operator_keeps_the_operator_types_and_scales_one_ratio():
    structures = baselines.fixed_structures(PROFILE)
    assert len(structures) == PROFILE.arch.n_compressible
    relaxed = baselines.fixed_operator(PROFILE, context(1.5, 1.5, 5.0), structures=structures)
    tight = baselines.fixed_operator(PROFILE, context(0.5, 0.5, 5.0), structures=structures)
    for r in (relaxed, tight):
        parsed = [ss.parse_option(op) for op in r.config]
        assert tuple(s for s, _ in parsed) == structures
        assert len({w for s, w in parsed if s != ss.SKIP}) <= 1  # one ratio for every layer
    widths = {ss.parse_option(op)[1] for op in tight.config}
    assert ss.parse_option(relaxed.config[0])[1] == 1.0
    assert max(widths) < 1.0 or not tight.feasible
    assert relaxed.candidates_evaluated == 1


def test_fixed_operator_rejects_bad_structures():
    with pytest.raises(ValueError, match="structures"):
        baselines.fixed_operator(PROFILE, context(1, 1, 1), structures=("conv",))
    with pytest.raises(ValueError, match="structures"):
        baselines.fixed_operator(PROFILE, context(1, 1, 1), structures=("pool",) * 4)


@pytest.mark.parametrize("fn", [baselines.exhaustive, baselines.greedy, baselines.fixed_operator])
def test_baselines_fill_every_result_field(fn):
    r = fn(SMALL if fn is baselines.exhaustive else PROFILE, context(0.7, 0.8, 1.0))
    assert r.metrics is not None and r.encoding[0] <= len(r.config)
    assert set(r.constraints) == {"accuracy", "latency", "storage"}
    assert r.search_time_ms > 0 and r.reason
