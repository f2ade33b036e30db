"""Δ': the progressive Pareto front must equal brute force and keep feasibility exact."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.search.elite_space import build_binary, build_progressive, elite_space
from adaspring_ros.core.search.objective import Evaluator, layer_tables
from adaspring_ros.testing.profile_fixture import make_profile, small_arch


def brute_front(profile, axes=5):
    """Every configuration no other one dominates, by direct pairwise comparison."""
    tables = layer_tables(profile)
    configs = list(itertools.product(ss.OPTIONS, repeat=profile.arch.n_compressible))
    points = []
    for cfg in configs:
        macs, params, acts, lat, loss = tables.sums(cfg)
        points.append((loss, lat, params, acts, -macs)[:axes])
    pts = np.array(points, dtype=np.float64)
    front = set()
    for start in range(0, len(pts), 256):
        chunk = pts[start:start + 256, None, :]
        dominated = ((pts[None] <= chunk).all(axis=2) & (pts[None] < chunk).any(axis=2)).any(1)
        front.update(configs[start + i] for i in np.flatnonzero(~dominated))
    return front


def test_progressive_front_equals_brute_force_and_binary_build():
    profile = make_profile(3, arch=small_arch(2))
    expected = brute_front(profile)
    progressive = build_progressive(profile)
    binary = build_binary(profile)
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


def test_every_context_optimum_is_on_the_five_axis_front():
    profile = make_profile(8, arch=small_arch(3))
    members = {m.config for m in build_progressive(profile).members}
    every = list(itertools.product(ss.OPTIONS, repeat=3))
    bb = profile.predict(ss.backbone_configuration(profile.arch))
    rng = random.Random(1)
    for _ in range(40):
        c = random_context(rng, bb, battery=(0.0, 1.0))
        ev = Evaluator(profile, c, mu1=rng.uniform(0, 1), mu2=rng.uniform(0.01, 1))
        feasible = [ev.evaluate(cfg) for cfg in every if ev.evaluate(cfg).feasible]
        if not feasible:
            continue
        best_all = min(e.objective for e in feasible)
        best_front = min(e.objective for e in feasible if e.config in members)
        assert best_front == best_all
