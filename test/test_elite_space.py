"""Δ': the progressive Pareto front must equal brute force and keep feasibility exact."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.search.elite_space import build_binary, build_progressive, elite_space
from adaspring_ros.core.search.objective import ENERGY_OBJECTIVES, Evaluator, layer_tables
from adaspring_ros.testing.profile_fixture import make_profile, small_arch


def brute_front(profile, axes=5, kind="joules"):
    """Every configuration no other one dominates, by direct pairwise comparison."""
    sign = 1 if kind == "joules" else -1
    tables = layer_tables(profile)
    configs = list(itertools.product(ss.OPTIONS, repeat=profile.arch.n_compressible))
    points = []
    for cfg in configs:
        macs, params, acts, lat, loss = tables.sums(cfg)
        points.append((loss, lat, params, acts, sign * macs)[:axes])
    pts = np.array(points, dtype=np.float64)
    front = set()
    for start in range(0, len(pts), 256):
        chunk = pts[start:start + 256, None, :]
        dominated = ((pts[None] <= chunk).all(axis=2) & (pts[None] < chunk).any(axis=2)).any(1)
        front.update(configs[start + i] for i in np.flatnonzero(~dominated))
    return front


@pytest.mark.parametrize("kind", ENERGY_OBJECTIVES)
def test_progressive_front_equals_brute_force_and_binary_build(kind):
    profile = make_profile(3, arch=small_arch(2))
    expected = brute_front(profile, kind=kind)
    progressive = build_progressive(profile, energy_objective=kind)
    binary = build_binary(profile, energy_objective=kind)
    assert progressive.energy_objective == binary.energy_objective == kind
    backbone = ss.backbone_configuration(profile.arch)
    got = {m.config for m in progressive.members} - ({backbone} - expected)
    assert got == expected
    assert {m.config for m in binary.members} == {m.config for m in progressive.members}
    # the binary build decodes every bit string; the progressive one prices prefixes only
    assert binary.candidates_priced == 2 ** 10
    assert progressive.candidates_priced <= len(ss.OPTIONS) ** 2 + len(ss.OPTIONS)


def test_fewer_axes_give_smaller_fronts_also_equal_to_brute_force():
    profile = make_profile(4, arch=small_arch(3))
    backbone = {ss.backbone_configuration(profile.arch)}
    sizes = []
    for axes in (3, 4, 5):
        space = build_progressive(profile, axes=axes)
        assert {m.config for m in space.members} - backbone == \
            brute_front(profile, axes=axes) - backbone
        sizes.append(len(space.members))
        # pruned prefixes are never extended: fewer priced than every prefix of every length
        assert space.candidates_priced < sum(len(ss.OPTIONS) ** k for k in (1, 2, 3))
    assert sizes[0] < sizes[1] < sizes[2]
    with pytest.raises(ValueError, match="axes"):
        build_progressive(profile, axes=2)


def test_member_sums_are_the_evaluator_sums():
    profile = make_profile(5, arch=small_arch(3))
    tables = layer_tables(profile)
    for m in build_progressive(profile).members:
        assert m.sums == tables.sums(m.config)


def test_backbone_is_always_a_member_and_space_is_cached():
    profile = make_profile(6, arch=small_arch(3))
    space = elite_space(profile)
    assert ss.backbone_configuration(profile.arch) in {m.config for m in space.members}
    assert elite_space(profile) is space
    assert space.candidates_priced < len(ss.OPTIONS) ** profile.arch.n_compressible


def random_context(rng: random.Random, bb, battery: tuple[float, float]) -> DeploymentContext:
    """Budgets from tight to loose around the backbone's predicted costs ``bb``."""
    return DeploymentContext(
        battery=rng.uniform(*battery),
        storage_budget_bytes=int(bb.params_bytes * rng.uniform(0.05, 1.2)),
        latency_budget_ms=bb.latency_ms * rng.uniform(0.2, 1.2),
        accuracy_loss_threshold=rng.uniform(0.0, 3.0)).validated()


def test_feasibility_is_exact_on_the_front():
    profile = make_profile(7, arch=small_arch(3))
    members = [m.config for m in build_progressive(profile).members]
    every = list(itertools.product(ss.OPTIONS, repeat=3))
    bb = profile.predict(ss.backbone_configuration(profile.arch))
    rng = random.Random(0)
    checked_feasible = 0
    for _ in range(60):
        c = random_context(rng, bb, battery=(0.3, 0.9))
        ev = Evaluator(profile, c)
        any_feasible = any(ev.evaluate(cfg).feasible for cfg in every)
        member_feasible = any(ev.evaluate(cfg).feasible for cfg in members)
        assert any_feasible == member_feasible
        checked_feasible += any_feasible
        if any_feasible:  # and the least accuracy loss among feasible ones is on the front
            best_all = min(ev.evaluate(cfg).accuracy_loss for cfg in every
                           if ev.evaluate(cfg).feasible)
            best_front = min(ev.evaluate(cfg).accuracy_loss for cfg in members
                             if ev.evaluate(cfg).feasible)
            assert best_front == best_all
    assert 5 < checked_feasible < 60  # the sample exercised both outcomes


@pytest.mark.parametrize("kind", ENERGY_OBJECTIVES)
def test_every_context_optimum_is_on_the_five_axis_front(kind):
    profile = make_profile(8, arch=small_arch(3))
    members = {m.config for m in build_progressive(profile, energy_objective=kind).members}
    every = list(itertools.product(ss.OPTIONS, repeat=3))
    bb = profile.predict(ss.backbone_configuration(profile.arch))
    rng = random.Random(1)
    checked = 0
    for _ in range(40):
        c = random_context(rng, bb, battery=(0.0, 1.0))
        # random energy constants too: the joules front must hold for any of them
        window = WindowEnergy(rng.uniform(0, 1e-9), rng.uniform(0, 1e-9), rng.uniform(0, 5))
        ev = Evaluator(profile, c, mu1=rng.uniform(0, 1), mu2=rng.uniform(0.01, 1),
                       energy_objective=kind, window=window)
        feasible = [ev.evaluate(cfg) for cfg in every if ev.evaluate(cfg).feasible]
        if not feasible:
            continue
        checked += 1
        best_all = min(e.objective for e in feasible)
        best_front = min(e.objective for e in feasible if e.config in members)
        assert best_front == best_all
    assert checked >= 10


def test_the_paper_front_misses_joules_optima_so_each_objective_has_its_own():
    """Why Δ' depends on the objective: (A, T, Sp, Sa, -C) keeps the most MACs, not the least."""
    profile = make_profile(8, arch=small_arch(3))
    joules = {m.config for m in elite_space(profile, "joules").members}
    paper = {m.config for m in elite_space(profile, "paper").members}
    assert joules != paper
    assert elite_space(profile, "paper") is elite_space(profile, "paper")
    with pytest.raises(ValueError, match="energy objective"):
        build_progressive(profile, energy_objective="watts")


def test_fastest_within_is_the_fastest_configuration_of_the_whole_space():
    """Δ' holds the fastest configuration within A_thr and Sp_bgt (the latency floor the
    evolution node compares a measured budget with), checked against every configuration."""
    profile = make_profile(7, arch=small_arch(3))
    tables = layer_tables(profile)
    space = elite_space(profile)
    everything = [tables.sums(c) for c in ss.all_configurations(profile.arch)]
    rng = random.Random(3)
    for _ in range(30):
        a_thr = rng.uniform(0.0, 8.0)
        storage = rng.uniform(0.2, 1.2) * max(s.params_bytes for s in everything)
        fits = [s.latency_ms for s in everything
                if s.accuracy_loss <= a_thr and s.params_bytes <= storage]
        want = min(fits) if fits else None
        got = space.fastest_within(a_thr, storage)
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want)


def test_random_subset_is_a_seeded_fraction_that_keeps_the_backbone():
    from adaspring_ros.core.search.elite_space import random_subset
    profile = make_profile(4, arch=small_arch(3))
    space = build_progressive(profile)
    backbone = ss.backbone_configuration(profile.arch)
    full = {m.config for m in space.members}
    a = random_subset(space, 0.1, seed=1)
    again = random_subset(space, 0.1, seed=1)
    other = random_subset(space, 0.1, seed=2)
    configs = [m.config for m in a.members]
    assert set(configs) <= full and len(set(configs)) == len(configs)
    assert backbone in configs
    assert round(0.1 * len(full)) <= len(configs) <= round(0.1 * len(full)) + 1
    assert configs == [m.config for m in again.members]
    assert configs != [m.config for m in other.members]
    assert a.energy_objective == space.energy_objective and "random0.1" in a.encoding
    assert len(random_subset(space, 1.0).members) == len(space.members)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            random_subset(space, bad)
