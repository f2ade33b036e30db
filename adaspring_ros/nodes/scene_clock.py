"""Scene time for the simulated day, and the /clock publisher that drives it.

In the accelerated day every node runs with ``use_sim_time`` and this node publishes /clock, so
"13:00" means the same instant to the microphone, the context monitor and the evolution node
(the ROS way: no node keeps its own private notion of simulated time). Audio stamps stay on the
wall clock, because latency is measured in real milliseconds.
"""

from __future__ import annotations

from functools import partial
import time

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg

from adaspring_ros.core.scene import day_scene
from adaspring_ros.nodes import conversions, node_main, topics
from adaspring_ros.nodes.params import declare


def scene_seconds(node: Node) -> float:
    """The node's ROS time in seconds: scene time under use_sim_time, epoch time otherwise."""
    return node.get_clock().now().nanoseconds / 1e9


def clock_started(node: Node) -> bool:
    """False while a use_sim_time node has not received /clock yet (its time is still 0)."""
    return node.get_clock().now().nanoseconds > 0


def wall_timer(node: Node, period_s: float, callback, callback_group=None):
    """A timer on the steady clock: keeps firing at its real rate whatever /clock does."""
    return node.create_timer(period_s, callback, callback_group=callback_group,
                             clock=Clock(clock_type=ClockType.STEADY_TIME))


def wall_now_ns() -> int:
    return time.time_ns()

#: the parameters `ros2 param set` may change: none (the day's clock is fixed at start)
RUNTIME_PARAMETERS = ()

class SceneClockNode(Node):
    """Publishes /clock from ``start_time_s`` at ``time_scale`` x real time until ``end_time_s``."""

    def __init__(self, **kwargs) -> None:
        super().__init__("scene_clock", **kwargs)
        self.start_s = declare(self, "start_time_s", float(day_scene.DAY_START_S),
                               "Scene time at start, seconds since 00:00 (09:00 = 32400).",
                               low=0.0, high=86400.0 * 7, read_only=True)
        self.end_s = declare(self, "end_time_s", float(day_scene.DAY_END_S),
                             "Scene time at which the clock stops advancing.",
                             low=0.0, high=86400.0 * 7, read_only=True)
        self.scale = declare(self, "time_scale", 150.0,
                             "Scene seconds per real second (150: the 8 h day in 192 s).",
                             low=1.0, high=10000.0, read_only=True)
        rate = declare(self, "publish_rate_hz", 100.0, "How often /clock is published (real Hz).",
                       low=1.0, high=1000.0, read_only=True)
        self._pub = self.create_publisher(ClockMsg, topics.CLOCK, 10)
        # the day starts at the first tick, when this node spins: composed with the others,
        # their construction (seconds) would otherwise have run the first scene minutes by
        self._t0: float | None = None
        wall_timer(self, 1.0 / rate, self._tick)

    def scene_now(self) -> float:
        if self._t0 is None:
            return self.start_s
        return min(self.end_s, self.start_s + (time.monotonic() - self._t0) * self.scale)

    def _tick(self) -> None:
        if self._t0 is None:
            self._t0 = time.monotonic()
        now = self.scene_now()
        msg = ClockMsg()
        conversions.set_stamp(msg.clock, int(now * 1e9))
        self._pub.publish(msg)


#: the executable's entry point (setup.py) and ``python -m``'s
main = partial(node_main.run, SceneClockNode)


if __name__ == "__main__":
    main()
