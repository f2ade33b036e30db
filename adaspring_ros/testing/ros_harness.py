"""Shared harness for tests that use real ROS 2 (rclpy over DDS between real processes).

Every DDS test gets a :class:`RosTestEnv` through the ``ros`` fixture (test/conftest.py):

* its own ROS domain, leased with an ``flock`` on ``$TMPDIR/adaspring_ros_domains/<id>.lock``
  (ids 1-101), so two test runs on one machine, or two tests in one run, never share a domain.
  The kernel drops the lock when the holding process dies, so a crashed run leaks nothing;
* discovery limited to this host (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``);
* :meth:`RosTestEnv.spawn` to start child Python processes (``python -m module args`` or a
  ``python -c`` script) in that domain, each in its own process group with its output captured to
  a file; at teardown every group is stopped (SIGINT, then SIGTERM, then SIGKILL), even when the
  test failed;
* an in-process rclpy ``Context`` bound to the same domain with its own executor
  (:meth:`RosTestEnv.node`), shut down at teardown;
* :meth:`RosTestEnv.subscribe` / :class:`Collector` and :meth:`RosTestEnv.spin_until` to wait for
  messages or conditions with a timeout, and :meth:`RosTestEnv.wait_for_subscribers`.

Typical use::

    @pytest.mark.ros
    def test_inference_publishes_events(ros):
        events = ros.subscribe(SoundEvent, "sound_windows")
        node = ros.spawn(module="adaspring_ros.nodes.inference", args=["--ros-args", ...])
        first = events.wait_for(1, timeout=30)[0]
        assert first.label in LABELS, node.output()

A test that asserts what a child printed should call ``child.wait_for_output(pattern)``; on
failure include ``child.output()`` in the assertion message so the log is shown.

Module-level helpers (:func:`lease_domain`, :func:`child_environment`) work without pytest, so a
benchmark can reuse them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adaspring_ros.tools.domains import (  # noqa: F401  (re-exported for tests)
    DOMAIN_IDS,
    LOCK_DIR,
    DomainLease,
    child_environment,
    lease_domain,
    try_lease_domain,
)


class Child:
    """A process started by :meth:`RosTestEnv.spawn`; its own process group, output in a file."""

    def __init__(self, name: str, argv: list[str], popen: subprocess.Popen, log_path: Path):
        self.name = name
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid  # start_new_session=True: the child leads its own group
        self.log_path = log_path

    def output(self) -> str:
        """Everything the child wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def poll(self) -> int | None:
        return self.popen.poll()

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """Wait for the child to exit; raises ``subprocess.TimeoutExpired`` after ``timeout``."""
        return self.popen.wait(timeout=timeout)

    def wait_for_output(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Wait until the output matches the regex ``pattern``; AssertionError on timeout.

        Also fails early if the child exits without having printed it.
        """
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.output())
            if m:
                return m
            if not self.running:
                m = rx.search(self.output())  # the last lines may land right at exit
                if m:
                    return m
                raise AssertionError(
                    f"{self.name} exited ({self.poll()}) without printing /{pattern}/:\n"
                    f"{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not print /{pattern}/ within {timeout:g} s:\n"
                    f"{self.output()}"
                )
            time.sleep(0.05)

    def group_alive(self) -> bool:
        """True while any process of the child's process group exists (zombies included)."""
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, grace: float = 5.0) -> int | None:
        """Stop the whole process group: SIGINT, then SIGTERM, then SIGKILL; reap the leader."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if not self.group_alive():
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.popen.poll()  # reap the leader so it does not linger as a zombie
                if not self.group_alive():
                    break
                time.sleep(0.05)
        try:
            return self.popen.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return None

    def __repr__(self) -> str:
        return f"Child({self.name!r}, pid={self.pid}, returncode={self.popen.poll()})"


class Collector:
    """Messages received by an in-process subscription, in arrival order."""

    def __init__(self, env: RosTestEnv, topic: str):
        self._env = env
        self.topic = topic
        self.messages: list[Any] = []
        self.subscription: Any = None

    def __call__(self, msg: Any) -> None:
        self.messages.append(msg)

    def wait_for(self, count: int = 1, timeout: float = 30.0) -> list[Any]:
        """Spin the test executor until ``count`` messages arrived; AssertionError on timeout."""
        ok = self._env.spin_until(lambda: len(self.messages) >= count, timeout)
        if not ok:
            raise AssertionError(
                f"got {len(self.messages)} of {count} message(s) on {self.topic!r} "
                f"within {timeout:g} s in domain {self._env.domain_id}"
                + self._env.children_report()
            )
        return list(self.messages)


class RosTestEnv:
    """One test's private ROS world: a leased domain, child processes and an rclpy context.

    Build it with the ``ros`` fixture; call :meth:`close` yourself only when the test needs to
    check what teardown does (it is idempotent).
    """

    def __init__(self, workdir: Path, lease: DomainLease | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.workdir / "ros_logs"
        self.log_dir.mkdir(exist_ok=True)
        self.lease = lease if lease is not None else lease_domain()
        self.domain_id = self.lease.domain_id
        self.env = child_environment(self.domain_id, self.log_dir)
        self.children: list[Child] = []
        self._context: Any = None
        self._executor: Any = None
        self._nodes: list[Any] = []
        self._closed = False

    # ----- child processes -------------------------------------------------------------------
    def spawn(
        self,
        module: str | None = None,
        args: Sequence[str] = (),
        *,
        code: str | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start ``python -m module *args`` or ``python -c code *args`` in this test's domain.

        The child uses this interpreter (the project venv), runs in its own process group (so
        grandchildren are stopped with it), writes stdout+stderr to ``<workdir>/<name>.log``,
        and is stopped at teardown. ``env`` entries are added on top of the domain environment.
        """
        if (module is None) == (code is None):
            raise ValueError("give exactly one of module= or code=")
        if self._closed:
            raise RuntimeError("this RosTestEnv is closed")
        base = [sys.executable, "-u"]
        argv = base + (["-m", module] if module is not None else ["-c", code]) + list(args)
        label = name or (module.rsplit(".", 1)[-1] if module else "script")
        label = f"{label}-{len(self.children)}"
        log_path = self.workdir / f"{label}.log"
        child_env = dict(self.env)
        if env:
            child_env.update(env)
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                cwd=str(cwd or self.workdir),
                start_new_session=True,
            )
        child = Child(label, argv, popen, log_path)
        self.children.append(child)
        return child

    def children_report(self) -> str:
        """The output of every child, for assertion messages."""
        parts = [f"\n--- {c.name} (exit {c.poll()}) ---\n{c.output()}" for c in self.children]
        return "".join(parts)

    # ----- in-process rclpy ------------------------------------------------------------------
    @property
    def context(self) -> Any:
        """The rclpy Context of this test, initialised on first use in this test's domain."""
        if self._context is None:
            import rclpy
            from rclpy.context import Context
            from rclpy.executors import SingleThreadedExecutor

            # Read by rcl at init; conftest.py also sets it (and ROS_LOG_DIR) for the session.
            os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
            context = Context()
            kwargs: dict[str, Any] = {"context": context, "domain_id": self.domain_id}
            try:
                from rclpy.signals import SignalHandlerOptions

                kwargs["signal_handler_options"] = SignalHandlerOptions.NO
            except ImportError:  # pragma: no cover - very old rclpy
                pass
            rclpy.init(**kwargs)
            self._context = context
            self._executor = SingleThreadedExecutor(context=context)
        return self._context

    @property
    def executor(self) -> Any:
        """The executor that spins this test's in-process nodes."""
        _ = self.context
        return self._executor

    def node(self, name: str = "test_node", **kwargs: Any) -> Any:
        """A new rclpy Node in this test's context, added to its executor."""
        import rclpy

        node = rclpy.create_node(name, context=self.context, **kwargs)
        self.executor.add_node(node)
        self._nodes.append(node)
        return node

    def subscribe(
        self, msg_type: Any, topic: str, qos: Any = 10, node: Any = None
    ) -> Collector:
        """Collect every ``msg_type`` message published on ``topic`` into a :class:`Collector`."""
        node = node if node is not None else self.default_node()
        collector = Collector(self, topic)
        collector.subscription = node.create_subscription(msg_type, topic, collector, qos)
        return collector

    def default_node(self) -> Any:
        """The node :meth:`subscribe` uses when none is given (created on first use)."""
        if not self._nodes:
            self.node("adaspring_test")
        return self._nodes[0]

    def spin_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Spin the test executor until ``predicate()`` is true; False on timeout."""
        deadline = time.monotonic() + timeout
        executor = self.executor
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            executor.spin_once(timeout_sec=min(0.05, remaining))
        return True

    def spin_for(self, seconds: float) -> None:
        """Spin the test executor for ``seconds`` (e.g. to prove that nothing arrives)."""
        self.spin_until(lambda: False, seconds)

    def wait_for_subscribers(self, publisher: Any, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until ``publisher`` has matched ``count`` subscriptions; AssertionError if not."""
        if not self.spin_until(lambda: publisher.get_subscription_count() >= count, timeout):
            raise AssertionError(
                f"{publisher.topic_name}: {publisher.get_subscription_count()} of {count} "
                f"subscriber(s) after {timeout:g} s in domain {self.domain_id}"
                + self.children_report()
            )

    # ----- teardown --------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Stop every child group, shut the context down, release the domain.

        Returns a list of problems (children whose group survived SIGKILL), empty when clean.
        """
        if self._closed:
            return []
        self._closed = True
        problems = []
        for child in self.children:
            child.stop()
            if child.group_alive():
                problems.append(f"{child.name} (pgid {child.pgid}) survived SIGKILL")
        if self._context is not None:
            for node in self._nodes:
                try:
                    self._executor.remove_node(node)
                except Exception:  # best effort during teardown
                    pass
                node.destroy_node()
            self._executor.shutdown(timeout_sec=5.0)
            self._context.try_shutdown()
        self.lease.release()
        return problems

