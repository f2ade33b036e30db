"""The real launch_ros and `ros2` command line, for tests that claim launch or CLI behaviour.

The PyPI wheels of ROS 2 lack launch, launch_ros and ros2cli; scripts/setup_env.sh installs them
from sources when ADASPRING_ROS2_SOURCES names them (.ci/run does), and a robot has them from
its distro. Where they are missing, :func:`require` says why and how to get them, and skips the
test, except under CI (ADASPRING_REQUIRE_ROS2_TOOLS or CI set), where a skip would hide a
feature that was never tested: there it fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time

MODULES = ("launch", "launch_ros", "ros2cli", "ros2launch", "ros2param", "ros2node",
           "ros2topic", "composition_interfaces")
HOW_TO = ("install them with `ADASPRING_ROS2_SOURCES=<path>/shared/vendor/ros2/rolling "
          "scripts/setup_env.sh` (README, section For integrators), or on a robot from the "
          "distro (ros-<distro>-launch-ros, ros-<distro>-ros2cli)")


def missing() -> list[str]:
    """What of launch_ros / ros2cli this environment lacks (empty: all there)."""
    gone = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if shutil.which("ros2") is None:
        gone.append("the `ros2` executable")
    return gone


def required_by_ci() -> bool:
    return bool(os.environ.get("ADASPRING_REQUIRE_ROS2_TOOLS") or os.environ.get("CI"))


def require() -> None:
    """Skip (fail under CI) with the reason and the fix when launch_ros/ros2cli are missing."""
    import pytest

    gone = missing()
    if not gone:
        return
    reason = f"launch_ros/ros2cli not installed (missing: {', '.join(gone)}); {HOW_TO}"
    if required_by_ci():
        pytest.fail("CI requires the launch and ros2 CLI tests to run: " + reason)
    pytest.skip(reason)


def ros2(env: dict, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run `ros2 args...` in ``env`` (a test's ROS domain) and return what it did."""
    return subprocess.run(["ros2", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def ros2_until(env: dict, args, ok, timeout: float = 60.0, pause: float = 0.5):
    """Repeat `ros2 args...` until ``ok(result)`` (discovery takes a moment); last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = ros2(env, *args, timeout=max(5.0, deadline - time.monotonic()))
        if ok(result) or time.monotonic() >= deadline:
            return result
        time.sleep(pause)
