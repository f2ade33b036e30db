"""Residual backbone (issue 14): δ4 skip as an identity that the training has seen."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.operators import IdentityBlock, ResidualBlock
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.core.scene.dataset import FeatureSet, SyntheticDataset
from adaspring_ros.training import train_all
from adaspring_ros.training.backbone import BackboneNet, import_backbone
from adaspring_ros.training.profile_operators import head_inputs, reachable_inputs

RES = ss.residual_architecture()
# the same channel plan without residual connections (what a stored plan with equal pairs
# meant before the flag existed)
PLAIN_EQUAL = ss.Architecture(channels=ss.RESIDUAL_CHANNELS)


def toy_profile(arch):
    """Complete tables with made-up numbers (storage only, as in test_checkpoint)."""
    layers = range(1, arch.n_compressible + 1)
    return Profile(
        arch=arch, checkpoint_version=ckpt.CHECKPOINT_VERSION, backbone_accuracy=97.5,
        accuracy_drop={i: {o: 0.1 * i for o in ss.OPTIONS} for i in layers},
        latency_ms={i: {c: {o: 0.01 * c for o in ss.OPTIONS} for c in reachable_inputs(arch, i)}
                    for i in layers},
        stem_latency_ms=0.05, head_latency_ms={c: 0.01 for c in head_inputs(arch)},
        channel_noise={i: 0.05 for i in layers}, meta={"note": "toy"})


def random_net(arch, seed=0):
    torch.manual_seed(seed)
    net = SelfEvolutionaryNet(arch)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net.eval()


def test_flag_marks_the_equal_pairs_and_is_stored_only_when_set():
    assert [RES.is_residual(i) for i in range(5)] == [False, False, True, False, True]
    assert not any(PLAIN_EQUAL.is_residual(i) for i in range(5))
    assert not any(ss.Architecture().is_residual(i) for i in range(5))
    assert "residual" not in ss.Architecture().to_dict()
    assert RES.to_dict()["residual"] is True
    assert ss.Architecture.from_dict(RES.to_dict()) == RES
    stored = RES.to_dict()
    del stored["residual"]  # an architecture stored before the flag: no residual
    assert ss.Architecture.from_dict(stored) == PLAIN_EQUAL


def test_residual_layer_adds_its_input_before_relu_and_pool():
    net = random_net(RES)
    layer = net.layers[1]  # layer 2: 96 -> 96, pools
    x = torch.rand(2, 96, 20, 25)
    with torch.no_grad():
        conv = F.conv2d(x, layer.conv_w, layer.conv_b, padding=1)
        expected = F.relu(F.max_pool2d(conv + x, 2))
        assert torch.allclose(layer(x, ss.UNCOMPRESSED), expected, atol=1e-5)
        # narrower output: the input's first channels are added to the kept ones
        y = layer.pre_activation(x, "conv@0.5")
        assert torch.allclose(y, conv[:, :48] + x[:, :48], atol=1e-5)
        # narrower input: added to the first C_in output channels only
        y = layer.pre_activation(x[:, :24], ss.UNCOMPRESSED)
        body = F.conv2d(x[:, :24], layer.conv_w[:, :24], layer.conv_b, padding=1)
        assert torch.allclose(y[:, :24], body[:, :24] + x[:, :24], atol=1e-5)
        assert torch.allclose(y[:, 24:], body[:, 24:], atol=1e-5)
        # a plain layer with the same shapes adds nothing
        plain = random_net(PLAIN_EQUAL).layers[1]
        plain_conv = F.conv2d(x, plain.conv_w, plain.conv_b, padding=1)
        assert torch.allclose(plain(x, ss.UNCOMPRESSED), F.relu(F.max_pool2d(plain_conv, 2)),
                              atol=1e-5)


@pytest.mark.parametrize("layer_index, pool", [(2, True), (4, False)])
def test_identity_skip_is_the_pooled_input_and_the_layer_with_its_body_removed(layer_index,
                                                                               pool):
    net = random_net(RES)
    layer = net.layers[layer_index - 1]
    cin = RES.layers[layer_index].in_channels
    assert layer.spec.pool is pool and ss.skip_is_identity(RES, layer_index, cin)
    x = torch.rand(2, cin, 20, 25)  # a layer's input is a ReLU output: x >= 0
    pooled = F.max_pool2d(x, 2) if pool else x
    block = layer.extract(ss.SKIP, cin)
    assert isinstance(block, IdentityBlock)
    assert ss.layer_cost(RES, layer_index, ss.SKIP, cin) == ss.Cost(0, 0, 0)
    with torch.no_grad():
        assert torch.equal(block(x), pooled)
        assert torch.equal(layer(x, ss.SKIP), pooled)
        full = layer(x, ss.UNCOMPRESSED)
        assert not torch.allclose(full, pooled)
        layer.conv_w.zero_()
        layer.conv_b.zero_()
        assert torch.allclose(layer(x, ss.UNCOMPRESSED), pooled)
        assert torch.allclose(layer.extract(ss.UNCOMPRESSED, cin)(x), pooled)


def test_skip_in_a_residual_layer_passes_a_narrower_input_through():
    net = random_net(RES)
    layer = net.layers[1]
    x = torch.rand(2, 48, 20, 25)  # layer 1 at width 0.5
    assert ss.skip_is_identity(RES, 2, 48) and not ss.skip_is_identity(PLAIN_EQUAL, 2, 48)
    assert ss.layer_out_channels(RES, 2, ss.SKIP, 48) == 48
    assert ss.layer_out_channels(PLAIN_EQUAL, 2, ss.SKIP, 48) == 96  # the adapter
    assert ss.layer_cost(RES, 2, ss.SKIP, 48) == ss.Cost(0, 0, 0)
    with torch.no_grad():
        assert torch.equal(layer.extract(ss.SKIP, 48)(x), F.max_pool2d(x, 2))
        assert torch.equal(layer(x, ss.SKIP), F.max_pool2d(x, 2))
    config = ("conv@0.5", ss.SKIP, "conv@0.25", ss.SKIP)
    assert ss.layer_input_channels(RES, config) == [8, 48, 48, 36]
    sub = net.get_active_subnet(config)
    assert isinstance(sub.blocks[1], IdentityBlock) and isinstance(sub.blocks[3], IdentityBlock)
    x = torch.rand(2, 1, RES.n_mels, RES.n_frames)
    with torch.no_grad():
        assert torch.allclose(sub(x), net(x, config), atol=1e-5)


def test_distillation_depth_draws_remove_only_residual_layers():
    from adaspring_ros.training.distill import depth_configuration

    rng = random.Random(0)
    assert depth_configuration(ss.Architecture(), rng) is None
    draws = [depth_configuration(RES, rng) for _ in range(200)]
    for config in draws:
        ss.validate_configuration(RES, config)
        assert ss.SKIP in config
        assert config[0] != ss.SKIP and config[2] != ss.SKIP
        assert all(o == ss.SKIP or o.startswith("conv@") for o in config)
    assert any(c[1] == ss.SKIP and c[3] == ss.SKIP for c in draws)
    assert any(c[1] != ss.SKIP for c in draws) and any(c[3] != ss.SKIP for c in draws)


def test_deployed_subnets_match_the_elastic_forward_and_the_analytic_costs():
    net = random_net(RES, seed=3)
    rng = random.Random(4)
    x = torch.rand(2, 1, RES.n_mels, RES.n_frames)
    configs = [ss.random_configuration(RES, rng) for _ in range(40)]
    configs += [("conv@1.0", "skip", "conv@1.0", "skip"), ("skip",) * 4,
                ("conv@0.25", "skip", "fire@0.5", "skip")]
    seen_residual = seen_identity = 0
    with torch.no_grad():
        for config in configs:
            sub = net.get_active_subnet(config)
            out = sub(x)
            assert out.shape == (2, RES.n_classes)
            assert torch.allclose(out, net(x, config), atol=1e-4), config
            params = sum(p.numel() for p in sub.parameters())
            assert params * 4 == ss.configuration_cost(RES, config).params_bytes, config
            for i, block in enumerate(sub.blocks, start=1):
                assert isinstance(block, ResidualBlock) == (
                    RES.is_residual(i) and not isinstance(block, IdentityBlock))
                seen_residual += isinstance(block, ResidualBlock)
                seen_identity += isinstance(block, IdentityBlock)
    assert seen_residual and seen_identity


def test_import_keeps_the_function_and_one_channel_order_per_residual_chain():
    torch.manual_seed(1)
    model = BackboneNet(RES)
    with torch.no_grad():
        for bn in model.bns:
            bn.weight.uniform_(0.1, 1.0)
            bn.bias.uniform_(-0.1, 0.1)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    net = SelfEvolutionaryNet(RES)
    orders = import_backbone(net, model)
    assert orders[1] == orders[2] and orders[3] == orders[4]
    assert orders[1] != list(range(96))
    x = torch.randn(3, 1, RES.n_mels, RES.n_frames)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=1e-4)
        assert torch.allclose(net.get_active_subnet()(x), net(x), atol=1e-5)


def test_stochastic_depth_drops_the_residual_bodies_in_training_only():
    x = torch.randn(8, 1, RES.n_mels, RES.n_frames)

    def grads(drop):
        torch.manual_seed(2)
        model = BackboneNet(RES, drop_depth=drop).train()
        model(x).sum().backward()
        return [conv.weight.grad.abs().sum().item() for conv in model.convs]

    dropped = grads(1.0)
    assert dropped[2] == 0 and dropped[4] == 0  # residual bodies never ran
    assert dropped[1] > 0 and dropped[3] > 0
    kept = grads(0.0)
    assert kept[2] > 0 and kept[4] > 0
    torch.manual_seed(2)
    model = BackboneNet(RES, drop_depth=1.0).eval()  # evaluation always runs every body
    reference = BackboneNet(RES, drop_depth=0.0).eval()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_checkpoint_stored_without_the_flag_loads_unchanged(tmp_path):
    net = random_net(ss.Architecture(), seed=6)
    path = ckpt.save(tmp_path / "old.pt", net, toy_profile(net.arch))
    payload = torch.load(path, weights_only=True)
    assert "residual" not in payload["arch"]
    loaded = ckpt.load(path)
    assert loaded.net.arch == ss.Architecture() and not loaded.net.arch.residual
    x = torch.rand(2, 1, 40, 51)
    for config in [ss.backbone_configuration(loaded.net.arch),
                   ("skip", "fire@0.5", "svd@0.75", "dws@0.25")]:
        sub = loaded.net.get_active_subnet(config)
        assert not any(isinstance(b, ResidualBlock) for b in sub.blocks)
        with torch.no_grad():
            assert torch.equal(sub(x), net.get_active_subnet(config)(x))
    res = random_net(RES, seed=7)
    path = ckpt.save(tmp_path / "res.pt", res, toy_profile(RES))
    loaded = ckpt.load(path)
    assert loaded.net.arch == RES
    config = ("conv@0.5", "conv@1.0", "conv@1.0", "skip")
    with torch.no_grad():
        assert torch.equal(loaded.net.get_active_subnet(config)(x),
                           res.get_active_subnet(config)(x))


def test_train_all_plan_and_reduced_training_options():
    assert train_all.make_architecture("residual", 9) == RES
    assert train_all.make_architecture("plain", 9) == ss.Architecture()
    with pytest.raises(ValueError):
        train_all.make_architecture("wide", 9)
    args = train_all.parse_args(["--plan", "residual", "--drop-depth", "0.3",
                                 "--train-clips", "10"])
    assert (args.plan, args.drop_depth, args.train_clips) == ("residual", 0.3, 10)
    assert train_all.parse_args([]).plan == "plain"
    with pytest.raises(SystemExit):
        train_all.parse_args(["--drop-depth", "1.0"])

    def fs(n):
        return FeatureSet(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1),
                          np.zeros(n, dtype=np.int64), np.zeros(n), ("a",))

    data = SyntheticDataset(seed=0, train=fs(50), val=fs(5), test=fs(5))
    small = train_all.reduce_training(data, 20, 0)
    assert len(small.train) == 20 and small.val is data.val and small.test is data.test
    picked = small.train.features.reshape(-1)
    assert len(set(picked.tolist())) == 20 and not np.array_equal(picked, np.arange(20))
    assert np.array_equal(train_all.reduce_training(data, 20, 0).train.features,
                          small.train.features)
    assert train_all.reduce_training(data, None, 0) is data
    assert train_all.reduce_training(data, 80, 0) is data


def test_train_all_end_to_end_with_the_residual_plan(tmp_path, monkeypatch):
    """The whole pipeline on 54 clips with --plan residual: the checkpoint stores the flag and
    its profile prices the identity skips at zero cost."""
    monkeypatch.setenv("ADASPRING_DATA_DIR", str(tmp_path / "data"))
    code = train_all.main([
        "--out", str(tmp_path / "models"), "--log", str(tmp_path / "log.json"),
        "--sizes", "36,9,9", "--train-clips", "30", "--plan", "residual",
        "--backbone-epochs", "1", "--distil-epochs", "1", "--accuracy-configs", "12",
        "--threads", "1", "--latency-repeats", "1", "--latency-rounds", "1",
        "--fit-configs", "20", "--no-progress", "--device", "cpu"])
    assert code == 0
    loaded = ckpt.load(tmp_path / "models" / ckpt.CHECKPOINT_NAME)
    assert loaded.net.arch == RES
    assert loaded.meta["plan"] == "residual" and loaded.meta["train_clips"] == 30
    assert loaded.meta["data_sizes"] == {"train": 36, "val": 9, "test": 9}  # as generated
    config = ("conv@1.0", ss.SKIP, "conv@1.0", ss.SKIP)
    sub = loaded.net.get_active_subnet(config)
    assert isinstance(sub.blocks[1], IdentityBlock) and isinstance(sub.blocks[3], IdentityBlock)
    assert isinstance(loaded.net.get_active_subnet(ss.backbone_configuration(RES)).blocks[1],
                      ResidualBlock)
    assert 96 in loaded.profile.latency_ms[2] and 144 in loaded.profile.latency_ms[4]
