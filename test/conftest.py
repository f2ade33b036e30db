"""Pytest wiring shared by the whole suite.

* ``ros`` fixture: a :class:`ros_harness.RosTestEnv` (own ROS domain, child processes, in-process
  rclpy context), torn down after the test; teardown fails the test if a started process group
  could not be stopped. Mark DDS tests with ``@pytest.mark.ros``.
* Session setup: rcl logs go to a temporary folder, discovery is limited to this host.

See adaspring_ros/testing/ros_harness.py for the helper API.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from adaspring_ros.testing.ros_harness import RosTestEnv

HERE = Path(__file__).resolve().parent

#: The repository root (the folder holding package.xml).
REPO_ROOT = HERE.parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ros: uses real ROS 2 (rclpy over DDS); gets its own ROS domain via `ros`"
    )
    # rcl reads these when a context is initialised in this process; children get their own
    # copies from ros_harness.child_environment.
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if "ROS_LOG_DIR" not in os.environ:
        os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="adaspring_ros_test_logs_")


@pytest.fixture
def ros(tmp_path: Path):
    """A private ROS 2 world for one test; everything it started is stopped afterwards."""
    env = RosTestEnv(tmp_path / "ros")
    try:
        yield env
    finally:
        problems = env.close()
    if problems:
        pytest.fail("teardown could not stop: " + "; ".join(problems))
