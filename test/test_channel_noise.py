"""Issue 14: δ3 width noise per channel (training, profile export, mutation), behind
``Architecture.per_channel_noise``; per-layer noise (the shipped checkpoint) unchanged."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
import torch

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile, layer_noise_mean
from adaspring_ros.core.model.supernet import NOISE_SIGMA_BOUNDS, SelfEvolutionaryNet
from adaspring_ros.core.search import runtime3c
from adaspring_ros.core.search.runtime3c import Mutator, channel_cut_target, cut_bands
from adaspring_ros.testing.profile_fixture import make_profile

ARCH = ss.Architecture()
PER_CHANNEL = dataclasses.replace(ARCH, per_channel_noise=True)


def test_sigma_has_one_value_per_output_channel():
    net = SelfEvolutionaryNet(PER_CHANNEL)
    assert net.width_log_sigma.shape == (sum(ARCH.channels[1:]),)
    noise = net.channel_noise()
    assert {k: len(v) for k, v in noise.items()} == {
        i: ARCH.channels[i] for i in range(1, ARCH.n_compressible + 1)}
    assert SelfEvolutionaryNet(ARCH).width_log_sigma.shape == (ARCH.n_compressible,)
    assert all(isinstance(v, float) for v in SelfEvolutionaryNet(ARCH).channel_noise().values())


def test_architecture_switch_round_trips_and_old_dicts_stay_per_layer():
    assert ss.Architecture.from_dict(PER_CHANNEL.to_dict()) == PER_CHANNEL
    assert "per_channel_noise" not in ARCH.to_dict()  # old hashes and caches unchanged
    assert not ss.Architecture.from_dict(ARCH.to_dict()).per_channel_noise


def test_noisy_forward_trains_the_sigma_around_each_samples_cut():
    torch.manual_seed(0)
    net = SelfEvolutionaryNet(PER_CHANNEL)
    x = torch.randn(3, 1, ARCH.n_mels, ARCH.n_frames)
    widths = [torch.tensor([0.5, 0.5, 0.75])] * ARCH.n_compressible
    net.noisy_forward(x, widths).square().sum().backward()
    grad = net.width_log_sigma.grad
    first = grad[:ARCH.channels[1]]  # layer 1: 80 channels, cuts after 40 and 60
    touched = set(torch.nonzero(first).flatten().tolist())
    assert touched == {39, 40, 59, 60}
    reward = net.noise_log_reward()
    assert reward.shape == () and torch.isfinite(reward)


def test_per_layer_reward_is_the_old_sum_of_log_sigma():
    net = SelfEvolutionaryNet(ARCH)
    with torch.no_grad():
        net.width_log_sigma.copy_(torch.log(torch.tensor([0.01, 0.02, 0.03, 0.04])))
    assert torch.allclose(net.noise_log_reward(), net.channel_noise_tensor().log().sum())


def per_channel_profile(sigmas: dict[int, list[float]] | None = None) -> Profile:
    profile = make_profile(0)
    arch = dataclasses.replace(profile.arch, per_channel_noise=True)
    if sigmas is None:
        sigmas = {i: tuple(0.01 + 0.001 * c for c in range(arch.channels[i]))
                  for i in range(1, arch.n_compressible + 1)}
    return dataclasses.replace(profile, arch=arch, channel_noise=sigmas)


def test_profile_round_trip_with_per_channel_noise_json_and_checkpoint(tmp_path):
    profile = per_channel_profile()
    d = json.loads(json.dumps(profile.to_dict()))
    assert isinstance(d["channel_noise"]["1"], list)
    back = Profile.from_dict(d)
    assert back.channel_noise == profile.channel_noise
    assert back.to_dict() == profile.to_dict()
    # and through a weights_only checkpoint, with the network's own exported σ
    lo, hi = NOISE_SIGMA_BOUNDS
    torch.manual_seed(0)
    net = SelfEvolutionaryNet(PER_CHANNEL)
    with torch.no_grad():
        net.width_log_sigma.uniform_(torch.log(torch.tensor(lo)).item(),
                                     torch.log(torch.tensor(hi)).item())
    from test_checkpoint import toy_profile
    stored = dataclasses.replace(toy_profile(PER_CHANNEL), channel_noise=net.channel_noise())
    loaded = ckpt.load(ckpt.save(tmp_path / "net.pt", net, stored))
    assert torch.equal(loaded.net.width_log_sigma, net.width_log_sigma)
    assert loaded.profile.channel_noise == {k: tuple(v) for k, v in net.channel_noise().items()}


def test_old_profile_with_one_value_per_layer_loads_as_floats():
    d = make_profile(0).to_dict()
    assert all(isinstance(v, float) for v in d["channel_noise"].values())
    profile = Profile.from_dict(json.loads(json.dumps(d)))
    assert all(isinstance(v, float) for v in profile.channel_noise.values())
    assert layer_noise_mean(profile.channel_noise[1]) == profile.channel_noise[1]
    assert layer_noise_mean((0.1, 0.3)) == pytest.approx(0.2)


def test_shipped_style_per_layer_mutation_is_unchanged():
    """Per-layer σ: the same draws as before issue 14 (width + N(0, σ), snapped)."""
    profile = make_profile(0)
    mutator = Mutator(profile, _FakeEvaluator(), random.Random(5), True)
    reference = random.Random(5)
    for layer in range(4):
        sigma = profile.channel_noise[layer + 1]
        got = mutator.child_options(layer, "conv@0.5")
        width = runtime3c._snap_other(0.5, 0.5 + reference.gauss(0, sigma))
        partner = ["fire"][reference.randrange(1)]
        partner_width = runtime3c._snap(0.5 + reference.gauss(0, sigma))
        assert got == [f"conv@{width}", f"{partner}@{partner_width}"]


class _FakeEvaluator:
    n_layers = 4


def _moves(sigma, width=0.5, n=4000, seed=0):
    rng = random.Random(seed)
    return [channel_cut_target(width, sigma, rng) for _ in range(n)]


def test_cut_moves_further_for_noisier_channels():
    quiet = _moves([0.02] * 160)
    noisy = _moves([0.3] * 160)
    dist = [sum(abs(t - 0.5) for t, _ in m) / len(m) for m in (quiet, noisy)]
    assert dist[1] > 10 * dist[0]
    # in available widths: only the noisy channels ever jump two options
    mutator = Mutator(per_channel_profile(), _FakeEvaluator(), random.Random(0), True)
    quiet = {w: cut_bands(w, [0.02] * 160) for w in ss.WIDTHS}
    noisy = {w: cut_bands(w, [0.4] * 160) for w in ss.WIDTHS}
    quiet_w = {mutator._channel_wise(0.75, quiet) for _ in range(500)}
    noisy_w = {mutator._channel_wise(0.75, noisy) for _ in range(500)}
    assert quiet_w == {0.5, 1.0}
    assert 0.25 in noisy_w


def test_cut_drifts_toward_the_noisier_side():
    # channels below the cut at 0.5 (the ones a move down removes) noisy, above it quiet
    sigma = [0.01] * 40 + [0.09] * 40 + [0.01] * 80
    down = sum(d for _, d in _moves(sigma))
    assert 0.85 < down / 4000 < 0.95  # 0.09 / (0.09 + 0.01)
    # the edge widths always move inward
    assert all(d for _, d in _moves(sigma, width=1.0, n=50))
    assert not any(d for _, d in _moves(sigma, width=0.25, n=50))


def test_mutation_reads_the_profiles_per_channel_sigma():
    sigma = {i: tuple([0.01] * (c // 2) + [0.2] * (c - c // 2))
             for i, c in enumerate(make_profile(0).arch.channels[1:], start=1)}
    profile = per_channel_profile(sigma)
    mutator = Mutator(profile, _FakeEvaluator(), random.Random(3), True)
    # at 0.5 the band below is quiet (0.01) and the band above noisy (0.2): mostly up
    ups = sum(mutator._channel_wise(0.5, mutator.noise[0]) > 0.5 for _ in range(1000))
    assert ups > 900


def test_per_channel_mutation_is_deterministic_for_a_seed():
    profile = per_channel_profile()
    runs = []
    for _ in range(2):
        mutator = Mutator(profile, _FakeEvaluator(), random.Random(11), True)
        runs.append([mutator.child_options(layer, op) for layer in range(4)
                     for op in ("conv@0.5", "fire@0.75", "svd@1.0", "dws@0.25")])
    assert runs[0] == runs[1]
    assert all(ss.parse_option(o) for opts in runs[0] for o in opts)


def test_search_runs_on_a_per_channel_profile():
    from adaspring_ros.testing.search_contexts import make_contexts
    profile = per_channel_profile()
    for i, ctx in enumerate(make_contexts(profile, 4, 0)):
        a = runtime3c.search(profile, ctx, seed=i, elite=False)
        b = runtime3c.search(profile, ctx, seed=i, elite=False)
        assert a.config == b.config
