"""What start-up reuses between runs: a checkpoint's profile without its weights (cached by the
file's hash) and Δ' (cached by the profile's content). Both must miss when their source
changes, ignore a damaged entry, and never import torch on a hit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import profile_cache
from adaspring_ros.core.search import elite_cache
from adaspring_ros.core.search.elite_space import build_progressive, elite_space
from adaspring_ros.core.search.objective import layer_tables
from adaspring_ros.testing.profile_fixture import make_profile, small_arch


@pytest.fixture()
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "adaspring_ros"


@pytest.fixture()
def saved(tmp_path, cache_home):
    import torch

    from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
    from test_checkpoint import ARCH, toy_profile

    torch.manual_seed(0)
    return ckpt.save(tmp_path / "net.pt", SelfEvolutionaryNet(ARCH), toy_profile(),
                     {"seed": 3, "classes": ["a", "b"]})


def test_save_warms_the_profile_cache_and_load_profile_reads_it(saved, cache_home):
    digest = profile_cache.file_sha256(saved)
    assert profile_cache.entry_path(digest).is_file()
    got = ckpt.load_profile(saved)
    full = ckpt.load(saved)
    assert got.source.startswith("cache ")
    assert got.profile.to_dict() == full.profile.to_dict()
    assert (got.version, got.meta, got.path) == (full.version, full.meta, saved)


def test_a_changed_checkpoint_misses_and_is_read_from_the_file(saved, cache_home, tmp_path):
    import torch

    first = ckpt.load_profile(saved)
    payload = torch.load(saved, weights_only=True)
    payload["profile"]["backbone_accuracy"] = 12.5
    torch.save(payload, saved)  # same path, other bytes: another hash
    again = ckpt.load_profile(saved)
    assert again.source == "checkpoint" and again.profile.backbone_accuracy == 12.5
    assert first.profile.backbone_accuracy != 12.5
    assert ckpt.load_profile(saved).source.startswith("cache ")  # written on that read


@pytest.mark.parametrize("damage", ["garbage", "other_hash", "other_version", "not_a_dict"])
def test_a_damaged_profile_entry_is_ignored_and_rewritten(saved, cache_home, damage):
    entry = profile_cache.entry_path(profile_cache.file_sha256(saved))
    data = json.loads(entry.read_text())
    if damage == "garbage":
        entry.write_text("{not json")
    elif damage == "other_hash":
        entry.write_text(json.dumps({**data, "sha256": "0" * 64}))
    elif damage == "other_version":
        entry.write_text(json.dumps({**data, "version": "adaspring-ubiear-0"}))
    else:
        entry.write_text("[1, 2]")
    got = ckpt.load_profile(saved)
    assert got.source == "checkpoint"
    assert json.loads(entry.read_text()) == data


def test_load_profile_refuses_what_load_refuses(tmp_path, cache_home):
    import torch

    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        ckpt.load_profile(tmp_path / "nope.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ckpt.CheckpointError, match="not an adaspring_ros checkpoint"):
        ckpt.load_profile(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x02junk" * 100)
    with pytest.raises(ckpt.CheckpointError, match="junk.pt"):
        ckpt.load_profile(junk)
    assert not cache_home.exists() or not list(cache_home.glob("profile_*"))


def test_an_unwritable_cache_costs_a_read_not_an_error(saved, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert ckpt.load_profile(saved).source == "checkpoint"


def test_a_profile_cache_hit_imports_no_torch(saved, cache_home):
    code = ("import sys; from adaspring_ros.core.model import checkpoint; "
            f"p = checkpoint.load_profile({str(saved)!r}); "
            "print(p.source.split()[0], 'torch' in sys.modules)")
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/", env={**os.environ,
                                                   "XDG_CACHE_HOME": str(cache_home.parent)})
    assert out.stdout.split() == ["cache", "False"]


def _same(a, b):
    return [(m.config, tuple(m.sums)) for m in a.members] == \
        [(m.config, tuple(m.sums)) for m in b.members]


@pytest.mark.parametrize("objective", ["joules", "paper"])
def test_elite_space_is_read_back_from_the_cache_as_built(cache_home, objective):
    profile = make_profile(4, arch=small_arch(3))
    built = elite_space(profile, objective)
    assert built.source == "built"
    again = make_profile(4, arch=small_arch(3))  # an equal profile, another object
    cached = elite_space(again, objective)
    assert cached.source == "cache" and _same(cached, built)
    assert cached.energy_objective == objective
    assert (cached.candidates_priced, cached.build_ms) == (built.candidates_priced, built.build_ms)


def test_elite_cache_misses_for_another_profile_or_objective(cache_home):
    elite_space(make_profile(4, arch=small_arch(3)), "joules")
    other = make_profile(5, arch=small_arch(3))
    assert elite_space(other, "joules").source == "built"
    assert elite_space(make_profile(4, arch=small_arch(3)), "paper").source == "built"


@pytest.mark.parametrize("damage", ["garbage", "wrong_sums", "no_backbone", "bad_op"])
def test_a_damaged_elite_entry_is_rebuilt(cache_home, damage):
    profile = make_profile(4, arch=small_arch(3))
    built = build_progressive(profile)
    key = elite_cache.profile_key(profile, "joules")
    entry = elite_cache.to_entry(key, built)
    if damage == "garbage":
        elite_cache.entry_path(key).parent.mkdir(parents=True)
        elite_cache.entry_path(key).write_text("{")
    else:
        if damage == "wrong_sums":
            entry["members"][0][1][3] += 0.001
        elif damage == "no_backbone":
            bb = list(elite_cache.ss.backbone_configuration(profile.arch))
            entry["members"] = [m for m in entry["members"] if m[0] != bb]
        else:
            entry["members"][0][0][0] = "conv@9"
        elite_cache.write_json(elite_cache.entry_path(key), entry)
    assert elite_cache.load(profile, "joules", layer_tables(profile)) is None
    space = elite_space(profile, "joules")
    assert space.source == "built" and _same(space, built)
    assert elite_cache.load(profile, "joules", layer_tables(profile)) is not None
