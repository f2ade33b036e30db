"""Distillation's configuration draws (training/distill)."""

import random
from collections import Counter

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.training.distill import (FAMILY_STRUCTURES, family_configuration,
                                           MID_WIDTHS, mid_width_configuration)


def test_family_draws_mix_one_structure_with_plain_convs():
    arch = ss.Architecture()
    rng = random.Random(0)
    seen = Counter()
    full_width_neighbours = 0
    for _ in range(2000):
        config = family_configuration(arch, rng)
        assert ss.validate_configuration(arch, config) == config
        others = {ss.parse_option(op)[0] for op in config} - {"conv"}
        assert len(others) <= 1 and others <= set(FAMILY_STRUCTURES)
        seen.update(others)
        full_width_neighbours += any(
            config[i] == ss.UNCOMPRESSED and ss.parse_option(config[i + 1])[0] != "conv"
            for i in range(len(config) - 1))
    # every family gets its share of draws, and often right after a full-width conv
    assert all(seen[s] > 300 for s in FAMILY_STRUCTURES), seen
    assert full_width_neighbours > 500


def test_mid_width_draws_are_width_only_at_half_width_or_more():
    arch = ss.Architecture()
    rng = random.Random(3)
    seen = Counter()
    for _ in range(400):
        config = mid_width_configuration(arch, rng)
        assert ss.validate_configuration(arch, config) == config
        for option in config:
            structure, width = ss.parse_option(option)
            assert structure == "conv" and width >= 0.5
            seen[width] += 1
    assert set(seen) == set(MID_WIDTHS) == {1.0, 0.75, 0.5}
