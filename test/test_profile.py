"""The shipped profile fills every table Profile.predict reads; the profiler measures honestly."""

import itertools
import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import latency_table as lt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.model.supernet import NOISE_SIGMA_BOUNDS
from adaspring_ros.core.scene import dataset
from adaspring_ros.testing.profile_fixture import tiny_network_and_data
from adaspring_ros.training import profile_operators as po

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def shipped():
    return ckpt.load(MODELS / ckpt.CHECKPOINT_NAME)


def test_shipped_checkpoint_is_small_and_current(shipped):
    size = (MODELS / ckpt.CHECKPOINT_NAME).stat().st_size
    assert size < 5e6
    assert shipped.version == ckpt.CHECKPOINT_VERSION
    assert shipped.net.arch == ss.Architecture()
    assert shipped.meta["class_names"] == list(dataset.sound_synth.CLASSES)
    assert shipped.meta["synth_version"] == dataset.sound_synth.SYNTH_VERSION


def test_profile_json_equals_the_profile_inside_the_checkpoint(shipped):
    on_disk = json.loads((MODELS / ckpt.PROFILE_NAME).read_text())
    assert on_disk == json.loads(json.dumps(shipped.profile.to_dict()))
    assert Profile.from_dict(on_disk).to_dict() == shipped.profile.to_dict()


def test_every_table_predict_reads_is_filled(shipped):
    profile, arch = shipped.profile, shipped.net.arch
    for layer in range(1, arch.n_compressible + 1):
        assert set(profile.accuracy_drop[layer]) == set(ss.OPTIONS)
        assert set(profile.latency_ms[layer]) == set(po.reachable_inputs(arch, layer))
        for cin, row in profile.latency_ms[layer].items():
            assert set(row) == set(ss.OPTIONS), (layer, cin)
            assert all(v > 0 for v in row.values())
        lo, hi = NOISE_SIGMA_BOUNDS
        assert lo <= profile.channel_noise[layer] <= hi
    assert set(profile.head_latency_ms) == set(po.head_inputs(arch))
    assert profile.stem_latency_ms > 0
    for layer in range(1, arch.n_compressible + 1):
        assert profile.accuracy_drop[layer][ss.UNCOMPRESSED] == 0.0
    rng = random.Random(0)
    for _ in range(3000):
        config = tuple(rng.choice(ss.OPTIONS) for _ in range(arch.n_compressible))
        metrics = profile.predict(config)
        cost = ss.configuration_cost(arch, config)
        assert metrics.latency_ms > 0 and np.isfinite(metrics.accuracy_loss)
        assert (metrics.macs, metrics.params_bytes, metrics.act_bytes) == (
            cost.macs, cost.params_bytes, cost.act_bytes)


def test_reachable_inputs_match_brute_force_enumeration():
    arch = ss.Architecture()
    seen = {i: set() for i in range(1, arch.n_compressible + 1)}
    heads = set()
    for config in itertools.product(ss.OPTIONS, repeat=arch.n_compressible):
        ins = ss.layer_input_channels(arch, config)
        for i, cin in enumerate(ins, start=1):
            seen[i].add(cin)
        heads.add(ss.layer_out_channels(arch, arch.n_compressible, config[-1], ins[-1]))
    for i in seen:
        assert po.reachable_inputs(arch, i) == sorted(seen[i])
    assert po.head_inputs(arch) == sorted(heads)


def test_shipped_backbone_classifies_fresh_synthetic_clips(shipped):
    # clips from a seed the checkpoint never saw: the backbone must still recognise them
    fresh = dataset.synthetic_split("test", seed=987, n_clips=90, workers=1, progress=False)
    acc = po.config_accuracy(shipped.net, fresh, ss.backbone_configuration(shipped.net.arch))
    assert acc >= 85.0


class SleepyModule(torch.nn.Module):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_timing_estimator_measures_wall_time_per_module():
    x = torch.zeros(1)
    ms = po.time_modules({"slow": (SleepyModule(0.004), x), "fast": (SleepyModule(0.0), x)},
                         repeats=5, rounds=2)
    assert 4.0 <= ms["slow"] < 40.0
    assert ms["fast"] < ms["slow"]


def test_profiler_end_to_end_on_a_tiny_network():
    arch, net, data = tiny_network_and_data()
    base, drops = po.measure_accuracy_drops(net, data, progress=False)
    assert 0.0 <= base <= 100.0
    assert all(drops[i][ss.UNCOMPRESSED] == 0.0 for i in drops)
    table, stem, head, fit = po.measure_latency_tables(net, repeats=2, rounds=1,
                                                       progress=False, fit_configs=20)
    assert stem > 0 and set(head) == set(po.head_inputs(arch))
    assert np.isfinite(fit["in_network_factor"]) and fit["in_network_factor"] > 0
    assert fit["fit_configs"] == 20
    profile = Profile(arch=arch, checkpoint_version=ckpt.CHECKPOINT_VERSION,
                      backbone_accuracy=base, accuracy_drop=drops, latency_ms=table,
                      stem_latency_ms=stem, head_latency_ms=head,
                      channel_noise=net.channel_noise())
    configs = po.sample_configurations(arch, 12, seed=3)
    assert len(set(configs)) == 12 and configs[0] == ss.backbone_configuration(arch)
    check = po.check_accuracy_model(profile, net, data, configs)
    assert len(check["measured"]) == len(check["predicted"]) == 12
    assert check["predicted"][0] == pytest.approx(base)
    assert check["measured"][0] == pytest.approx(base)


def test_train_all_end_to_end_on_a_tiny_set(tmp_path, monkeypatch):
    """The whole pipeline on 54 clips: every stage runs and the artifacts are complete."""
    from adaspring_ros.training import train_all

    monkeypatch.setenv("ADASPRING_DATA_DIR", str(tmp_path / "data"))
    code = train_all.main([
        "--out", str(tmp_path / "models"), "--log", str(tmp_path / "log.json"),
        "--sizes", "36,9,9", "--backbone-epochs", "1", "--distil-epochs", "1",
        "--accuracy-configs", "12",
        "--threads", "1", "--latency-repeats", "1", "--latency-rounds", "1",
        "--fit-configs", "20", "--no-progress", "--device", "auto"])
    assert code == 0
    loaded = ckpt.load(tmp_path / "models" / ckpt.CHECKPOINT_NAME)
    profile = Profile.from_dict(json.loads((tmp_path / "models" / ckpt.PROFILE_NAME).read_text()))
    assert profile.to_dict() == loaded.profile.to_dict()
    arch = loaded.net.arch
    for layer in range(1, arch.n_compressible + 1):
        assert set(profile.latency_ms[layer]) == set(po.reachable_inputs(arch, layer))
    assert loaded.meta["data_sizes"] == {"train": 36, "val": 9, "test": 9}
    assert loaded.meta["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    cal = loaded.meta["calibration"]  # temperature scaling fitted on validation
    assert cal["split"] == "val" and cal["clips"] == 9 and 0.05 <= cal["temperature"] <= 20
    assert cal["nll_after"] <= cal["nll_before"] + 1e-9
    log = json.loads((tmp_path / "log.json").read_text())
    assert [s["stage"] for s in log["meta"]["stages"]][:2] == ["data", "backbone"]
    with pytest.raises(SystemExit):
        train_all.main(["--sizes", "1,2", "--out", str(tmp_path / "x")])

    # re-profiling replaces the profile and keeps the weights
    from adaspring_ros.training import reprofile

    before = loaded.net.state_dict()
    assert reprofile.main(["--checkpoint", str(tmp_path / "models" / ckpt.CHECKPOINT_NAME),
                           "--latency-repeats", "1", "--latency-rounds", "1",
                           "--fit-configs", "20", "--no-progress"]) == 0
    again = ckpt.load(tmp_path / "models" / ckpt.CHECKPOINT_NAME)
    assert again.profile.meta["reprofiled"] is True
    assert all(torch.equal(before[k], v) for k, v in again.net.state_dict().items())
    assert again.meta == loaded.meta


def test_wait_for_quiet_reports_what_happened():
    assert po.wait_for_quiet(None)["quiet"] is True
    assert po.wait_for_quiet(1e9)["waited_s"] == 0.0
    busy = po.wait_for_quiet(-1.0, max_wait_s=0.2, poll_s=0.05)
    assert busy["quiet"] is False and busy["waited_s"] >= 0.2


def test_latency_fit_recovers_an_additive_truth():
    """Whole timings generated from known per-entry costs are fitted back from a biased prior."""
    arch = ss.Architecture()
    rng = np.random.default_rng(1)
    keys = [("stem",)] + [("head", c) for c in po.head_inputs(arch)] + [
        ("layer", i, c, o) for i in range(1, arch.n_compressible + 1)
        for c in po.reachable_inputs(arch, i) for o in ss.OPTIONS]
    truth = {k: float(rng.uniform(0.02, 0.2)) for k in keys}
    isolated = {k: v * rng.uniform(0.5, 0.9) for k, v in truth.items()}  # alone: faster
    configs = po.sample_configurations(arch, 400, seed=2)
    wholes = {c: sum(truth[k] for k in lt.entries_used(arch, c)) for c in configs}
    fitted, info = po.fit_latency_table(isolated, wholes, arch)
    assert info["fit_share_within_15pct"] == 1.0
    held_out = po.sample_configurations(arch, 100, seed=3)
    errors = [abs(sum(fitted[k] for k in lt.entries_used(arch, c))
                  - sum(truth[k] for k in lt.entries_used(arch, c)))
              / sum(truth[k] for k in lt.entries_used(arch, c)) for c in held_out]
    assert np.mean(np.array(errors) <= 0.15) >= 0.9


def test_speed_factor_is_the_median_measured_over_predicted_ratio(shipped):
    profile, arch = shipped.profile, shipped.net.arch
    configs = po.sample_configurations(arch, 5, seed=3)

    def timed(ratios):
        return {c: r * profile.predict(c).latency_ms for c, r in zip(configs, ratios, strict=False)}

    # A machine running 20 % slower than when profiled; one reference badly disturbed (3x).
    assert profile.speed_factor(timed([1.2, 1.2, 1.2, 1.2, 3.0])) == pytest.approx(1.2)
    assert profile.speed_factor(timed([1.0, 3.0, 1.4, 1.2])) == pytest.approx(1.3)
    assert profile.speed_factor(timed([0.8])) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="at least one"):
        profile.speed_factor({})


def test_device_flag_resolves_and_refuses_a_missing_gpu(monkeypatch):
    from adaspring_ros.training import common, train_all

    assert common.resolve_device("cpu") == torch.device("cpu")
    assert common.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="not one of"):
        common.resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert common.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        common.resolve_device("cuda")
    with pytest.raises(SystemExit):
        train_all.parse_args(["--device", "cuda"])
    try:
        common.use_device("cpu")
        model = torch.nn.Linear(3, 2)
        assert common.on_device(model) is model  # the CPU path never copies
        x = torch.randn(300, 3)
        assert torch.equal(common.predict(model, x), model(x).detach())
    finally:
        common.use_device("cpu")
