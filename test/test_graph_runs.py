"""The whole graph runs: composed in one process with the monitor as a client, and the main job.

These are the user-facing entry points (`bringup`, `monitor`, `ubiear_day`), run as processes
over real DDS in this test's own ROS domain.
"""

import json

import pytest

pytestmark = pytest.mark.ros


def test_bringup_composes_the_graph_in_one_process_and_the_monitor_sees_it(ros):
    bringup = ros.spawn(module="adaspring_ros.tools.bringup", args=["--namespace", "robot1",
                                                                    "--simulated-day",
                                                                    "--simulated-audio",
                                                                    "--duration", "90"])
    monitor = ros.spawn(module="adaspring_ros.tools.monitor",
                        args=["--namespace", "robot1", "--once", "--timeout", "80"])
    code = monitor.wait(100)
    out = monitor.output()
    assert code == 0, out + ros.children_report()
    assert "configuration #" in out and "context" in out and "events" in out
    assert "simulated" in out  # the battery fallback is visible to the user
    assert "health        /robot1/" in out  # diagnostics of the namespaced nodes
    assert bringup.running, bringup.output()


def test_main_job_runs_a_short_day_and_writes_its_report(ros, tmp_path):
    out_dir = tmp_path / "day"
    day = ros.spawn(module="adaspring_ros.tools.day_runner",
                    args=["--end-time", "10:00", "--time-scale", "300", "--out", str(out_dir),
                          "--timeout", "200"])
    code = day.wait(240)
    assert code == 0, day.output()
    report = json.loads((out_dir / "ubiear_day.json").read_text())
    summary = report["summary"]
    assert summary["evolutions"] >= 1 and report["evolutions"][0]["trigger"] == "first context"
    assert summary["scripted_windows_played"] >= 80  # 468 1 s windows in the 09:00-10:00 script
    assert summary["windows_matched_to_truth"] >= 0.9 * summary["scripted_windows_played"]
    assert summary["detection_accuracy"] >= 0.8
    assert (out_dir / "ubiear_day.png").stat().st_size > 10_000
    assert "evolutions" in day.output() and "detection_accuracy" in day.output()
