"""`ros2 launch` and the `ros2` CLI against the real graph, as a robot user drives it.

The real launch_ros starts the package's launch file (namespaced, simulated day) in a private
ROS domain; the test checks topics, the latched configuration and the exit status, and drives
the graph through the real `ros2` executables: `ros2 node list`, `ros2 topic echo --once`,
`ros2 param set` (re-evolves; refused on a read-only parameter). Without launch_ros/ros2cli
these tests skip with the reason and the fix, except under CI, where they fail.
"""

from __future__ import annotations

import os
import signal

import pytest

from adaspring_ros.msg import CompressionConfig, SoundEvent
from adaspring_ros.nodes import qos
from adaspring_ros.testing import ros2_cli

NS = "/robot1"
NODES = ("microphone", "context_monitor", "evolution", "inference")
# SIGINT back to its default first: a background job of a non-interactive shell (CI) inherits
# SIGINT ignored, and launch would then never see the Ctrl-C this test sends it.
EXEC_ROS2 = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
             "os.execvp('ros2', ['ros2', *sys.argv[1:]])")


@pytest.fixture
def launched(ros):
    """`ros2 launch adaspring_ros sound_assistant.launch.py` running in the test's domain."""
    ros2_cli.require()
    child = ros.spawn(code=EXEC_ROS2, name="ros2_launch",
                      args=["launch", "adaspring_ros", "sound_assistant.launch.py",
                            f"namespace:={NS.strip('/')}", "simulated_day:=true",
                            "simulated_audio:=true"])
    events = ros.subscribe(SoundEvent, f"{NS}/sound_windows", qos=100)
    events.wait_for(1, timeout=180)
    return child


def _late_config(ros, timeout: float = 30.0):
    """A subscriber created now still gets the configuration in force (transient local)."""
    configs = ros.subscribe(CompressionConfig, f"{NS}/compression_config", qos=qos.latched())
    return configs, configs.wait_for(1, timeout=timeout)[-1]


@pytest.mark.ros
def test_ros2_launch_runs_the_namespaced_graph_and_the_cli_drives_it(ros, launched):
    env = ros.env
    _, first = _late_config(ros)
    assert first.trigger, first

    nodes = ros2_cli.ros2_until(
        env, ["node", "list", "--no-daemon", "--spin-time", "2"],
        lambda r: all(f"{NS}/{n}" in r.stdout.split() for n in NODES))
    for name in NODES:
        assert f"{NS}/{name}" in nodes.stdout.split(), nodes.stdout + nodes.stderr

    battery = ros2_cli.ros2(env, "topic", "echo", "--once", "--no-daemon",
                            f"{NS}/battery_state", "sensor_msgs/msg/BatteryState", timeout=60)
    assert battery.returncode == 0, battery.stderr
    assert "percentage:" in battery.stdout and "location:" in battery.stdout, battery.stdout

    configs, _ = _late_config(ros)
    before = len(configs.messages)
    ok = ros2_cli.ros2_until(
        env, ["param", "set", "--no-daemon", f"{NS}/evolution", "latency_budget_ms", "2.5"],
        lambda r: "Set parameter successful" in r.stdout)
    assert "Set parameter successful" in ok.stdout, ok.stdout + ok.stderr
    assert ros.spin_until(lambda: any("latency_budget_ms=2.5" in c.trigger
                                      for c in configs.messages[before:]), 30), configs.messages
    new = next(c for c in configs.messages[before:] if "latency_budget_ms=2.5" in c.trigger)
    # searched under the new budget ("T 0.8/2.50 ms", or "T_bgt 2.500 ms" on the measured scale)
    assert "2.50" in new.reason, new.reason

    refused = ros2_cli.ros2_until(  # a fresh CLI process may not have discovered it yet
        env, ["param", "set", "--no-daemon", f"{NS}/evolution", "checkpoint", "/tmp/other.pt"],
        lambda r: "Node not found" not in r.stdout + r.stderr)
    text = refused.stdout + refused.stderr
    assert "Set parameter successful" not in text and "read-only" in text.lower(), text

    os.killpg(launched.pgid, signal.SIGINT)
    code = launched.wait(timeout=20)
    out = launched.output()
    assert code == 0, out
    assert "process has died" not in out and "Traceback" not in out, out
    assert out.count("process has finished cleanly") >= len(NODES), out


def test_missing_tools_skip_with_the_fix_but_fail_under_ci(monkeypatch):
    monkeypatch.setattr(ros2_cli, "missing", lambda: ["launch_ros"])
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ADASPRING_REQUIRE_ROS2_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="ADASPRING_ROS2_SOURCES"):
        ros2_cli.require()
    monkeypatch.setenv("ADASPRING_REQUIRE_ROS2_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="CI requires"):
        ros2_cli.require()


@pytest.mark.ros
def test_ros2_launch_refuses_a_combination_that_cannot_work(ros):
    ros2_cli.require()
    result = ros2_cli.ros2(ros.env, "launch", "adaspring_ros", "sound_assistant.launch.py",
                           "simulated_day:=true", timeout=60)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text
    assert "live capture cannot follow" in text and "process started" not in text, text


@pytest.mark.ros
def test_bare_ros2_launch_is_the_live_assistant(ros):
    """No arguments: capture (here no device: said, WARN on diagnostics, the rest runs), the
    wall clock (no scene clock, contexts without scene time) and the live battery chain."""
    import math

    from diagnostic_msgs.msg import DiagnosticStatus

    from adaspring_ros.msg import DeploymentContext
    from adaspring_ros.testing.fault_scenarios import Diagnostics

    ros2_cli.require()
    diags = Diagnostics(ros)
    contexts = ros.subscribe(DeploymentContext, "/context")
    child = ros.spawn(code=EXEC_ROS2, name="ros2_launch",
                      args=["launch", "adaspring_ros", "sound_assistant.launch.py"])
    configs = ros.subscribe(CompressionConfig, "/compression_config", qos=qos.latched())
    configs.wait_for(1, timeout=180)
    assert ros.spin_until(lambda: getattr(diags.latest.get("microphone"), "level", None)
                          == DiagnosticStatus.WARN, 30), child.output()
    assert "no capture device" in diags.latest["microphone"].message
    last = contexts.wait_for(1, timeout=30)[-1]
    assert math.isnan(last.scene_time_s), last  # wall clock, not the simulated day
    assert "scene_clock" not in child.output()
    assert ros.spin_until(lambda: "battery_source" in diags.values("context_monitor"), 30)
    assert diags.values("context_monitor")["battery_source"] in ("simulated", "psutil")
    os.killpg(child.pgid, signal.SIGINT)
    assert child.wait(timeout=20) == 0, child.output()
