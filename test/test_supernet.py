"""Operators and the self-evolutionary network: exact costs, slicing, reconfiguration."""

import itertools
import random

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.operators import (
    AdapterBlock,
    ConvBlock,
    ElasticLayer,
    IdentityBlock,
    fold_batchnorm,
    max_pool_2x2,
)
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet, SubNet

ARCH = ss.Architecture()


class ConvOutputCounter(TorchDispatchMode):
    """Counts elements written by convolutions: Sa, the activations layer_cost prices."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in (torch.ops.aten.convolution, torch.ops.aten.mkldnn_convolution):
            self.elements += out.numel()
        return out


def reachable_inputs(arch, layer):
    """Every input width a compressible layer can receive (all options of the layer before)."""
    if layer == 1:
        return {arch.layers[0].out_channels}
    prev = reachable_inputs(arch, layer - 1)
    return {ss.layer_out_channels(arch, layer - 1, o, c) for o in ss.OPTIONS for c in prev}


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = SelfEvolutionaryNet(ARCH)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "width_log_sigma":
                p.normal_(0.0, 0.05)
    return model


@settings(max_examples=60, deadline=None)
@given(channels=st.integers(1, 9), height=st.integers(2, 13), width=st.integers(2, 13),
       seed=st.integers(0, 2**16), nan=st.booleans())
def test_run_time_max_pool_is_bit_identical_to_torch(channels, height, width, seed, nan):
    """Deployed blocks pool with strided maxima (faster at batch 1); odd sizes floor, NaN
    propagates, exactly as F.max_pool2d does, so profile and training agree with deployment."""
    x = torch.randn(1, channels, height, width, generator=torch.Generator().manual_seed(seed))
    if nan:
        x[0, 0, 0, 0] = float("nan")
    expected, got = F.max_pool2d(x, 2), max_pool_2x2(x)
    assert got.shape == expected.shape
    assert torch.equal(torch.isnan(got), torch.isnan(expected))
    assert torch.equal(got.nan_to_num(0.0), expected.nan_to_num(0.0))


def test_backbone_size_fits_the_storage_budget_design():
    cost = ss.configuration_cost(ARCH, ss.backbone_configuration(ARCH))
    assert 1.2e6 <= cost.params_bytes <= 1.9e6


@pytest.mark.parametrize("layer", range(1, ARCH.n_compressible + 1))
def test_every_built_block_costs_exactly_what_the_search_space_says(net, layer):
    spec = ARCH.layers[layer]
    for cin, option in itertools.product(sorted(reachable_inputs(ARCH, layer)), ss.OPTIONS):
        block = net.layers[layer - 1].extract(option, cin)
        expected = ss.layer_cost(ARCH, layer, option, cin)
        n_params = sum(p.numel() for p in block.parameters())
        assert n_params * ss.BYTES_PER_VALUE == expected.params_bytes, (option, cin)
        x = torch.rand(1, cin, spec.height, spec.width)
        flops, acts = FlopCounterMode(display=False), ConvOutputCounter()
        with flops, acts, torch.no_grad():
            y = block(x)
        assert flops.get_total_flops() == 2 * expected.macs, (option, cin)
        assert acts.elements * ss.BYTES_PER_VALUE == expected.act_bytes, (option, cin)
        assert y.shape[1] == ss.layer_out_channels(ARCH, layer, option, cin)


def test_head_and_whole_network_costs_match(net):
    rng = random.Random(1)
    for _ in range(25):
        config = tuple(rng.choice(ss.OPTIONS) for _ in range(ARCH.n_compressible))
        subnet = net.get_active_subnet(config)
        n_params = sum(p.numel() for p in subnet.parameters())
        cost = ss.configuration_cost(ARCH, config)
        assert n_params * ss.BYTES_PER_VALUE == cost.params_bytes
        flops = FlopCounterMode(display=False)
        with flops, torch.no_grad():
            subnet(torch.rand(1, 1, ARCH.n_mels, ARCH.n_frames))
        head_macs = ss.head_cost(ARCH, subnet.head.weight.shape[1]).macs
        assert flops.get_total_flops() == 2 * cost.macs  # the linear head counts as a matmul
        assert head_macs == subnet.head.weight.numel()


def test_dynamic_slicing_equals_the_deployed_subnet(net):
    rng = random.Random(2)
    x = torch.randn(3, 1, ARCH.n_mels, ARCH.n_frames)
    configs = [ss.backbone_configuration(ARCH)] + [
        tuple(rng.choice(ss.OPTIONS) for _ in range(ARCH.n_compressible)) for _ in range(30)]
    for config in configs:
        net.set_active_config(config)
        assert net.get_active_config() == config
        with torch.no_grad():
            dynamic = net(x)
        deployed = net.get_active_subnet()(x)
        assert torch.allclose(dynamic, deployed, atol=1e-5), config
    net.set_active_config(ss.backbone_configuration(ARCH))


def test_reconfiguration_runs_no_gradient_step_and_builds_no_graph(net):
    before = {k: v.clone() for k, v in net.state_dict().items()}
    config = ("fire@0.5", "svd@0.75", "dws@0.25", "skip")
    subnet = net.get_active_subnet(config)
    assert isinstance(subnet, SubNet) and not subnet.training
    assert all(not p.requires_grad for p in subnet.parameters())
    out = subnet(torch.randn(1, 1, ARCH.n_mels, ARCH.n_frames))  # no no_grad() here on purpose
    assert out.grad_fn is None and not out.requires_grad
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_compression_is_reversible_back_up_to_the_backbone(net):
    x = torch.randn(2, 1, ARCH.n_mels, ARCH.n_frames)
    backbone = ss.backbone_configuration(ARCH)
    reference = net.get_active_subnet(backbone)(x)
    for config in [("conv@0.25",) * 4, ("skip",) * 4, ("dws@0.5", "fire@0.25", "svd@1.0", "skip")]:
        small = net.get_active_subnet(config)
        assert sum(p.numel() for p in small.parameters()) < sum(
            p.numel() for p in net.get_active_subnet(backbone).parameters())
        restored = net.get_active_subnet(backbone)
        assert torch.equal(restored(x), reference)


def test_subnet_is_a_copy_independent_of_later_supernet_changes():
    net = SelfEvolutionaryNet(ARCH)
    x = torch.randn(1, 1, ARCH.n_mels, ARCH.n_frames)
    subnet = net.get_active_subnet(("conv@0.5",) * 4)
    before = subnet(x)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert torch.equal(subnet(x), before)


@pytest.mark.parametrize(
    "config, fragment",
    [(("conv@1.0",) * 3, "compressible"), (("conv@0.3",) * 4, "unknown operator"),
     (("conv@1.0",) * 5, "compressible")],
)
def test_invalid_configurations_raise_value_error(net, config, fragment):
    with pytest.raises(ValueError, match=fragment):
        net.get_active_subnet(config)
    with pytest.raises(ValueError, match=fragment):
        net.set_active_config(config)


def test_elastic_layer_rejects_wrong_input_width(net):
    with pytest.raises(ValueError, match="input channels"):
        net.layers[0].extract("conv@1.0", 33)
    with pytest.raises(ValueError, match="not compressible"):
        ElasticLayer(ARCH, 0)


def test_skip_is_identity_only_when_channels_are_unchanged():
    arch = ss.Architecture(channels=(8, 16, 16, 24, 24), pools=(True, True, False, False, False))
    net = SelfEvolutionaryNet(arch)
    assert isinstance(net.layers[1].extract("skip", 16), IdentityBlock)
    assert isinstance(net.layers[1].extract("skip", 8), AdapterBlock)
    subnet = net.get_active_subnet(("conv@1.0", "skip", "conv@1.0", "skip"))
    assert sum(p.numel() for p in subnet.parameters()) * 4 == ss.configuration_cost(
        arch, subnet.config).params_bytes
    x = torch.randn(2, 1, arch.n_mels, arch.n_frames)
    with torch.no_grad():
        assert torch.allclose(net(x, subnet.config), subnet(x), atol=1e-5)


def test_fold_batchnorm_is_exact():
    torch.manual_seed(3)
    conv, bn = nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    nn.init.uniform_(bn.weight, 0.5, 1.5)
    nn.init.uniform_(bn.bias, -0.5, 0.5)
    bn.eval()
    x = torch.randn(2, 4, 7, 9)
    w, b = fold_batchnorm(conv.weight, conv.bias, bn)
    folded = ConvBlock(w, b, pool=False)
    with torch.no_grad():
        assert torch.allclose(torch.relu(bn(conv(x))), folded(x), atol=1e-5)


def test_width_noise_is_trainable_and_exported(net):
    x = torch.randn(4, 1, ARCH.n_mels, ARCH.n_frames)
    net.zero_grad()
    net.noisy_forward(x, (0.5, 0.75, 0.25, 1.0)).square().mean().backward()
    assert net.width_log_sigma.grad is not None
    assert torch.count_nonzero(net.width_log_sigma.grad) > 0
    noise = net.channel_noise()
    assert set(noise) == {1, 2, 3, 4}
    assert all(0.005 <= v <= 0.5 for v in noise.values())
    net.zero_grad()
    with pytest.raises(ValueError, match="widths"):
        net.noisy_forward(x, (0.5,))


# --------------------------------------------------------------------------- training transforms
def test_svd_factors_are_exact_at_full_rank_and_close_when_truncated():
    from adaspring_ros.training.transforms import svd_factors

    torch.manual_seed(4)
    w = torch.randn(12, 5, 3, 3)
    x = torch.randn(2, 5, 8, 8)
    ref = torch.nn.functional.conv2d(x, w, padding=1)
    basis, mix = svd_factors(w, rank=12)
    full = torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, basis, padding=1), mix)
    assert torch.allclose(full, ref, atol=1e-4)
    basis, mix = svd_factors(w, rank=6)
    low = torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, basis, padding=1), mix)
    assert 0 < (low - ref).norm() < ref.norm()


def test_depthwise_separable_factors_are_exact_for_rank_one_slices():
    from adaspring_ros.training.transforms import depthwise_separable_factors

    torch.manual_seed(5)
    u, v = torch.randn(4, 10), torch.randn(4, 9)  # per input channel: (C_out) x (3x3)
    w = torch.einsum("io,ik->oik", u, v).reshape(10, 4, 3, 3)
    dw, pw = depthwise_separable_factors(w)
    x = torch.randn(2, 4, 6, 7)
    approx = torch.nn.functional.conv2d(
        torch.nn.functional.conv2d(x, dw, padding=1, groups=4), pw)
    assert torch.allclose(approx, torch.nn.functional.conv2d(x, w, padding=1), atol=1e-4)


def test_fire_and_adapter_fits_reproduce_what_they_can_represent():
    from adaspring_ros.training.transforms import adapter_factors, fire_factors

    gen = torch.Generator().manual_seed(6)
    torch.manual_seed(6)
    x = torch.relu(torch.randn(4, 6, 48, 48))
    w = torch.randn(8, 6, 3, 3) * 0.3
    target = torch.nn.functional.conv2d(x, w, padding=1)
    fire = fire_factors(w, x, target, squeeze=6, gen=gen)  # full-rank squeeze
    z = torch.relu(torch.nn.functional.conv2d(x, fire["fire_squeeze_w"], fire["fire_squeeze_b"]))
    y3 = torch.nn.functional.conv2d(z, fire["fire_e3_w"], fire["fire_e3_b"], padding=1)

    def rel_error(a, b):
        return float((a - b).norm() / b.norm())

    # The squeeze bias that keeps its ReLU (almost) linear makes zero padding inexact, and the
    # least-squares fit trades border against interior error: not exact, but close, far better
    # than a 1x1 expand can be (measured 0.17 vs 0.80), and better with a wider squeeze.
    y1 = torch.nn.functional.conv2d(z, fire["fire_e1_w"], fire["fire_e1_b"])
    assert rel_error(y3, target) < 0.25
    assert rel_error(y3, target) < 0.5 * rel_error(y1, target)
    smaller = fire_factors(w, x, target, squeeze=3, gen=gen)
    z3 = torch.relu(torch.nn.functional.conv2d(x, smaller["fire_squeeze_w"],
                                               smaller["fire_squeeze_b"]))
    y3_small = torch.nn.functional.conv2d(z3, smaller["fire_e3_w"], smaller["fire_e3_b"],
                                          padding=1)
    assert rel_error(y3, target) < rel_error(y3_small, target) < 1
    wide = fire_factors(w, x, target, squeeze=9, gen=gen)  # more squeeze than input channels
    assert wide["fire_squeeze_w"].shape == (9, 6, 1, 1)
    assert wide["fire_e3_w"].shape == (8, 9, 3, 3)
    zw = torch.relu(torch.nn.functional.conv2d(x, wide["fire_squeeze_w"], wide["fire_squeeze_b"]))
    y3_wide = torch.nn.functional.conv2d(zw, wide["fire_e3_w"], wide["fire_e3_b"], padding=1)
    assert rel_error(y3_wide, target) < 0.25
    pointwise = torch.randn(5, 6, 1, 1)
    adapter_w, adapter_b = adapter_factors(x, torch.nn.functional.conv2d(x, pointwise) + 0.5, gen)
    assert torch.allclose(adapter_w, pointwise, atol=1e-2)
    assert torch.allclose(adapter_b, torch.full((5,), 0.5), atol=1e-2)


def test_import_backbone_folds_bn_and_reorders_channels_without_changing_the_function():
    from adaspring_ros.training.backbone import BackboneNet, import_backbone

    torch.manual_seed(7)
    model = BackboneNet(ARCH)
    for bn in model.bns:
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        torch.nn.init.uniform_(bn.weight, -1.0, 1.0)
        torch.nn.init.uniform_(bn.bias, -0.2, 0.2)
    model.eval()
    net = SelfEvolutionaryNet(ARCH)
    orders = import_backbone(net, model)
    x = torch.randn(3, 1, ARCH.n_mels, ARCH.n_frames)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x, ss.backbone_configuration(ARCH)), atol=1e-4)
    importance = model.bns[2].weight.abs()
    assert torch.all(importance[orders[2]][:-1] >= importance[orders[2]][1:])


def test_thread_probe_and_augmentation():
    from adaspring_ros.training import common

    # train_all --threads pins the module-wide FIXED_THREADS; start from the unpinned default
    common.FIXED_THREADS = None
    # a thread count that is slower now gets abandoned, a faster one adopted
    tuner = common.ThreadTuner(candidates=(1, 2), period=5, trial=3)
    cost = {1: 0.010, 2: 0.004}
    for _ in range(12):
        threads = tuner.before()
        assert torch.get_num_threads() == threads
        tuner.after(cost[threads])
    assert tuner.current == 2
    cost = {1: 0.004, 2: 0.020}  # load arrives: two threads now stall
    for _ in range(12):
        tuner.after(cost[tuner.before()])
    assert tuner.current == 1
    assert sum(tuner.summary().values()) == 24
    common.FIXED_THREADS = 1
    try:
        fixed = common.ThreadTuner()
        assert [fixed.before() for _ in range(50)] == [1] * 50
    finally:
        common.FIXED_THREADS = None
    x = torch.randn(8, 1, ARCH.n_mels, ARCH.n_frames)
    a = common.augment(x, torch.Generator().manual_seed(1))
    b = common.augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


@pytest.mark.parametrize("first", [True, False])
def test_fire_layout_gives_the_first_channels_the_3x3_expand_and_matches_the_deployed_block(first):
    arch = ss.Architecture(channels=(8, 16, 16, 24, 24), pools=(True, True, False, False, False),
                           fire_3x3_first=first)
    torch.manual_seed(5)
    net = SelfEvolutionaryNet(arch)
    layer = net.layers[0]
    x = torch.randn(2, 8, 20, 25)
    with torch.no_grad():
        y = layer.pre_activation(x, "fire@0.75")  # 12 channels: 6 take 3x3, 6 take 1x1
        z = F.relu(F.conv2d(x, layer.fire_squeeze_w, layer.fire_squeeze_b))
        three = F.conv2d(z, layer.fire_e3_w, layer.fire_e3_b, padding=1)
        one = F.conv2d(z, layer.fire_e1_w, layer.fire_e1_b)
        head, tail = (three, one) if first else (one, three)
        assert torch.allclose(y[:, :6], head[:, :6], atol=1e-5)
        assert torch.allclose(y[:, 6:], tail[:, 6:12], atol=1e-5)
        block = layer.extract("fire@0.75", 8)
        assert torch.allclose(block(x), layer(x, "fire@0.75"), atol=1e-5)
    config = ("fire@0.5", "fire@0.25", "fire@1.0", "fire@0.75")
    subnet = net.get_active_subnet(config)
    assert sum(p.numel() for p in subnet.parameters()) * 4 == ss.configuration_cost(
        arch, config).params_bytes


def test_architectures_stored_before_the_fire_layout_keep_the_1x1_first_layout():
    stored = ss.Architecture().to_dict()
    assert stored.pop("fire_3x3_first") is True
    old = ss.Architecture.from_dict(stored)
    assert old.fire_3x3_first is False and old.to_dict() == stored
    assert ss.Architecture.from_dict(ss.Architecture().to_dict()) == ss.Architecture()
