"""Distillation's configuration draws (training/distill)."""

import random
from collections import Counter

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.training.distill import FAMILY_STRUCTURES, family_configuration


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
