"""The fitted accuracy-loss table beats summing single-layer drops where layers interact."""

from __future__ import annotations

import numpy as np
import pytest

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.testing.profile_fixture import tiny_network_and_data
from adaspring_ros.training import accuracy_model as am

ARCH = ss.Architecture()


def _true_loss(entry_loss: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Synthetic ground truth: additive entries plus a super-additive term for stacked layers."""
    k = design.sum(axis=1)
    return design @ entry_loss * (1.0 + 0.5 * np.maximum(k - 1, 0))


def test_fit_beats_single_drop_sum_on_multi_layer_configurations():
    rng = np.random.default_rng(0)
    entries = am._entries(ARCH)
    entry_loss = rng.uniform(0.0, 2.0, len(entries))
    singles = {layer: {ss.UNCOMPRESSED: 0.0} for layer in range(1, ARCH.n_compressible + 1)}
    for (layer, option), v in zip(entries, entry_loss, strict=True):
        singles[layer][option] = float(v)
    fit_configs = am.sample_near_backbone(ARCH, 300, seed=1, single_drops=singles)
    held_out = am.sample_near_backbone(ARCH, 200, seed=2, single_drops=singles)
    design = am.design_matrix(ARCH, fit_configs)
    table = am.fit_table(ARCH, entry_loss, design, _true_loss(entry_loss, design))
    check = am.design_matrix(ARCH, held_out)
    truth = _true_loss(entry_loss, check)
    low = truth <= 5.0
    fitted_error = np.abs(check @ table - truth)[low].mean()
    summed_error = np.abs(check @ entry_loss - truth)[low].mean()
    assert fitted_error < 0.75 * summed_error
    assert np.all(table >= 0.0)


def test_fit_recovers_an_additive_table_from_a_wrong_prior():
    rng = np.random.default_rng(4)
    entries = am._entries(ARCH)
    truth = rng.uniform(0.0, 2.0, len(entries))
    singles = {layer: {o: 0.5 for o in ss.OPTIONS} for layer in range(1, ARCH.n_compressible + 1)}
    configs = am.sample_near_backbone(ARCH, 400, seed=5, single_drops=singles)
    design = am.design_matrix(ARCH, configs)
    prior = np.full(len(entries), 0.5)
    table = am.fit_table(ARCH, prior, design, design @ truth, prior_weight=1e-3)
    assert np.abs(table - truth).max() < 0.05


def test_sampled_configurations_are_distinct_and_compressed():
    singles = {layer: {o: 1.0 for o in ss.OPTIONS} for layer in range(1, ARCH.n_compressible + 1)}
    configs = am.sample_near_backbone(ARCH, 50, seed=3, single_drops=singles)
    assert len(configs) == len(set(configs)) == 50
    assert ss.backbone_configuration(ARCH) not in configs
    assert configs == am.sample_near_backbone(ARCH, 50, seed=3, single_drops=singles)


def test_calibrate_on_a_tiny_network():
    arch, net, data = tiny_network_and_data()
    base, drops, singles, info = am.calibrate(net, data, n_configs=15, progress=False)
    assert 0.0 <= base <= 100.0
    for layer in range(1, arch.n_compressible + 1):
        assert set(drops[layer]) == set(ss.OPTIONS) == set(singles[layer])
        assert drops[layer][ss.UNCOMPRESSED] == 0.0
        assert all(v >= 0.0 for v in drops[layer].values())
    assert info["fit_configs"] == 15 and info["clips"] == 45
    assert info["margin_pp_per_compressed_layer"] >= 0.0
    assert info["margin_pp_per_compressed_layer"] >= info["selection_gap_pp_per_compressed_layer"]
    assert info["selection_pool"] == ss.count_configurations(arch)


def _labels_set(labels, names=("a", "b", "background")):
    from adaspring_ros.core.scene.dataset import FeatureSet

    labels = np.asarray(labels)
    n = len(labels)
    return FeatureSet(np.zeros((n, 2, 2), np.float32), labels, np.zeros(n, np.float32), names)


def test_deployment_weights_give_background_its_share_and_events_the_rest_equally():
    data = _labels_set([0] * 10 + [1] * 30 + [2] * 20)  # unbalanced on purpose
    w = am.deployment_weights(data, background_share=0.5)
    assert np.isclose(w.mean(), 1.0)
    share = {c: w[data.labels == c].sum() / w.sum() for c in (0, 1, 2)}
    assert np.isclose(share[2], 0.5) and np.isclose(share[0], 0.25) and np.isclose(share[1], 0.25)
    # weighted losses: a configuration wrong on background only loses the background share
    correct = np.ones((2, len(data)), bool)
    correct[1, data.labels == 2] = False
    assert np.isclose(am._losses(correct, np.arange(len(data)), w)[1], 50.0)


def test_deployment_weights_without_background_are_uniform_over_classes():
    data = _labels_set([0] * 10 + [1] * 30, names=("a", "b"))
    w = am.deployment_weights(data)
    assert np.isclose(w[data.labels == 0].sum(), w[data.labels == 1].sum())


def test_calibration_set_adds_a_disjoint_second_draw(tmp_path, monkeypatch):
    from adaspring_ros.core.scene import dataset

    monkeypatch.setenv("ADASPRING_DATA_DIR", str(tmp_path))
    val = dataset.synthetic_split("val", 3, 9, progress=False, workers=1)
    assert am.calibration_set(val, None, extra=9) is val  # a user's folder: no second draw
    both = am.calibration_set(val, 3, extra=9, progress=False)
    assert len(both) == 18
    assert np.array_equal(both.features[:9], val.features)
    assert not any(np.array_equal(a, b) for a in both.features[9:] for b in val.features)


def test_cheapest_within_takes_the_cheapest_member_of_each_bound_once():
    predicted = np.array([0.0, 0.4, 0.9, 0.9, 2.5, 5.0])
    costs = np.array([10.0, 8.0, 5.0, 5.0, 1.0, 0.5])
    # bound 0.5 -> index 1 (cost 8); 1.0 and 1.5 -> index 2 (cost tie with 3, same loss: first);
    # 3.0 -> index 4; nothing is ever picked above its bound (index 5 at 5 pp)
    assert am.cheapest_within(predicted, costs, (0.5, 1.0, 1.5, 3.0)) == [1, 2, 4]
    assert am.cheapest_within(predicted, costs, (-1.0,)) == []
    # a cost tie goes to the lower predicted loss
    assert am.cheapest_within(np.array([0.8, 0.2]), np.array([1.0, 1.0]), (1.0,)) == [1]


def test_selection_gap_measures_what_the_table_under_states(monkeypatch):
    """A table that predicts every configuration free, while each compressed layer really costs
    0.25 pp: the gap per compressed layer is what the picks lose on the half not fitted on."""
    arch = ARCH
    n_clips = 400
    pool = [ss.backbone_configuration(arch),
            ("conv@0.5",) + (ss.UNCOMPRESSED,) * (arch.n_compressible - 1),
            ("conv@0.25",) * arch.n_compressible]

    def fake_correctness(net, data, configs, progress=True):
        rows = []
        for config in configs:
            k = sum(o != ss.UNCOMPRESSED for o in config)
            ok = np.ones(n_clips, bool)
            ok[:k] = False  # k compressed layers: k of the 400 clips wrong (0.25 pp each)
            rows.append(ok)
        return np.stack(rows)

    class Net:
        pass

    net = Net()
    net.arch = arch
    monkeypatch.setattr(am, "correctness", fake_correctness)
    weights = np.ones(n_clips)
    clips = np.arange(n_clips)
    halves = [clips[::2], clips[1::2]]
    free = np.zeros(len(am._entries(arch)))
    costs = np.array([3.0, 2.0, 1.0])
    gap, picks = am.selection_gap(net, None, weights, halves, [free, free], pool, costs,
                                  np.ones(n_clips, bool))
    # every bound picks the all-compressed configuration (cheapest, predicted 0 pp); on each
    # half it loses 2 of 200 clips (1 pp) over 4 layers
    assert [p["config"] for p in picks] == [list(pool[2])] * 2
    assert [p["other_half_pp"] for p in picks] == [1.0, 1.0]
    assert abs(gap - 0.25) < 1e-9
    # a table that states the loss exactly leaves no gap (bound 0.5 now picks the one-layer
    # configuration, the wider bounds still the all-compressed one)
    exact = np.zeros(len(am._entries(arch)))
    index = {e: j for j, e in enumerate(am._entries(arch))}
    exact[[index[(layer, "conv@0.25")] for layer in range(1, arch.n_compressible + 1)]] = 0.25
    exact[index[(1, "conv@0.5")]] = 0.25
    gap, picks = am.selection_gap(net, None, weights, halves, [exact, exact], pool, costs,
                                  np.ones(n_clips, bool))
    assert [p["config"] for p in picks] == [list(pool[1]), list(pool[2])] * 2
    assert abs(gap) < 1e-9
    # ... on average: the one-layer pick's single wrong clip (clip 0) falls in one half, so its
    # gap is -0.25 pp on one half and +0.25 on the other; an upper bound carries that noise
    assert [p["other_half_pp"] for p in picks] == [0.0, 1.0, 0.5, 1.0]
    bound, _ = am.selection_gap(net, None, weights, halves, [exact, exact], pool, costs,
                                np.ones(n_clips, bool), z=1.645)
    assert bound == pytest.approx(am.gap_per_layer([-0.25, 0.0, 0.25, 0.0], [1, 4, 1, 4], 1.645))
    assert bound > 0


def test_selection_gap_bound_is_the_pooled_mean_plus_its_noise():
    """z = 0 is the pooled gap per layer the table always used; z > 0 adds the noise of the
    picks: nothing when they agree, less with more picks of the same spread."""
    gaps, layers = [0.4, -0.4, 1.2, -0.4], [4, 4, 4, 4]  # per layer 0.1, -0.1, 0.3, -0.1
    mean = sum(gaps) / sum(layers)
    assert am.gap_per_layer(gaps, layers, 0.0) == pytest.approx(mean)
    bound = am.gap_per_layer(gaps, layers, 1.645)
    per_layer = np.array(gaps) / 4
    assert bound == pytest.approx(mean + 1.645 * per_layer.std(ddof=1) / 2)
    assert mean < am.gap_per_layer(gaps * 4, layers * 4, 1.645) < bound
    assert am.gap_per_layer([0.6, 0.2], [3, 1], 1.645) == pytest.approx(0.2)  # both 0.2 per layer
    assert am.gap_per_layer([0.3], [1], 1.645) == 0.3 and am.gap_per_layer([], [], 1.645) == 0.0
    with pytest.raises(ValueError, match="2 gaps but 1 layer counts"):
        am.gap_per_layer([0.1, 0.2], [1])


def test_selection_z_reaches_the_table_from_the_command_line():
    import argparse

    from adaspring_ros.training import profile_operators as po
    parser = argparse.ArgumentParser()
    po.add_profile_arguments(parser)
    assert po.profile_options(parser.parse_args([]))["selection_z"] == am.SELECTION_Z == 0.0
    assert po.profile_options(parser.parse_args(["--selection-z", "1.645"]))["selection_z"] == 1.645
    with pytest.raises(SystemExit):
        parser.parse_args(["--selection-z", "-1"])


def test_held_out_set_adds_fresh_draws_no_split_or_calibration_bank_holds():
    from adaspring_ros.core.scene import dataset
    from adaspring_ros.testing import held_out as ho

    meta = {"data": "synthetic", "seed": 0, "data_sizes": {"test": 9}}
    test = dataset.checkpoint_split(meta, "test", progress=False)
    held = ho.held_out_set(meta, extra=10, progress=False, draws=3)
    # 10 fresh clips over three draws (the remainder in the first), seeds 2, 3 and 4: seed 1's
    # speech bank is the calibration draw's
    assert held.draws == (("test split", 9), ("test draw seed 2", 4), ("test draw seed 3", 3),
                          ("test draw seed 4", 3))
    assert len(held.data.labels) == 19
    np.testing.assert_array_equal(held.data.features[:9], test.features)
    calibration_draw = dataset.synthetic_split("val", 1, 9, progress=False)
    for clip in held.data.features[9:]:
        assert not any(np.array_equal(clip, other) for other in test.features)
        assert not any(np.array_equal(clip, other) for other in calibration_draw.features)
    only_split = ho.held_out_set(meta, extra=0, progress=False)
    assert len(only_split.data.labels) == 9 and only_split.draws == (("test split", 9),)


def test_loss_by_draw_weighs_each_draw_on_its_own_clips():
    from adaspring_ros.testing.held_out import MeasuredConfigs, loss_by_draw, loss_interval

    ref, cfg = ("a",), ("b",)
    correct = {ref: np.ones(6, bool), cfg: np.array([1, 1, 0, 1, 0, 0], bool)}
    weights = np.array([1.0, 1.0, 1.0, 3.0, 1.0, 1.0])
    measured = MeasuredConfigs({}, {}, 0.0, correct, weights)
    draws = (("first", 2), ("second", 2), ("third", 2))
    # first: nothing lost; second: the weight-1 clip of 1 + 3 wrong, 25 %; third: all wrong
    assert loss_by_draw(measured, ref, cfg, draws) == pytest.approx([0.0, 25.0, 100.0])
    pooled, _ = loss_interval(measured, ref, cfg)
    assert pooled == pytest.approx(100.0 * 3 / 8)


def test_draw_interval_is_students_t_over_the_draws():
    from scipy.stats import t

    from adaspring_ros.testing.held_out import draw_interval

    losses = [1.25, 1.95, 1.6, 1.8]
    expected = t.ppf(0.975, 3) * np.std(losses, ddof=1) / 2.0
    assert draw_interval(losses) == pytest.approx(expected)
    assert 3.18 < t.ppf(0.975, 3) < 3.19  # four draws: wide, as it should be
    assert draw_interval([2.0, 2.0, 2.0]) == 0.0
    assert np.isnan(draw_interval([1.0])) and np.isnan(draw_interval([]))


def test_benchmarks_share_one_held_out_option():
    import argparse

    from adaspring_ros.testing.held_out import BENCH_HELD_OUT_CLIPS, add_held_out_argument

    parser = argparse.ArgumentParser()
    add_held_out_argument(parser)
    assert parser.parse_args([]).held_out_clips == BENCH_HELD_OUT_CLIPS == 12_000
    assert parser.parse_args(["--held-out-clips", "0"]).held_out_clips == 0
    assert "--held-out-clips" in parser.format_help()  # renders: its %% are escaped
