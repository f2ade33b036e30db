"""The suite runs against the project's own environment, and the DDS harness isolates tests.

* Hermetic: with the project venv (scripts/env.sh sets ADASPRING_VENV / ADASPRING_INSTALL /
  ADASPRING_DISTRO), rclpy comes from that venv's wheels of the selected distro and adaspring_ros
  (msg/ included) from the colcon install of that distro; child processes see the same. On a
  robot with ROS 2 from apt (no ADASPRING_VENV), both come from the sourced ROS prefixes.
* Isolation: a message published in one test's domain is not seen in another's; domain leases
  are exclusive across processes; every process a test starts is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from adaspring_ros.testing.ros_harness import RosTestEnv, try_lease_domain

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent


def _under(path: str | Path, prefix: str | Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(prefix).resolve())
    except ValueError:
        return False
    return True


def _origins() -> dict[str, str]:
    import adaspring_ros.msg
    import rclpy

    import adaspring_ros

    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "rclpy": rclpy.__file__,
        "adaspring_ros": adaspring_ros.__file__,
        "adaspring_ros.msg": adaspring_ros.msg.__file__,
    }


PRINT_ORIGINS = """
import json, sys
sys.path.insert(0, {here!r})
from test_environment import _origins
print("ORIGINS " + json.dumps(_origins()), flush=True)
"""


def test_imports_come_from_the_project_environment():
    origins = _origins()
    # Never the source tree: it has no generated msg/, so it must not shadow the install.
    assert not _under(origins["adaspring_ros"], REPO_ROOT / "adaspring_ros"), origins
    venv = os.environ.get("ADASPRING_VENV")
    if venv:
        install = os.environ["ADASPRING_INSTALL"]
        distro = os.environ["ADASPRING_DISTRO"]
        assert Path(sys.prefix).resolve() == Path(venv).resolve(), (sys.prefix, venv)
        assert sys.prefix != sys.base_prefix, "tests must run inside the project venv"
        assert _under(origins["rclpy"], venv), origins
        assert _under(origins["adaspring_ros"], install), origins
        assert _under(origins["adaspring_ros.msg"], install), origins
        # The rclpy that imports is the one the distro's wheels installed.
        from importlib import metadata

        assert metadata.version(f"ros-{distro}-rclpy"), distro
        rclpy_dist = metadata.distribution("ros-rclpy")
        files = {str(rclpy_dist.locate_file(f)) for f in rclpy_dist.files or ()}
        assert any(Path(f).resolve() == Path(origins["rclpy"]).resolve() for f in files), (
            "rclpy was not imported from the ros-rclpy wheel"
        )
        # Nothing from a system ROS install leaks in.
        leaks = [p for p in sys.path if p.startswith("/opt/ros")]
        assert not leaks, leaks
    else:
        # ROS 2 from apt (e.g. a Jetbot): both come from the sourced ament prefixes.
        prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
        assert prefixes, "neither the project venv nor a sourced ROS 2 environment"
        assert any(_under(origins["rclpy"], p) for p in prefixes), (origins, prefixes)
        assert any(_under(origins["adaspring_ros.msg"], p) for p in prefixes), (origins, prefixes)


@pytest.mark.ros
def test_child_processes_use_the_same_environment(ros):
    child = ros.spawn(code=PRINT_ORIGINS.format(here=str(HERE)), name="origins")
    line = child.wait_for_output(r"^ORIGINS (.*)$", timeout=60).group(1)
    assert child.wait(timeout=30) == 0, child.output()
    theirs = json.loads(line)
    ours = _origins()
    for key in ("prefix", "rclpy", "adaspring_ros", "adaspring_ros.msg"):
        assert Path(theirs[key]).resolve() == Path(ours[key]).resolve(), (key, theirs, ours)


TALKER = """
import sys, time
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("talker")
pub = node.create_publisher(String, "chatter", 10)
print("talking", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    pub.publish(String(data=sys.argv[1]))
    rclpy.spin_once(node, timeout_sec=0.1)
"""


@pytest.mark.ros
def test_domains_isolate_tests(ros, tmp_path):
    from std_msgs.msg import String

    other = RosTestEnv(tmp_path / "other")
    try:
        assert other.domain_id != ros.domain_id
        in_a = ros.subscribe(String, "chatter")
        in_b = other.subscribe(String, "chatter")
        talker_a = ros.spawn(code=TALKER, args=["from-A"], name="talker_a")
        talker_b = other.spawn(code=TALKER, args=["from-B"], name="talker_b")
        in_a.wait_for(3, timeout=60)
        in_b.wait_for(3, timeout=60)
        # Keep both graphs running a while longer: nothing may cross between the domains.
        ros.spin_for(1.0)
        other.spin_for(1.0)
        assert {m.data for m in in_a.messages} == {"from-A"}, talker_b.output()
        assert {m.data for m in in_b.messages} == {"from-B"}, talker_a.output()
        # The in-process nodes only ever saw the one publisher of their own domain.
        assert ros.default_node().count_publishers("/chatter") == 1
        assert other.default_node().count_publishers("/chatter") == 1
    finally:
        assert other.close() == []


HOLD_LEASE = """
import sys, time
sys.path.insert(0, {here!r})
from adaspring_ros.testing.ros_harness import lease_domain
lease = lease_domain()
print("LEASED", lease.domain_id, flush=True)
time.sleep(600)
"""


@pytest.mark.ros
def test_domain_leases_are_exclusive_across_processes(ros):
    holder = ros.spawn(code=HOLD_LEASE.format(here=str(HERE)), name="lease_holder")
    leased = int(holder.wait_for_output(r"^LEASED (\d+)$", timeout=60).group(1))
    assert leased != ros.domain_id
    assert try_lease_domain(leased) is None, "a domain leased by another process was handed out"
    assert try_lease_domain(ros.domain_id) is None, "this test's own domain was handed out"
    holder.stop()
    # The kernel drops the lock with the process: the domain is free again.
    deadline = time.monotonic() + 10
    lease = None
    while lease is None and time.monotonic() < deadline:
        lease = try_lease_domain(leased)
        time.sleep(0.05)
    assert lease is not None, f"domain {leased} still locked after its holder died"
    lease.release()


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("PIDS", grandchild.pid, flush=True)
time.sleep(600)
"""

NODE = """
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("spinning")
node.create_publisher(String, "chatter", 10)
print("SPINNING", flush=True)
rclpy.spin(node)
"""


def _pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited; only waiting for its parent to reap it


@pytest.mark.ros
def test_every_started_process_is_stopped(tmp_path):
    env = RosTestEnv(tmp_path / "env")
    domain = env.domain_id
    stubborn = env.spawn(code=STUBBORN, name="stubborn")
    node = env.spawn(code=NODE, name="node")
    grandchild = int(stubborn.wait_for_output(r"^PIDS (\d+)$", timeout=60).group(1))
    node.wait_for_output(r"^SPINNING$", timeout=60)
    pids = [stubborn.pid, grandchild, node.pid]
    assert not any(_pid_gone(p) for p in pids)

    t0 = time.monotonic()
    assert env.close() == []
    took = time.monotonic() - t0

    deadline = time.monotonic() + 10
    while not all(_pid_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_pid_gone(p) for p in pids), [p for p in pids if not _pid_gone(p)]
    assert not stubborn.group_alive() and not node.group_alive()
    assert node.poll() is not None and stubborn.poll() is not None
    assert took < 30, f"teardown took {took:.1f} s"
    # The domain is released with the environment.
    lease = try_lease_domain(domain)
    assert lease is not None
    lease.release()


@pytest.mark.ros
def test_harness_reports_a_child_that_dies(ros):
    child = ros.spawn(code="raise SystemExit('boom: configuration missing')", name="dies")
    with pytest.raises(AssertionError, match="boom: configuration missing"):
        child.wait_for_output(r"^never printed$", timeout=30)
    assert child.poll() == 1
