"""The quick on-device latency table: measured when the machine differs, cached, re-measured
when the cache is missing or corrupt (saying why), and used when the profile's machine matches."""

import json

import pytest

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import device_table as dt
from adaspring_ros.core.model import latency_table as lt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.testing.profile_fixture import tiny_network_and_data

QUICK = dict(budget_s=20.0, rounds=1, repeats=2, fit_configs=12)


@pytest.fixture(scope="module")
def tiny():
    arch, net, _ = tiny_network_and_data(9)
    table, stem, head, _ = lt.measure_latency_tables(net, repeats=2, rounds=1, fit_configs=12)
    drops = {i: {o: 0.0 for o in ss.OPTIONS} for i in range(1, arch.n_compressible + 1)}
    profile = Profile(arch=arch, checkpoint_version=ckpt.CHECKPOINT_VERSION, backbone_accuracy=90.0,
                      accuracy_drop=drops, latency_ms=table, stem_latency_ms=stem,
                      head_latency_ms=head, channel_noise=net.channel_noise(),
                      meta={"host": "elsewhere"})
    return net, profile


def test_fingerprint_names_cpu_cores_torch_and_threads():
    m = dt.machine_fingerprint(3)
    assert set(m) == {"cpu_model", "cores", "torch", "threads"}
    assert m["threads"] == 3 and m["cores"] >= 1 and m["cpu_model"]
    assert dt.cache_path("v", m).parent == dt.cache_dir()
    assert dt.cache_path("v", m) != dt.cache_path("v", {**m, "threads": 4})


def test_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert dt.cache_dir() == tmp_path / "adaspring_ros"


def test_measured_once_then_cached_then_remeasured_when_corrupt(tiny, tmp_path):
    net, profile = tiny
    machine = dt.machine_fingerprint(1)
    logs, loads = [], []

    def load_net():
        loads.append(1)
        return net

    measured, source = dt.table_for_machine(profile, machine, load_net, logs.append, tmp_path,
                                            **QUICK)
    assert source == "measured" and len(loads) == 1
    assert len(logs) == 1 and "no cached latency table" in logs[0]
    assert measured.meta["machine"] == machine
    assert measured.accuracy_drop == profile.accuracy_drop
    config = ss.backbone_configuration(profile.arch)
    assert measured.predict(config).latency_ms > 0
    cached, source = dt.table_for_machine(profile, machine, load_net, logs.append, tmp_path,
                                          **QUICK)
    assert source == "cache" and len(loads) == 1 and len(logs) == 1
    assert cached.predict(config).latency_ms == pytest.approx(measured.predict(config).latency_ms)
    path = dt.cache_path(profile.checkpoint_version, machine, tmp_path)
    path.write_text("{not json")
    _, source = dt.table_for_machine(profile, machine, load_net, logs.append, tmp_path, **QUICK)
    assert source == "measured" and len(loads) == 2
    assert len(logs) == 2 and "unusable" in logs[1]
    data = json.loads(path.read_text())  # rewritten whole
    data["stem_latency_ms"] = -1.0
    path.write_text(json.dumps(data))
    _, source = dt.table_for_machine(profile, machine, load_net, logs.append, tmp_path, **QUICK)
    assert source == "measured" and "finite positive" in logs[2]


def test_a_cache_for_another_checkpoint_or_shape_is_refused(tiny, tmp_path):
    net, profile = tiny
    machine = dt.machine_fingerprint(1)
    path = tmp_path / "t.json"
    dt.save_cached(path, profile, machine, {})
    assert dt.load_cached(path, profile, machine).latency_ms == profile.latency_ms
    with pytest.raises(ValueError, match="another checkpoint or machine"):
        dt.load_cached(path, profile, {**machine, "cores": 999})
    data = json.loads(path.read_text())
    del data["latency_ms"]["1"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="do not match"):
        dt.load_cached(path, profile, machine)


def test_the_profiles_own_table_is_used_on_its_machine(tiny, tmp_path):
    _, profile = tiny
    machine = dt.machine_fingerprint(1)
    mine = dt.with_table(profile, profile.latency_ms, profile.stem_latency_ms,
                         profile.head_latency_ms, {"machine": machine})

    def no_net():
        raise AssertionError("must not measure")

    assert dt.table_for_machine(mine, machine, no_net, folder=tmp_path) == (mine, "profile")
    assert not list(tmp_path.iterdir())


def test_time_boxed_measurement_stops_after_the_deadline():
    import time

    import torch

    class Sleepy(torch.nn.Module):
        def forward(self, x):
            time.sleep(0.002)
            return x

    calls = []
    start = time.perf_counter()
    lt.time_modules({"a": (Sleepy(), torch.zeros(1))}, repeats=5, rounds=100, warmup=0,
                    on_module=lambda: calls.append(1), deadline=start + 0.05)
    assert 1 <= len(calls) < 100
