"""Checkpoint round trip and every way a file can be unusable."""

import os
import pickle

import pytest
import torch

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.checkpoint import CheckpointError
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.training.profile_operators import head_inputs, reachable_inputs

ARCH = ss.Architecture()


def toy_profile(arch=ARCH, version=ckpt.CHECKPOINT_VERSION):
    """Complete tables with made-up numbers: these tests are about storage, not values."""
    layers = range(1, arch.n_compressible + 1)
    return Profile(
        arch=arch, checkpoint_version=version, backbone_accuracy=97.5,
        accuracy_drop={i: {o: 0.1 * i for o in ss.OPTIONS} for i in layers},
        latency_ms={i: {c: {o: 0.01 * c for o in ss.OPTIONS} for c in reachable_inputs(arch, i)}
                    for i in layers},
        stem_latency_ms=0.05, head_latency_ms={c: 0.01 for c in head_inputs(arch)},
        channel_noise={i: 0.05 for i in layers}, meta={"note": "toy"})


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    net = SelfEvolutionaryNet(ARCH)
    path = ckpt.save(tmp_path / "net.pt", net, toy_profile(), {"seed": 3, "sizes": [1, 2]})
    return path, net


def test_round_trip_restores_weights_profile_and_meta(saved):
    path, net = saved
    loaded = ckpt.load(path)
    assert loaded.version == ckpt.CHECKPOINT_VERSION
    assert loaded.meta == {"seed": 3, "sizes": [1, 2]}
    assert loaded.profile.to_dict() == toy_profile().to_dict()
    x = torch.randn(2, 1, ARCH.n_mels, ARCH.n_frames)
    config = ("fire@0.5", "svd@1.0", "dws@0.25", "skip")
    assert torch.equal(loaded.net.get_active_subnet(config)(x), net.get_active_subnet(config)(x))
    assert not loaded.net.training


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist.*train_all"):
        ckpt.load(tmp_path / "nope.pt")


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt.*truncated or corrupt"):
        ckpt.load(cut)


def test_garbage_file(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="junk.pt"):
        ckpt.load(junk)


def test_wrong_version(saved, tmp_path):
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["version"] = "adaspring-ubiear-0"
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(CheckpointError, match="version 'adaspring-ubiear-0'.*regenerate"):
        ckpt.load(old)


def test_not_a_checkpoint(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not an adaspring_ros checkpoint"):
        ckpt.load(other)


def test_inconsistent_state_dict(saved, tmp_path):
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["stem_w"] = torch.zeros(3)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match="incomplete or inconsistent"):
        ckpt.load(bad)


def _payload_hook():
    return "this would run on load"


class Exploit:
    def __reduce__(self):
        return (print, ("arbitrary code ran during load",))


@pytest.mark.parametrize("evil", [_payload_hook, Exploit()])
def test_pickled_callable_is_refused_not_executed(saved, tmp_path, evil, capsys):
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["meta"] = {"hook": evil}
    trap = tmp_path / "trap.pt"
    torch.save(payload, trap)
    with pytest.raises(CheckpointError, match=r"trap\.pt.*pickled Python objects.*Unsupported"):
        ckpt.load(trap)
    assert "arbitrary code ran" not in capsys.readouterr().out
    assert isinstance(ckpt.CheckpointError("x"), RuntimeError)
    assert pickle.UnpicklingError  # the error torch raises, turned into CheckpointError


def test_save_rejects_unstorable_meta_and_mismatched_profile(tmp_path):
    net = SelfEvolutionaryNet(ARCH)
    with pytest.raises(ValueError, match="meta.*holds a set"):
        ckpt.save(tmp_path / "a.pt", net, toy_profile(), {"tags": {"a"}})
    with pytest.raises(ValueError, match="TorchVersion"):
        ckpt.save(tmp_path / "a.pt", net, toy_profile(), {"torch": torch.__version__})
    with pytest.raises(ValueError, match="version"):
        ckpt.save(tmp_path / "b.pt", net, toy_profile(version="other"), {})
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "b.pt").exists()


def test_default_checkpoint_prefers_env_then_source_tree_then_install_prefix(
        monkeypatch, tmp_path):
    monkeypatch.setenv(ckpt.ENV_VAR, str(tmp_path / "mine.pt"))
    assert ckpt.default_checkpoint() == tmp_path / "mine.pt"
    with pytest.raises(CheckpointError, match=f"{ckpt.ENV_VAR} is set"):
        ckpt.load()
    monkeypatch.delenv(ckpt.ENV_VAR)
    source = ckpt.checkpoint_candidates()[0]
    assert source.parts[-2:] == ("models", ckpt.CHECKPOINT_NAME)
    prefix = tmp_path / "install"
    installed = prefix / "share" / "adaspring_ros" / "models" / ckpt.CHECKPOINT_NAME
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"x")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert installed in ckpt.checkpoint_candidates()
    expected = source if source.is_file() else installed
    assert ckpt.default_checkpoint() == expected
