"""Faults injected into the running graph; the system keeps working and says so.

The scenarios live in adaspring_ros/testing/fault_scenarios.py, shared with
benchmarks/fault_report.py.
"""

import pytest

from adaspring_ros.testing import fault_scenarios as fs

pytestmark = pytest.mark.ros


def test_bad_audio_is_counted_and_dropped_and_the_node_stays_up(ros):
    r = fs.bad_audio(ros)
    assert r.details["rejected"] == len(fs.BAD_AUDIO), r.observed + r.details["output"]
    assert r.ok, f"{r.observed}; lost {r.lost}"
    assert r.details["odd_classified"] == r.details["odd_sent"], r.observed
    assert r.details["format_changes"] >= 2  # 48 kHz stereo and 8 kHz windows


def test_bad_contexts_are_rejected_with_counts(ros):
    r = fs.bad_contexts(ros)
    assert r.ok, r.observed


def test_bad_configurations_keep_the_current_model(ros):
    r = fs.bad_configs(ros)
    assert r.ok, r.observed


def test_bad_checkpoints_refuse_to_start_and_never_run_pickled_code(ros, tmp_path):
    r = fs.bad_checkpoints(ros, tmp_path)
    assert r.ok, r.observed


def test_context_monitor_death_is_noticed_and_recovered(ros):
    r = fs.monitor_dies(ros)
    assert r.ok, r.observed


def test_inference_keeps_going_while_evolution_restarts(ros):
    r = fs.evolution_restarts(ros)
    assert r.ok, f"{r.observed}; lost {r.lost}"


def test_restarted_inference_gets_the_configuration_and_loses_nothing(ros):
    r = fs.inference_restarts(ros)
    assert r.ok, f"{r.observed}; lost {r.lost}"


def test_missing_hardware_falls_back_once_without_crash_loop(ros):
    r = fs.fallbacks(ros)
    assert r.ok, r.observed


def test_audio_overload_stays_bounded_and_recovers(ros):
    r = fs.audio_overload(ros, seconds=60.0)
    assert r.ok, f"{r.observed}; lost {r.lost}"
    # whatever the overload cost, it was counted, not hidden
    assert r.details["lost_overload"] == 0 or r.details["lost_reported_chunks"] > 0


def test_context_burst_is_coalesced_to_the_latest(ros):
    r = fs.context_burst(ros)
    assert r.ok, r.observed
